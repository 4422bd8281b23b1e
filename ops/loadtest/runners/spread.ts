import Docker from "dockerode";
import { OperatorError } from "../../errors.js";
import type { Runner, WorkerExit, WorkerHandle, WorkerOptions } from "./types.js";

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

/** How often an engine with workers is asked whether it answers, and how many misses mean gone. */
const ENGINE_WATCH_INTERVAL_MS = 1_000;
export const ENGINE_WATCH = { intervalMs: ENGINE_WATCH_INTERVAL_MS, missed: 3 };

/**
 * Asks an engine whether it answers, giving up after `timeoutMs`: a lost machine may never refuse
 * the connection. dockerode's ping takes an abortSignal (lib/docker.js); its types leave it out.
 */
export function pingEngine(docker: Docker, timeoutMs = ENGINE_WATCH_INTERVAL_MS): Promise<unknown> {
  const ping = docker.ping as unknown as (options: {
    abortSignal: AbortSignal;
  }) => Promise<unknown>;
  return ping.call(docker, { abortSignal: AbortSignal.timeout(timeoutMs) });
}

/** One engine of a spread runner: its runner, and how to ask whether the engine still answers. */
export type Engine = { runner: Runner; ping: () => Promise<unknown> };

/**
 * Spreads workers over several engines: worker k starts on engine k mod n. An engine that fails to
 * start a worker is taken as gone and the worker starts on the next one that still answers. While
 * an engine runs workers it is pinged; one that misses `ENGINE_WATCH.missed` pings in a row is
 * gone, and its workers' handles end at once ("engine k stopped answering"). That matters because
 * a crashed daemon or a lost machine often never closes the connections its workers' streams and
 * waits ride on: without the watch their handles would never end, and the coordinator could not
 * end their trades as `worker_lost`. `placement` says where each worker runs.
 */
export function spreadRunner(
  engines: readonly Engine[],
  log: (line: string) => void = () => undefined,
): Runner & { readonly placement: ReadonlyMap<number, number> } {
  if (engines.length === 0) throw new Error("spreadRunner needs at least one engine");
  const gone = new Set<number>();
  const placement = new Map<number, number>();
  const watches = engines.map((engine, index) =>
    engineWatch(engine, () => {
      gone.add(index);
      log(`engine ${index + 1} stopped answering: its workers are lost`);
    }),
  );
  return {
    kind: engines[0]!.runner.kind,
    placement,
    async start(id: number, options: WorkerOptions): Promise<WorkerHandle> {
      let last: unknown;
      for (let step = 0; step < engines.length; step += 1) {
        const engine = (id + step) % engines.length;
        if (gone.has(engine)) continue;
        try {
          const handle = await engines[engine]!.runner.start(id, options);
          placement.set(id, engine);
          log(`worker ${id} runs on engine ${engine + 1}`);
          return watches[engine]!.watch(handle, `engine ${engine + 1}`);
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
      for (const watch of watches) watch.stop();
      // A dead engine cannot close (nor always say so): the live ones still must.
      const results = await Promise.all(
        engines.map((engine, index) =>
          gone.has(index)
            ? Promise.resolve(undefined)
            : engine.runner.close().then(
                () => undefined,
                (error: unknown) => error,
              ),
        ),
      );
      results.forEach((error, engine) => {
        if (error !== undefined)
          log(`engine ${engine + 1} could not clean up: ${messageOf(error)}`);
      });
    },
  };
}

/** Pings an engine while it runs workers; when it is gone, ends the handles it started. */
function engineWatch(engine: Engine, onGone: () => void) {
  let timer: NodeJS.Timeout | undefined;
  let missed = 0;
  let declareGone: (detail: string) => void = () => undefined;
  const goneDetail = new Promise<string>((resolve) => (declareGone = resolve));
  const tick = () => {
    engine.ping().then(
      () => (missed = 0),
      (error: unknown) => {
        missed += 1;
        if (missed < ENGINE_WATCH.missed || timer === undefined) return;
        clearInterval(timer);
        timer = undefined;
        onGone();
        declareGone(`${ENGINE_WATCH.missed} pings missed (${messageOf(error)})`);
      },
    );
  };
  return {
    watch(handle: WorkerHandle, name: string): WorkerHandle {
      if (timer === undefined) {
        timer = setInterval(tick, ENGINE_WATCH.intervalMs);
        timer.unref();
      }
      const lost = goneDetail.then((detail): WorkerExit => ({
        code: null,
        signal: null,
        detail: `${name} stopped answering: ${detail}`,
      }));
      const exited = Promise.race([
        handle.exited.catch((error: unknown): WorkerExit => ({
          code: null,
          signal: null,
          detail: `lost the container: ${messageOf(error)}`,
        })),
        lost,
      ]);
      return {
        id: handle.id,
        pid: handle.pid,
        exited,
        send: (message) => handle.send(message),
        onMessage: (listener) => handle.onMessage(listener),
        async kill(): Promise<void> {
          await Promise.race([handle.kill().catch(() => undefined), lost]);
          await exited;
        },
      };
    },
    stop(): void {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
    },
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
