import { cpus, totalmem } from "node:os";
import { Interface, keccak256, toUtf8Bytes } from "ethers";
import {
  EnergyMarket__factory,
  GridCredit__factory,
  GridReview__factory,
} from "../../types/ethers-contracts/index.js";
import { OperatorError } from "../errors.js";
import { BlockFollower } from "./chain/follower.js";
import { gridIncomeRecord } from "./chain/grid-income.js";
import { JsonRpc } from "./chain/rpc.js";
import { AccountSender } from "./chain/sender.js";
import { Journal } from "./journal.js";
import { requireAgents } from "./preflight.js";
import { sendReported } from "./reported.js";
import { LoadTestMetrics } from "./metrics.js";
import { percentile } from "./report.js";
import type {
  Address,
  AgentSpec,
  ContractAddresses,
  FromWorker,
  TradeEnd,
  TradeTerms,
  TxEvent,
  TxKind,
} from "./protocol.js";
import type { Runner, WorkerHandle } from "./runners/types.js";
import { agentSplit, stressRuns, type RunPlan, type Scenario } from "./scenario.js";

const MARKET = new Interface(EnergyMarket__factory.abi);
const CREDIT = new Interface(GridCredit__factory.abi);
const REVIEW = new Interface(GridReview__factory.abi);
const REVIEW_MODES = { auto: 0n, manual: 1n } as const;

/** On-chain transactions of a trade that runs every step (request, confirm). */
const TXS_PER_TRADE = 2;

/** A consortium account the test may use, with a way to read its key. */
export type TestAccount = {
  id: string;
  address: Address;
  role: "producer" | "consumer" | "grid-operator" | "meter" | "deployer";
  /** Numeric zone of GridReview (0 for accounts without one). */
  zone: number;
};

export type LoadTestOptions = {
  scenario: Scenario;
  preset?: string;
  /** What makes a report shareable: the network's name and the gridchain that ran the test. */
  about?: { network: string; gridchain: { version: string; commit?: string } };
  rpcUrl: string;
  chainId: number;
  engine: string;
  blockPeriodSeconds: number;
  /**
   * The review's delivery slot (offers are for whole slots) and how many trades one slot takes
   * before the grid's line capacity or the per-participant limit would deny them.
   */
  capacity: { slotSeconds: number; tradesPerSlot: number };
  contracts: ContractAddresses;
  accounts: TestAccount[];
  keyOf: (id: string) => string;
  runner: Runner;
  /** The journal (JSONL) and the workers' logs go here. */
  outDir: string;
  /** The agents' channel stores: kept across tests so channels are reused correctly. */
  storeDir: string;
  metrics?: LoadTestMetrics;
  /** Aborting interrupts the test: trades in flight are ended as `interrupted`, then it returns. */
  signal?: AbortSignal;
  onProgress?: (progress: Progress) => void;
  /** Called with each worker once it is ready (tests use it to kill one). */
  onWorker?: (worker: WorkerHandle) => void;
  log?: (line: string) => void;
};

export type Progress = {
  phase: "setup" | "run" | "metering" | "done";
  run: number;
  runs: number;
  started: number;
  ended: number;
  /** Trades the run will sign, when it is bounded by a count. */
  total?: number;
  executed: number;
  failed: number;
};

export type LoadTestResult = {
  journalPath: string;
  interrupted: boolean;
  workersLost: number;
};

type Worker = {
  id: number;
  handle: WorkerHandle;
  agents: AgentSpec[];
  consumers: string[];
  alive: boolean;
  waiting: Map<string, (message: FromWorker) => void>;
};

type InFlight = {
  trade: number;
  run: number;
  worker: Worker;
  guard: NodeJS.Timeout;
};

/**
 * Runs a load test: picks the agents from the consortium's accounts, tops up what they need in
 * one batch from the grid operator, starts the workers through the runner, has them set up
 * (bonds, channels) and runs the scenario's runs one after the other, then meters a sample.
 * Every fact goes to the journal first; every trade started ends in it exactly once, whether it
 * finished, timed out, lost its worker or was interrupted.
 */
export async function runLoadTest(options: LoadTestOptions): Promise<LoadTestResult> {
  return new Coordinator(options).run();
}

