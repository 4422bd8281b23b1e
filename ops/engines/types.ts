/** What `gridchain status` shows of a running chain, whatever the engine. */
export type EngineStatus = {
  engine: "embedded" | "besu";
  running: boolean;
  rpcUrl: string;
  /** Why the engine is not running or not healthy, in one line, when it is not. */
  problem?: string;
  chainId?: bigint;
  height?: bigint;
  /** Mean seconds between the last blocks (up to 10), when at least two exist. */
  blockTimeSeconds?: number;
  /** Engine-specific facts (pid, containers, peers, validators). */
  details: Record<string, unknown>;
};

/** What `up` found: the block it resumed from, and whether the last run ended without `down`. */
export type UpReport = {
  /** The last block of the save it resumed from; absent for a chain started from its genesis. */
  resumedFrom?: bigint;
  /** The previous run ended without `down` (the process was killed or the machine stopped). */
  crashed?: boolean;
  /** The most a crash loses: the engine saves the chain this often. */
  lossWindowSeconds?: number;
  notes: string[];
};

/**
 * One way to run the consortium's chain. `up` starts it (or explains why it cannot), `ready` waits
 * until it answers JSON-RPC as planned, `down` stops exactly what `up` started and keeps the state.
 */
export interface Engine {
  readonly kind: EngineStatus["engine"];
  up(): Promise<UpReport | void>;
  ready(options?: { timeoutMs?: number }): Promise<void>;
  rpcUrl(): string;
  /** HTTP headers every JSON-RPC request needs (a bearer token where the RPC demands one). */
  rpcHeaders(): Record<string, string>;
  status(): Promise<EngineStatus>;
  down(): Promise<void>;
}
