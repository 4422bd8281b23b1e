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

/**
 * One way to run the consortium's chain. `up` starts it (or explains why it cannot), `ready` waits
 * until it answers JSON-RPC as planned, `down` stops exactly what `up` started and keeps the state.
 */
export interface Engine {
  readonly kind: EngineStatus["engine"];
  up(): Promise<void>;
  ready(options?: { timeoutMs?: number }): Promise<void>;
  rpcUrl(): string;
  status(): Promise<EngineStatus>;
  down(): Promise<void>;
}