class Coordinator {
  private readonly journal: Journal;
  private readonly rpc: JsonRpc;
  private readonly follower: BlockFollower;
  private readonly metrics: LoadTestMetrics;
  private readonly workers: Worker[] = [];
  /** The consumers of the live workers, in the order trades go round them. */
  private buyers: { worker: Worker; id: string }[] = [];
  private readonly inFlight = new Map<number, InFlight>();
  private readonly terms: TradeTerms;
  private readonly log: (line: string) => void;
  private nextTrade = 1;
  private interrupted = false;
  /** Set once the coordinator asks the workers to stop: their exits are no longer losses. */
  private stopping = false;
  private journalClosed = false;
  private workersLost = 0;
  private progress: Progress;
  private endWaiters: (() => void)[] = [];
  private operator: AccountSender | undefined;
  private readonly executed: { trade: number; run: number; orderId: string }[] = [];
  private readonly runWindows = new Map<number, { start: number; end: number }>();

  constructor(private readonly options: LoadTestOptions) {
    this.journal = new Journal(`${options.outDir}/journal.jsonl`);
    this.rpc = new JsonRpc(options.rpcUrl, { batchWindowMs: 2, maxBatch: 200, timeoutMs: 30_000 });
    // The coordinator mostly counts blocks; its own transactions (funding, reviews, metering) are few.
    this.follower = new BlockFollower(this.rpc, { pollMs: 100, receipts: "watched" });
    this.metrics = options.metrics ?? new LoadTestMetrics();
    this.log = options.log ?? (() => {});
    const { scenario } = options;
    const runs = this.plannedRuns();
    this.terms = tradeTerms(scenario, runs, this.producerCount());
    this.progress = {
      phase: "setup",
      run: 0,
      runs: runs.length,
      started: 0,
      ended: 0,
      executed: 0,
      failed: 0,
    };
  }

  async run(): Promise<LoadTestResult> {
    const { scenario, signal } = this.options;
    const onAbort = () => {
      this.interrupted = true;
      this.wakeEndWaiters();
    };
    signal?.addEventListener("abort", onAbort);
    const metricsTimer = setInterval(() => this.metrics.tick(), 1000);
    try {
      const agents = this.pickAgents();
      this.journal.write({
        t: "test",
        at: Date.now(),
        scenario: scenario.name,
        ...(this.options.preset === undefined ? {} : { preset: this.options.preset }),
        nodes: agents.length,
        producers: agents.filter((agent) => agent.role === "producer").length,
        consumers: agents.filter((agent) => agent.role === "consumer").length,
        workers: scenario.workers,
        runner: this.options.runner.kind,
        engine: this.options.engine,
        chainId: this.options.chainId,
        blockPeriodSeconds: this.options.blockPeriodSeconds,
        paymentsPerTrade: scenario.trade.paymentsPerTrade,
        ...(scenario.stress === undefined
          ? {}
          : {
              stress: {
                successFloor: scenario.stress.successFloor,
                p99BlockPeriods: scenario.stress.p99BlockPeriods,
              },
            }),
        host: {
          cpus: cpus().length,
          cpuModel: cpus()[0]?.model ?? "unknown",
          memoryGiB: Math.round(totalmem() / 2 ** 30),
          node: process.version,
        },
        ...this.options.about,
        contracts: this.options.contracts,
      });
      await this.follower.start();
      this.follower.onBlock((block) =>
        this.journal.write({
          t: "block",
          number: block.number,
          timestamp: block.timestamp,
          seenAt: block.seenAt,
          transactions: block.transactions,
          gasUsed: block.gasUsed.toString(),
          gasLimit: block.gasLimit.toString(),
        }),
      );
      const setupStarted = Date.now();
      const minted = await this.fund(agents);
      const workersStarted = Date.now();
      await this.startWorkers(agents);
      this.log(
        `workers: ${this.workers.length} ${this.options.runner.kind} workers ready in ${((Date.now() - workersStarted) / 1000).toFixed(1)} s (funding took ${((workersStarted - setupStarted) / 1000).toFixed(1)} s)`,
      );
      const setupTxs = await this.broadcast({ type: "setup" }, "setup-done");
      const transactions =
        minted +
        setupTxs.reduce(
          (sum, done) => sum + (done.type === "setup-done" ? done.transactions : 0),
          0,
        );
      this.journal.write({
        t: "setup",
        at: Date.now(),
        seconds: (Date.now() - setupStarted) / 1000,
        transactions,
      });
      this.log(
        `setup: ${agents.length} agents ready in ${((Date.now() - setupStarted) / 1000).toFixed(1)} s (${transactions} transactions)`,
      );

      await this.switchReview();
      this.journal.write(await gridIncomeRecord(this.rpc, this.options.contracts.market, "before"));
      const runs = this.plannedRuns();
      const epochs = this.epochs(runs);
      for (let index = 0; index < runs.length && !this.interrupted; index += 1) {
        const epoch = epochs.find((candidate) => candidate.runs[0] === index + 1);
        if (epoch !== undefined) await this.publishOffers(epoch);
        const result = await this.runOne(index + 1, runs[index]!, runs.length);
        if (scenario.stress !== undefined && !this.stepHeld(result)) {
          this.log(`stress: step ${index + 1} missed its bound; stopping the ramp`);
          break;
        }
        if (this.workers.every((worker) => !worker.alive)) {
          throw new OperatorError("every load-test worker was lost", {
            hint: `see the worker logs in ${this.options.outDir}`,
          });
        }
      }
      if (!this.interrupted) await this.meter();
      this.journal.write(await gridIncomeRecord(this.rpc, this.options.contracts.market, "after"));
    } finally {
      clearInterval(metricsTimer);
      signal?.removeEventListener("abort", onAbort);
      if (this.interrupted)
        this.journal.write({ t: "interrupted", at: Date.now(), signal: "SIGINT" });
      this.endAll("interrupted", "the test stopped before the trade ended");
      await this.stopWorkers();
      await this.restoreReview();
      this.follower.stop();
      this.rpc.close();
      this.journal.write({ t: "done", at: Date.now() });
      this.journal.close();
      this.journalClosed = true;
      this.report({ phase: "done" });
    }
    return {
      journalPath: this.journal.path,
      interrupted: this.interrupted,
      workersLost: this.workersLost,
    };
  }

