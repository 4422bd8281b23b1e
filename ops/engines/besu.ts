import Docker from "dockerode";
import { OperatorError } from "../errors.js";
import {
  checkBlocksAdvance,
  checkPeers,
  checkValidators,
  type CheckResult,
  type Rpc,
} from "./besu-checks.js";
import { readComposePlan, type ComposePlan, type ContainerPlan } from "./compose-file.js";
import { blockTime, rpcCall, type RpcAccess } from "./rpc.js";
import type { Engine, EngineStatus } from "./types.js";

/** Every resource the engine creates carries this label with the project's name. */
export const PROJECT_LABEL = "io.gridchain.project";
export const SERVICE_LABEL = "io.gridchain.service";

/** Besu's JSON-RPC HTTP port inside a container; RPC nodes publish it on 127.0.0.1. */
const RPC_PORT = "8545/tcp";

export type BesuEngineOptions = {
  /** The generated network/<name>/docker-compose.yml. */
  composeFile: string;
  /** Compose project name; defaults to the file's `name`. */
  project?: string;
  docker?: Docker;
  /**
   * What readiness demands beyond "RPC answers and blocks advance". Leave out for a stand-in image
   * that is not Besu (the Docker lifecycle tests run anvil in a container).
   */
  expect?: { consensus: "qbft" | "clique"; validators: readonly string[]; peers: number };
  /** How long a head may stand still before readiness fails: two block periods is plenty. */
  blockWaitMs?: number;
  /** A fresh JWT for RPC nodes that require one (RPC published beyond 127.0.0.1). */
  rpcToken?: () => string;
  /** RPC nodes serve TLS (docker.rpcTls): https, trusting `ca` (PEM) when a private CA signed. */
  rpcTls?: { ca?: string };
};

/**
 * The besu engine: the generated docker-compose network run through the Docker Engine API. It reads
 * the compose file the generator wrote, creates the network and one container per service with
 * labels, and `down` removes exactly the labelled containers and networks; chain data in the named
 * volumes and bind mounts stays, so the next `up` resumes the same chain.
 */
export class BesuEngine implements Engine {
  readonly kind = "besu" as const;
  private readonly docker: Docker;
  private plan?: ComposePlan;

  constructor(private readonly options: BesuEngineOptions) {
    this.docker = options.docker ?? new Docker();
  }

  private async composePlan(): Promise<ComposePlan> {
    this.plan ??= await readComposePlan(this.options.composeFile, this.options.project);
    return this.plan;
  }

  /** RPC endpoints reachable from this host: the published 8545 of every RPC node. */
  async rpcUrls(): Promise<string[]> {
    return (await this.composePlan()).containers.flatMap((c) => {
      const binding = c.ports[RPC_PORT];
      if (binding === undefined) return [];
      const host =
        binding.hostIp === "0.0.0.0" || binding.hostIp === "" ? "127.0.0.1" : binding.hostIp;
      return [`${this.scheme()}://${host}:${binding.hostPort}`];
    });
  }

  /** Beyond 127.0.0.1 the RPC nodes check a JWT: a fresh one for each session that asks. */
  rpcHeaders(): Record<string, string> {
    const token = this.options.rpcToken?.();
    return token === undefined ? {} : { Authorization: `Bearer ${token}` };
  }

  rpcUrl(): string {
    const binding = this.plan?.containers.map((c) => c.ports[RPC_PORT]).find(Boolean);
    if (binding === undefined) throw new Error("rpcUrl() needs up(), ready() or status() first");
    return `${this.scheme()}://${binding.hostIp === "0.0.0.0" ? "127.0.0.1" : binding.hostIp}:${binding.hostPort}`;
  }

