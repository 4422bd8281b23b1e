import { join } from "node:path";
import { Interface, JsonRpcProvider, SigningKey } from "ethers";
import { ChannelClient } from "../channels/client.js";
import {
  EnergyMarket__factory,
  GridCredit__factory,
  PaymentChannels__factory,
} from "../../types/ethers-contracts/index.js";
import { DENIAL_REASONS } from "../market/client.js";
import { BlockFollower, pollIntervalMs, type MinedReceipt } from "./chain/follower.js";
import { JsonRpc } from "./chain/rpc.js";
import { AccountSender, type SendResult } from "./chain/sender.js";
import { GAS, TradeFailure, eventArg, failure, marketEvents, rejects } from "./agent-support.js";
import { sendReported } from "./reported.js";
import { AgentPayments, type Counterparty } from "./agent-payments.js";
import type {
  AgentSpec,
  FromWorker,
  HubChannelFact,
  OffersCommand,
  TradeCommand,
  TradeEnd,
  TxKind,
  WorkerInit,
} from "./protocol.js";

const MARKET = new Interface(EnergyMarket__factory.abi);
const CREDIT = new Interface(GridCredit__factory.abi);
const CHANNELS = new Interface(PaymentChannels__factory.abi);

type Agent = {
  spec: AgentSpec;
  sender: AccountSender;
  channel?: ChannelClient;
};

type ActiveTrade = {
  command: TradeCommand;
  /** Resolves with the grid operator's decision on an order that awaits manual review. */
  review?: (decision: { approved: boolean; detail?: string }) => void;
  ended: boolean;
};

/**
 * The agents of one worker: each a consortium account with its own key, nonce manager and (for
 * payments) channel client. Producers keep one offer per offer epoch; a consumer trades with its seller,
 * which lives in the same worker so that channel payments are exchanged in memory. Every
 * transaction and every trade's end is reported through `emit`; a trade always ends, at the
 * latest when its timeout fires.
 */
export class Agents {
  private readonly rpc: JsonRpc;
  private readonly follower: BlockFollower;
  private readonly agents = new Map<string, Agent>();
  /** Each producer's current offer id. */
  private readonly offers = new Map<string, bigint>();
  private readonly trades = new Map<number, ActiveTrade>();
  private readonly reader: JsonRpcProvider;
  /** How orders are paid in the `hub` and `onchain` topologies (and who sells to whom). */
  readonly payments: AgentPayments;
  private closed = false;

  constructor(
    private readonly init: WorkerInit,
    private readonly emit: (message: FromWorker) => void,
  ) {
    this.rpc = new JsonRpc(init.rpcUrl, { batchWindowMs: 2, maxBatch: 200, timeoutMs: 30_000 });
    this.follower = new BlockFollower(this.rpc, {
      pollMs: pollIntervalMs(init.blockPeriodSeconds),
      ...(init.wsUrl === undefined ? {} : { subscribeUrl: init.wsUrl }),
    });
    this.reader = new JsonRpcProvider(init.rpcUrl, init.chainId, {
      staticNetwork: true,
      batchMaxCount: 100,
    });
    this.payments = new AgentPayments(init, this.agents, this.reader, emit, (to, data) =>
      this.call(to, data),
    );
  }

  /** Starts the block follower, reads every agent's nonce and opens its channel store. */
  async start(): Promise<void> {
    await this.follower.start();
    const timeoutMs = this.init.terms.confirmationTimeoutSeconds * 1000;
    const payments = this.init.terms.paymentsPerTrade > 0 && this.init.terms.topology !== "onchain";
    await Promise.all(
      this.init.agents.map(async (spec) => {
        const sender = new AccountSender({
          key: spec.key,
          address: spec.address,
          chainId: this.init.chainId,
          rpc: this.rpc,
          follower: this.follower,
          timeoutMs,
        });
        await sender.init();
        const agent: Agent = { spec, sender };
        if (payments) {
          agent.channel = await ChannelClient.start({
            key: new SigningKey(spec.key),
            domain: {
              chainId: BigInt(this.init.chainId),
              verifyingContract: this.init.contracts.channels,
            },
            storePath: join(this.init.storeDir, `${spec.id}.jsonl`),
            chain: {
              channels: PaymentChannels__factory.connect(this.init.contracts.channels, this.reader),
              token: GridCredit__factory.connect(this.init.contracts.credit, this.reader),
            },
          });
        }
        this.agents.set(spec.id, agent);
      }),
    );
    this.emit({ type: "ready", worker: this.init.worker, agents: this.agents.size });
  }

