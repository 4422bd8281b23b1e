import { setTimeout as sleep } from "node:timers/promises";
import type { TradeTracker } from "./confirmations.js";
import type { LoadTestContext } from "./context.js";
import { percentile } from "./report.js";
import { transactionsPerTrade, type RunPlan } from "./scenario.js";
import type { Supervisor } from "./supervision.js";
import type { Epoch } from "./types.js";

/** What a run ended with: the stress ramp decides from it whether the step held. */
export type RunResult = { run: number; executed: number; failed: number; p99: number | null };

/**
 * Runs one run of the scenario: starts trades round the live workers' buyers at the open model's
 * rate (with its ramp) or keeping the closed model's trades in flight, until the run's count or
 * duration is reached, then waits for the trades in flight to end.
 */
export async function runOne(
  ctx: LoadTestContext,
  tracker: TradeTracker,
  supervisor: Supervisor,
  run: number,
  plan: RunPlan,
  runs: number,
): Promise<RunResult> {
  const { scenario } = ctx.options;
  const rate = plan.tradesPerSecond ?? scenario.load.tradesPerSecond;
  const load =
    scenario.load.model === "open"
      ? ({ model: "open", tradesPerSecond: rate } as const)
      : ({ model: "closed", inFlight: scenario.load.inFlight } as const);
  const startedAt = Date.now();
  ctx.journal.write({
    t: "run",
    run,
    at: startedAt,
    ...(plan.trades === undefined
      ? { durationSeconds: plan.durationSeconds! }
      : { trades: plan.trades }),
    load,
  });
  tracker.progress = {
    phase: "run",
    run,
    runs,
    started: 0,
    ended: 0,
    executed: 0,
    failed: 0,
    ...(plan.trades === undefined ? {} : { total: plan.trades }),
  };
  tracker.report({});
  const stats = { executed: 0, failed: 0, confirmations: [] as number[] };
  tracker.runStats = stats;
  ctx.metrics.offer(scenario.load.model === "open" ? rate * transactionsPerTrade(scenario) : 0);

  let cursor = 0;
  const startTrade = (): boolean => {
    const pool = supervisor.buyers;
    if (pool.length === 0) return false;
    const { worker, id } = pool[cursor++ % pool.length]!;
    tracker.start(run, worker, id);
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
    while (!ctx.interrupted && started < limit && Date.now() < deadline) {
      const elapsed = (Date.now() - startedAt) / 1000;
      const target = Math.min(limit, Math.floor(due(elapsed)) + 1);
      while (started < target && !ctx.interrupted) {
        if (!startTrade()) break;
        started += 1;
      }
      if (supervisor.buyers.length === 0) break;
      await sleep(5);
    }
  } else {
    while (!ctx.interrupted && started < limit && Date.now() < deadline) {
      while (
        tracker.inFlight.size < scenario.load.inFlight &&
        started < limit &&
        !ctx.interrupted
      ) {
        if (!startTrade()) break;
        started += 1;
      }
      if (supervisor.buyers.length === 0) break;
      await tracker.nextEnd();
    }
  }
  ctx.metrics.offer(0);
  while (tracker.inFlight.size > 0 && !ctx.interrupted) await tracker.nextEnd();
  ctx.journal.write({ t: "run-end", run, at: Date.now() });
  const p99 = percentile(
    stats.confirmations.sort((a, b) => a - b),
    99,
  );
  ctx.log(
    `run ${run}: ${started} trades, ${stats.executed} executed, ${stats.failed} failed in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`,
  );
  return { run, executed: stats.executed, failed: stats.failed, p99 };
}

/** Whether a stress step held: enough trades succeeded and p99 stayed within its bound. */
export function stepHeld(ctx: LoadTestContext, result: RunResult): boolean {
  const stress = ctx.options.scenario.stress!;
  const total = result.executed + result.failed;
  const success = total === 0 ? 0 : result.executed / total;
  const bound = stress.p99BlockPeriods * ctx.options.blockPeriodSeconds;
  return success >= stress.successFloor && result.p99 !== null && result.p99 <= bound;
}

/**
 * Runs grouped into offer epochs: producers publish one offer per epoch and every run of the
 * epoch trades from it (offer reuse). An epoch holds as many runs as half the slot's grid
 * capacity allows, so the review never denies a trade for capacity the test itself used up.
 */
export function epochs(ctx: LoadTestContext, runs: RunPlan[]): Epoch[] {
  const { scenario, capacity } = ctx.options;
  const perSlot = Math.max(1, Math.floor(capacity.tradesPerSlot / 2));
  const result: Epoch[] = [];
  runs.forEach((plan, index) => {
    const rate = plan.tradesPerSecond ?? scenario.load.tradesPerSecond;
    const trades = plan.trades ?? Math.ceil(rate * plan.durationSeconds!);
    const seconds =
      plan.durationSeconds ??
      (scenario.load.model === "open" ? trades / rate + scenario.load.rampSeconds : trades / 5);
    const last = result.at(-1);
    if (last !== undefined && last.trades + trades <= perSlot) {
      last.runs.push(index + 1);
      last.trades += trades;
      last.seconds += seconds + 10;
    } else {
      result.push({ runs: [index + 1], trades, seconds });
    }
  });
  return result;
}