  async up(): Promise<void> {
    const plan = await this.composePlan();
    await this.ping();
    const existing = await this.labelled();
    if (existing.length > 0) {
      throw new OperatorError(
        `the besu network ${plan.project} is already up (${existing.length} containers)`,
        {
          hint: "'gridchain status' shows it; 'gridchain down' stops it",
        },
      );
    }
    for (const image of new Set(plan.containers.map((c) => c.image)))
      await this.requireImage(image);
    try {
      for (const net of plan.networks) {
        await this.docker.createNetwork({
          Name: net.name,
          Driver: "bridge",
          CheckDuplicate: true,
          Labels: { [PROJECT_LABEL]: plan.project },
          IPAM: net.subnet ? { Driver: "default", Config: [{ Subnet: net.subnet }] } : undefined,
        });
      }
      for (const volume of plan.volumes) {
        // Chain data outlives `down`: volumes are created once and kept (labelled, never removed here).
        const existing = await this.docker
          .getVolume(volume)
          .inspect()
          .catch(() => undefined);
        if (existing === undefined) {
          await this.docker.createVolume({
            Name: volume,
            Labels: { [PROJECT_LABEL]: plan.project },
          });
        }
      }
      for (const c of plan.containers) {
        const container = await this.docker.createContainer(this.createOptions(plan.project, c));
        await container.start();
      }
    } catch (error) {
      // Nothing half-made: remove what this call created before reporting.
      await this.removeLabelled();
      throw new OperatorError(`the besu network ${plan.project} could not be started`, {
        details: (error as Error).message,
        cause: error,
      });
    }
  }

  async ready({ timeoutMs = 60_000 } = {}): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: CheckResult = { ok: false, problem: "not checked" };
    while (Date.now() < deadline) {
      last = await this.check();
      if (last.ok) return;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new OperatorError(`the besu network is not ready after ${timeoutMs} ms`, {
      details: last.ok ? undefined : last.problem,
      hint: "'gridchain status' shows each container",
    });
  }

  /** One pass over every readiness condition; the first failing one is reported. */
  private async check(): Promise<CheckResult> {
    const containers = await this.containerStates();
    const plan = await this.composePlan();
    const notRunning = plan.containers.filter((c) => containers.get(c.name)?.state !== "running");
    if (notRunning.length > 0) {
      return { ok: false, problem: `not running: ${notRunning.map((c) => c.name).join(", ")}` };
    }
    // A container with a healthcheck counts once Docker calls it healthy: for a Besu node that is
    // its /readiness answering 200 (peers and sync distance), not merely a running process.
    const unhealthy = [...containers]
      .filter(([, c]) => c.health !== undefined && c.health !== "healthy")
      .map(([name, c]) => `${name} (${c.health})`);
    if (unhealthy.length > 0) return { ok: false, problem: `not healthy: ${unhealthy.join(", ")}` };
    for (const url of await this.rpcUrls()) {
      const rpc: Rpc = (method, params) => rpcCall(url, method, params ?? [], 2_000, this.access());
      try {
        const steps: Array<() => Promise<CheckResult>> = [
          () => checkBlocksAdvance(rpc, this.options.blockWaitMs ?? 3_000),
        ];
        const expect = this.options.expect;
        if (expect) {
          steps.push(() => checkPeers(rpc, expect.peers));
          steps.push(() => checkValidators(rpc, expect.consensus, expect.validators));
        }
        for (const step of steps) {
          const result = await step();
          if (!result.ok) return { ok: false, problem: `${url}: ${result.problem}` };
        }
      } catch (error) {
        return { ok: false, problem: `${url}: ${(error as Error).message}` };
      }
    }
    return { ok: true };
  }

  async status(): Promise<EngineStatus> {
    const plan = await this.composePlan();
    const url = (await this.rpcUrls())[0] ?? "";
    const states = await this.containerStates();
    const containers = plan.containers.map((c) => {
      const state = states.get(c.name);
      return {
        name: c.name,
        state: state?.state ?? "missing",
        health: state?.health,
        exitCode: state?.exitCode,
      };
    });
    const down = containers.filter((c) => c.state !== "running");
    const base = { engine: this.kind, rpcUrl: url, details: { project: plan.project, containers } };
    if (down.length === containers.length)
      return { ...base, running: false, problem: "not started" };
    const problem =
      down.length > 0
        ? `not running: ${down.map((c) => `${c.name} (${c.state})`).join(", ")}`
        : undefined;
    try {
      const access = this.access();
      const chainId = BigInt(await rpcCall<string>(url, "eth_chainId", [], 2_000, access));
      const height = BigInt(await rpcCall<string>(url, "eth_blockNumber", [], 2_000, access));
      return {
        ...base,
        running: true,
        problem,
        chainId,
        height,
        blockTimeSeconds: await blockTime(url, height, 10, access),
      };
    } catch (error) {
      return {
        ...base,
        running: true,
        problem: problem ?? `RPC ${url}: ${(error as Error).message}`,
      };
    }
  }

  async down(): Promise<void> {
    await this.ping();
    await this.removeLabelled();
  }

  private scheme(): "http" | "https" {
    return this.options.rpcTls === undefined ? "http" : "https";
  }