  // ---- agents and funding

  private producerCount(): number {
    return agentSplit(this.options.scenario).producers;
  }

  /** The first producers and consumers of the consortium, each consumer assigned a seller. */
  private pickAgents(): AgentSpec[] {
    const { scenario, accounts, keyOf } = this.options;
    const wantedProducers = this.producerCount();
    const wantedConsumers = scenario.agents - wantedProducers;
    requireAgents(scenario, accounts);
    const producers = accounts.filter((account) => account.role === "producer");
    const consumers = accounts.filter((account) => account.role === "consumer");
    const agents: AgentSpec[] = [];
    const chosenProducers = producers.slice(0, wantedProducers);
    for (const account of chosenProducers) {
      agents.push({
        id: account.id,
        address: account.address,
        role: "producer",
        zone: account.zone,
        key: keyOf(account.id),
      });
    }
    consumers.slice(0, wantedConsumers).forEach((account, index) => {
      agents.push({
        id: account.id,
        address: account.address,
        role: "consumer",
        zone: account.zone,
        key: keyOf(account.id),
        seller: chosenProducers[index % chosenProducers.length]!.id,
      });
    });
    return agents;
  }

  /**
   * Mints, from the grid operator, what each agent lacks for its bond or channel deposit: all
   * mints pipelined from one nonce manager, not one round trip each.
   */
  private async fund(agents: AgentSpec[]): Promise<number> {
    const { contracts, accounts, keyOf } = this.options;
    const operatorAccount = accounts.find((account) => account.role === "grid-operator");
    if (operatorAccount === undefined)
      throw new OperatorError("the consortium has no grid operator account");
    this.operator = new AccountSender({
      key: keyOf(operatorAccount.id),
      chainId: this.options.chainId,
      rpc: this.rpc,
      follower: this.follower,
      timeoutMs: this.terms.confirmationTimeoutSeconds * 1000,
    });
    await this.operator.init();
    const needs = agents.map((agent) => ({
      agent,
      need: BigInt(
        agent.role === "producer"
          ? this.terms.bond
          : this.terms.paymentsPerTrade > 0
            ? this.terms.channelDeposit
            : "0",
      ),
    }));
    const balances = await Promise.all(
      needs.map(({ agent }) =>
        this.rpc.call<string>("eth_call", [
          { to: contracts.credit, data: CREDIT.encodeFunctionData("balanceOf", [agent.address]) },
          "latest",
        ]),
      ),
    );
    const mints = needs
      .map(({ agent, need }, index) => ({ agent, missing: need - BigInt(balances[index]!) }))
      .filter(({ missing }) => missing > 0n);
    const ref = keccak256(toUtf8Bytes("gridchain load test funding"));
    const results = await Promise.all(
      mints.map(({ agent, missing }) =>
        this.sendAs(
          this.operator!,
          "mint",
          contracts.credit,
          CREDIT.encodeFunctionData("mint", [agent.address, missing, ref]),
        ),
      ),
    );
    const reverted = results.filter((result) => result.status !== "success").length;
    if (reverted > 0)
      throw new OperatorError(`${reverted} funding mints reverted`, {
        hint: "is the grid operator's role granted? run 'gridchain deploy'",
      });
    if (mints.length > 0) this.log(`funding: minted credits to ${mints.length} agents`);
    return mints.length;
  }

