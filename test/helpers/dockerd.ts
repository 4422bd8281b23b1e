import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, openSync, closeSync, rmSync } from "node:fs";
import { join } from "node:path";
import Docker from "dockerode";

export type SecondDockerd = {
  /** `unix://<socket>`, as `--docker-host` takes it. */
  address: string;
  docker: Docker;
  logFile: string;
  /** Stops the daemon (SIGTERM: it stops its containers first) and waits for it to exit. */
  stop(): Promise<void>;
  /**
   * Kills the daemon (SIGKILL) as a crashed machine would lose it: its clients' connections drop,
   * its containerd and containers live on. `stop()` then starts it once more, which kills what
   * it left running, and stops it.
   */
  crash(): Promise<void>;
};

/**
 * A second Docker engine on this machine, beside the usual one: its own socket, data root, exec
 * root (and so its own containerd) and pid file; no bridge and no iptables rules, so it touches
 * none of the first engine's networking (the load-test workers use host networking anyway). Its
 * output goes to a file in its folder. The caller stops it (after()); nothing runs on import.
 */
export async function startSecondDockerd(): Promise<SecondDockerd> {
  // Short: a unix socket path is limited to 107 bytes.
  const dir = mkdtempSync("/tmp/gcd-");
  const socket = join(dir, "docker.sock");
  const logFile = join(dir, "dockerd.log");
  const args = [
    `--host=unix://${socket}`,
    `--data-root=${join(dir, "data")}`,
    `--exec-root=${join(dir, "exec")}`,
    `--pidfile=${join(dir, "docker.pid")}`,
    "--bridge=none",
    "--iptables=false",
    "--ip-masq=false",
    "--shutdown-timeout=2",
  ];
  const docker = new Docker({ socketPath: socket });
  let child = launch(args, logFile);
  let crashed = false;
  const ended = (process: ChildProcess) =>
    process.exitCode !== null || process.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((resolve) => process.once("exit", () => resolve()));
  const crash = async () => {
    crashed = true;
    child.kill("SIGKILL");
    await ended(child);
  };
  const stop = async () => {
    if (crashed) {
      crashed = false;
      child = launch(args, logFile);
      await answering(docker, child, 60_000).catch(() => undefined);
    }
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const running = child;
    const timer = setTimeout(() => running.kill("SIGKILL"), 30_000);
    await ended(running);
    clearTimeout(timer);
    // dockerd mounts its default network namespace under the exec root and leaves it mounted.
    try {
      execFileSync("umount", [join(dir, "exec", "netns", "default")], { stdio: "ignore" });
    } catch {
      // Not mounted.
    }
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Another mount left behind keeps its folder in /tmp; nothing else depends on it.
    }
  };
  try {
    await answering(docker, child, 60_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { address: `unix://${socket}`, docker, logFile, stop, crash };
}

function launch(args: readonly string[], logFile: string): ChildProcess {
  const log = openSync(logFile, "a");
  const child = spawn("dockerd", args, { stdio: ["ignore", log, log] });
  closeSync(log);
  return child;
}

/** Polls with a bound: the daemon answers once its socket is up and containerd has started. */
async function answering(docker: Docker, child: ChildProcess, boundMs: number): Promise<void> {
  const deadline = Date.now() + boundMs;
  for (;;) {
    try {
      await docker.ping();
      return;
    } catch (error) {
      if (Date.now() > deadline || child.exitCode !== null) {
        throw new Error(`the second dockerd did not start: ${(error as Error).message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}
