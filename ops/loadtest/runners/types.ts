import type { FromWorker, ToWorker } from "../protocol.js";

export type { FromWorker, ToWorker };

/** How a worker ended: its exit code or signal, and one line saying why, for the journal. */
export type WorkerExit = { code: number | null; signal: string | null; detail: string };

/**
 * One running worker. Messages are JSON lines: ToWorker on its stdin, FromWorker on its stdout;
 * its stderr is its log and goes to a file.
 */
export interface WorkerHandle {
  readonly id: number;
  /** The worker's process as this host sees it (a container's too), to sample CPU and memory. */
  readonly pid?: number | undefined;
  /** Sends one JSON line. Protocol numbers that can exceed 2^53 are strings, so no bigint here. */
  send(message: ToWorker): void;
  /** Each stdout line, parsed; a line that is not a protocol message arrives as `{ type: "log" }`. */
  onMessage(listener: (message: FromWorker) => void): void;
  /** Resolves once when the worker ends, however it ends. */
  readonly exited: Promise<WorkerExit>;
  /** Hard kill (SIGKILL, or a container kill); `exited` then resolves. */
  kill(): Promise<void>;
}

export type WorkerOptions = {
  /** The worker's stderr is appended to this file. */
  logFile: string;
};

export interface Runner {
  readonly kind: "process" | "docker";
  start(id: number, options: WorkerOptions): Promise<WorkerHandle>;
  /** Kills and removes whatever workers are left. */
  close(): Promise<void>;
}
