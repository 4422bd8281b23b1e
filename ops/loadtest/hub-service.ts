import { join } from "node:path";
import { Interface, JsonRpcProvider, getAddress, SigningKey, keccak256, toUtf8Bytes } from "ethers";
import { acceptRelease, releaseLock, type LockedProof } from "../channels/dvp.js";
import { HubMediator } from "../channels/hub.js";
import { lockedTotal } from "../channels/locks.js";
import { marketOrders, marketOutcomes, type OutcomeSource } from "../channels/market.js";
import { OperatorError } from "../errors.js";
import {
  GridCredit__factory,
  PaymentChannels__factory,
} from "../../types/ethers-contracts/index.js";
import { eventArg } from "./agent-support.js";
import type { TradeTracker } from "./confirmations.js";
import type { LoadTestContext } from "./context.js";
import { fromWire, InNonceOrder, toWire } from "./hub-wire.js";
import { planHubDeposits, type HubPlan } from "./pairing.js";
import type { Address, AgentSpec, FromWorker, HubChannelFact, ToWorker } from "./protocol.js";
import { plannedRuns, plannedTradeCount } from "./terms.js";
import type { Worker } from "./types.js";

const CREDIT = new Interface(GridCredit__factory.abi);
const CHANNELS = new Interface(PaymentChannels__factory.abi);

type Route = { worker: Worker; id: string };
type Answer = Extract<FromWorker, { type: "hub-released" | "hub-settled" }>;

/**
 * The grid operator's hub inside the coordinator: its channels with every producer (opened and
 * funded from the liquidity the schedule needs) and with every consumer (opened by the consumers),
 * its mediation of each order's payment between the workers (the buyer's lock in, the forward to
 * the seller's worker out, through the coordinator's message channel), and the releases once the
 * market decided the orders. Its on-chain steps go through the grid operator's sender.
 */
export class HubService {
  private readonly routes = new Map<string, Route>();
  private readonly buyers = new Map<number, Worker>();
  private readonly answers = new Map<string, (answer: Answer) => void>();
  private readonly inOrder = new InNonceOrder();
  private readonly outcomes: OutcomeSource;
  private plan: HubPlan | undefined;
  private netBefore = 0n;
  private deposited = 0n;
  private mediated = 0;
  private released = 0;

  private constructor(
    private readonly ctx: LoadTestContext,
    private readonly tracker: TradeTracker,
    readonly hub: HubMediator,
    private readonly provider: JsonRpcProvider,
  ) {
    this.outcomes = marketOutcomes(ctx.options.contracts.market, provider);
  }

  /** Starts the hub's channel client (its store beside the agents') as the grid operator. */
  static async start(ctx: LoadTestContext, tracker: TradeTracker): Promise<HubService> {
    const { options } = ctx;
    const operator = options.accounts.find((account) => account.role === "grid-operator");
    if (operator === undefined)
      throw new OperatorError("the consortium has no grid operator account");
    const provider = new JsonRpcProvider(options.rpcUrl, options.chainId, {
      staticNetwork: true,
      batchMaxCount: 100,
    });
    const hub = await HubMediator.start({
      key: new SigningKey(options.keyOf(operator.id)),
      domain: { chainId: BigInt(options.chainId), verifyingContract: options.contracts.channels },
      storePath: join(options.storeDir, "hub.jsonl"),
      chain: {
        channels: PaymentChannels__factory.connect(options.contracts.channels, provider),
        token: GridCredit__factory.connect(options.contracts.credit, provider),
      },
      orders: marketOrders(options.contracts.market, provider),
      feePerKwh: BigInt(ctx.terms.hubFeePerKwh),
    });
    return new HubService(ctx, tracker, hub, provider);
  }

  get address(): Address {
    return this.hub.client.address as Address;
  }

