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
import { checkSave, copySaveAtomic, type ChainSave } from "./embedded-saves.js";
import { saveAnvilState } from "./state-dump.js";
import type { Engine, EngineStatus, UpReport } from "./types.js";

export type EmbeddedEngineOptions = {
  /** The generated network folder (network/<name>): genesis.json is read from it. */
  networkDir: string;
  host?: string;
  port?: number;
  /** The EVM fork; the contracts are compiled for it and the generated genesis enables it. */
  hardfork?: string;
  /** How often anvil saves the chain while it runs: at most this much is lost to a crash. */
  saveIntervalSeconds?: number;
};

/** The default bound on what a crash of the embedded engine loses. */
export const DEFAULT_SAVE_INTERVAL_SECONDS = 2;

/** What the PID file records: enough to recognise our own process and nothing else. */
type PidRecord = BasePidRecord & { host: string };

type GenesisFacts = { chainId: bigint; gasLimit: bigint; blockPeriodSeconds: number };

/**
 * The default engine: one anvil process started from the generated Besu genesis (chain id, gas
 * limit, allocations, block period), zero base fee, on 127.0.0.1. It has no validators: consensus
 * facts belong to the besu engine.
 *
 * State survives `down`/`up` and a crash: `down` dumps the chain over RPC (`anvil_dumpState`) into
 * `embedded/state.json` before stopping the process; while it runs, anvil itself saves the chain to
 * `embedded/autosave.json` every `saveIntervalSeconds`, so a killed engine loses at most that much.
 * `up` resumes from the newer of the two complete saves.
 */
export class EmbeddedEngine implements Engine {
  readonly kind = "embedded" as const;
  private readonly host: string;
  private readonly port: number;
  private readonly hardfork: string;
  private readonly dir: string;
  private readonly saveIntervalSeconds: number;

  constructor(private readonly options: EmbeddedEngineOptions) {
    this.host = options.host ?? "127.0.0.1";
    this.port = options.port ?? 8545;
    this.hardfork = options.hardfork ?? "cancun";
    this.dir = join(options.networkDir, "embedded");
    this.saveIntervalSeconds = options.saveIntervalSeconds ?? DEFAULT_SAVE_INTERVAL_SECONDS;
  }

