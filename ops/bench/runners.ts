/**
 * What the load-test runners cost before a worker does any work: building the client image (no
 * registry), and the time from start() to the worker's `ready` for a child process and for a
 * container, one at a time and `PARALLEL` at once. The worker is the runner tests' echo worker, so
 * the numbers are the runners' own (Node + tsx start, container create/attach/start), not trading.
 * Needs a running dockerd for the container numbers; prints only the process numbers without one.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import Docker from "dockerode";
import { dockerRunner, removeTestContainers } from "../loadtest/runners/docker.js";
import { clientImageTag, ensureClientImage } from "../loadtest/runners/image.js";
import { processRunner } from "../loadtest/runners/process.js";
import type { Runner } from "../loadtest/runners/types.js";
import { ECHO_WORKER, echoInit } from "../../test/helpers/loadtest-workers.js";

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const PARALLEL = Number(process.env.PARALLEL ?? 8);
const ENTRY = ECHO_WORKER;

/** Milliseconds from start() to `ready`, then the worker is stopped and awaited. */
async function startToReady(runner: Runner, id: number, dir: string): Promise<number> {
  const began = performance.now();
  const handle = await runner.start(id, { logFile: join(dir, `worker-${id}.log`) });
  const ready = new Promise<void>((resolve) =>
    handle.onMessage((m) => m.type === "ready" && resolve()),
  );
  handle.send(echoInit(id, 0));
  await ready;
  const took = performance.now() - began;
  handle.send({ type: "stop" });
  await handle.exited;
  return took;
}

async function measure(name: string, runner: Runner, dir: string): Promise<void> {
  const times: number[] = [];
  for (let round = 0; round < ROUNDS; round++) times.push(await startToReady(runner, round, dir));
  times.sort((a, b) => a - b);
  const began = performance.now();
  await Promise.all(Array.from({ length: PARALLEL }, (_, i) => startToReady(runner, 100 + i, dir)));
  const parallel = performance.now() - began;
  console.log(`${name}: start -> ready`);
  console.log(
    `  one at a time (${ROUNDS}): median ${times[Math.floor(ROUNDS / 2)]!.toFixed(0)} ms, min ${times[0]!.toFixed(0)} ms, max ${times.at(-1)!.toFixed(0)} ms`,
  );
  console.log(`  ${PARALLEL} at once: all ready in ${parallel.toFixed(0)} ms`);
  await runner.close();
}

const dir = await mkdtemp(join(tmpdir(), "gridchain-bench-runners-"));
try {
  await measure("process runner", processRunner({ entry: ENTRY }), dir);
  const docker = new Docker();
  const reachable = await docker.ping().then(
    () => true,
    () => false,
  );
  if (!reachable) {
    console.log("docker runner: skipped (no Docker daemon)");
  } else {
    const tag = `${clientImageTag()}-bench${process.pid}`;
    const began = performance.now();
    await ensureClientImage(docker, { tag });
    const build = performance.now() - began;
    const { Size: size } = await docker.getImage(tag).inspect();
    console.log(
      `client image build (host Node + libraries, docker import): ${build.toFixed(0)} ms, ${(size / 1e6).toFixed(0)} MB`,
    );
    const testId = `bench${process.pid}`;
    try {
      await measure(
        "docker runner",
        dockerRunner({ docker, testId, entry: ENTRY, image: tag, cpus: 1, mounts: [] }),
        dir,
      );
    } finally {
      await removeTestContainers(docker, testId);
      await docker.getImage(tag).remove({ force: true });
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