  /**
   * Producers lock their bond; consumers open (or reuse) a channel with the hub (or, for direct
   * channels, with their seller) and raise their deposit to what the test may spend. Idempotent: a
   * second test on the same chain sends only what is missing.
   */
  async setup(): Promise<void> {
    const started = Date.now();
    let transactions = 0;
    const { contracts, terms } = this.init;
    const bond = BigInt(terms.bond);
    const channels: HubChannelFact[] = [];
    const send = async (agent: Agent, kind: TxKind, to: string, data: string) => {
      const result = await this.send(agent, kind, to, data);
      transactions += 1;
      if (result.status !== "success") {
        throw new Error(`${agent.spec.id}: ${kind} transaction ${result.hash} reverted`);
      }
      return result;
    };
    await Promise.all(
      [...this.agents.values()].map(async (agent) => {
        const { spec } = agent;
        // A producer's bond backs its defaults; a consumer's, the line capacity fee it reserves
        // when it buys across zones (paired topologies).
        const wantedBond = spec.role === "producer" ? bond : BigInt(terms.buyerBond);
        const bonding = wantedBond > 0n ? this.topUpBond(agent, wantedBond, send) : undefined;
        if (spec.role === "producer") {
          await bonding;
          return;
        }
        if (agent.channel === undefined) return void (await bonding);
        if (terms.topology === "hub") {
          const [fact] = await Promise.all([this.payments.setupConsumer(agent, send), bonding]);
          channels.push(fact);
          return;
        }
        await bonding;
        const seller = this.agents.get(spec.seller!)!;
        let channelId = CHANNELS.decodeFunctionResult(
          "channelOfPair",
          await this.call(
            contracts.channels,
            CHANNELS.encodeFunctionData("channelOfPair", [spec.address, seller.spec.address]),
          ),
        )[0] as bigint;
        if (channelId === 0n) {
          const opened = await send(
            agent,
            "channel_open",
            contracts.channels,
            CHANNELS.encodeFunctionData("openChannel", [seller.spec.address]),
          );
          channelId = eventArg(opened, CHANNELS, "ChannelOpened", "channelId") as bigint;
        }
        const view = await agent.channel.sync(channelId);
        const spent = view.sent?.transferredAmount ?? 0n;
        const wanted = spent + BigInt(terms.channelDeposit);
        if (view.selfDeposit < wanted) {
          await Promise.all([
            send(
              agent,
              "approve",
              contracts.credit,
              CREDIT.encodeFunctionData("approve", [contracts.channels, wanted - view.selfDeposit]),
            ),
            send(
              agent,
              "channel_deposit",
              contracts.channels,
              CHANNELS.encodeFunctionData("setTotalDeposit", [channelId, spec.address, wanted]),
            ),
          ]);
          await agent.channel.sync(channelId);
        }
        await seller.channel!.sync(channelId);
      }),
    );
    this.emit({
      type: "setup-done",
      transactions,
      seconds: (Date.now() - started) / 1000,
      ...(terms.topology === "hub" ? { channels } : {}),
    });
  }

  /** Raises the agent's free bond in the market to `wanted` (approve and deposit, pipelined). */
  private async topUpBond(
    agent: Agent,
    wanted: bigint,
    send: (agent: Agent, kind: TxKind, to: string, data: string) => Promise<unknown>,
  ): Promise<void> {
    const { contracts } = this.init;
    const [free] = MARKET.decodeFunctionResult(
      "bondOf",
      await this.call(contracts.market, MARKET.encodeFunctionData("bondOf", [agent.spec.address])),
    )[0] as [bigint, bigint];
    if (free >= wanted) return;
    const missing = wanted - free;
    await Promise.all([
      send(
        agent,
        "approve",
        contracts.credit,
        CREDIT.encodeFunctionData("approve", [contracts.market, missing]),
      ),
      send(
        agent,
        "bond_deposit",
        contracts.market,
        MARKET.encodeFunctionData("depositBond", [missing]),
      ),
    ]);
  }

