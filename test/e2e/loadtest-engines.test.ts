import { expect } from "chai";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import { dockerRunner, LOADTEST_LABELS } from "../../ops/loadtest/runners/docker.js";
import { ensureClientImage } from "../../ops/loadtest/runners/image.js";
import { dockerEngine, pingEngine, spreadRunner } from "../../ops/loadtest/runners/spread.js";
import { startSecondDockerd, type SecondDockerd } from "../helpers/dockerd.js";
import { ECHO_WORKER, echoInit, inbox } from "../helpers/loadtest-workers.js";

/**
 * Workers spread over two real Docker engines on this machine (the usual one and a second dockerd
 * with its own socket, data root and exec root): placement, and what happens when one engine dies.
 */
describe("load test: workers spread over two Docker engines (real dockerds)", function () {
  this.timeout(180_000);
  const first = new Docker();
  let second: SecondDockerd | undefined;
  let dir: string;

  before(async function () {
    try {
      await first.ping();
    } catch {
      if (process.env.CI) throw new Error("CI must provide a running dockerd (see .ci/run)");
      this.skip();
    }
    dir = await mkdtemp(join(tmpdir(), "gridchain-engines-"));
  });

  beforeEach(async () => {
    second = await startSecondDockerd();
  });

  afterEach(async () => {
    await second?.stop();
    second = undefined;
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const workersOn = async (docker: Docker, testId: string) =>
    (
      await docker.listContainers({
        filters: { label: [`${LOADTEST_LABELS.test}=${testId}`] },
      })
    )
      .map((container) => Number(container.Labels[LOADTEST_LABELS.worker]))
      .sort();

  it("parses --docker-host addresses and refuses others", () => {
    const modem = (address: string) =>
      dockerEngine(address).modem as unknown as {
        socketPath?: string;
        host?: string;
        port?: number;
      };
    expect(modem("unix:///run/x.sock").socketPath).to.equal("/run/x.sock");
    expect(modem("tcp://10.0.0.5:2375")).to.include({ host: "10.0.0.5", port: 2375 });
    expect(() => dockerEngine("ssh://box")).to.throw(
      "--docker-host ssh://box is not a Docker engine address",
    );
  });

  it("places worker k on engine k mod 2; when one engine dies its workers end and new ones go to the other", async () => {
    const testId = `engines${process.pid}`;
    const engines = [first, second!.docker];
    const images = await Promise.all(engines.map((docker) => ensureClientImage(docker)));
    const lines: string[] = [];
    const runner = spreadRunner(
      engines.map((docker, i) => ({
        runner: dockerRunner({ docker, testId, entry: ECHO_WORKER, image: images[i], mounts: [] }),
        ping: () => pingEngine(docker),
      })),
      (line) => lines.push(line),
    );
    try {
      const handles = await Promise.all(
        [0, 1, 2, 3].map((id) => runner.start(id, { logFile: join(dir, `worker-${id}.log`) })),
      );
      const boxes = handles.map((handle) => inbox(handle));
      handles.forEach((handle, id) => handle.send(echoInit(id, 1)));
      await Promise.all(boxes.map((box) => box.next((message) => message.type === "ready")));
      expect(await workersOn(first, testId)).to.deep.equal([0, 2]);
      expect(await workersOn(second!.docker, testId)).to.deep.equal([1, 3]);
      expect([...runner.placement].sort(([a], [b]) => a - b)).to.deep.equal([
        [0, 0],
        [1, 1],
        [2, 0],
        [3, 1],
      ]);

      // The second engine goes down: its workers end, the first engine's keep answering.
      await second!.stop();
      const [lostOne, lostThree] = await Promise.all([handles[1]!.exited, handles[3]!.exited]);
      expect(lostOne.code === 0).to.equal(false);
      expect(lostThree.code === 0).to.equal(false);
      handles[0]!.send({ type: "trade", trade: 1, run: 1, buyer: "consumer-0" });
      expect(
        await boxes[0]!.next((m) => m.type === "log" && m.message.startsWith("echo")),
      ).to.deep.equal({
        type: "log",
        message: 'echo {"type":"trade","trade":1,"run":1,"buyer":"consumer-0"}',
      });
      // Worker 5 belongs on the dead engine and starts on the live one instead.
      const five = await runner.start(5, { logFile: join(dir, "worker-5.log") });
      expect(runner.placement.get(5)).to.equal(0);
      expect(lines.some((line) => line.startsWith("engine 2 could not start worker 5"))).to.equal(
        true,
      );
      five.send(echoInit(5, 1));
      await inbox(five).next((message) => message.type === "ready");
    } finally {
      await runner.close();
    }
    expect(await workersOn(first, testId)).to.deep.equal([]);
  });

  it("a crashed engine (its daemon killed) ends its workers' handles; the other engine's go on", async () => {
    const testId = `crash${process.pid}`;
    const engines = [first, second!.docker];
    const images = await Promise.all(engines.map((docker) => ensureClientImage(docker)));
    const runner = spreadRunner(
      engines.map((docker, i) => ({
        runner: dockerRunner({ docker, testId, entry: ECHO_WORKER, image: images[i], mounts: [] }),
        ping: () => pingEngine(docker),
      })),
    );
    try {
      const handles = await Promise.all(
        [0, 1].map((id) => runner.start(id, { logFile: join(dir, `crash-${id}.log`) })),
      );
      const boxes = handles.map((handle) => inbox(handle));
      handles.forEach((handle, id) => handle.send(echoInit(id, 1)));
      await Promise.all(boxes.map((box) => box.next((message) => message.type === "ready")));
      await second!.crash();
      // The handle of the worker on the dead engine resolves: the coordinator ends its trades.
      const exit = await handles[1]!.exited;
      expect(exit.code).to.equal(null);
      expect(exit.detail).to.match(/^engine 2 stopped answering: 3 pings missed /);
      handles[0]!.send({ type: "trade", trade: 2, run: 1, buyer: "consumer-0" });
      await boxes[0]!.next((m) => m.type === "log" && m.message.startsWith("echo"));
    } finally {
      await runner.close();
    }
    expect(await workersOn(first, testId)).to.deep.equal([]);
  });
});
