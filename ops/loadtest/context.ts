import { BlockFollower, pollIntervalMs } from "./chain/follower.js";
import { JsonRpc } from "./chain/rpc.js";
import { AccountSender } from "./chain/sender.js";
import { Journal } from "./journal.js";
import { LoadTestMetrics } from "./metrics.js";
import type { TradeTerms } from "./protocol.js";
import { plannedRuns, tradeTerms } from "./terms.js";
import { agentSplit } from "./scenario.js";
import type { LoadTestOptions, Window } from "./types.js";

/**
 * What every part of a load test shares: the options, the journal, the chain connection, the
 * metrics, the trade terms and the few facts one part learns and another reads.
 */
export class LoadTestContext {
  readonly journal: Journal;
  readonly rpc: JsonRpc;
  readonly follower: BlockFollower;
  readonly metrics: LoadTestMetrics;
  readonly terms: TradeTerms;
  readonly log: (line: string) => void;
  /** Set when the test is aborted: loops stop, trades in flight end as `interrupted`. */
  interrupted = false;
  /** Set once the journal is closed: nothing more can be recorded. */
  journalClosed = false;
  /** The grid operator's sender, once funding has set it up. */
  operator: AccountSender | undefined;
  /** Every live producer's current offer (where any consumer buys from any producer). */
  offerBook: Record<string, string> = {};
  /** The delivery window of each run's offers. */
  readonly runWindows = new Map<number, Window>();

  constructor(readonly options: LoadTestOptions) {
    this.journal = new Journal(`${options.outDir}/journal.jsonl`);
    this.rpc = new JsonRpc(options.rpcUrl, { batchWindowMs: 2, maxBatch: 200, timeoutMs: 30_000 });
    // The coordinator mostly counts blocks; its own transactions (funding, reviews, metering) are few.
    this.follower = new BlockFollower(this.rpc, {
      pollMs: pollIntervalMs(options.blockPeriodSeconds),
      receipts: "watched",
      ...(options.wsUrl === undefined ? {} : { subscribeUrl: options.wsUrl }),
    });
    this.metrics = options.metrics ?? new LoadTestMetrics();
    this.log = options.log ?? (() => {});
    const { scenario } = options;
    this.terms = tradeTerms(scenario, plannedRuns(scenario), agentSplit(scenario).producers);
  }

  /** A sender for one of the consortium's own accounts (grid operator, meter), not yet initialised. */
  senderFor(accountId: string): AccountSender {
    return new AccountSender({
      key: this.options.keyOf(accountId),
      chainId: this.options.chainId,
      rpc: this.rpc,
      follower: this.follower,
      timeoutMs: this.terms.confirmationTimeoutSeconds * 1000,
    });
  }
}