  /**
   * Each producer publishes one offer for the epoch's delivery window: a standing one (its
   * acceptance given ahead) on the standing path. The offers are the epoch's setup, published
   * before its first run starts: their transactions belong to no run (a run's confirmation times,
   * and a stress step's bound, are its trades').
   */
  async publishOffers(command: OffersCommand): Promise<void> {
    const { contracts, terms } = this.init;
    const ids: Record<string, string> = {};
    await Promise.all(
      Object.entries(command.wh).map(async ([id, wh]) => {
        const agent = this.agents.get(id)!;
        const result = await this.send(
          agent,
          "publish",
          contracts.market,
          MARKET.encodeFunctionData(terms.path === "standing" ? "publishStanding" : "publish", [
            0,
            BigInt(terms.pricePerKwh),
            BigInt(terms.defaultPerKwh),
            BigInt(wh),
            command.deliveryStart,
            command.deliveryEnd,
            command.deliveryStart,
          ]),
        );
        if (result.status !== "success") throw new Error(`${id}: publish ${result.hash} reverted`);
        const offerId = eventArg(result, MARKET, "OfferPublished", "offerId") as bigint;
        this.offers.set(id, offerId);
        ids[id] = offerId.toString();
      }),
    );
    this.emit({ type: "offers-done", run: command.run, offers: ids });
  }

  /** Starts a trade; its end is emitted once, whatever happens. */
  trade(command: TradeCommand): void {
    const active: ActiveTrade = { command, ended: false };
    this.trades.set(command.trade, active);
    const timeout = setTimeout(
      () =>
        this.end(active, {
          outcome: "failed",
          reason: "timeout",
          detail: `no end within ${this.init.terms.tradeTimeoutSeconds} s`,
        }),
      this.init.terms.tradeTimeoutSeconds * 1000,
    );
    void this.walk(active)
      .then((end) => this.end(active, end))
      .catch((error: unknown) => this.end(active, failure(error)))
      .finally(() => clearTimeout(timeout));
  }

  /** The grid operator decided an order that awaited manual review. */
  reviewed(trade: number, decision: { approved: boolean; detail?: string }): void {
    this.trades.get(trade)?.review?.(decision);
  }

