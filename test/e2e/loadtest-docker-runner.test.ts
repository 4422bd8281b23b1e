import { expect } from "chai";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import { REPO_ROOT, TSX_LOADER } from "../../ops/node22.js";
import {
  dockerRunner,
  LOADTEST_LABELS,
  removeTestContainers,
} from "../../ops/loadtest/runners/docker.js";
import {
  CLIENT_NODE,
  clientImageTag,
  ensureClientImage,
} from "../../ops/loadtest/runners/image.js";
import type { Runner } from "../../ops/loadtest/runners/types.js";
import { command, ECHO_WORKER, echoInit, inbox } from "../helpers/loadtest-workers.js";

/**
 * The docker runner against a real dockerd: the client image built from the host's Node, worker
 * containers with their labels and limits, the protocol over attached streams, host networking,
 * and containers gone once they end.
 */
describe("load test: docker runner (real dockerd)", function () {
  this.timeout(60_000);
  const docker = new Docker();
  let image: string;
  let dir: string;
  let testId: string;
  let runner: Runner | undefined;
  let server: Server;
  let serverUrl: string;

  before(async function () {
    try {
      await docker.ping();
    } catch {
      if (process.env.CI) throw new Error("CI must provide a running dockerd (see .ci/run)");
      console.log("    (skipped: no Docker daemon; start one with `dockerd &`)");
      this.skip();
    }
    // A fresh tag: the image is built from scratch on every run, and removed after.
    image = await ensureClientImage(docker, {
      tag: `gridchain/loadtest-client:test-${process.pid}`,
    });
    expect(image).to.equal(`gridchain/loadtest-client:test-${process.pid}`);
    server = createServer((_request, response) => response.end("hello from the host"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    serverUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/`;
  });

  after(async () => {
    if (server) await new Promise((resolve) => server.close(resolve));
    if (image) await docker.getImage(image).remove({ force: true });
  });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "gridchain-docker-runner-"));
    testId = `t${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  });

  afterEach(async () => {
    await runner?.close();
    runner = undefined;
    await removeTestContainers(docker, testId);
    await rm(dir, { recursive: true, force: true });
  });

  async function containersOfTest(): Promise<Docker.ContainerInfo[]> {
    return await docker.listContainers({
      all: true,
      filters: { label: [`${LOADTEST_LABELS.test}=${testId}`] },
    });
  }

  it("runs two labelled, limited containers that talk both ways over host networking", async () => {
    runner = dockerRunner({
      docker,
      testId,
      entry: ECHO_WORKER,
      image,
      cpus: 0.5,
      memoryBytes: 256 * 1024 * 1024,
      mounts: [{ hostPath: dir, readOnly: false }],
    });
    expect(runner.kind).to.equal("docker");
    const [one, two] = await Promise.all([
      runner.start(1, { logFile: join(dir, "worker-1.log") }),
      runner.start(2, { logFile: join(dir, "worker-2.log") }),
    ]);
    const boxes = [inbox(one!), inbox(two!)];
    one!.send(echoInit(1, 2, serverUrl));
    two!.send(echoInit(2, 5, serverUrl));
    expect(await boxes[0]!.next((m) => m.type === "ready")).to.deep.equal({
      type: "ready",
      worker: 1,
      agents: 2,
    });
    expect(await boxes[1]!.next((m) => m.type === "ready")).to.deep.equal({
      type: "ready",
      worker: 2,
      agents: 5,
    });
    expect(boxes[0]!.all.slice(0, 2)).to.deep.equal([
      { type: "log", message: "plain text from the worker" },
      { type: "log", message: "fetched 200 hello from the host" },
    ]);
    two!.send({ type: "trade", trade: 7, run: 1, buyer: "consumer-3" });
    expect(
      await boxes[1]!.next((m) => m.type === "log" && m.message.startsWith("echo")),
    ).to.deep.equal({
      type: "log",
      message: 'echo {"type":"trade","trade":7,"run":1,"buyer":"consumer-3"}',
    });

    const containers = await containersOfTest();
    expect(containers.map((c) => c.Labels[LOADTEST_LABELS.worker]).sort()).to.deep.equal([
      "1",
      "2",
    ]);
    const info = await docker.getContainer(containers[0]!.Id).inspect();
    const worker = info.Config.Labels[LOADTEST_LABELS.worker];
    expect(info.Name).to.equal(`/gridchain-loadtest-${testId}-worker-${worker}`);
    expect(info.Config.Labels).to.deep.equal({
      [LOADTEST_LABELS.project]: "gridchain",
      [LOADTEST_LABELS.role]: "loadtest-worker",
      [LOADTEST_LABELS.test]: testId,
      [LOADTEST_LABELS.worker]: worker,
    });
    expect(info.Config.Image).to.equal(image);
    expect(info.Config.User).to.equal(`${process.getuid!()}:${process.getgid!()}`);
    expect(info.Config.Entrypoint).to.deep.equal([CLIENT_NODE, "--import", TSX_LOADER]);
    expect(info.Config.Cmd).to.deep.equal([ECHO_WORKER]);
    expect(info.HostConfig.NetworkMode).to.equal("host");
    expect(info.HostConfig.NanoCpus).to.equal(500_000_000);
    expect(info.HostConfig.Memory).to.equal(256 * 1024 * 1024);
    expect(info.HostConfig.Binds).to.include(`${REPO_ROOT}:${REPO_ROOT}:ro`);
    expect(info.HostConfig.Binds).to.include(`${dir}:${dir}:rw`);
    expect(info.State.Running).to.equal(true);

    one!.send({ type: "stop" });
    expect(await one!.exited).to.deep.equal({ code: 0, signal: null, detail: "exit code 0" });
    expect(await readFile(join(dir, "worker-1.log"), "utf8")).to.match(
      /^echo-worker \d+ started\n$/,
    );
    expect((await containersOfTest()).map((c) => c.Labels[LOADTEST_LABELS.worker])).to.deep.equal([
      "2",
    ]);

    await runner.close();
    expect(await two!.exited).to.deep.equal({
      code: 137,
      signal: "SIGKILL",
      detail: "container killed, exit code 137",
    });
    expect(await containersOfTest()).to.have.length(0);
  });

  it("says why a container ended: killed, exit code, out of memory", async () => {
    runner = dockerRunner({
      docker,
      testId,
      entry: ECHO_WORKER,
      memoryBytes: 160 * 1024 * 1024,
      mounts: [],
    });
    // No image given: the runner builds or reuses the default client image itself.
    const [hung, crashing, hog] = await Promise.all(
      [1, 2, 3].map((id) => runner!.start(id, { logFile: join(dir, `worker-${id}.log`) })),
    );
    command(hung!, { type: "hang" });
    command(crashing!, { type: "crash", code: 3 });
    command(hog!, { type: "hog" });

    expect(await crashing!.exited).to.deep.equal({ code: 3, signal: null, detail: "exit code 3" });
    expect(await readFile(join(dir, "worker-2.log"), "utf8")).to.match(/crashing with 3\n$/);
    expect(await hog!.exited).to.deep.equal({
      code: 137,
      signal: "SIGKILL",
      detail: `out of memory: the container was OOM-killed (limit ${160 * 1024 * 1024} bytes), exit code 137`,
    });
    await hung!.kill();
    expect(await hung!.exited).to.deep.equal({
      code: 137,
      signal: "SIGKILL",
      detail: "container killed, exit code 137",
    });
    expect(await containersOfTest()).to.have.length(0);
    expect((await docker.getImage(clientImageTag()).inspect()).RepoTags).to.include(
      clientImageTag(),
    );
  });

  it("removeTestContainers removes a test's leftovers and nothing else", async () => {
    const labels = (test: string) => ({
      [LOADTEST_LABELS.project]: "gridchain",
      [LOADTEST_LABELS.role]: "loadtest-worker",
      [LOADTEST_LABELS.test]: test,
      [LOADTEST_LABELS.worker]: "1",
    });
    const ours = await docker.createContainer({ Image: image, Cmd: ["x"], Labels: labels(testId) });
    const other = await docker.createContainer({
      Image: image,
      Cmd: ["x"],
      Labels: labels(`${testId}-other`),
    });
    try {
      expect(await removeTestContainers(docker, testId)).to.equal(1);
      expect(await containersOfTest()).to.have.length(0);
      await docker
        .getContainer(ours.id)
        .inspect()
        .then(
          () => expect.fail("the leftover is still there"),
          (error: { statusCode?: number }) => expect(error.statusCode).to.equal(404),
        );
      expect((await other.inspect()).Id).to.equal(other.id);
    } finally {
      await other.remove({ force: true });
    }
  });

  it("rejects a test id that cannot name a container", () => {
    expect(() => dockerRunner({ docker, testId: "bad id/1", mounts: [] })).to.throw(
      'the load test id "bad id/1" is not allowed',
    );
  });
});
