import { readFile } from "node:fs/promises";
import { createServer } from "node:net";

/**
 * What a PID file records about a daemon gridchain started (anvil, Prometheus): enough to recognise
 * that process later, and nothing else.
 */
export type PidRecord = { pid: number; port: number; startedAt: string };

export type OwnProcess<R extends PidRecord> =
  { state: "absent" } | { state: "stale" | "running"; record: R };

/**
 * Reads `pidFile` and tells whether its process is still ours: alive, and its command line (from
 * /proc) accepted by `isOurs`. A live PID that now runs another program is "stale", so it is never
 * signalled. Without /proc (macOS) a live PID from our own file is the best evidence there is.
 */
export async function ownProcess<R extends PidRecord>(
  pidFile: string,
  isOurs: (argv: string[], record: R) => boolean,
): Promise<OwnProcess<R>> {
  let record: R;
  try {
    record = JSON.parse(await readFile(pidFile, "utf8")) as R;
  } catch {
    return { state: "absent" };
  }
  try {
    process.kill(record.pid, 0);
  } catch {
    return { state: "stale", record };
  }
  try {
    const argv = (await readFile(`/proc/${record.pid}/cmdline`, "utf8")).split("\0");
    return { state: isOurs(argv, record) ? "running" : "stale", record };
  } catch {
    return { state: "running", record };
  }
}

/** True when nothing listens on `host:port`. */
export async function portFree(host: string, port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Waits for `pid` to exit after a SIGTERM; SIGKILLs it when `timeoutMs` passes. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  process.kill(pid, "SIGKILL");
}

/** The last lines of a daemon's log, joined on one line for an error message. */
export async function tail(path: string, lines = 5): Promise<string> {
  try {
    return (await readFile(path, "utf8")).trim().split("\n").slice(-lines).join(" | ");
  } catch {
    return "no log";
  }
}