  /** A fresh token (when RPC needs one) and the CA to trust (when TLS uses a private one). */
  private access(): RpcAccess {
    return { token: this.options.rpcToken?.(), ca: this.options.rpcTls?.ca };
  }

  /**
   * Removes the project's chain data volumes (labelled by `up`; call after `down`): the next `up`
   * starts the chain from its genesis. Returns the volumes removed.
   */
  async eraseChainData(): Promise<string[]> {
    const plan = await this.composePlan();
    await this.ping();
    const removed: string[] = [];
    for (const name of plan.volumes) {
      const volume = this.docker.getVolume(name);
      const info = await volume.inspect().catch(() => undefined);
      if (info?.Labels?.[PROJECT_LABEL] !== plan.project) continue;
      await volume.remove();
      removed.push(name);
    }
    return removed;
  }

  private createOptions(project: string, c: ContainerPlan): Docker.ContainerCreateOptions {
    return {
      name: c.name,
      Hostname: c.hostname,
      Image: c.image,
      Cmd: c.cmd,
      Entrypoint: c.entrypoint,
      Env: c.env,
      User: c.user,
      Labels: { ...c.labels, [PROJECT_LABEL]: project, [SERVICE_LABEL]: c.service },
      ExposedPorts: Object.fromEntries(Object.keys(c.ports).map((p) => [p, {}])),
      Healthcheck: c.healthcheck && {
        Test: c.healthcheck.test,
        Interval: c.healthcheck.intervalNs,
        Timeout: c.healthcheck.timeoutNs,
        Retries: c.healthcheck.retries,
        StartPeriod: c.healthcheck.startPeriodNs,
      },
      HostConfig: {
        Binds: c.binds,
        PortBindings: Object.fromEntries(
          Object.entries(c.ports).map(([p, b]) => [
            p,
            [{ HostIp: b.hostIp, HostPort: b.hostPort }],
          ]),
        ),
        RestartPolicy: { Name: c.restart === "no" ? "" : c.restart },
        Memory: c.memoryBytes,
        NanoCpus: c.nanoCpus,
        NetworkMode: c.network?.name,
        LogConfig: c.log && { Type: c.log.driver, Config: c.log.options },
      },
      NetworkingConfig: c.network && {
        EndpointsConfig: {
          [c.network.name]: c.network.ipv4 ? { IPAMConfig: { IPv4Address: c.network.ipv4 } } : {},
        },
      },
    };
  }

  private async ping(): Promise<void> {
    try {
      await this.docker.ping();
    } catch (error) {
      throw new OperatorError("the Docker engine does not answer", {
        details: (error as Error).message,
        hint: "start dockerd (or Docker Desktop), or use the embedded engine",
      });
    }
  }

  private async requireImage(image: string): Promise<void> {
    try {
      await this.docker.getImage(image).inspect();
    } catch {
      const file = `${image.replace(/[/:]/g, "-")}.tar`;
      throw new OperatorError(`the image ${image} is not present in the Docker engine`, {
        hint: `run 'docker pull ${image}', or on an air-gapped site 'docker load -i ${file}' with a tarball made by 'docker save ${image} -o ${file}'`,
      });
    }
  }

  private async labelled(): Promise<Docker.ContainerInfo[]> {
    const project = (await this.composePlan()).project;
    return await this.docker.listContainers({
      all: true,
      filters: { label: [`${PROJECT_LABEL}=${project}`] },
    });
  }

  private async containerStates(): Promise<
    Map<string, { state: string; health?: string; exitCode?: number }>
  > {
    const states = new Map<string, { state: string; health?: string; exitCode?: number }>();
    for (const info of await this.labelled()) {
      const inspected = await this.docker.getContainer(info.Id).inspect();
      states.set(inspected.Name.replace(/^\//, ""), {
        state: inspected.State.Status,
        health: inspected.State.Health?.Status,
        exitCode: inspected.State.Status === "exited" ? inspected.State.ExitCode : undefined,
      });
    }
    return states;
  }

  /** Removes the project's labelled containers, then its labelled networks; nothing else. */
  private async removeLabelled(): Promise<void> {
    const project = (await this.composePlan()).project;
    for (const info of await this.labelled()) {
      await this.docker.getContainer(info.Id).remove({ force: true });
    }
    const networks = await this.docker.listNetworks({
      filters: { label: [`${PROJECT_LABEL}=${project}`] },
    });
    for (const net of networks) await this.docker.getNetwork(net.Id).remove();
  }
}
