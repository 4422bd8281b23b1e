import { expect } from "chai";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { execFileSync } from "node:child_process";
import { clientDockerfile } from "../../ops/loadtest/runners/image.js";
import { parseWorkerLine, readLines } from "../../ops/loadtest/runners/lines.js";
import { node22Binary, REPO_ROOT } from "../../ops/node22.js";
import { processRunner } from "../../ops/loadtest/runners/process.js";
import type { Runner } from "../../ops/loadtest/runners/types.js";
import { command, ECHO_WORKER, echoInit, inbox } from "../helpers/loadtest-workers.js";

describe("load test: line splitting", () => {
  it("splits lines across chunk borders, multi-byte characters and CRLF, and flushes the last", async () => {
    const stream = new PassThrough();
    const lines: string[] = [];
    readLines(stream, (line) => lines.push(line));
    const bytes = Buffer.from('{"type":"log","message":"Wh ⚡"}\r\nsecond\n\nthird');
    for (let i = 0; i < bytes.length; i += 3) stream.write(bytes.subarray(i, i + 3));
    stream.end();
    await new Promise((resolve) => stream.on("end", resolve));
    expect(lines).to.deep.equal(['{"type":"log","message":"Wh ⚡"}', "second", "third"]);
  });

  it("parses protocol messages and turns anything else into a log message", () => {
    expect(parseWorkerLine('{"type":"ready","worker":2,"agents":5}')).to.deep.equal({
      type: "ready",
      worker: 2,
      agents: 5,
    });
    expect(parseWorkerLine("Warning: something")).to.deep.equal({
      type: "log",
      message: "Warning: something",
    });
    expect(parseWorkerLine("[1,2]")).to.deep.equal({ type: "log", message: "[1,2]" });
    expect(parseWorkerLine("42")).to.deep.equal({ type: "log", message: "42" });
  });
});