  /** Ends every trade still running as interrupted, flushes the channel stores, stops following. */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const active of this.trades.values())
      this.end(active, { outcome: "failed", reason: "interrupted", detail: "worker stopped" });
    this.follower.stop();
    await Promise.all([...this.agents.values()].map((agent) => agent.channel?.stop()));
    this.rpc.close();
    this.reader.destroy();
  }

  // ---- one trade: B (buy; or request and the seller's answer), C (review), D (channel payments)

  private async walk(
    active: ActiveTrade,
  ): Promise<Omit<TradeEnd, "type" | "trade" | "run" | "at">> {
    const { command } = active;
    const { contracts, terms } = this.init;
    const buyer = this.agents.get(command.buyer)!;
    // Any producer (by the seeded pairing) where no channel per pair is needed; else the fixed one.
    const seller: Counterparty = this.payments.paired
      ? this.payments.sellerOf(command.trade)
      : { id: buyer.spec.seller!, address: this.agents.get(buyer.spec.seller!)!.spec.address };
    const offer = this.payments.paired
      ? this.payments.sellerOf(command.trade).offer
      : this.offers.get(seller.id);
    if (offer === undefined) throw new TradeFailure("other", `${seller.id} has no offer`);
    const wh = BigInt(terms.wh);
    const context = { trade: command.trade, run: command.run };

    if (terms.path === "standing") {
      const bought = await this.send(
        buyer,
        "buy",
        contracts.market,
        MARKET.encodeFunctionData("buy", [offer, wh]),
        context,
      );
      if (bought.status !== "success")
        throw new TradeFailure("revert", `buy ${bought.hash} reverted`);
      const orderId = eventArg(bought, MARKET, "OrderRequested", "orderId") as bigint;
      return this.decided(active, buyer, seller, orderId, bought, "buy");
    }

    const requested = await this.send(
      buyer,
      "request",
      contracts.market,
      MARKET.encodeFunctionData("request", [offer, wh]),
      context,
    );
    if (requested.status !== "success") {
      throw new TradeFailure("revert", `request ${requested.hash} reverted`);
    }
    const orderId = eventArg(requested, MARKET, "OrderRequested", "orderId") as bigint;
    const base = {
      orderId: orderId.toString(),
      seller: seller.id,
      payments: 0,
      paymentSeconds: [] as number[],
    };
    // Two transactions: the seller confirms from its own account, so it lives in this worker.
    const sellerAgent = this.agents.get(seller.id)!;

    if (rejects(command.trade, terms.rejectShare)) {
      const rejected = await this.send(
        sellerAgent,
        "reject",
        contracts.market,
        MARKET.encodeFunctionData("reject", [orderId]),
        context,
      );
      if (rejected.status !== "success")
        throw new TradeFailure("revert", `reject ${rejected.hash} reverted`);
      return { ...base, outcome: "rejected" };
    }

    const confirmed = await this.send(
      sellerAgent,
      "confirm",
      contracts.market,
      MARKET.encodeFunctionData("confirm", [orderId]),
      context,
    );
    if (confirmed.status !== "success") {
      throw new TradeFailure("revert", `confirm ${confirmed.hash} reverted`);
    }
    return this.decided(active, buyer, seller, orderId, confirmed, "confirm");
  }

  /** The seller's acceptance was mined (confirm, or buy on a standing offer): the review's answer. */
  private async decided(
    active: ActiveTrade,
    buyer: Agent,
    seller: Counterparty,
    orderId: bigint,
    accepted: MinedReceipt,
    kind: "confirm" | "buy",
  ): Promise<Omit<TradeEnd, "type" | "trade" | "run" | "at">> {
    const { command } = active;
    const base = {
      orderId: orderId.toString(),
      seller: seller.id,
      payments: 0,
      paymentSeconds: [] as number[],
    };
    const decided = marketEvents(accepted);
    const denied = decided.find((event) => event.name === "OrderDenied");
    if (denied !== undefined) {
      return { ...base, outcome: "denied", detail: DENIAL_REASONS[Number(denied.args.reason)] };
    }
    if (decided.some((event) => event.name === "OrderAwaitingReview")) {
      const decision = await new Promise<{ approved: boolean; detail?: string }>((resolve) => {
        active.review = resolve;
        this.emit({ type: "review", trade: command.trade, orderId: orderId.toString() });
      });
      if (!decision.approved)
        return {
          ...base,
          outcome: "denied",
          detail: decision.detail ?? "denied by the grid operator",
        };
    } else if (!decided.some((event) => event.name === "OrderEstablished")) {
      throw new TradeFailure(
        "other",
        `${kind} ${accepted.hash} neither established nor denied order ${orderId}`,
      );
    }

    return {
      ...base,
      ...(await this.pay(buyer, seller, orderId, command)),
      outcome: "executed",
    };
  }

  /** The order is paid by the test's topology: through the hub, on chain, or over a direct channel. */
  private async pay(buyer: Agent, to: Counterparty, orderId: bigint, command: TradeCommand) {
    const { terms } = this.init;
    const count = terms.paymentsPerTrade;
    const paymentSeconds: number[] = [];
    if (count === 0) return { payments: 0, paymentSeconds };
    if (terms.topology === "onchain") {
      return this.payments.payOnChain(buyer, to, (kind, target, data) =>
        this.send(buyer, kind, target, data, { trade: command.trade, run: command.run }),
      );
    }
    if (buyer.channel === undefined) return { payments: 0, paymentSeconds };
    if (terms.topology === "hub") return this.payments.payThroughHub(buyer, command.trade, orderId);
    return this.payments.payDirect(buyer, this.agents.get(to.id)!, orderId);
  }

  private end(
    active: ActiveTrade,
    end: Omit<TradeEnd, "type" | "trade" | "run" | "at" | "payments" | "paymentSeconds"> &
      Partial<Pick<TradeEnd, "payments" | "paymentSeconds">>,
  ): void {
    if (active.ended) return;
    active.ended = true;
    this.trades.delete(active.command.trade);
    this.emit({
      type: "end",
      trade: active.command.trade,
      run: active.command.run,
      ...end,
      payments: end.payments ?? 0,
      paymentSeconds: end.paymentSeconds ?? [],
      at: Date.now(),
    });
  }

  /** Sends one transaction and reports it (mined, reverted or lost) before returning. */
  private async send(
    agent: Agent,
    kind: TxKind,
    to: string,
    data: string,
    context: { trade?: number; run?: number } = {},
  ): Promise<SendResult> {
    return sendReported(
      agent.sender,
      { to, data, gasLimit: GAS[kind] ?? 300_000n },
      (event) => this.emit(event),
      { kind, agent: agent.spec.id, ...context },
    );
  }

  private call(to: string, data: string): Promise<string> {
    return this.rpc.call<string>("eth_call", [{ to, data }, "latest"]);
  }
}
