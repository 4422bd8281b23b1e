import { spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { access, mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { OperatorError } from "../errors.js";
import { writeFileAtomic } from "../fs.js";
import {
  ownProcess,
  portFree,
  tail,
  waitForExit,
  type OwnProcess,
  type PidRecord as BasePidRecord,
} from "../process.js";
import { anvilBinary } from "./anvil.js";
import { blockTime, rpcCall } from "./rpc.js";
import { saveAnvilState } from "./state-dump.js";
import type { Engine, EngineStatus } from "./types.js";

export type EmbeddedEngineOptions = {
  /** The generated network folder (network/<name>): genesis.json is read from it. */
  networkDir: string;
  host?: string;
  port?: number;
  /** The EVM fork; the contracts are compiled for it and the generated genesis enables it. */
  hardfork?: string;
};

/** What the PID file records: enough to recognise our own process and nothing else. */
type PidRecord = BasePidRecord & { host: string };

type GenesisFacts = { chainId: bigint; gasLimit: bigint; blockPeriodSeconds: number };

/**
 * The default engine: one anvil process started from the generated Besu genesis (chain id, gas
 * limit, allocations, block period), zero base fee, on 127.0.0.1. It has no validators: consensus
 * facts belong to the besu engine.
 *
 * State survives `down`/`up`: `down` dumps the chain over RPC (`anvil_dumpState`) into
 * `embedded/state.json` before stopping the process, and `up` resumes from it with `--load-state`
 * (anvil cannot combine `--init` with its own state flags, so the first start uses `--init` only).
 */
export class EmbeddedEngine implements Engine {
  readonly kind = "embedded" as const;
  private readonly host: string;
  private readonly port: number;
  private readonly hardfork: string;
  private readonly dir: string;

  constructor(private readonly options: EmbeddedEngineOptions) {
    this.host = options.host ?? "127.0.0.1";
    this.port = options.port ?? 8545;
    this.hardfork = options.hardfork ?? "cancun";
    this.dir = join(options.networkDir, "embedded");
  }

  rpcUrl(): string {
    return `http://${this.host}:${this.port}`;
  }

  get pidFile(): string {
    return join(this.dir, "anvil.pid");
  }

  get stateFile(): string {
    return join(this.dir, "state.json");
  }

  get logFile(): string {
    return join(this.dir, "anvil.log");
  }

  async up(): Promise<void> {
    const running = await this.ownProcess();
    if (running.state === "running") {
      throw new OperatorError(`the embedded chain is already running (pid ${running.record.pid})`, {
        details: this.rpcUrl(),
        hint: "'gridchain status' shows it; 'gridchain down' stops it",
      });
    }
    if (running.state === "stale") {
      // A PID file whose process is gone (or is now another program) is only a leftover.
      await rm(this.pidFile, { force: true });
    }
    if (!(await portFree(this.host, this.port))) {
      throw new OperatorError(
        `port ${this.port} on ${this.host} is already in use by another process`,
        {
          hint: "stop that process, or set engine.embedded.port in the consortium file",
        },
      );
    }
    const genesisPath = join(this.options.networkDir, "genesis.json");
    const genesis = await readGenesis(genesisPath);
    const resume = await exists(this.stateFile);
    const args = [
      "--host",
      this.host,
      "--port",
      String(this.port),
      "--chain-id",
      genesis.chainId.toString(),
      "--gas-limit",
      genesis.gasLimit.toString(),
      "--block-time",
      String(genesis.blockPeriodSeconds),
      "--base-fee",
      "0",
      "--gas-price",
      "0",
      "--hardfork",
      this.hardfork,
      "--accounts",
      "0",
      "--no-request-size-limit",
      ...(resume ? ["--load-state", this.stateFile] : ["--init", genesisPath]),
    ];
    await mkdir(this.dir, { recursive: true });
    const log = openSync(this.logFile, "a");
    try {
      const child = spawn(anvilBinary(), args, { detached: true, stdio: ["ignore", log, log] });
      if (child.pid === undefined) throw new OperatorError("anvil could not be started");
      child.unref();
      const record: PidRecord = {
        pid: child.pid,
        host: this.host,
        port: this.port,
        startedAt: new Date().toISOString(),
      };
      await writeFileAtomic(this.pidFile, `${JSON.stringify(record)}\n`);
    } finally {
      closeSync(log);
    }
  }

  async ready({ timeoutMs = 20_000 } = {}): Promise<void> {
    const genesis = await readGenesis(join(this.options.networkDir, "genesis.json"));
    const deadline = Date.now() + timeoutMs;
    let last = "no answer";
    while (Date.now() < deadline) {
      const own = await this.ownProcess();
      if (own.state !== "running") {
        throw new OperatorError("the embedded chain exited while starting", {
          details: await tail(this.logFile),
          hint: `see ${this.logFile}`,
        });
      }
      try {
        const chainId = BigInt(await rpcCall<string>(this.rpcUrl(), "eth_chainId"));
        if (chainId === genesis.chainId) return;
        last = `chain id ${chainId}, expected ${genesis.chainId}`;
      } catch (error) {
        last = (error as Error).message;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new OperatorError(`the embedded chain did not answer within ${timeoutMs} ms`, {
      details: last,
      hint: `see ${this.logFile}`,
    });
  }

  async status(): Promise<EngineStatus> {
    const own = await this.ownProcess();
    const base = { engine: this.kind, rpcUrl: this.rpcUrl() } as const;
    if (own.state !== "running") {
      const saved = await exists(this.stateFile);
      return {
        ...base,
        running: false,
        problem:
          own.state === "stale"
            ? `stale PID file ${this.pidFile}: process ${own.record.pid} is gone`
            : saved
              ? `stopped; 'gridchain up' resumes from ${this.stateFile}`
              : "not started",
        details: { stateFile: saved ? this.stateFile : null },
      };
    }
    try {
      const chainId = BigInt(await rpcCall<string>(this.rpcUrl(), "eth_chainId"));
      const height = BigInt(await rpcCall<string>(this.rpcUrl(), "eth_blockNumber"));
      return {
        ...base,
        running: true,
        chainId,
        height,
        blockTimeSeconds: await blockTime(this.rpcUrl(), height),
        details: { pid: own.record.pid, startedAt: own.record.startedAt, log: this.logFile },
      };
    } catch (error) {
      return {
        ...base,
        running: true,
        problem: `process ${own.record.pid} runs but RPC does not answer: ${(error as Error).message}`,
        details: { pid: own.record.pid },
      };
    }
  }

  /** Saves the chain, then stops the process `up` started; a PID that is not ours is never signalled. */
  async down(): Promise<void> {
    const own = await this.ownProcess();
    if (own.state === "absent") return;
    if (own.state === "stale") {
      await rm(this.pidFile, { force: true });
      return;
    }
    let saved: Error | undefined;
    try {
      // A chain stopped right after `up` may not listen yet: wait for it, then save.
      await this.ready();
      await saveAnvilState(this.rpcUrl(), this.stateFile, 300_000);
    } catch (error) {
      saved = error as Error;
    }
    process.kill(own.record.pid, "SIGTERM");
    await waitForExit(own.record.pid, 10_000);
    await rm(this.pidFile, { force: true });
    if (saved !== undefined) {
      throw new OperatorError("the embedded chain was stopped but its state could not be saved", {
        details: saved.message,
        hint: `the previous save (${this.stateFile}) is kept; see ${this.logFile}`,
      });
    }
  }

  private async ownProcess(): Promise<OwnProcess<PidRecord>> {
    // An anvil listening on the recorded port.
    return ownProcess<PidRecord>(this.pidFile, (argv, record) => {
      const port = argv.indexOf("--port");
      return argv[0]!.endsWith("anvil") && port >= 0 && argv[port + 1] === String(record.port);
    });
  }
}

async function readGenesis(path: string): Promise<GenesisFacts> {
  let genesis: {
    config?: {
      chainId?: number;
      qbft?: { blockperiodseconds?: number };
      clique?: { blockperiodseconds?: number };
    };
    gasLimit?: string;
  };
  try {
    genesis = JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    throw new OperatorError(`cannot read ${path}`, {
      details: (error as Error).message,
      hint: "run 'gridchain generate' first",
    });
  }
  const chainId = genesis.config?.chainId;
  const period =
    genesis.config?.qbft?.blockperiodseconds ?? genesis.config?.clique?.blockperiodseconds;
  if (chainId === undefined || genesis.gasLimit === undefined || period === undefined) {
    throw new OperatorError(`${path} lacks config.chainId, gasLimit or a block period`, {
      hint: "regenerate it with 'gridchain generate'",
    });
  }
  return {
    chainId: BigInt(chainId),
    gasLimit: BigInt(genesis.gasLimit),
    blockPeriodSeconds: period,
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
