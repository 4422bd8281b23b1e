import { OperatorError } from "../errors.js";
import type { TradeTracker } from "./confirmations.js";
import type { LoadTestContext } from "./context.js";
import type { AgentSpec, FromWorker, ToWorker, WorkerInit } from "./protocol.js";
import { approveOrder } from "./settlement.js";
import type { Worker } from "./types.js";

/**
 * The workers of a test: starts them through the runner with their share of the agents, routes
 * their messages, notices when one is lost (its trades end as `worker_lost`) and stops them.
 */
export class Supervisor {
  readonly workers: Worker[] = [];
  /** The consumers of the live workers, in the order trades go round them. */
  buyers: { worker: Worker; id: string }[] = [];
  workersLost = 0;
  /** Takes the workers' messages about payments through the hub (true when it took one). */
  onPayments: ((worker: Worker, message: FromWorker) => boolean) | undefined;
  /** Told of a lost worker once its trades ended (its producers sell nothing more). */
  onLost: ((worker: Worker) => void) | undefined;
  /** Set once the coordinator asks the workers to stop: their exits are no longer losses. */
  private stopping = false;

  constructor(
    private readonly ctx: LoadTestContext,
    private readonly tracker: TradeTracker,
  ) {}

  async start(
    agents: AgentSpec[],
    payments: Pick<WorkerInit, "hub" | "producers"> = {},
  ): Promise<void> {
    const { scenario, runner, outDir, storeDir } = this.ctx.options;
    const count = Math.min(
      scenario.workers,
      agents.filter((agent) => agent.role === "producer").length,
    );
    const groups: AgentSpec[][] = Array.from({ length: count }, () => []);
    const producers = agents.filter((agent) => agent.role === "producer");
    const workerOf = new Map<string, number>();
    producers.forEach((producer, index) => {
      groups[index % count]!.push(producer);
      workerOf.set(producer.id, index % count);
    });
    for (const consumer of agents.filter((agent) => agent.role === "consumer")) {
      groups[workerOf.get(consumer.seller!)!]!.push(consumer);
    }
    await Promise.all(
      groups.map(async (group, id) => {
        const handle = await runner.start(id, { logFile: `${outDir}/worker-${id}.log` });
        const worker: Worker = {
          id,
          handle,
          agents: group,
          consumers: group.filter((agent) => agent.role === "consumer").map((agent) => agent.id),
          alive: true,
          waiting: new Map(),
        };
        this.workers.push(worker);
        handle.onMessage((message) => this.onMessage(worker, message));
        void handle.exited.then((exit) => this.onExit(worker, exit.detail));
        const ready = this.expect(worker, "ready");
        handle.send({
          type: "init",
          worker: id,
          rpcUrl: this.ctx.options.rpcUrl,
          ...(this.ctx.options.wsUrl === undefined ? {} : { wsUrl: this.ctx.options.wsUrl }),
          blockPeriodSeconds: this.ctx.options.blockPeriodSeconds,
          chainId: this.ctx.options.chainId,
          contracts: this.ctx.options.contracts,
          agents: group,
          terms: this.ctx.terms,
          storeDir,
          ...payments,
        });
        await ready;
        this.ctx.options.onWorker?.(handle);
      }),
    );
    this.workers.sort((a, b) => a.id - b.id);
    this.refreshBuyers();
  }

  /** Resolves with the worker's next message of `type`; rejects if the worker dies first. */
  expect(worker: Worker, type: FromWorker["type"]): Promise<FromWorker> {
    return new Promise((resolve, reject) => {
      worker.waiting.set(type, resolve);
      worker.waiting.set("__lost", (message) =>
        reject(
          new OperatorError(
            `load-test worker ${worker.id} ended during ${type === "ready" ? "start" : type}`,
            {
              details: message.type === "fatal" ? message.message : undefined,
              hint: `see ${this.ctx.options.outDir}/worker-${worker.id}.log`,
            },
          ),
        ),
      );
    });
  }

  async broadcast(message: ToWorker, answer: FromWorker["type"]): Promise<FromWorker[]> {
    return Promise.all(
      this.workers.map((worker) => {
        const waiting = this.expect(worker, answer);
        worker.handle.send(message);
        return waiting;
      }),
    );
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const worker of this.workers) if (worker.alive) worker.handle.send({ type: "stop" });
    await Promise.race([
      Promise.all(this.workers.map((worker) => worker.handle.exited)),
      new Promise((resolve) => setTimeout(resolve, 10_000).unref()),
    ]);
    await this.ctx.options.runner.close();
  }

  private onMessage(worker: Worker, message: FromWorker): void {
    // After the journal is closed nothing more can be recorded; the test has ended.
    if (this.ctx.journalClosed) return;
    if (this.onPayments?.(worker, message)) return;
    switch (message.type) {
      case "tx":
        this.tracker.onTx(message);
        return;
      case "end":
        this.tracker.onEnd(message);
        return;
      case "review":
        void approveOrder(this.ctx, this.tracker, worker, message.trade, message.orderId);
        return;
      case "log":
        this.ctx.log(`worker ${worker.id}: ${message.message}`);
        return;
      case "fatal": {
        const lost = worker.waiting.get("__lost");
        if (lost !== undefined) {
          worker.waiting.clear();
          lost(message);
        } else {
          this.ctx.log(`worker ${worker.id}: ${message.message}`);
        }
        return;
      }
      default: {
        const waiter = worker.waiting.get(message.type);
        if (waiter !== undefined) {
          worker.waiting.clear();
          waiter(message);
        }
      }
    }
  }

  private onExit(worker: Worker, detail: string): void {
    if (!worker.alive) return;
    worker.alive = false;
    const lost = worker.waiting.get("__lost");
    worker.waiting.clear();
    this.refreshBuyers();
    if (this.stopping) return;
    this.workersLost += 1;
    this.ctx.journal.write({ t: "worker-lost", worker: worker.id, at: Date.now(), detail });
    this.ctx.log(`worker ${worker.id} lost: ${detail}`);
    this.tracker.failWorker(worker, detail);
    this.onLost?.(worker);
    lost?.({ type: "fatal", message: detail });
  }

  private refreshBuyers(): void {
    this.buyers = this.workers
      .filter((worker) => worker.alive)
      .flatMap((worker) => worker.consumers.map((id) => ({ worker, id })));
  }
}
