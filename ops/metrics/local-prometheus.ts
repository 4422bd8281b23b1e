import { spawn } from "node:child_process";
import { accessSync, closeSync, constants, openSync } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { OperatorError } from "../errors.js";
import { writeFileAtomic } from "../fs.js";
import {
  ownProcess,
  portFree,
  tail,
  waitForExit,
  type OwnProcess,
  type PidRecord,
} from "../process.js";

export type LocalPrometheusOptions = {
  /** prometheus.yml to run with (for `monitor up`: network/<name>/prometheus/local.yml). */
  configFile: string;
  /** TSDB folder (network/<name>/prometheus-data). */
  dataDir: string;
  /** Where the PID file and the log go (the network folder). */
  stateDir: string;
  port?: number;
  /** The prometheus binary; default: `prometheus` on PATH (Debian's package puts it in /usr/bin). */
  binary?: string;
  /** Extra flags (tests shorten retention, nothing else needs them). */
  extraArgs?: string[];
};

/**
 * A Prometheus process on 127.0.0.1 for the embedded engine, managed like the embedded chain: a PID
 * file names the process `up` started, and `down` signals that process only when it is still a
 * prometheus listening on the recorded port.
 */
export class LocalPrometheus {
  private readonly port: number;

  constructor(private readonly options: LocalPrometheusOptions) {
    this.port = options.port ?? 9090;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pidFile(): string {
    return join(this.options.stateDir, "prometheus.pid");
  }

  get logFile(): string {
    return join(this.options.stateDir, "prometheus.log");
  }

  /**
   * Starts Prometheus; when the one `up` started earlier still runs, leaves it be and says so
   * (with the port it listens on, which may differ from this instance's).
   */
  async up(): Promise<{ started: true } | { started: false; pid: number; url: string }> {
    const own = await this.ownProcess();
    if (own.state === "running") {
      return { started: false, pid: own.record.pid, url: `http://127.0.0.1:${own.record.port}` };
    }
    if (own.state === "stale") await rm(this.pidFile, { force: true });
    if (!(await portFree("127.0.0.1", this.port))) {
      throw new OperatorError(`port ${this.port} on 127.0.0.1 is already in use`, {
        hint: "stop that process, or pass --port",
      });
    }
    const binary = this.options.binary ?? findOnPath("prometheus");
    if (binary === undefined) {
      throw new OperatorError("prometheus is not installed", {
        hint: "install Debian's package: apt-get install prometheus",
      });
    }
    await mkdir(this.options.dataDir, { recursive: true });
    const args = [
      `--config.file=${this.options.configFile}`,
      `--storage.tsdb.path=${this.options.dataDir}`,
      `--web.listen-address=127.0.0.1:${this.port}`,
      ...(this.options.extraArgs ?? []),
    ];
    const log = openSync(this.logFile, "a");
    try {
      const child = spawn(binary, args, { detached: true, stdio: ["ignore", log, log] });
      if (child.pid === undefined) throw new OperatorError(`${binary} could not be started`);
      child.unref();
      const record: PidRecord = {
        pid: child.pid,
        port: this.port,
        startedAt: new Date().toISOString(),
      };
      writeFileAtomic(this.pidFile, `${JSON.stringify(record)}\n`);
    } finally {
      closeSync(log);
    }
    return { started: true };
  }

  /** Waits until Prometheus answers /-/ready (its config and rules loaded). */
  async ready({ timeoutMs = 20_000 } = {}): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if ((await this.ownProcess()).state !== "running") {
        throw new OperatorError("Prometheus exited while starting", {
          details: await tail(this.logFile),
          hint: `see ${this.logFile}`,
        });
      }
      try {
        const response = await fetch(`${this.url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new OperatorError(`Prometheus did not become ready within ${timeoutMs} ms`, {
      hint: `see ${this.logFile}`,
    });
  }

  /** Stops the process `up` started; returns false when there was none. */
  async down(): Promise<boolean> {
    const own = await this.ownProcess();
    if (own.state === "absent") return false;
    if (own.state === "running") {
      process.kill(own.record.pid, "SIGTERM");
      await waitForExit(own.record.pid, 10_000);
    }
    await rm(this.pidFile, { force: true });
    return own.state === "running";
  }

  private async ownProcess(): Promise<OwnProcess<PidRecord>> {
    return ownProcess<PidRecord>(
      this.pidFile,
      (argv, record) =>
        argv[0]!.endsWith("prometheus") &&
        argv.includes(`--web.listen-address=127.0.0.1:${record.port}`),
    );
  }
}

function findOnPath(name: string): string | undefined {
  for (const folder of (process.env.PATH ?? "").split(delimiter)) {
    const candidate = join(folder, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next folder
    }
  }
  return undefined;
}