  /**
   * Opens (or reuses) the hub's channel with every producer and raises its deposit in each to what
   * it has sent and locked there plus what the schedule's trades will lock toward that producer,
   * minting what the hub lacks first. Every transaction is pipelined from the operator's sender.
   */
  async fundProducers(agents: AgentSpec[]): Promise<Record<string, string>> {
    const { ctx } = this;
    const { contracts, scenario } = ctx.options;
    const producers = agents.filter((agent) => agent.role === "producer");
    this.plan = planHubDeposits({
      producers: producers.map((agent) => agent.address),
      seed: ctx.terms.pairingSeed,
      plannedTrades: plannedTradeCount(plannedRuns(scenario), scenario.load),
      wh: BigInt(ctx.terms.wh),
      pricePerKwh: BigInt(ctx.terms.pricePerKwh),
      feePerKwh: BigInt(ctx.terms.hubFeePerKwh),
    });
    const client = this.hub.client;
    const channels = await Promise.all(
      producers.map(async (agent) => {
        let channelId = await this.channelOfPair(agent.address);
        let opened = false;
        if (channelId === 0n) {
          const receipt = await this.send("channel_open", contracts.channels, "openChannel", [
            agent.address,
          ]);
          channelId = eventArg(receipt, CHANNELS, "ChannelOpened", "channelId") as bigint;
          opened = true;
        }
        const view = opened ? undefined : await client.sync(channelId);
        const used = (view?.sent?.transferredAmount ?? 0n) + lockedTotal(view?.sentLocks ?? []);
        const current = view?.selfDeposit ?? 0n;
        const wanted = used + this.plan!.perSeller.get(agent.address)!;
        return { agent, channelId, opened, current, wanted: wanted > current ? wanted : current };
      }),
    );
    const missing = channels.reduce((sum, c) => sum + (c.wanted - c.current), 0n);
    if (missing > 0n) {
      const balance = BigInt(
        await ctx.rpc.call<string>("eth_call", [
          { to: contracts.credit, data: CREDIT.encodeFunctionData("balanceOf", [this.address]) },
          "latest",
        ]),
      );
      // In nonce order from one sender: the mint and the approval land before the deposits.
      const steps = [
        ...(balance < missing
          ? [
              this.send("mint", contracts.credit, "mint", [
                this.address,
                missing - balance,
                keccak256(toUtf8Bytes("gridchain load test hub liquidity")),
              ]),
            ]
          : []),
        this.send("channel_approve", contracts.credit, "approve", [contracts.channels, missing]),
        ...channels
          .filter((c) => c.wanted > c.current)
          .map((c) =>
            this.send("channel_deposit", contracts.channels, "setTotalDeposit", [
              c.channelId,
              this.address,
              c.wanted,
            ]),
          ),
      ];
      await Promise.all(steps);
    }
    for (const c of channels) {
      if (c.opened) {
        await client.track({
          channelId: c.channelId,
          partner: c.agent.address,
          participant1: this.address,
          selfDeposit: c.wanted,
          partnerDeposit: 0n,
        });
      } else if (c.wanted > c.current) {
        await client.sync(c.channelId);
      }
    }
    this.deposited = channels.reduce((sum, c) => sum + c.wanted, 0n);
    return Object.fromEntries(channels.map((c) => [c.agent.id, c.channelId.toString()]));
  }

  /** Records the consumers' channels as their workers set them up (read from chain when known). */
  async recordConsumers(facts: HubChannelFact[]): Promise<void> {
    const client = this.hub.client;
    const known = new Set(client.channelIds());
    for (const fact of facts) {
      const channelId = BigInt(fact.channelId);
      if (known.has(channelId)) await client.sync(channelId);
      else
        await client.track({
          channelId,
          partner: fact.address,
          participant1: fact.participant1,
          selfDeposit: 0n,
          partnerDeposit: BigInt(fact.deposit),
        });
    }
  }

  /** Routes the workers' agents, journals the hub's plan; call once the channels are set up. */
  ready(workers: Worker[]): void {
    for (const worker of workers)
      for (const agent of worker.agents)
        this.routes.set(getAddress(agent.address), { worker, id: agent.id });
    this.netBefore = this.net();
    const plan = this.plan!;
    this.ctx.journal.write({
      t: "payments",
      at: Date.now(),
      topology: "hub",
      hub: this.address,
      feePerKwh: this.ctx.terms.hubFeePerKwh,
      plannedTrades: plan.trades,
      plannedLiquidity: plan.total.toString(),
      deposited: this.deposited.toString(),
      channels: this.hub.client.channelIds().filter((id) => !this.hub.client.channel(id).closed)
        .length,
      netBefore: this.netBefore.toString(),
    });
  }

  /** A worker's message about the hub's payments; false for any other message. */
  onMessage(worker: Worker, message: FromWorker): boolean {
    switch (message.type) {
      case "hub-lock":
        this.buyers.set(message.trade, worker);
        void this.mediate(message).catch((error: unknown) =>
          this.paid(message.trade, false, (error as Error).message),
        );
        return true;
      case "hub-accepted":
        if (message.ok) this.mediated += 1;
        this.paid(message.trade, message.ok, message.detail);
        return true;
      case "hub-released":
      case "hub-settled":
        this.answers.get(`${message.type}:${message.orderId}`)?.(message);
        return true;
      default:
        return false;
    }
  }

  /**
   * Releases every lock the hub holds on an order the market decided: the buyer releases toward
   * the hub, the hub toward the seller, each by the outcome. One order at a time; returns how many.
   */
  async releaseDecided(): Promise<number> {
    const client = this.hub.client;
    for (const channelId of client.channelIds()) {
      const view = client.channel(channelId);
      if (view.closed || !this.routes.has(view.partner)) continue;
      for (const lock of view.receivedLocks) {
        if (!(await this.outcomes.outcome(lock.orderId)).decided) continue;
        try {
          if (await this.release(channelId, lock.orderId)) this.released += 1;
        } catch (error) {
          // Left locked: either side can still unlock it on chain after closing the channel.
          this.ctx.log(`hub: order ${lock.orderId} not released: ${(error as Error).message}`);
        }
      }
    }
    return this.released;
  }