  /** The review mode the test found, when it switched it for the test. */
  private reviewBefore: { mode: bigint; threshold: bigint } | undefined;

  private async switchReview(): Promise<void> {
    const wanted = this.options.scenario.review.mode;
    if (wanted === "as-deployed") return;
    const review = this.options.contracts.review;
    const [mode, threshold] = REVIEW.decodeFunctionResult(
      "reviewMode",
      await this.rpc.call<string>("eth_call", [
        { to: review, data: REVIEW.encodeFunctionData("reviewMode") },
        "latest",
      ]),
    ) as unknown as [bigint, bigint];
    if (mode === REVIEW_MODES[wanted]) return;
    const result = await this.sendAs(
      this.operator!,
      "review",
      review,
      REVIEW.encodeFunctionData("setReviewMode", [REVIEW_MODES[wanted], 0n]),
    );
    if (result.status !== "success") {
      throw new OperatorError(`switching the review to ${wanted} reverted (${result.hash})`);
    }
    this.reviewBefore = { mode, threshold };
    this.log(`review: switched to ${wanted} for the test`);
  }

  private async restoreReview(): Promise<void> {
    if (this.reviewBefore === undefined) return;
    const { mode, threshold } = this.reviewBefore;
    const result = await this.sendAs(
      this.operator!,
      "review",
      this.options.contracts.review,
      REVIEW.encodeFunctionData("setReviewMode", [mode, threshold]),
    );
    if (result.status !== "success") {
      throw new OperatorError(`restoring the review mode reverted (${result.hash})`, {
        hint: "set it again with 'gridchain deploy'",
      });
    }
    this.log("review: switched back to the mode it had before the test");
  }

  // ---- workers

