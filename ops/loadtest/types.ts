import type { Address, AgentSpec, ContractAddresses, FromWorker } from "./protocol.js";
import type { LoadTestMetrics } from "./metrics.js";
import type { Runner, WorkerHandle } from "./runners/types.js";
import type { Scenario } from "./scenario.js";

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
  /** The node's WebSocket JSON-RPC, when it serves one: blocks are followed by subscription. */
  wsUrl?: string;
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

/** One worker as the coordinator sees it: its agents, whether it lives, who waits for it. */
export type Worker = {
  id: number;
  handle: WorkerHandle;
  agents: AgentSpec[];
  consumers: string[];
  alive: boolean;
  waiting: Map<string, (message: FromWorker) => void>;
};

/** A delivery window of a run's offers (unix seconds). */
export type Window = { start: number; end: number };

/** Runs that trade from the same offers (see `epochs` in schedule.ts). */
export type Epoch = { runs: number[]; trades: number; seconds: number };
