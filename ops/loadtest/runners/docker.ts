import { createWriteStream, mkdirSync, realpathSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { PassThrough, type Duplex } from "node:stream";
import Docker from "dockerode";
import { OperatorError } from "../../errors.js";
import { REPO_ROOT, TSX_LOADER } from "../../node22.js";
import type { ToWorker } from "../protocol.js";
import { CLIENT_NODE, ensureClientImage } from "./image.js";
import { MessageFanout, parseWorkerLine, readLines } from "./lines.js";
import { DEFAULT_WORKER_ENTRY } from "./process.js";
import type { Runner, WorkerExit, WorkerHandle, WorkerOptions } from "./types.js";

export const LOADTEST_LABELS = {
  project: "io.gridchain.project",
  role: "io.gridchain.role",
  test: "io.gridchain.test",
  worker: "io.gridchain.worker",
} as const;
const ROLE = "loadtest-worker";
const TEST_ID = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;

export type DockerRunnerOptions = {
  docker?: Docker;
  /** Names the test's containers and labels them, so a crashed coordinator's leftovers can go. */
  testId: string;
  entry?: string;
  /** CPU limit per worker container (NanoCpus), e.g. 0.5. */
  cpus?: number;
  /** Memory limit per worker container, in bytes. */
  memoryBytes?: number;
  /** Defaults to the client image that {@link ensureClientImage} builds from the host's Node. */
  image?: string;
  /** Host folders the workers need (the test's output folder), mounted at the same path. */
  mounts: { hostPath: string; readOnly: boolean }[];
  env?: Record<string, string>;
};

/**
 * Runs each worker in its own container: the client image, the repository bind-mounted read-only
 * at its own path (so the worker's code and node_modules are the host's), host networking (workers
 * reach the chain on 127.0.0.1 and no test traffic leaves the machine), the host's uid:gid, and the
 * given CPU and memory limits. The coordinator talks to each worker over the container's attached
 * stdin and stdout; stderr goes to the worker's log file. A container is removed once it has ended.
 */
export function dockerRunner(options: DockerRunnerOptions): Runner {
  if (!TEST_ID.test(options.testId)) {
    throw new OperatorError(`the load test id ${JSON.stringify(options.testId)} is not allowed`, {
      details: "it names Docker containers",
      hint: "use letters, digits, '_', '.', '-' (at most 63, starting with a letter or digit)",
    });
  }
  const docker = options.docker ?? new Docker();
  const live = new Set<WorkerHandle>();
  let image: Promise<string> | undefined;
  return {
    kind: "docker",
    async start(id: number, { logFile }: WorkerOptions): Promise<WorkerHandle> {
      image ??= options.image ? Promise.resolve(options.image) : ensureClientImage(docker);
      const handle = await startContainer(docker, options, await image, id, logFile);
      live.add(handle);
      void handle.exited.then(() => live.delete(handle));
      return handle;
    },
    async close(): Promise<void> {
      await Promise.all([...live].map((handle) => handle.kill()));
      await removeTestContainers(docker, options.testId);
    },
  };
}

/** Removes every worker container of `testId`, running or not; returns how many there were. */
export async function removeTestContainers(docker: Docker, testId: string): Promise<number> {
  const containers = await docker.listContainers({
    all: true,
    filters: { label: [`${LOADTEST_LABELS.role}=${ROLE}`, `${LOADTEST_LABELS.test}=${testId}`] },
  });
  await Promise.all(
    containers.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(ignoreGone)),
  );
  return containers.length;
}

/** The read-only binds that make the repository's code and dependencies visible in a container. */
function repositoryBinds(): string[] {
  const binds = [`${REPO_ROOT}:${REPO_ROOT}:ro`];
  // node_modules may be a link to an install elsewhere; that target must be visible too.
  const modules = realpathSync(join(REPO_ROOT, "node_modules"));
  const inside = relative(REPO_ROOT, modules);
  if (inside.startsWith("..") || inside === modules) binds.push(`${modules}:${modules}:ro`);
  return binds;
}

