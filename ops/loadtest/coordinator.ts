import { cpus, totalmem } from "node:os";
import { OperatorError } from "../errors.js";
import { TradeTracker } from "./confirmations.js";
import { LoadTestContext } from "./context.js";
import { epochs, runOne, stepHeld } from "./schedule.js";
import { TestPayments } from "./payments.js";
import { meter, recordGridIncome } from "./settlement.js";
import { fund, pickAgents, publishOffers, ReviewSwitch, sizeBuyerBond } from "./setup.js";
import { Supervisor } from "./supervision.js";
import { plannedRuns } from "./terms.js";
import type { LoadTestOptions, LoadTestResult } from "./types.js";

export { tradeTerms } from "./terms.js";
export type { LoadTestOptions, LoadTestResult, Progress, TestAccount } from "./types.js";

/**
 * Runs a load test: picks the agents from the consortium's accounts, tops up what they need in
 * one batch from the grid operator while it starts the workers through the runner, has them set up
 * (bonds, channels) and runs the scenario's runs one after the other, then meters a sample.
 * Every fact goes to the journal first; every trade started ends in it exactly once, whether it
 * finished, timed out, lost its worker or was interrupted.
 *
 * The parts: setup.ts (agents, funding, review mode, offers), schedule.ts (runs and their
 * trades), confirmations.ts (trades and transactions until they end), settlement.ts (review
 * approvals, metering and default settlement), supervision.ts (the workers).
 */
export async function runLoadTest(options: LoadTestOptions): Promise<LoadTestResult> {
  const ctx = new LoadTestContext(options);
  const { scenario, signal } = options;
  const runs = plannedRuns(scenario);
  const tracker = new TradeTracker(ctx, runs.length);
  const supervisor = new Supervisor(ctx, tracker);
  const review = new ReviewSwitch(ctx, tracker);
  let payments: TestPayments | undefined;
  const { journal, follower } = ctx;
  const onAbort = () => {
    ctx.interrupted = true;
    tracker.wakeEndWaiters();
  };
  signal?.addEventListener("abort", onAbort);
  const metricsTimer = setInterval(() => ctx.metrics.tick(), 1000);
  try {
    const agents = pickAgents(ctx);
    journal.write({
      t: "test",
      at: Date.now(),
      scenario: scenario.name,
      ...(options.preset === undefined ? {} : { preset: options.preset }),
      nodes: agents.length,
      producers: agents.filter((agent) => agent.role === "producer").length,
      consumers: agents.filter((agent) => agent.role === "consumer").length,
      workers: scenario.workers,
      runner: options.runner.kind,
      engine: options.engine,
      chainId: options.chainId,
      blockPeriodSeconds: options.blockPeriodSeconds,
      paymentsPerTrade: scenario.trade.paymentsPerTrade,
      topology: scenario.payments.topology,
      tradePath: scenario.trade.path,
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
      ...options.about,
      contracts: options.contracts,
    });
    await follower.start();
    follower.onBlock((block) =>
      journal.write({
        t: "block",
        number: block.number,
        timestamp: block.timestamp,
        seenAt: block.seenAt,
        ...(block.announcedAt === undefined ? {} : { announcedAt: block.announcedAt }),
        transactions: block.transactions,
        gasUsed: block.gasUsed.toString(),
        gasLimit: block.gasLimit.toString(),
      }),
    );
    const setupStarted = Date.now();
    const phases: Record<string, number> = {};
    const since = (at: number) => (Date.now() - at) / 1000;
    await sizeBuyerBond(ctx);
    payments = await TestPayments.start(ctx, tracker);
    payments.attach(supervisor);
    // The workers start (processes, nonces, channel stores) while the grid operator mints: the
    // agents need their credits only once the workers set them up.
    const [minted] = await Promise.all([
      fund(ctx, tracker, agents).then((count) => {
        phases.funding = since(setupStarted);
        ctx.log(`funding: done in ${phases.funding.toFixed(1)} s`);
        return count;
      }),
      supervisor.start(agents, payments.init(agents)).then(() => {
        phases.workers = since(setupStarted);
        ctx.log(
          `workers: ${supervisor.workers.length} ${options.runner.kind} workers ready in ${phases.workers.toFixed(1)} s`,
        );
      }),
    ]);
    // The hub funds its channels with the producers while the agents bond and open theirs.
    const agentsStarted = Date.now();
    payments.fundHub(agents);
    const setupTxs = await supervisor.broadcast({ type: "setup" }, "setup-done");
    phases.agents = since(agentsStarted);
    await payments.ready(supervisor, setupTxs);
    phases.channels = since(agentsStarted);
    const transactions =
      minted +
      setupTxs.reduce((sum, done) => sum + (done.type === "setup-done" ? done.transactions : 0), 0);
    journal.write({
      t: "setup",
      at: Date.now(),
      seconds: (Date.now() - setupStarted) / 1000,
      transactions,
      phases,
    });
    ctx.log(
      `setup: ${agents.length} agents ready in ${((Date.now() - setupStarted) / 1000).toFixed(1)} s (${transactions} transactions)`,
    );

    await review.apply();
    await recordGridIncome(ctx, "before");
    const offerEpochs = epochs(ctx, runs);
    for (let index = 0; index < runs.length && !ctx.interrupted; index += 1) {
      const epoch = offerEpochs.find((candidate) => candidate.runs[0] === index + 1);
      if (epoch !== undefined) await publishOffers(ctx, supervisor, epoch);
      const result = await runOne(ctx, tracker, supervisor, index + 1, runs[index]!, runs.length);
      if (scenario.stress !== undefined && !stepHeld(ctx, result)) {
        ctx.log(`stress: step ${index + 1} missed its bound; stopping the ramp`);
        break;
      }
      if (supervisor.workers.every((worker) => !worker.alive)) {
        throw new OperatorError("every load-test worker was lost", {
          hint: `see the worker logs in ${options.outDir}`,
        });
      }
    }
    if (!ctx.interrupted) {
      await meter(ctx, tracker);
      await payments.settle();
    }
    await recordGridIncome(ctx, "after");
  } finally {
    clearInterval(metricsTimer);
    signal?.removeEventListener("abort", onAbort);
    if (ctx.interrupted) journal.write({ t: "interrupted", at: Date.now(), signal: "SIGINT" });
    tracker.endAll("interrupted", "the test stopped before the trade ended");
    await payments?.stop().catch((error: unknown) => ctx.log(`hub: ${(error as Error).message}`));
    await supervisor.stop();
    await review.restore();
    follower.stop();
    ctx.rpc.close();
    journal.write({ t: "done", at: Date.now() });
    journal.close();
    ctx.journalClosed = true;
    tracker.report({ phase: "done" });
  }
  return {
    journalPath: journal.path,
    interrupted: ctx.interrupted,
    workersLost: supervisor.workersLost,
  };
}
