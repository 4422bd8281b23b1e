import { expect } from "chai";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rpcCall } from "../../ops/engines/rpc.js";
import { gridchain, gridchainIn, smallConsortiumYaml } from "../support/cli.js";
import { freePort } from "../support/net.js";

/** Polls the chain's height until it reaches `height`: waits for blocks, not for time. */
async function heightAtLeast(url: string, height: number): Promise<number> {
  for (;;) {
    const now = Number(BigInt(await rpcCall<string>(url, "eth_blockNumber")));
    if (now >= height) return now;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function waitGone(pid: number): Promise<void> {
  for (;;) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe("operator lifecycle through the CLI (embedded engine)", function () {
  this.timeout(300_000);
  let dir: string;
  let port: number;
  let yaml: string;
  const name = `lc${process.pid}`;
  const config = () => join(dir, "network", "consortium.yaml");
  const networkDir = () => join(dir, "network", name);
  const cli = (...args: string[]) => gridchainIn(dir, ...args);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "gridchain-lifecycle-"));
    port = await freePort();
    yaml = smallConsortiumYaml({
      name,
      chainId: 43_000 + (process.pid % 1000),
      port,
      producers: 1,
      consumers: 2,
      zoneKw: 400,
      startingCredits: { consumer: "100" },
    });
    await mkdir(join(dir, "network"));
    await writeFile(config(), yaml);
    const generated = await cli("generate");
    expect(generated.code, generated.stderr).to.equal(0);
  });

  after(async () => {
    await cli("down", "--network", networkDir());
    await rm(dir, { recursive: true, force: true });
  });

  it("up on a running chain says so and exits 0", async () => {
    const first = await cli("up");
    expect(first.code, first.stderr).to.equal(0);
    expect(first.stdout).to.contain("  a new chain, started from its genesis\n");
    const again = await cli("up");
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stdout).to.match(
      new RegExp(
        `^embedded engine already running: http://127\\.0\\.0\\.1:${port} \\(chain id \\d+, block \\d+\\); nothing to do\\n$`,
      ),
    );
  });

  it("status and down work from the network folder when the YAML is broken or renamed", async () => {
    await writeFile(config(), yaml.replace("  producers:", "  producerz:"));
    const status = await cli("status");
    expect(status.code, status.stderr).to.equal(0);
    expect(status.stdout).to.contain(`network: ${name}\nengine: embedded (running)\n`);

    await writeFile(config(), yaml.replace(`name: ${name}`, `name: ${name}x`));
    const down = await cli("down");
    expect(down.code, down.stderr).to.equal(0);
    expect(down.stdout).to.match(/^embedded engine stopped at block \d+; state kept/);
    const after = await cli("status", "--network", networkDir());
    expect(after.stdout).to.contain("engine: embedded (stopped)");
    await writeFile(config(), yaml);
  });

  it("generate refuses to change the started chain's genesis, in one line, and writes nothing", async () => {
    const genesis = readFileSync(join(networkDir(), "genesis.json"), "utf8");
    const chainId = 43_000 + (process.pid % 1000);
    await writeFile(config(), yaml.replace(`chainId: ${chainId}`, `chainId: ${chainId + 1}`));
    const run = await cli("generate");
    expect(run.code).to.equal(1);
    expect(run.stderr.trim().split("\n")).to.deep.equal([
      `gridchain: network/${name} holds a chain that has started; this would change its genesis or node identities: chain id ${chainId} -> ${chainId + 1}; ` +
        "a different genesis or node set is a different chain: its saved state, deployed contracts and payment channels would not belong to it; " +
        "hint: undo the change (or restore the missing key files); to start a new chain, run 'gridchain generate --new-chain' (the old chain is archived)",
    ]);
    expect(readFileSync(join(networkDir(), "genesis.json"), "utf8")).to.equal(genesis);
    await writeFile(config(), yaml);
  });

  it("up after kill -9 resumes from the last save and says how much may be lost", async () => {
    const up = await cli("up");
    expect(up.code, up.stderr).to.equal(0);
    expect(up.stdout).to.match(/ {2}resumed from block \d+ \(saved by 'gridchain down'\)\n$/);
    const url = `http://127.0.0.1:${port}`;
    const heightAtKill = await heightAtLeast(url, 12);
    const { pid } = JSON.parse(
      await readFile(join(networkDir(), "embedded", "anvil.pid"), "utf8"),
    ) as { pid: number };
    process.kill(pid, "SIGKILL");
    await waitGone(pid);

    const again = await cli("up");
    expect(again.code, again.stderr).to.equal(0);
    const found =
      /the chain had stopped without 'gridchain down': resumed from its last save, block (\d+); at most 2 s of blocks before the stop were lost/.exec(
        again.stdout,
      );
    expect(found, again.stdout).to.not.equal(null);
    // 2 s between saves with 1 s blocks, and the save being written when the kill came.
    expect(Number(found![1])).to.be.at.least(heightAtKill - 4);
  });

  it("reset asks first, archives the chain, and the next up starts from the genesis", async () => {
    const running = await cli("generate", "--new-chain");
    expect(running.code).to.equal(1);
    expect(running.stderr).to.equal(
      `gridchain: the chain of network/${name} is running; hint: stop it with 'gridchain down' before starting a new chain\n`,
    );
    const unattended = await cli("reset");
    expect(unattended.code).to.equal(1);
    expect(unattended.stderr).to.equal(
      "gridchain: reset asks for confirmation, and there is no terminal to ask on; hint: pass --yes\n",
    );
    const reset = await cli("reset", "--yes");
    expect(reset.code, reset.stderr).to.equal(0);
    const lines = reset.stdout.trim().split("\n");
    expect(lines[0]).to.match(/^stopped the embedded chain at block \d+$/);
    expect(lines[1]).to.match(
      new RegExp(
        `^archived to network/${name}/archive/[0-9T-]+: network/${name}/engine\\.json, network/${name}/embedded$`,
      ),
    );
    expect(existsSync(join(networkDir(), "embedded"))).to.equal(false);
    const up = await cli("up");
    expect(up.code, up.stderr).to.equal(0);
    expect(up.stdout).to.contain("  a new chain, started from its genesis\n");
  });

  it("generate --new-chain on the stopped chain archives it and the next up runs the new genesis", async () => {
    const down = await cli("down");
    expect(down.code, down.stderr).to.equal(0);
    const chainId = 43_000 + (process.pid % 1000);
    await writeFile(config(), yaml.replace(`chainId: ${chainId}`, `chainId: ${chainId + 1}`));
    const generated = await cli("generate", "--new-chain");
    expect(generated.code, generated.stderr).to.equal(0);
    expect(generated.stdout).to.match(
      new RegExp(
        `\n {2}new chain: the old chain's state, manifest and channel stores moved to network/${name}/archive/`,
      ),
    );
    const up = await cli("up");
    expect(up.code, up.stderr).to.equal(0);
    expect(up.stdout).to.match(
      new RegExp(`\\(chain id ${chainId + 1}, block 0\\)\n {2}a new chain`),
    );
  });
});

