import Docker from "dockerode";
import { OperatorError } from "../../errors.js";
import type { Runner, WorkerHandle, WorkerOptions } from "./types.js";

/**
 * A Docker engine address as `--docker-host` takes it, Docker's own forms: `unix:///path/to.sock`
 * or `tcp://host:port` (plain; a remote engine is reached over a trusted network or an SSH
 * tunnel to its socket).
 */
export function dockerEngine(address: string): Docker {
  const unix = /^unix:\/\/(\/.+)$/.exec(address);
  if (unix !== null) return new Docker({ socketPath: unix[1]! });
  const tcp = /^tcp:\/\/([^:/]+):(\d{1,5})\/?$/.exec(address);
  if (tcp !== null && Number(tcp[2]) <= 65535) {
    return new Docker({ host: tcp[1]!, port: Number(tcp[2]), protocol: "http" });
  }
  throw new OperatorError(`--docker-host ${address} is not a Docker engine address`, {
    hint: "use unix:///path/to/docker.sock or tcp://host:port",
  });
}

/**
 * Spreads workers over several runners (one per Docker engine): worker k starts on engine
 * k mod n. An engine that fails to start a worker is taken as gone and the worker starts on the
 * next one that still answers, so a dead engine costs its running workers (whose trades the
 * coordinator ends as `worker_lost`) and never the test. `placement` says where each worker runs.
 */
export function spreadRunner(
  runners: readonly Runner[],
  log: (line: string) => void = () => undefined,
): Runner & { readonly placement: ReadonlyMap<number, number> } {
  if (runners.length === 0) throw new Error("spreadRunner needs at least one runner");
  const gone = new Set<number>();
  const placement = new Map<number, number>();
  return {
    kind: runners[0]!.kind,
    placement,
    async start(id: number, options: WorkerOptions): Promise<WorkerHandle> {
      let last: unknown;
      for (let step = 0; step < runners.length; step += 1) {
        const engine = (id + step) % runners.length;
        if (gone.has(engine)) continue;
        try {
          const handle = await runners[engine]!.start(id, options);
          placement.set(id, engine);
          log(`worker ${id} runs on engine ${engine + 1}`);
          return handle;
        } catch (error) {
          last = error;
          gone.add(engine);
          log(
            `engine ${engine + 1} could not start worker ${id}: ${messageOf(error)}; trying the next`,
          );
        }
      }
      throw last instanceof Error
        ? last
        : new OperatorError(`no Docker engine could start worker ${id}`);
    },
    async close(): Promise<void> {
      // A dead engine cannot close; the live ones still must.
      const results = await Promise.allSettled(runners.map((runner) => runner.close()));
      results.forEach((result, engine) => {
        if (result.status === "rejected") {
          log(`engine ${engine + 1} could not clean up: ${messageOf(result.reason)}`);
        }
      });
    },
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
