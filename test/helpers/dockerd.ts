import { spawn, type ChildProcess } from "node:child_process";
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
  const log = openSync(logFile, "a");
  const child: ChildProcess = spawn(
    "dockerd",
    [
      `--host=unix://${socket}`,
      `--data-root=${join(dir, "data")}`,
      `--exec-root=${join(dir, "exec")}`,
      `--pidfile=${join(dir, "docker.pid")}`,
      "--bridge=none",
      "--iptables=false",
      "--ip-masq=false",
      "--shutdown-timeout=2",
    ],
    { stdio: ["ignore", log, log] },
  );
  closeSync(log);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const docker = new Docker({ socketPath: socket });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    await exited;
    clearTimeout(timer);
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // A mount the daemon left behind keeps its folder in /tmp; nothing else depends on it.
    }
  };
  // Polls with a bound: the daemon answers once its socket is up and containerd has started.
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      await docker.ping();
      break;
    } catch (error) {
      if (Date.now() > deadline || child.exitCode !== null) {
        await stop();
        throw new Error(`the second dockerd did not start: ${(error as Error).message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  return { address: `unix://${socket}`, docker, logFile, stop };
}
