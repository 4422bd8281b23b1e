import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { OperatorError } from "../../errors.js";
import { node22Binary, REPO_ROOT, TSX_LOADER } from "../../node22.js";
import type { ToWorker } from "../protocol.js";
import { MessageFanout, parseWorkerLine, readLines } from "./lines.js";
import type { Runner, WorkerExit, WorkerHandle, WorkerOptions } from "./types.js";

/** The load-test worker every runner starts unless told otherwise. */
export const DEFAULT_WORKER_ENTRY = join(REPO_ROOT, "ops", "loadtest", "worker.ts");

/**
 * Runs each worker as a child process of this one: `<node22> --import tsx <entry>` with its stdin
 * and stdout piped to the coordinator and its stderr appended to the worker's log file.
 */
export function processRunner(
  options: { entry?: string; env?: Record<string, string> } = {},
): Runner {
  const entry = options.entry ?? DEFAULT_WORKER_ENTRY;
  const live = new Set<WorkerHandle>();
  return {
    kind: "process",
    async start(id: number, { logFile }: WorkerOptions): Promise<WorkerHandle> {
      const handle = await startProcess(id, entry, options.env ?? {}, logFile);
      live.add(handle);
      void handle.exited.then(() => live.delete(handle));
      return handle;
    },
    async close(): Promise<void> {
      await Promise.all([...live].map((handle) => handle.kill()));
    },
  };
}

async function startProcess(
  id: number,
  entry: string,
  env: Record<string, string>,
  logFile: string,
): Promise<WorkerHandle> {
  mkdirSync(dirname(logFile), { recursive: true });
  const log = createWriteStream(logFile, { flags: "a" });
  const child = spawn(node22Binary(), ["--import", TSX_LOADER, entry], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const messages = new MessageFanout();
  readLines(child.stdout, (line) => messages.deliver(parseWorkerLine(line)));
  child.stderr.pipe(log, { end: false });
  // A worker that dies while a line is being written must not crash the coordinator (EPIPE).
  child.stdin.on("error", () => undefined);

  let settle!: (exit: WorkerExit) => void;
  const exited = new Promise<WorkerExit>((resolve) => {
    let done = false;
    settle = (exit) => {
      if (done) return;
      done = true;
      log.end(() => resolve(exit));
    };
  });
  child.on("error", (error) =>
    settle({ code: null, signal: null, detail: `could not start: ${error.message}` }),
  );
  child.on("close", (code, signal) =>
    settle({ code, signal, detail: signal ? `killed by ${signal}` : `exit code ${code}` }),
  );

  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", (error) => {
      reject(
        new OperatorError(`worker ${id} could not start`, {
          details: `${node22Binary()} ${entry}: ${error.message}`,
          cause: error,
        }),
      );
    });
  });

  return {
    id,
    pid: child.pid,
    exited,
    send(message: ToWorker): void {
      if (child.stdin.writable) child.stdin.write(`${JSON.stringify(message)}\n`);
    },
    onMessage(listener): void {
      messages.add(listener);
    },
    async kill(): Promise<void> {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}