  rpcHeaders(): Record<string, string> {
    return {};
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

  /** Where anvil saves the chain every `saveIntervalSeconds` while it runs. */
  get autosaveFile(): string {
    return join(this.dir, "autosave.json");
  }

  get logFile(): string {
    return join(this.dir, "anvil.log");
  }

  /**
   * Starts anvil from the last save (or from the genesis on the very first start), with the chain's
   * clock moved so that no block is older than the last one, and mining switched on only then.
   * Returns what it resumed from, and whether the previous run ended without `down`.
   */
  async up(): Promise<UpReport> {
    const running = await this.ownProcess();
    if (running.state === "running") {
      throw new OperatorError(`the embedded chain is already running (pid ${running.record.pid})`, {
        details: this.rpcUrl(),
        hint: "'gridchain status' shows it; 'gridchain down' stops it",
      });
    }
    // A PID file whose process is gone means the chain stopped without `down`: a crash.
    let crashed = running.state === "stale";
    if (running.state === "stale") await rm(this.pidFile, { force: true });
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
    await mkdir(this.dir, { recursive: true });

    const notes: string[] = [];
    const clean = await checkSave(this.stateFile);
    const periodic = await checkSave(this.autosaveFile);
    if (clean.kind === "torn") {
      throw new OperatorError(`the chain's save ${this.stateFile} is damaged`, {
        hint: "restore it from a backup, or start a new chain with 'gridchain reset'",
      });
    }
    if (periodic.kind === "torn") {
      crashed = true;
      notes.push(
        `the engine was stopped while saving: ${this.autosaveFile} is incomplete and was ignored`,
      );
    }
    let from: ChainSave | undefined = clean.kind === "ok" ? clean.save : undefined;
    if (periodic.kind === "ok" && (from === undefined || periodic.save.block > from.block)) {
      // The periodic save is newer than the last clean one: the previous run did not end by `down`.
      crashed = true;
      await copySaveAtomic(this.autosaveFile, this.stateFile);
      from = { ...periodic.save, path: this.stateFile };
    }
    const fresh = from === undefined;
    if (from === undefined) from = await this.saveGenesis(genesisPath);

    const pid = await this.spawnAnvil(genesis, [
      "--load-state",
      this.stateFile,
      "--dump-state",
      this.autosaveFile,
      "--state-interval",
      String(this.saveIntervalSeconds),
    ]);
    await this.answering(pid, 20_000);
    await this.startClock(genesis.blockPeriodSeconds);
    return {
      resumedFrom: fresh ? undefined : from.block,
      crashed,
      lossWindowSeconds: this.saveIntervalSeconds,
      notes,
    };
  }

  /**
   * Writes the chain's first save from the genesis: anvil cannot combine `--init` with its state
   * flags, so a short-lived anvil builds block 0 and its state is saved once over RPC.
   */
  private async saveGenesis(genesisPath: string): Promise<ChainSave> {
    const genesis = await readGenesis(genesisPath);
    const pid = await this.spawnAnvil(genesis, ["--init", genesisPath]);
    try {
      await this.answering(pid, 20_000);
      await saveAnvilState(this.rpcUrl(), this.stateFile, 60_000);
    } finally {
      process.kill(pid, "SIGTERM");
      await waitForExit(pid, 10_000);
      await rm(this.pidFile, { force: true });
    }
    const saved = await checkSave(this.stateFile);
    if (saved.kind !== "ok") throw new OperatorError(`anvil wrote no usable genesis state`);
    return saved.save;
  }

  /** Starts anvil without mining (the clock is set first) and records its PID. */
  private async spawnAnvil(genesis: GenesisFacts, state: string[]): Promise<number> {
    const args = [
      "--host",
      this.host,
      "--port",
      String(this.port),
      "--chain-id",
      genesis.chainId.toString(),
      "--gas-limit",
      genesis.gasLimit.toString(),
      "--no-mining",
      "--base-fee",
      "0",
      "--gas-price",
      "0",
      "--hardfork",
      this.hardfork,
      "--accounts",
      "0",
      "--no-request-size-limit",
      ...state,
    ];
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
      writeFileAtomic(this.pidFile, `${JSON.stringify(record)}\n`);
      return child.pid;
    } finally {
      closeSync(log);
    }
  }

  /** Waits until the anvil with `pid` answers JSON-RPC. */
  private async answering(pid: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = "no answer";
    while (Date.now() < deadline) {
      const own = await this.ownProcess();
      if (own.state !== "running" || own.record.pid !== pid) {
        throw new OperatorError("the embedded chain exited while starting", {
          details: await tail(this.logFile),
          hint: `see ${this.logFile}`,
        });
      }
      try {
        await rpcCall<string>(this.rpcUrl(), "eth_blockNumber");
        return;
      } catch (error) {
        last = (error as Error).message;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new OperatorError(`the embedded chain did not answer within ${timeoutMs} ms`, {
      details: last,
      hint: `see ${this.logFile}`,
    });
  }

  /**
   * anvil restarts its clock from the wall clock when it loads a save, and from the genesis
   * timestamp on `--init`: a chain whose clock was moved ahead (`evm_increaseTime`) would go back
   * in time, one started long after its genesis would begin in the past. The clock is set to
   * max(now, last block + 1) with `evm_setTime` (not an exact next timestamp, which would swallow
   * an `evm_increaseTime` sent before the next block), then mining starts.
   */
  private async startClock(blockPeriodSeconds: number): Promise<void> {
    const url = this.rpcUrl();
    const latest = await rpcCall<{ timestamp: string }>(url, "eth_getBlockByNumber", [
      "latest",
      false,
    ]);
    const now = BigInt(Math.floor(Date.now() / 1000));
    const last = BigInt(latest.timestamp);
    const next = now > last ? now : last + 1n;
    await rpcCall(url, "evm_setTime", [Number(next)]);
    await rpcCall(url, "evm_setIntervalMining", [blockPeriodSeconds]);
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
      // No block may follow this save: anvil's own save on exit must not look newer (a crash).
      await rpcCall(this.rpcUrl(), "evm_setIntervalMining", [0]);
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
