import type { AccountSender } from "./chain/sender.js";
import type { LoadTestContext } from "./context.js";
import type { TradeEnd, TxEvent, TxKind } from "./protocol.js";
import { sendReported } from "./reported.js";
import type { Progress, Worker } from "./types.js";

type InFlight = {
  trade: number;
  run: number;
  worker: Worker;
  guard: NodeJS.Timeout;
};

/** What one run counted of its own trades (the stress ramp's step bound reads it). */
export type RunStats = { executed: number; failed: number; confirmations: number[] };

/**
 * Tracks every trade from its start to its one end (the worker's, a timeout guard's, a lost
 * worker's or the interruption's) and every transaction's confirmation, journaling each fact
 * and keeping the progress and the run's counts.
 */
export class TradeTracker {
  readonly inFlight = new Map<number, InFlight>();
  /** The executed trades with their orders, in the order they ended (metering samples them). */
  readonly executed: { trade: number; run: number; orderId: string }[] = [];
  progress: Progress;
  runStats: RunStats | undefined;
  private nextTrade = 1;
  private endWaiters: (() => void)[] = [];

  constructor(
    private readonly ctx: LoadTestContext,
    runs: number,
  ) {
    this.progress = {
      phase: "setup",
      run: 0,
      runs,
      started: 0,
      ended: 0,
      executed: 0,
      failed: 0,
    };
  }

  /** Starts a trade of `buyer` on `worker`, guarded by a timeout in case the worker never ends it. */
  start(run: number, worker: Worker, buyer: string): void {
    const { journal, metrics, terms } = this.ctx;
    const trade = this.nextTrade++;
    const at = Date.now();
    journal.write({ t: "trade", trade, run, worker: worker.id, buyer, at });
    const guard = setTimeout(
      () => {
        const flight = this.inFlight.get(trade);
        if (flight)
          this.finish(flight, {
            outcome: "failed",
            reason: "timeout",
            detail: "the worker reported no end",
          });
      },
      (terms.tradeTimeoutSeconds + 15) * 1000,
    );
    this.inFlight.set(trade, { trade, run, worker, guard });
    metrics.tradeStarted();
    this.progress.started += 1;
    worker.handle.send({ type: "trade", trade, run, buyer });
  }

  /** Resolves at the next trade end (or after a second, whichever comes first). */
  nextEnd(): Promise<void> {
    return new Promise((resolve) => {
      this.endWaiters.push(resolve);
      setTimeout(resolve, 1000).unref();
    });
  }

  wakeEndWaiters(): void {
    const waiters = this.endWaiters;
    this.endWaiters = [];
    for (const wake of waiters) wake();
  }

  onTx(event: TxEvent): void {
    const { type: _type, ...fields } = event;
    this.ctx.journal.write({ t: "tx", ...fields });
    this.ctx.metrics.tx(event);
    if (event.minedAt !== undefined && this.runStats !== undefined && event.run !== undefined)
      this.runStats.confirmations.push((event.minedAt - event.sentAt) / 1000);
  }

  onEnd(end: TradeEnd): void {
    const flight = this.inFlight.get(end.trade);
    if (flight === undefined) return; // already ended by the coordinator (lost worker, guard)
    const { type: _type, trade: _trade, run: _run, at: _at, ...rest } = end;
    this.finish(flight, rest, end.at);
  }

  /** Ends every trade in flight on `worker`, which was lost. */
  failWorker(worker: Worker, detail: string): void {
    for (const flight of [...this.inFlight.values()]) {
      if (flight.worker === worker)
        this.finish(flight, { outcome: "failed", reason: "worker_lost", detail });
    }
  }

  endAll(reason: "interrupted", detail: string): void {
    for (const flight of [...this.inFlight.values()])
      this.finish(flight, { outcome: "failed", reason, detail });
  }

  report(change: Partial<Progress>): void {
    Object.assign(this.progress, change);
    this.ctx.options.onProgress?.({ ...this.progress });
  }

  /** A transaction of the coordinator's own accounts (grid operator, meter), journaled like the agents'. */
  async sendAs(
    sender: AccountSender,
    kind: TxKind,
    to: string,
    data: string,
    context: { trade?: number; run?: number; gasLimit?: bigint } = {},
  ) {
    const { gasLimit = 300_000n, ...about } = context;
    return sendReported(sender, { to, data, gasLimit }, (event) => this.onTx(event), {
      kind,
      agent: sender.address,
      ...about,
    });
  }

  private finish(
    flight: InFlight,
    end: Omit<TradeEnd, "type" | "trade" | "run" | "at" | "payments" | "paymentSeconds"> &
      Partial<Pick<TradeEnd, "payments" | "paymentSeconds">>,
    at = Date.now(),
  ): void {
    if (!this.inFlight.delete(flight.trade)) return;
    clearTimeout(flight.guard);
    const record: TradeEnd = {
      type: "end",
      trade: flight.trade,
      run: flight.run,
      payments: 0,
      paymentSeconds: [],
      ...end,
      at,
    };
    const { type: _type, ...fields } = record;
    this.ctx.journal.write({ t: "end", ...fields });
    this.ctx.metrics.tradeEnded(record);
    this.progress.ended += 1;
    if (record.outcome === "executed") {
      this.progress.executed += 1;
      if (this.runStats) this.runStats.executed += 1;
      if (record.orderId !== undefined)
        this.executed.push({ trade: flight.trade, run: flight.run, orderId: record.orderId });
    }
    if (record.outcome === "failed") {
      this.progress.failed += 1;
      if (this.runStats) this.runStats.failed += 1;
    }
    this.report({});
    this.wakeEndWaiters();
  }
}