describe("npm start after gridchain reset", function () {
  this.timeout(600_000);
  const name = `rs${process.pid}`;
  let dir: string;
  let config: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "gridchain-reset-"));
    config = join(dir, "consortium.yaml");
    const pilot = readFileSync("network/consortium.yaml", "utf8");
    await writeFile(
      config,
      pilot
        .replace("name: pilot", `name: ${name}`)
        .replace("chainId: 2026", `chainId: ${44_000 + (process.pid % 1000)}`)
        .replace("blockPeriodSeconds: 2", "blockPeriodSeconds: 1")
        .replace("    port: 8545", `    port: ${await freePort()}`),
    );
  });

  after(async () => {
    await gridchain("down", "-c", config);
    await rm(join("network", name), { recursive: true, force: true });
    await rm(join("deployments", `${name}.json`), { force: true });
    await rm(dir, { recursive: true, force: true });
  });

  it("runs the demo again on the fresh chain: no channel store of the old chain is replayed", async () => {
    const first = await gridchain("demo", "-c", config);
    expect(first.code, first.stderr).to.equal(0);
    expect(existsSync(join("network", name, "channels"))).to.equal(true);
    const reset = await gridchain("reset", "--yes", "-c", config);
    expect(reset.code, reset.stderr).to.equal(0);
    expect(reset.stdout).to.contain(`network/${name}/channels, deployments/${name}.json`);
    const second = await gridchain("demo", "-c", config);
    expect(second.code, second.stderr).to.equal(0);
    expect(second.stdout).to.contain("== 3/4 embedded chain started");
    expect(second.stdout).to.contain("\nSummary\n");
    expect(second.stderr).to.equal("");
  });
});
