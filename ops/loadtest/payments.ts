import type { TradeTracker } from "./confirmations.js";
import type { LoadTestContext } from "./context.js";
import { HubService } from "./hub-service.js";
import type { AgentSpec, FromWorker, HubChannelFact, WorkerInit } from "./protocol.js";
import type { Supervisor } from "./supervision.js";

/**
 * The test's payment topology around the coordinator: what the workers need to know (the hub,
 * every producer for the pairing), and for the `hub` topology the hub itself: its producer
 * channels funded while the workers set up, the consumers' channels recorded after, the releases
 * once metering decided orders, and its books journaled at the end.
 */
export class TestPayments {
  private funded: Promise<Record<string, string>> | undefined;

  private constructor(
    private readonly ctx: LoadTestContext,
    readonly hub: HubService | undefined,
  ) {}

  static async start(ctx: LoadTestContext, tracker: TradeTracker): Promise<TestPayments> {
    const pays = ctx.terms.paymentsPerTrade > 0;
    const hub =
      pays && ctx.terms.topology === "hub" ? await HubService.start(ctx, tracker) : undefined;
    return new TestPayments(ctx, hub);
  }

  /** What every worker's init carries about payments. */
  init(agents: AgentSpec[]): Pick<WorkerInit, "hub" | "producers"> {
    if (this.ctx.terms.topology === "direct") return {};
    const producers = agents
      .filter((agent) => agent.role === "producer")
      .map(({ id, address }) => ({ id, address }));
    return { producers, ...(this.hub === undefined ? {} : { hub: this.hub.address }) };
  }

  /**
   * Routes the hub's messages; call before the workers start. A lost worker's producers leave the
   * offer book, so no buyer pays a seller that can no longer accept.
   */
  attach(supervisor: Supervisor): void {
    const { ctx } = this;
    if (ctx.terms.topology !== "direct") {
      supervisor.onLost = (lost) => {
        const gone = new Set(lost.agents.map((agent) => agent.id));
        const offers = Object.fromEntries(
          Object.entries(ctx.offerBook).filter(([id]) => !gone.has(id)),
        );
        ctx.offerBook = offers;
        for (const worker of supervisor.workers)
          if (worker.alive) worker.handle.send({ type: "offer-book", offers });
      };
    }
    const hub = this.hub;
    if (hub !== undefined)
      supervisor.onPayments = (worker, message) => hub.onMessage(worker, message);
  }

  /** Starts funding the hub's producer channels (the operator's sender must be set up). */
  fundHub(agents: AgentSpec[]): void {
    this.funded = this.hub?.fundProducers(agents);
    // Awaited in `ready`; a failure before then must not go unhandled.
    this.funded?.catch(() => undefined);
  }

  /** After the workers' setup: the hub learns every channel and the producers read theirs. */
  async ready(supervisor: Supervisor, setup: FromWorker[]): Promise<void> {
    if (this.hub === undefined) {
      this.ctx.journal.write({ t: "payments", at: Date.now(), topology: this.ctx.terms.topology });
      return;
    }
    const producerChannels = await this.funded!;
    const facts: HubChannelFact[] = setup.flatMap((done) =>
      done.type === "setup-done" ? (done.channels ?? []) : [],
    );
    await this.hub.recordConsumers(facts);
    await supervisor.broadcast(
      { type: "hub-channels", channels: producerChannels },
      "hub-channels-done",
    );
    this.hub.ready(supervisor.workers);
  }

  /** After metering: every decided order's locks are released on both hops. */
  async settle(): Promise<void> {
    if (this.hub === undefined) return;
    const released = await this.hub.releaseDecided();
    if (released > 0) this.ctx.log(`hub: ${released} decided orders released on both hops`);
  }

  async stop(): Promise<void> {
    await this.hub?.stop();
  }
}
