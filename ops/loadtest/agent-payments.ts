import { Interface, type JsonRpcProvider } from "ethers";
import type { ChannelClient } from "../channels/client.js";
import { acceptLock, acceptRelease, lockOrder, releaseLock } from "../channels/dvp.js";
import { forwardAmount } from "../channels/locks.js";
import {
  marketOrders,
  marketOutcomes,
  type OrderSource,
  type OutcomeSource,
} from "../channels/market.js";
import {
  GridCredit__factory,
  PaymentChannels__factory,
} from "../../types/ethers-contracts/index.js";
import type { SendResult } from "./chain/sender.js";
import { TradeFailure, eventArg } from "./agent-support.js";
import { fromWire, InNonceOrder, toWire } from "./hub-wire.js";
import { Pairing } from "./pairing.js";
import type {
  Address,
  AgentSpec,
  FromWorker,
  HubChannelFact,
  ToWorker,
  TxKind,
  WorkerInit,
} from "./protocol.js";

const CREDIT = new Interface(GridCredit__factory.abi);
const CHANNELS = new Interface(PaymentChannels__factory.abi);

/** An agent as the payments see it: its account and (for channel topologies) its channel client. */
export type PayingAgent = { spec: AgentSpec; channel?: ChannelClient };

/** The other side of a trade: a producer of this worker or of another one. */
export type Counterparty = { id: string; address: Address };

type Paid = { payments: number; paymentSeconds: number[] };

/**
 * How one worker's agents pay their orders in the `hub` and `onchain` topologies: who sells to
 * whom (the seeded pairing), each agent's one channel with the hub, the buyer's lock toward the
 * hub and the seller's acceptance of the hub's forward (both through the coordinator), the
 * releases once the market decided, and the on-chain transfer of the baseline.
 */
export class AgentPayments {
  private readonly pairing: Pairing | undefined;
  private readonly orders: OrderSource;
  private readonly outcomes: OutcomeSource;
  /** Each producer's current offer, for every producer of the test (from the coordinator). */
  private book = new Map<string, bigint>();
  private readonly waiting = new Map<number, (answer: { ok: boolean; detail?: string }) => void>();
  private readonly inOrder = new InNonceOrder();

  constructor(
    private readonly init: WorkerInit,
    private readonly agents: Map<string, PayingAgent>,
    reader: JsonRpcProvider,
    private readonly emit: (message: FromWorker) => void,
    /** The worker's eth_call (batched JSON-RPC). */
    private readonly call: (to: string, data: string) => Promise<string>,
  ) {
    const producers = init.producers ?? [];
    this.pairing =
      producers.length > 0 ? new Pairing(init.terms.pairingSeed, producers.length) : undefined;
    this.orders = marketOrders(init.contracts.market, reader);
    this.outcomes = marketOutcomes(init.contracts.market, reader);
  }

  /** Whether trades pair any consumer with any producer (else: the consumer's fixed seller). */
  get paired(): boolean {
    return this.pairing !== undefined && this.init.terms.path === "standing";
  }

  /**
   * Trade `trade`'s seller and the offer it buys from: the pairing's producer, or when it has no
   * offer (its worker was lost) the next producer in the list that has one.
   */
  sellerOf(trade: number): Counterparty & { offer: bigint | undefined } {
    const producers = this.init.producers!;
    const drawn = this.pairing!.sellerOf(trade);
    for (let step = 0; step < producers.length; step++) {
      const seller = producers[(drawn + step) % producers.length]!;
      const offer = this.book.get(seller.id);
      if (offer !== undefined) return { ...seller, offer };
    }
    return { ...producers[drawn]!, offer: undefined };
  }

  offerBook(offers: Record<string, string>): void {
    this.book = new Map(Object.entries(offers).map(([id, offer]) => [id, BigInt(offer)]));
  }