async function startContainer(
  docker: Docker,
  options: DockerRunnerOptions,
  image: string,
  id: number,
  logFile: string,
): Promise<WorkerHandle> {
  let container: Docker.Container;
  try {
    container = await docker.createContainer({
      name: `gridchain-loadtest-${options.testId}-worker-${id}`,
      Image: image,
      Entrypoint: [CLIENT_NODE, "--import", TSX_LOADER],
      Cmd: [options.entry ?? DEFAULT_WORKER_ENTRY],
      WorkingDir: REPO_ROOT,
      User: `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`,
      Env: ["HOME=/tmp", ...Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`)],
      Labels: {
        [LOADTEST_LABELS.project]: "gridchain",
        [LOADTEST_LABELS.role]: ROLE,
        [LOADTEST_LABELS.test]: options.testId,
        [LOADTEST_LABELS.worker]: String(id),
      },
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      OpenStdin: true,
      StdinOnce: false,
      Tty: false,
      HostConfig: {
        NetworkMode: "host",
        Binds: [
          ...repositoryBinds(),
          ...options.mounts.map((m) => `${m.hostPath}:${m.hostPath}:${m.readOnly ? "ro" : "rw"}`),
        ],
        ...(options.cpus === undefined ? {} : { NanoCpus: Math.round(options.cpus * 1e9) }),
        ...(options.memoryBytes === undefined ? {} : { Memory: options.memoryBytes }),
        // The coordinator keeps what the worker says; a second copy in Docker's logs is waste.
        LogConfig: { Type: "none", Config: {} },
      },
    });
  } catch (error) {
    throw dockerProblem(`could not create the container of worker ${id}`, image, error);
  }

  mkdirSync(dirname(logFile), { recursive: true });
  const log = createWriteStream(logFile, { flags: "a" });
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const messages = new MessageFanout();
  readLines(stdout, (line) => messages.deliver(parseWorkerLine(line)));
  stderr.pipe(log, { end: false });

  let stream: Duplex;
  try {
    stream = (await container.attach({
      stream: true,
      stdin: true,
      stdout: true,
      stderr: true,
      hijack: true,
    })) as Duplex;
    docker.modem.demuxStream(stream, stdout, stderr);
    await container.start();
  } catch (error) {
    log.end();
    await container.remove({ force: true }).catch(ignoreGone);
    throw dockerProblem(`could not start the container of worker ${id}`, image, error);
  }
  // The container's process as the host sees it: /proc samples its CPU and memory like a
  // process worker's (Docker runs it in the host's kernel, under another PID namespace).
  const pid = await container
    .inspect()
    .then((info) => (info.State.Pid > 0 ? info.State.Pid : undefined))
    .catch(() => undefined);
  // A broken attach shows up as the container's end; it must not crash the coordinator.
  stream.on("error", () => undefined);
  const streamEnded = new Promise<void>((resolve) => {
    stream.once("end", resolve);
    stream.once("close", resolve);
    stream.once("error", () => resolve());
  });

  let killed = false;
  let ended = false;
  const exited = (async (): Promise<WorkerExit> => {
    let exit: WorkerExit;
    try {
      await container.wait();
      ended = true;
      // Output still in flight when the process ended is read before the worker counts as gone.
      await Promise.race([streamEnded, new Promise((resolve) => setTimeout(resolve, 2_000))]);
      const { State: state } = await container.inspect();
      exit = describeExit(state, killed, options.memoryBytes);
    } catch (error) {
      exit = { code: null, signal: null, detail: `lost the container: ${messageOf(error)}` };
    }
    stream.destroy();
    stdout.end();
    stderr.end();
    await container.remove({ force: true }).catch(ignoreGone);
    await new Promise<void>((resolve) => log.end(resolve));
    return exit;
  })();

  return {
    id,
    pid,
    exited,
    send(message: ToWorker): void {
      if (stream.writable) stream.write(`${JSON.stringify(message)}\n`);
    },
    onMessage(listener): void {
      messages.add(listener);
    },
    async kill(): Promise<void> {
      if (!ended) {
        killed = true;
        await container.kill().catch(ignoreGone);
      }
      await exited;
    },
  };
}

function describeExit(
  state: { ExitCode: number; OOMKilled: boolean; Error: string },
  killed: boolean,
  memoryBytes: number | undefined,
): WorkerExit {
  const code = state.ExitCode;
  if (state.OOMKilled) {
    const limit = memoryBytes === undefined ? "" : ` (limit ${memoryBytes} bytes)`;
    return {
      code,
      signal: "SIGKILL",
      detail: `out of memory: the container was OOM-killed${limit}, exit code ${code}`,
    };
  }
  if (killed) return { code, signal: "SIGKILL", detail: `container killed, exit code ${code}` };
  if (state.Error) return { code, signal: null, detail: `exit code ${code}: ${state.Error}` };
  return { code, signal: null, detail: `exit code ${code}` };
}

function dockerProblem(message: string, image: string, error: unknown): OperatorError {
  const status = (error as { statusCode?: number }).statusCode;
  if (status === 404 && /image/i.test(messageOf(error))) {
    return new OperatorError(`the image ${image} is not present in the Docker engine`, {
      hint: "leave the image unset to build the client image from this host's Node",
      cause: error,
    });
  }
  return new OperatorError(message, { details: messageOf(error), cause: error });
}

/** A container that is already stopped or removed needs nothing more. */
function ignoreGone(error: unknown): void {
  const status = (error as { statusCode?: number }).statusCode;
  if (status !== 404 && status !== 409 && status !== 304) throw error;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