describe("load test: process runner (echo worker)", function () {
  this.timeout(30_000);
  let dir: string;
  let runner: Runner;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "gridchain-runners-"));
    runner = processRunner({ entry: ECHO_WORKER, env: { ECHO_WORKER_TAG: "t" } });
  });

  afterEach(async () => {
    await runner.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("exchanges messages both ways, passes env and appends stderr to the log file", async () => {
    const logFile = join(dir, "logs", "worker-1.log");
    const handle = await runner.start(1, { logFile });
    const box = inbox(handle);
    expect(runner.kind).to.equal("process");
    expect(handle.id).to.equal(1);

    handle.send(echoInit(1, 3));
    expect(await box.next((m) => m.type === "ready")).to.deep.equal({
      type: "ready",
      worker: 1,
      agents: 3,
    });
    handle.send({ type: "reviewed", trade: 9, approved: false, detail: "zone full" });
    expect(await box.next((m) => m.type === "log" && m.message.startsWith("echo"))).to.deep.equal({
      type: "log",
      message: 'echo {"type":"reviewed","trade":9,"approved":false,"detail":"zone full"}',
    });
    expect(box.all[0]).to.deep.equal({ type: "log", message: "plain text from the worker" });

    handle.send({ type: "stop" });
    expect(await handle.exited).to.deep.equal({ code: 0, signal: null, detail: "exit code 0" });
    const log = await readFile(logFile, "utf8");
    expect(log).to.match(/^echo-worker \d+ started tag=t\n$/);
  });

  it("carries 1 MB lines in both directions", async () => {
    const handle = await runner.start(2, { logFile: join(dir, "worker-2.log") });
    const box = inbox(handle);
    // About 1.1 MB of agents in one init line.
    const init = echoInit(2, 9_000);
    expect(JSON.stringify(init).length).to.be.greaterThan(1_000_000);
    handle.send(init);
    expect(await box.next((m) => m.type === "ready")).to.deep.equal({
      type: "ready",
      worker: 2,
      agents: 9_000,
    });
    command(handle, { type: "big", chars: 1_048_576 });
    const big = await box.next((m) => m.type === "log" && m.message.startsWith("xx"));
    expect(big).to.deep.equal({ type: "log", message: "x".repeat(1_048_576) });
  });

  it("reports a crash with its exit code and keeps its last words in the log", async () => {
    const logFile = join(dir, "worker-3.log");
    const handle = await runner.start(3, { logFile });
    command(handle, { type: "crash", code: 3 });
    expect(await handle.exited).to.deep.equal({ code: 3, signal: null, detail: "exit code 3" });
    expect(await readFile(logFile, "utf8")).to.match(/started tag=t\ncrashing with 3\n$/);
    // Sending to a dead worker is harmless.
    handle.send({ type: "stop" });
  });

  it("kills a hung worker; exited resolves with the signal", async () => {
    const handle = await runner.start(4, { logFile: join(dir, "worker-4.log") });
    const box = inbox(handle);
    handle.send(echoInit(4, 1));
    await box.next((m) => m.type === "ready");
    command(handle, { type: "hang" });
    await handle.kill();
    expect(await handle.exited).to.deep.equal({
      code: null,
      signal: "SIGKILL",
      detail: "killed by SIGKILL",
    });
  });

  it("close() kills every worker still running", async () => {
    const a = await runner.start(5, { logFile: join(dir, "worker-5.log") });
    const b = await runner.start(6, { logFile: join(dir, "worker-6.log") });
    await runner.close();
    expect((await a.exited).signal).to.equal("SIGKILL");
    expect((await b.exited).signal).to.equal("SIGKILL");
  });

  it("reports an entry that does not exist as a failed exit", async () => {
    const missing = processRunner({ entry: join(dir, "no-such-worker.ts") });
    const handle = await missing.start(7, { logFile: join(dir, "worker-7.log") });
    const exit = await handle.exited;
    expect(exit.code).to.equal(1);
    expect(exit.detail).to.equal("exit code 1");
    expect(await readFile(join(dir, "worker-7.log"), "utf8")).to.contain("no-such-worker.ts");
  });
});

describe("load test: worker Node and client image text", () => {
  it("node22Binary is an absolute path to a Node of at least 22.13", () => {
    const binary = node22Binary();
    expect(binary.startsWith("/")).to.equal(true);
    const [major, minor] = execFileSync(binary, ["-p", "process.versions.node"], {
      encoding: "utf8",
    })
      .trim()
      .split(".")
      .map(Number);
    expect(major! > 22 || (major === 22 && minor! >= 13)).to.equal(true);
  });

  it("clientDockerfile installs dev dependencies and puts the project at the runner's path", () => {
    expect(
      clientDockerfile({ nodeMajor: 22, projectDir: "/srv/gridchain" }).split("\n"),
    ).to.deep.equal([
      "# gridchain load-test client (workers). Build from the repository root after `npm run build`:",
      "#   docker build -f Dockerfile.loadtest-client -t gridchain/loadtest-client:registry .",
      "FROM node:22-slim",
      "WORKDIR /srv/gridchain",
      "COPY package.json package-lock.json ./",
      "# Dev dependencies stay: workers run TypeScript through tsx, which is one.",
      "RUN npm ci && npm cache clean --force",
      "COPY tsconfig.json ./",
      "COPY ops ./ops",
      "COPY artifacts ./artifacts",
      "COPY types ./types",
      "USER node",
      'ENTRYPOINT ["/usr/local/bin/node", "--import", "/srv/gridchain/node_modules/tsx/dist/loader.mjs"]',
      'CMD ["/srv/gridchain/ops/loadtest/worker.ts"]',
      "",
    ]);
    const text = clientDockerfile({ nodeMajor: 24 });
    expect(text).to.contain("FROM node:24-slim\n");
    expect(text).to.contain(`WORKDIR ${REPO_ROOT}\n`);
    expect(text).not.to.contain("--omit=dev");
  });
});