  /**
   * A consumer's one channel with the hub, opened if the chain has none, its deposit raised to what
   * it has paid and locked plus what the test may spend. Returns what the hub needs to record it.
   */
  async setupConsumer<A extends PayingAgent>(
    agent: A,
    send: (agent: A, kind: TxKind, to: string, data: string) => Promise<SendResult>,
  ): Promise<HubChannelFact> {
    const { contracts, terms } = this.init;
    const hub = this.init.hub!;
    const client = agent.channel!;
    const self = agent.spec.address;
    let channelId = CHANNELS.decodeFunctionResult(
      "channelOfPair",
      await this.call(
        contracts.channels,
        CHANNELS.encodeFunctionData("channelOfPair", [self, hub]),
      ),
    )[0] as bigint;
    let opened = false;
    if (channelId === 0n) {
      const receipt = await send(
        agent,
        "channel_open",
        contracts.channels,
        CHANNELS.encodeFunctionData("openChannel", [hub]),
      );
      channelId = eventArg(receipt, CHANNELS, "ChannelOpened", "channelId") as bigint;
      opened = true;
    }
    // A channel this store never saw is read from chain; one just opened is known in full.
    const view = opened ? undefined : await client.sync(channelId);
    const used =
      (view?.sent?.transferredAmount ?? 0n) +
      (view?.sentLocks ?? []).reduce((sum, lock) => sum + lock.amount, 0n);
    const current = view?.selfDeposit ?? 0n;
    const wanted = used + BigInt(terms.channelDeposit);
    if (current < wanted) {
      await Promise.all([
        send(
          agent,
          "channel_approve",
          contracts.credit,
          CREDIT.encodeFunctionData("approve", [contracts.channels, wanted - current]),
        ),
        send(
          agent,
          "channel_deposit",
          contracts.channels,
          CHANNELS.encodeFunctionData("setTotalDeposit", [channelId, self, wanted]),
        ),
      ]);
    }
    const participant1 = (view?.participant1 ?? self) as Address;
    if (opened) {
      await client.track({
        channelId,
        partner: hub,
        participant1,
        selfDeposit: wanted,
        partnerDeposit: 0n,
      });
    } else if (current < wanted) {
      await client.sync(channelId);
    }
    return {
      agent: agent.spec.id,
      address: self,
      channelId: channelId.toString(),
      participant1,
      deposit: (current < wanted ? wanted : current).toString(),
    };
  }

  /** The hub opened and funded these producers' channels: each client reads its own from chain. */
  async hubChannels(channels: Record<string, string>): Promise<void> {
    await Promise.all(
      Object.entries(channels).map(([id, channelId]) =>
        this.agents.get(id)?.channel?.sync(BigInt(channelId)),
      ),
    );
  }

  /**
   * The buyer locks the order's price toward the hub; the trade's payment ends once the seller
   * accepted the hub's forward (or either refused).
   */
  async payThroughHub(buyer: PayingAgent, trade: number, orderId: bigint): Promise<Paid> {
    const client = buyer.channel!;
    const channelId = client.channelWith(this.init.hub!);
    if (channelId === undefined) {
      throw new TradeFailure("channel", `${buyer.spec.id} has no open channel with the hub`);
    }
    const started = performance.now();
    const answer = new Promise<{ ok: boolean; detail?: string }>((resolve) =>
      this.waiting.set(trade, resolve),
    );
    try {
      const locked = await lockOrder(client, this.orders, orderId, channelId);
      this.emit({ type: "hub-lock", trade, orderId: orderId.toString(), proof: toWire(locked) });
    } catch (error) {
      this.waiting.delete(trade);
      throw new TradeFailure("channel", `lock on order ${orderId}: ${(error as Error).message}`);
    }
    const { ok, detail } = await answer;
    if (!ok) throw new TradeFailure("channel", `payment through the hub: ${detail}`);
    return { payments: 1, paymentSeconds: [(performance.now() - started) / 1000] };
  }

  /** The buyer pays the order with one GridCredit transfer to the seller (the baseline). */
  async payOnChain(
    buyer: PayingAgent,
    seller: Counterparty,
    send: (kind: TxKind, to: string, data: string) => Promise<SendResult>,
  ): Promise<Paid> {
    const { contracts, terms } = this.init;
    const price = (BigInt(terms.wh) * BigInt(terms.pricePerKwh)) / 1000n;
    const started = performance.now();
    const paid = await send(
      "transfer",
      contracts.credit,
      CREDIT.encodeFunctionData("transfer", [seller.address, price]),
    );
    if (paid.status !== "success") {
      throw new TradeFailure("revert", `${buyer.spec.id}: transfer ${paid.hash} reverted`);
    }
    return { payments: 1, paymentSeconds: [(performance.now() - started) / 1000] };
  }