  private async startWorkers(agents: AgentSpec[]): Promise<void> {
    const { scenario, runner, outDir, storeDir } = this.options;
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
          rpcUrl: this.options.rpcUrl,
          chainId: this.options.chainId,
          contracts: this.options.contracts,
          agents: group,
          terms: this.terms,
          storeDir,
        });
        await ready;
        this.options.onWorker?.(handle);
      }),
    );
    this.workers.sort((a, b) => a.id - b.id);
    this.refreshBuyers();
  }

  /** Resolves with the worker's next message of `type`; rejects if the worker dies first. */
  private expect(worker: Worker, type: FromWorker["type"]): Promise<FromWorker> {
    return new Promise((resolve, reject) => {
      worker.waiting.set(type, resolve);
      worker.waiting.set("__lost", (message) =>
        reject(
          new OperatorError(
            `load-test worker ${worker.id} ended during ${type === "ready" ? "start" : type}`,
            {
              details: message.type === "fatal" ? message.message : undefined,
              hint: `see ${this.options.outDir}/worker-${worker.id}.log`,
            },
          ),
        ),
      );
    });
  }

  private async broadcast(
    message: { type: "setup" },
    answer: FromWorker["type"],
  ): Promise<FromWorker[]> {
    return Promise.all(
      this.workers.map((worker) => {
        const waiting = this.expect(worker, answer);
        worker.handle.send(message);
        return waiting;
      }),
    );
  }

  private onMessage(worker: Worker, message: FromWorker): void {
    // After the journal is closed nothing more can be recorded; the test has ended.
    if (this.journalClosed) return;
    switch (message.type) {
      case "tx":
        this.onTx(message);
        return;
      case "end":
        this.onEnd(message);
        return;
      case "review":
        void this.review(worker, message.trade, message.orderId);
        return;
      case "log":
        this.log(`worker ${worker.id}: ${message.message}`);
        return;
      case "fatal": {
        const lost = worker.waiting.get("__lost");
        if (lost !== undefined) {
          worker.waiting.clear();
          lost(message);
        } else {
          this.log(`worker ${worker.id}: ${message.message}`);
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
    this.journal.write({ t: "worker-lost", worker: worker.id, at: Date.now(), detail });
    this.log(`worker ${worker.id} lost: ${detail}`);
    for (const flight of [...this.inFlight.values()]) {
      if (flight.worker === worker)
        this.finish(flight, { outcome: "failed", reason: "worker_lost", detail });
    }
    lost?.({ type: "fatal", message: detail });
  }

  private refreshBuyers(): void {
    this.buyers = this.workers
      .filter((worker) => worker.alive)
      .flatMap((worker) => worker.consumers.map((id) => ({ worker, id })));
  }

  private async stopWorkers(): Promise<void> {
    this.stopping = true;
    for (const worker of this.workers) if (worker.alive) worker.handle.send({ type: "stop" });
    await Promise.race([
      Promise.all(this.workers.map((worker) => worker.handle.exited)),
      new Promise((resolve) => setTimeout(resolve, 10_000).unref()),
    ]);
    await this.options.runner.close();
  }

  // ---- runs

  private plannedRuns(): RunPlan[] {
    const { scenario } = this.options;
    return scenario.stress === undefined ? scenario.runs : stressRuns(scenario.stress);
  }

  private async runOne(
    run: number,
    plan: RunPlan,
    runs: number,
  ): Promise<{ run: number; executed: number; failed: number; p99: number | null }> {
    const { scenario } = this.options;
    const rate = plan.tradesPerSecond ?? scenario.load.tradesPerSecond;
    const load =
      scenario.load.model === "open"
        ? ({ model: "open", tradesPerSecond: rate } as const)
        : ({ model: "closed", inFlight: scenario.load.inFlight } as const);
    const startedAt = Date.now();
    this.journal.write({
      t: "run",
      run,
      at: startedAt,
      ...(plan.trades === undefined
        ? { durationSeconds: plan.durationSeconds! }
        : { trades: plan.trades }),
      load,
    });
    this.progress = {
      phase: "run",
      run,
      runs,
      started: 0,
      ended: 0,
      executed: 0,
      failed: 0,
      ...(plan.trades === undefined ? {} : { total: plan.trades }),
    };
    this.report({});
    const stats = { executed: 0, failed: 0, confirmations: [] as number[] };
    this.runStats = stats;
    this.metrics.offer(scenario.load.model === "open" ? rate * TXS_PER_TRADE : 0);

    let cursor = 0;
    const startTrade = (): boolean => {
      const pool = this.buyers;
      if (pool.length === 0) return false;
      const { worker, id } = pool[cursor++ % pool.length]!;
      const trade = this.nextTrade++;
      const at = Date.now();
      this.journal.write({ t: "trade", trade, run, worker: worker.id, buyer: id, at });
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
        (this.terms.tradeTimeoutSeconds + 15) * 1000,
      );
      this.inFlight.set(trade, { trade, run, worker, guard });
      this.metrics.tradeStarted();
      this.progress.started += 1;
      worker.handle.send({ type: "trade", trade, run, buyer: id });
      return true;
    };

    const deadline =
      plan.durationSeconds === undefined ? Infinity : startedAt + plan.durationSeconds * 1000;
    const limit = plan.trades ?? Infinity;
    let started = 0;
    if (scenario.load.model === "open") {
      const ramp = scenario.load.rampSeconds;
      const due = (elapsed: number) =>
        ramp > 0 && elapsed < ramp
          ? (rate * elapsed * elapsed) / (2 * ramp)
          : rate * (elapsed - ramp / 2);
      while (!this.interrupted && started < limit && Date.now() < deadline) {
        const elapsed = (Date.now() - startedAt) / 1000;
        const target = Math.min(limit, Math.floor(due(elapsed)) + 1);
        while (started < target && !this.interrupted) {
          if (!startTrade()) break;
          started += 1;
        }
        if (this.buyers.length === 0) break;
        await sleep(5);
      }
    } else {
      while (!this.interrupted && started < limit && Date.now() < deadline) {
        while (
          this.inFlight.size < scenario.load.inFlight &&
          started < limit &&
          !this.interrupted
        ) {
          if (!startTrade()) break;
          started += 1;
        }
        if (this.buyers.length === 0) break;
        await this.nextEnd();
      }
    }
    this.metrics.offer(0);
    while (this.inFlight.size > 0 && !this.interrupted) await this.nextEnd();
    this.journal.write({ t: "run-end", run, at: Date.now() });
    const p99 = percentile(
      stats.confirmations.sort((a, b) => a - b),
      99,
    );
    this.log(
      `run ${run}: ${started} trades, ${stats.executed} executed, ${stats.failed} failed in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`,
    );
    return { run, executed: stats.executed, failed: stats.failed, p99 };
  }

  private runStats: { executed: number; failed: number; confirmations: number[] } | undefined;

  private stepHeld(result: { executed: number; failed: number; p99: number | null }): boolean {
    const stress = this.options.scenario.stress!;
    const total = result.executed + result.failed;
    const success = total === 0 ? 0 : result.executed / total;
    const bound = stress.p99BlockPeriods * this.options.blockPeriodSeconds;
    return success >= stress.successFloor && result.p99 !== null && result.p99 <= bound;
  }

  /**
   * Runs grouped into offer epochs: producers publish one offer per epoch and every run of the
   * epoch trades from it (offer reuse). An epoch holds as many runs as half the slot's grid
   * capacity allows, so the review never denies a trade for capacity the test itself used up.
   */
  private epochs(runs: RunPlan[]): { runs: number[]; trades: number; seconds: number }[] {
    const { scenario, capacity } = this.options;
    const perSlot = Math.max(1, Math.floor(capacity.tradesPerSlot / 2));
    const epochs: { runs: number[]; trades: number; seconds: number }[] = [];
    runs.forEach((plan, index) => {
      const rate = plan.tradesPerSecond ?? scenario.load.tradesPerSecond;
      const trades = plan.trades ?? Math.ceil(rate * plan.durationSeconds!);
      const seconds =
        plan.durationSeconds ??
        (scenario.load.model === "open" ? trades / rate + scenario.load.rampSeconds : trades / 5);
      const last = epochs.at(-1);
      if (last !== undefined && last.trades + trades <= perSlot) {
        last.runs.push(index + 1);
        last.trades += trades;
        last.seconds += seconds + 10;
      } else {
        epochs.push({ runs: [index + 1], trades, seconds });
      }
    });
    return epochs;
  }

  /**
   * An epoch's offers are for a delivery slot that starts after its last run can have ended
   * (orders are confirmed before the offer expires at the window's start), each epoch in a slot
   * of its own.
   */
  private async publishOffers(epoch: {
    runs: number[];
    trades: number;
    seconds: number;
  }): Promise<void> {
    const { slotSeconds } = this.options.capacity;
    const head = await this.rpc.call<{ timestamp: string }>("eth_getBlockByNumber", [
      "latest",
      false,
    ]);
    const now = Number(BigInt(head.timestamp));
    const lead = Math.ceil(epoch.seconds + this.terms.tradeTimeoutSeconds + 10);
    let start = Math.ceil((now + lead) / slotSeconds) * slotSeconds;
    const previous = this.runWindows.get(epoch.runs[0]! - 1);
    if (previous !== undefined && start < previous.end) start = previous.end;
    const end = start + slotSeconds;
    for (const run of epoch.runs) this.runWindows.set(run, { start, end });
    const producers = this.workers.flatMap((worker) =>
      worker.agents.filter((agent) => agent.role === "producer"),
    );
    const perProducer = Math.ceil((epoch.trades / Math.max(1, producers.length)) * 2) + 5;
    await Promise.all(
      this.workers
        .filter((worker) => worker.alive)
        .map((worker) => {
          const wh: Record<string, string> = {};
          for (const agent of worker.agents)
            if (agent.role === "producer")
              wh[agent.id] = (BigInt(perProducer) * BigInt(this.terms.wh)).toString();
          const done = this.expect(worker, "offers-done");
          worker.handle.send({
            type: "offers",
            run: epoch.runs[0]!,
            deliveryStart: start,
            deliveryEnd: end,
            wh,
          });
          return done;
        }),
    );
  }

  private nextEnd(): Promise<void> {
    return new Promise((resolve) => {
      this.endWaiters.push(resolve);
      setTimeout(resolve, 1000).unref();
    });
  }

  private wakeEndWaiters(): void {
    const waiters = this.endWaiters;
    this.endWaiters = [];
    for (const wake of waiters) wake();
  }

  // ---- events

  private onTx(event: TxEvent): void {
    const { type: _type, ...fields } = event;
    this.journal.write({ t: "tx", ...fields });
    this.metrics.tx(event);
    if (event.minedAt !== undefined && this.runStats !== undefined && event.run !== undefined)
      this.runStats.confirmations.push((event.minedAt - event.sentAt) / 1000);
  }

  private onEnd(end: TradeEnd): void {
    const flight = this.inFlight.get(end.trade);
    if (flight === undefined) return; // already ended by the coordinator (lost worker, guard)
    const { type: _type, trade: _trade, run: _run, at: _at, ...rest } = end;
    this.finish(flight, rest, end.at);
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
    this.journal.write({ t: "end", ...fields });
    this.metrics.tradeEnded(record);
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

  private endAll(reason: "interrupted", detail: string): void {
    for (const flight of [...this.inFlight.values()])
      this.finish(flight, { outcome: "failed", reason, detail });
  }

  private report(change: Partial<Progress>): void {
    Object.assign(this.progress, change);
    this.options.onProgress?.({ ...this.progress });
  }

  /** Manual review: the grid operator approves the order (the load test's operator says yes). */
  private async review(worker: Worker, trade: number, orderId: string): Promise<void> {
    const flight = this.inFlight.get(trade);
    try {
      const result = await this.sendAs(
        this.operator!,
        "review",
        this.options.contracts.market,
        MARKET.encodeFunctionData("approveOrder", [BigInt(orderId)]),
        { trade, run: flight?.run },
      );
      worker.handle.send({
        type: "reviewed",
        trade,
        approved: result.status === "success",
        ...(result.status === "success" ? {} : { detail: `approveOrder ${result.hash} reverted` }),
      });
    } catch (error) {
      worker.handle.send({
        type: "reviewed",
        trade,
        approved: false,
        detail: (error as Error).message,
      });
    }
  }

  // ---- D: metering a sample after the delivery window

  private async meter(): Promise<void> {
    const { scenario, accounts, keyOf, contracts } = this.options;
    const { sample, shortfallShare, maxWaitSeconds } = scenario.metering;
    if (sample <= 0 || this.executed.length === 0) return;
    const count = Math.max(1, Math.round(this.executed.length * sample));
    const step = this.executed.length / count;
    const chosen = Array.from({ length: count }, (_, i) => this.executed[Math.floor(i * step)]!);
    const windowEnd = Math.max(...chosen.map((trade) => this.runWindows.get(trade.run)!.end));
    const meterAccount = accounts.find((account) => account.role === "meter");
    if (meterAccount === undefined) throw new OperatorError("the consortium has no meter account");
    this.report({ phase: "metering" });
    const head = async () =>
      Number(
        BigInt(
          (await this.rpc.call<{ timestamp: string }>("eth_getBlockByNumber", ["latest", false]))
            .timestamp,
        ),
      );
    const waitSeconds = windowEnd - (await head());
    if (waitSeconds > maxWaitSeconds) {
      const detail = `the sampled delivery windows end in ${waitSeconds} s; metering.maxWaitSeconds is ${maxWaitSeconds}`;
      this.journal.write({ t: "metering-skipped", at: Date.now(), windowEnd, detail });
      this.log(`metering skipped: ${detail}`);
      return;
    }
    if (waitSeconds > 0)
      this.log(`metering: waiting ${waitSeconds} s for the delivery windows to end`);
    while (!this.interrupted && (await head()) <= windowEnd) await sleep(500);
    if (this.interrupted) return;
    const meter = new AccountSender({
      key: keyOf(meterAccount.id),
      chainId: this.options.chainId,
      rpc: this.rpc,
      follower: this.follower,
      timeoutMs: this.terms.confirmationTimeoutSeconds * 1000,
    });
    await meter.init();
    const wh = BigInt(this.terms.wh);
    await Promise.all(
      chosen.map(async ({ trade, run, orderId }, index) => {
        const short = index < Math.round(count * shortfallShare);
        const delivered = short ? (wh * 8n) / 10n : wh;
        const meterId = keccak256(toUtf8Bytes(`gridchain load test order ${orderId}`));
        let outcome: "delivered" | "default settled" | "failed" = short
          ? "default settled"
          : "delivered";
        let detail: string | undefined;
        try {
          const reading = await this.sendAs(
            meter,
            "meter",
            contracts.market,
            MARKET.encodeFunctionData("recordMeterReading", [
              BigInt(orderId),
              meterId,
              delivered + 1n,
              delivered,
            ]),
            { trade, run },
          );
          if (reading.status !== "success")
            throw new Error(`recordMeterReading ${reading.hash} reverted`);
          if (short) {
            const settled = await this.sendAs(
              meter,
              "settle_default",
              contracts.market,
              MARKET.encodeFunctionData("settleDefault", [BigInt(orderId)]),
              { trade, run },
            );
            if (settled.status !== "success")
              throw new Error(`settleDefault ${settled.hash} reverted`);
          }
        } catch (error) {
          outcome = "failed";
          detail = (error as Error).message;
        }
        this.journal.write({
          t: "metered",
          trade,
          run,
          orderId,
          deliveredWh: delivered.toString(),
          outcome,
          ...(detail === undefined ? {} : { detail }),
          at: Date.now(),
        });
      }),
    );
    this.log(
      `metering: ${count} orders metered, ${Math.round(count * shortfallShare)} shortfalls settled from bonds`,
    );
  }

  /** A transaction of the coordinator's own accounts (grid operator, meter), journaled like the agents'. */
  private async sendAs(
    sender: AccountSender,
    kind: TxKind,
    to: string,
    data: string,
    context: { trade?: number; run?: number } = {},
  ) {
    return sendReported(sender, { to, data, gasLimit: 300_000n }, (event) => this.onTx(event), {
      kind,
      agent: sender.address,
      ...context,
    });
  }
}

/** The fixed terms of every trade, and what each agent must hold for the whole test. */
export function tradeTerms(scenario: Scenario, runs: RunPlan[], producers: number): TradeTerms {
  const { trade, timeouts, load } = scenario;
  const price = trade.pricePerKwh;
  const penalty = trade.defaultPerKwh;
  const wh = BigInt(trade.wh);
  const totalTrades = runs.reduce(
    (sum, run) =>
      sum +
      (run.trades ??
        Math.ceil((run.tradesPerSecond ?? load.tradesPerSecond) * run.durationSeconds!)),
    0,
  );
  const consumers = Math.max(1, scenario.agents - producers);
  const perConsumer = BigInt(Math.ceil((totalTrades / consumers) * 2) + 5);
  const perProducer = BigInt(Math.ceil((totalTrades / producers) * 2) + 5);
  return {
    wh: wh.toString(),
    pricePerKwh: price.toString(),
    defaultPerKwh: penalty.toString(),
    paymentsPerTrade: trade.paymentsPerTrade,
    rejectShare: trade.rejectShare,
    channelDeposit: ((perConsumer * wh * price) / 1000n).toString(),
    bond: ((perProducer * wh * penalty) / 1000n).toString(),
    confirmationTimeoutSeconds: timeouts.confirmationSeconds,
    tradeTimeoutSeconds: timeouts.tradeSeconds,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
