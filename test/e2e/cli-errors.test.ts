import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Contract, JsonRpcProvider } from "ethers";
import { readManifest } from "../../ops/contracts/index.js";
import { explainError } from "../../ops/explain.js";
import { gridchain, smallConsortiumYaml, type CliRun } from "../support/cli.js";
import { freePort } from "../support/net.js";
import { testRecord } from "../helpers/loadtest.js";

/** One `gridchain:` line on stderr, no stack frame, and the exit code of an operator error. */
function expectOneLine(run: CliRun, pattern: RegExp, code = 1): void {
  expect(run.stderr, run.stderr).to.not.match(/^\s+at /m);
  const lines = run.stderr.trimEnd().split("\n");
  expect(lines, run.stderr).to.have.length(1);
  expect(lines[0], run.stderr).to.match(/^gridchain: /);
  expect(lines[0], run.stderr).to.match(pattern);
  expect(run.code, run.stderr).to.equal(code);
}

describe("gridchain CLI: every operator error is one line, without a stack trace", function () {
  this.timeout(300_000);
  let dir: string;
  let config: string;
  let networkDir: string;
  let manifestPath: string;
  /** A second network whose chain never runs. */
  let downConfig: string;
  let downNetwork: string;
  let downPort: number;
  let busy: Server;
  let busyPort: number;
  const name = `errs${process.pid}`;
  const chainArgs = () => ["-c", config, "--network", networkDir, "--manifest", manifestPath];
  const runs = new Map<string, Promise<CliRun>>();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "gridchain-errors-"));
    const port = await freePort();
    downPort = await freePort();
    config = join(dir, "consortium.yaml");
    networkDir = join(dir, "network");
    manifestPath = join(dir, `${name}.json`);
    const yaml = (network: string, chainPort: number, chainId: number) =>
      smallConsortiumYaml({
        name: network,
        chainId,
        port: chainPort,
        producers: 1,
        consumers: 2,
        zoneKw: 400,
        startingCredits: { consumer: "100" },
        // The upgrade refusals below are the deployer's path, which a pilot keeps by opting out.
        deployerKeepsAdmin: true,
      });
    await writeFile(config, yaml(name, port, 43_000 + (process.pid % 1000)));
    downConfig = join(dir, "down.yaml");
    downNetwork = join(dir, "down-network");
    await writeFile(downConfig, yaml(`${name}-down`, downPort, 44_000 + (process.pid % 1000)));
    for (const [file, out] of [
      [config, networkDir],
      [downConfig, downNetwork],
    ] as const) {
      const generated = await gridchain("generate", "-c", file, "--out", out);
      expect(generated.code, generated.stderr).to.equal(0);
    }
    const up = await gridchain("up", ...chainArgs());
    expect(up.code, up.stderr).to.equal(0);
    const deployed = await gridchain("deploy", ...chainArgs());
    expect(deployed.code, deployed.stderr).to.equal(0);

    busy = createServer();
    busyPort = await freePort();
    await new Promise<void>((resolve) => busy.listen(busyPort, "127.0.0.1", resolve));
    await writeFile(join(dir, "garbage.jsonl"), "this is not a journal\n");
    await writeFile(
      join(dir, "bad.yaml"),
      readFileSync(config, "utf8").replace("chainId:", "chainID:"),
    );
    await writeFile(
      join(dir, "fits.yaml"),
      "name: fits\nagents: 3\nproducerShare: 0.34\nruns:\n  - trades: 2\n",
    );
    await writeFile(join(dir, "too-many.yaml"), "name: big\nagents: 40\nruns:\n  - trades: 2\n");

    const cases: Record<string, string[]> = {
      missingConfig: ["status", "-c", join(dir, "missing.yaml")],
      badYaml: ["generate", "-c", join(dir, "bad.yaml"), "--out", join(dir, "never")],
      noNetwork: ["up", "-c", config, "--network", join(dir, "no-such-network")],
      inspectMissing: ["inspect", join(dir, "missing-genesis.json")],
      deployDown: ["deploy", "-c", downConfig, "--network", downNetwork],
      exporterDown: [
        "exporter",
        "-c",
        downConfig,
        "--network",
        downNetwork,
        "--manifest",
        manifestPath,
        "--port",
        "0",
      ],
      statusDownJson: ["status", "-c", downConfig, "--network", downNetwork, "--json"],
      unknownContract: ["upgrade", "Nothing", "EnergyMarket", ...chainArgs()],
      unknownArtifact: ["upgrade", "EnergyMarket", "NoSuchContract", ...chainArgs()],
      storageLayout: ["upgrade", "EnergyMarket", "GridCredit", ...chainArgs()],
      garbageJournal: ["loadtest", "report", join(dir, "garbage.jsonl")],
      busyMetricsPort: [
        "loadtest",
        ...chainArgs(),
        "--scenario",
        join(dir, "fits.yaml"),
        "--metrics-port",
        String(busyPort),
        "--exporter-port",
        String(await freePort()),
        "--no-progress",
      ],
      tooManyAgents: [
        "loadtest",
        ...chainArgs(),
        "--scenario",
        join(dir, "too-many.yaml"),
        "--metrics-port",
        String(await freePort()),
        "--no-progress",
      ],
      debugTrace: ["--debug", "status", "-c", join(dir, "missing.yaml")],
      statusJson: ["status", ...chainArgs(), "--json"],
      unknownOption: ["status", "--bogus"],
      missingArgument: ["upgrade", "EnergyMarket"],
    };
    // Two lanes (the machine's cores are shared with the chain); none changes the chain. The
    // commands that load Hardhat share one lane: two Hardhat builds at once race on its cache.
    const hardhat = new Set(["unknownArtifact", "storageLayout"]);
    const entries = Object.entries(cases);
    const lane = async (ids: [string, string[]][]) => {
      for (const [label, args] of ids) {
        const run = gridchain(...args);
        runs.set(label, run);
        await run;
      }
    };
    await Promise.all([
      lane(entries.filter(([label]) => hardhat.has(label))),
      lane(entries.filter(([label]) => !hardhat.has(label))),
    ]);
  });

  after(async () => {
    await gridchain("monitor", "down", ...chainArgs());
    if (busy !== undefined) await new Promise((resolve) => busy.close(resolve));
    await gridchain("down", ...chainArgs());
    await rm(dir, { recursive: true, force: true });
  });

  const run = (label: string) => runs.get(label)!;

  it("a missing consortium file", async () => {
    expectOneLine(await run("missingConfig"), /cannot read the consortium file; no such file/);
  });

  it("a consortium file with a misspelt key", async () => {
    expectOneLine(
      await run("badYaml"),
      /chainID: unknown key "chainID" \(did you mean chainId\?\)/,
    );
    expect(existsSync(join(dir, "never"))).to.equal(false);
  });

  it("a network folder that was never generated", async () => {
    expectOneLine(await run("noNetwork"), /holds no generated network/);
  });

  it("a genesis file that does not exist", async () => {
    expectOneLine(await run("inspectMissing"), /cannot read the genesis file/);
  });

  it("deploy with the chain down", async () => {
    expectOneLine(await run("deployDown"), /the embedded chain is not running/);
  });

  it("the exporter with the chain down", async () => {
    expectOneLine(
      await run("exporterDown"),
      new RegExp(`cannot reach 127\\.0\\.0\\.1:${downPort} \\(connection refused\\); hint: `),
    );
  });

  it("status of a stopped chain: exit code 3 and nothing on stderr", async () => {
    const status = await run("statusDownJson");
    expect(status.code).to.equal(3);
    expect(status.stderr).to.equal("");
  });

  it("upgrade of a contract the market does not have", async () => {
    expectOneLine(await run("unknownContract"), /Nothing is not a market contract/);
  });

  it("upgrade to a contract that was never compiled", async () => {
    expectOneLine(await run("unknownArtifact"), /no compiled contract named NoSuchContract/);
  });

  it("upgrade refused by the storage-layout check", async () => {
    expectOneLine(
      await run("storageLayout"),
      /upgrade refused by OpenZeppelin's safety check: New storage layout is incompatible; EnergyMarket\w*: Deleted namespace `erc7201:gridchain\.storage\.Market\w*`/,
    );
  });

  it("a load-test report of a file that is not a journal", async () => {
    expectOneLine(await run("garbageJournal"), /garbage\.jsonl: not a load-test journal/);
    expect(existsSync(join(dir, "report.json"))).to.equal(false);
  });

  it("a load test whose --metrics-port is busy: refused before anything is written", async () => {
    expectOneLine(
      await run("busyMetricsPort"),
      new RegExp(`--metrics-port ${busyPort} on 127\\.0\\.0\\.1 is already in use`),
    );
    expect(existsSync(join(networkDir, "loadtest"))).to.equal(false);
  });

  it("a load test its own checks refuse leaves no run folder behind", async () => {
    expectOneLine(
      await run("tooManyAgents"),
      /the scenario needs 8 producers and 32 consumers; the consortium has 1 and 2/,
    );
    expect(existsSync(join(networkDir, "loadtest"))).to.equal(false);
  });

  it("a usage mistake: an unknown option, a missing argument", async () => {
    expectOneLine(
      await run("unknownOption"),
      /^gridchain: unknown option '--bogus'; hint: add --help for the usage$/,
    );
    expectOneLine(
      await run("missingArgument"),
      /^gridchain: missing required argument 'artifact'; hint: add --help for the usage$/,
    );
  });

  it("--debug adds the stack trace after the line", async () => {
    const debug = await run("debugTrace");
    expect(debug.code).to.equal(1);
    const [first, ...rest] = debug.stderr.trimEnd().split("\n");
    expect(first).to.match(/^gridchain: .*cannot read the consortium file/);
    expect(rest.join("\n")).to.match(/^\s+at /m);
  });

  it("status --json gives every count and id as a JSON number", async () => {
    const status = await run("statusJson");
    expect(status.code, status.stderr).to.equal(0);
    const json = JSON.parse(status.stdout) as {
      chainId: unknown;
      height: unknown;
      deployment: { chainId: unknown; offers: unknown; orders: unknown };
    };
    expect(typeof json.chainId).to.equal("number");
    expect(typeof json.height).to.equal("number");
    expect(json.deployment.chainId).to.equal(json.chainId);
    expect([typeof json.deployment.offers, typeof json.deployment.orders]).to.deep.equal([
      "number",
      "number",
    ]);
  });

  it("monitor up when Prometheus already runs says so and exits 0", async () => {
    const port = String(await freePort());
    const first = await gridchain("monitor", "up", ...chainArgs(), "--port", port);
    expect(first.code, first.stderr).to.equal(0);
    const again = await gridchain("monitor", "up", ...chainArgs(), "--port", port);
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout).to.match(
      new RegExp(`^Prometheus already running: http://127\\.0\\.0\\.1:${port} \\(pid \\d+\\)`),
    );
    expect(again.stderr).to.equal("");
  });

  it("decodes a contract's custom error into its name, arguments and a hint", async () => {
    const manifest = await readManifest(manifestPath);
    const accounts = JSON.parse(await readFile(join(networkDir, "accounts.json"), "utf8")) as {
      id: string;
      address: string;
    }[];
    const consumer = accounts.find((account) => account.id === "consumer-1")!.address;
    const rpc = `http://127.0.0.1:${/port: (\d+)/.exec(readFileSync(config, "utf8"))![1]}`;
    const provider = new JsonRpcProvider(rpc, undefined, { staticNetwork: true });
    try {
      const channels = new Contract(
        manifest.contracts.PaymentChannels.proxy,
        ["function setTotalDeposit(uint256 channelId, address participant, uint256 total)"],
        provider,
      );
      const error = await channels
        .getFunction("setTotalDeposit")
        .staticCall(999n, consumer, 1n, { from: consumer })
        .then(
          () => undefined,
          (caught: unknown) => caught,
        );
      expect(error).to.not.equal(undefined);
      expect(await explainError(error)).to.deep.equal({
        line: "a contract refused the transaction: PaymentChannelsUnexpectedState(channelId=999, state=0, expected=1); hint: the local channel store and the chain disagree about the channel's state (was the chain reset?)",
        code: 1,
        bug: false,
      });
    } finally {
      provider.destroy();
    }
  });
});