  /**
   * Over a direct channel (buyer and seller in this worker): the order's price in
   * `paymentsPerTrade` installments, each proof verified and stored by the seller before the next.
   */
  async payDirect(buyer: PayingAgent, seller: PayingAgent, orderId: bigint): Promise<Paid> {
    const { terms } = this.init;
    const count = terms.paymentsPerTrade;
    const total = (BigInt(terms.wh) * BigInt(terms.pricePerKwh)) / 1000n;
    const channelId = buyer.channel!.channelWith(seller.spec.address);
    if (channelId === undefined)
      throw new TradeFailure(
        "channel",
        `${buyer.spec.id} has no open channel with ${seller.spec.id}`,
      );
    const paymentSeconds: number[] = [];
    const each = total / BigInt(count);
    for (let i = 0; i < count; i += 1) {
      const amount = i === count - 1 ? total - each * BigInt(count - 1) : each;
      const started = performance.now();
      try {
        const proof = await buyer.channel!.pay(channelId, amount, { orderId });
        await seller.channel!.receive(proof);
      } catch (error) {
        throw new TradeFailure(
          "channel",
          `payment ${i + 1} of ${count}: ${(error as Error).message}`,
        );
      }
      paymentSeconds.push((performance.now() - started) / 1000);
    }
    return { payments: count, paymentSeconds };
  }

  /** Messages of the hub's payments; false for any other message. */
  handle(message: ToWorker): boolean {
    switch (message.type) {
      case "offer-book":
        this.offerBook(message.offers);
        return true;
      case "hub-paid":
        this.waiting.get(message.trade)?.(message);
        this.waiting.delete(message.trade);
        return true;
      case "hub-forward":
        void this.acceptForward(message).then(
          () => this.emit({ type: "hub-accepted", trade: message.trade, ok: true }),
          (error: unknown) =>
            this.emit({
              type: "hub-accepted",
              trade: message.trade,
              ok: false,
              detail: text(error),
            }),
        );
        return true;
      case "hub-release":
        void this.release(message.buyer, BigInt(message.orderId)).then(
          (proof) => this.emit({ type: "hub-released", orderId: message.orderId, ok: true, proof }),
          (error: unknown) =>
            this.emit({
              type: "hub-released",
              orderId: message.orderId,
              ok: false,
              detail: text(error),
            }),
        );
        return true;
      case "hub-settle":
        void this.acceptSettle(message).then(
          () => this.emit({ type: "hub-settled", orderId: message.orderId, ok: true }),
          (error: unknown) =>
            this.emit({
              type: "hub-settled",
              orderId: message.orderId,
              ok: false,
              detail: text(error),
            }),
        );
        return true;
      case "hub-channels":
        void this.hubChannels(message.channels).then(
          () => this.emit({ type: "hub-channels-done" }),
          (error: unknown) => this.emit({ type: "fatal", message: text(error) }),
        );
        return true;
      default:
        return false;
    }
  }

  /** The seller takes the hub's lock: at least the price less the hub's fee, on an open order. */
  private async acceptForward(message: Extract<ToWorker, { type: "hub-forward" }>) {
    const client = this.agents.get(message.seller)!.channel!;
    const incoming = fromWire(message.proof);
    const orderId = BigInt(message.orderId);
    const { terms } = this.init;
    const wh = BigInt(terms.wh);
    const minAmount = forwardAmount(
      (wh * BigInt(terms.pricePerKwh)) / 1000n,
      wh,
      BigInt(terms.hubFeePerKwh),
    );
    await this.inOrder.run(
      incoming.proof.channelId,
      incoming.proof.nonce,
      held(client, incoming),
      () => acceptLock(client, this.orders, incoming, { orderId, minAmount }),
    );
  }

  private async release(buyer: string, orderId: bigint) {
    const client = this.agents.get(buyer)!.channel!;
    const channelId = client.channelWith(this.init.hub!)!;
    return toWire(await releaseLock(client, this.outcomes, channelId, orderId));
  }

  private async acceptSettle(message: Extract<ToWorker, { type: "hub-settle" }>) {
    const client = this.agents.get(message.seller)!.channel!;
    const incoming = fromWire(message.proof);
    await this.inOrder.run(
      incoming.proof.channelId,
      incoming.proof.nonce,
      held(client, incoming),
      () => acceptRelease(client, this.outcomes, incoming),
    );
  }
}

function held(client: ChannelClient, incoming: { proof: { channelId: bigint } }) {
  return () => client.channel(incoming.proof.channelId).received?.nonce ?? 0n;
}

function text(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