  /** Journals the hub's books at the end of the test and closes its store. */
  async stop(): Promise<void> {
    const { lockedIn, lockedOut } = this.hub.liquidity();
    this.ctx.journal.write({
      t: "hub-end",
      at: Date.now(),
      mediated: this.mediated,
      released: this.released,
      lockedIn: lockedIn.toString(),
      lockedOut: lockedOut.toString(),
      net: (this.net() - this.netBefore).toString(),
    });
    await this.hub.stop();
    this.provider.destroy();
  }

  // ---- private

  private async mediate(message: Extract<FromWorker, { type: "hub-lock" }>) {
    const incoming = fromWire(message.proof);
    const channelId = incoming.proof.channelId;
    const forward = await this.inOrder.run(
      channelId,
      incoming.proof.nonce,
      () => this.hub.client.channel(channelId).received?.nonce ?? 0n,
      () => this.hub.mediate(incoming, BigInt(message.orderId)),
    );
    const seller = this.route(forward);
    seller.worker.handle.send({
      type: "hub-forward",
      trade: message.trade,
      seller: seller.id,
      orderId: message.orderId,
      proof: toWire(forward),
    });
  }

  private paid(trade: number, ok: boolean, detail?: string): void {
    const worker = this.buyers.get(trade);
    this.buyers.delete(trade);
    if (worker?.alive)
      worker.handle.send({
        type: "hub-paid",
        trade,
        ok,
        ...(detail === undefined ? {} : { detail }),
      });
  }

  /** Releases one decided order on both hops; false when its buyer's worker is gone. */
  private async release(channelId: bigint, orderId: bigint): Promise<boolean> {
    const client = this.hub.client;
    const buyer = this.routes.get(client.channel(channelId).partner)!;
    if (!buyer.worker.alive) return false;
    const back = await this.ask(buyer.worker, "hub-released", orderId, {
      type: "hub-release",
      orderId: orderId.toString(),
      buyer: buyer.id,
    });
    if (back.type !== "hub-released" || back.proof === undefined)
      throw new OperatorError(`order ${orderId}: the buyer sent no release`);
    const incoming = fromWire(back.proof);
    await this.inOrder.run(
      channelId,
      incoming.proof.nonce,
      () => client.channel(channelId).received?.nonce ?? 0n,
      () => acceptRelease(client, this.outcomes, incoming),
    );
    const order = await marketOrders(this.ctx.options.contracts.market, this.provider).getOrder(
      orderId,
    );
    const outChannel = client.channelWith(order.seller)!;
    const out = await releaseLock(client, this.outcomes, outChannel, orderId);
    const seller = this.route(out);
    await this.ask(seller.worker, "hub-settled", orderId, {
      type: "hub-settle",
      orderId: orderId.toString(),
      seller: seller.id,
      proof: toWire(out),
    });
    return true;
  }

  private ask(
    worker: Worker,
    answer: Answer["type"],
    orderId: bigint,
    message: ToWorker,
  ): Promise<Answer> {
    const key = `${answer}:${orderId}`;
    return new Promise((resolve, reject) => {
      this.answers.set(key, (reply) => {
        this.answers.delete(key);
        if (reply.ok) resolve(reply);
        else reject(new OperatorError(`order ${orderId}: ${answer}: ${reply.detail}`));
      });
      worker.handle.send(message);
    });
  }

  /** The worker of the partner of the channel a hub proof is for. */
  private route(sent: LockedProof): Route {
    const partner = this.hub.client.channel(sent.proof.channelId).partner;
    const route = this.routes.get(partner);
    if (route === undefined) throw new OperatorError(`no agent of this test is ${partner}`);
    if (!route.worker.alive) throw new OperatorError(`${route.id}'s worker was lost`);
    return route;
  }

  /** What the hub received less what it sent, over all its channels. */
  private net(): bigint {
    let net = 0n;
    for (const channelId of this.hub.client.channelIds()) {
      const view = this.hub.client.channel(channelId);
      net += (view.received?.transferredAmount ?? 0n) - (view.sent?.transferredAmount ?? 0n);
    }
    return net;
  }

  private async channelOfPair(partner: string): Promise<bigint> {
    const data = await this.ctx.rpc.call<string>("eth_call", [
      {
        to: this.ctx.options.contracts.channels,
        data: CHANNELS.encodeFunctionData("channelOfPair", [this.address, partner]),
      },
      "latest",
    ]);
    return CHANNELS.decodeFunctionResult("channelOfPair", data)[0] as bigint;
  }

  private async send(
    kind: "channel_open" | "channel_approve" | "channel_deposit" | "mint",
    to: string,
    method: string,
    args: unknown[],
  ) {
    const iface = to === this.ctx.options.contracts.credit ? CREDIT : CHANNELS;
    const result = await this.tracker.sendAs(
      this.ctx.operator!,
      kind,
      to,
      iface.encodeFunctionData(method, args),
    );
    if (result.status !== "success") {
      throw new OperatorError(`the hub's ${kind} ${result.hash} reverted`, {
        hint: "is the grid operator a member with the channels' and the token's roles?",
      });
    }
    return result;
  }
}