describe("gridchain CLI: version, start, report folder", function () {
  this.timeout(60_000);

  it("loadtest report --out writes the report there, not beside the journal", async () => {
    const dir = await mkdtemp(join(tmpdir(), "gridchain-report-out-"));
    try {
      await mkdir(join(dir, "run"));
      const journal = join(dir, "run", "journal.jsonl");
      await writeFile(journal, `${JSON.stringify(testRecord())}\n`);
      const run = await gridchain("loadtest", "report", journal, "--out", join(dir, "out"));
      expect(run.code, run.stderr).to.equal(0);
      expect(readdirSync(join(dir, "out")).sort()).to.deep.equal([
        "report.html",
        "report.json",
        "report.md",
      ]);
      expect(readdirSync(join(dir, "run"))).to.deep.equal(["journal.jsonl"]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("--version prints the package version and the git commit", async () => {
    const run = await gridchain("--version");
    expect(run.code, run.stderr).to.equal(0);
    const { version } = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };
    const commit = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], {
      encoding: "utf8",
    }).trim();
    expect(run.stdout).to.match(
      new RegExp(`^${version.replace(/\./g, "\\.")} \\(commit ${commit}(-dirty)?\\)\\n$`),
    );
  });

  it("status, inspect and --help load neither ethers, Hardhat nor the Grafana SDK", async () => {
    const dir = await mkdtemp(join(tmpdir(), "gridchain-start-"));
    try {
      const config = join(dir, "consortium.yaml");
      await writeFile(
        config,
        smallConsortiumYaml({
          name: "start",
          chainId: 45_000,
          port: await freePort(),
          producers: 1,
          consumers: 1,
          zoneKw: 400,
          startingCredits: { consumer: "1" },
        }),
      );
      const generated = await gridchain("generate", "-c", config, "--out", join(dir, "net"));
      expect(generated.code, generated.stderr).to.equal(0);
      await mkdir(join(dir, "trace"));
      for (const args of [
        ["--help"],
        ["status", "-c", config, "--network", join(dir, "net")],
        ["inspect", join(dir, "net", "genesis.json")],
      ]) {
        const trace = join(dir, "trace", `${args[0]}.txt`);
        traced(trace, args);
        const loaded = readFileSync(trace, "utf8").split("\n");
        const heavy = loaded.filter((url) =>
          /node_modules\/(ethers|hardhat|@nomicfoundation|@grafana)\//.test(url),
        );
        expect(heavy, `${args[0]} loaded ${heavy[0]}`).to.deep.equal([]);
        expect(loaded.some((url) => url.includes("node_modules/commander/"))).to.equal(true);
      }
      expect(readdirSync(join(dir, "trace"))).to.have.length(3);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

/** Runs the CLI with a hook that lists every module it loads into `trace`. */
function traced(trace: string, args: string[]): void {
  try {
    execFileSync(
      "ops/bin/node22",
      [
        "--import",
        "./node_modules/tsx/dist/loader.mjs",
        "--import",
        "./test/support/trace-imports.mjs",
        "ops/cli.ts",
        ...args,
      ],
      { env: { ...process.env, GRIDCHAIN_TRACE_IMPORTS: trace }, stdio: "ignore" },
    );
  } catch {
    // status of a stopped chain exits 3: the list of modules is what is checked.
  }
}
