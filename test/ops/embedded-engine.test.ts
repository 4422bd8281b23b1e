import { expect } from "chai";
import { spawn } from "node:child_process";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { JsonRpcProvider, Wallet, type TransactionReceipt } from "ethers";
import { EmbeddedEngine } from "../../ops/engines/embedded.js";
import { OperatorError } from "../../ops/errors.js";
import { FUNDED, freePort, genesisDir } from "../support/net.js";

const CHAIN_ID = 4242;
const networkDir = () => genesisDir(CHAIN_ID);
const provider = (engine: EmbeddedEngine) =>
  new JsonRpcProvider(engine.rpcUrl(), undefined, { staticNetwork: true });

/** Mines one block now and returns its timestamp. */
async function mineOne(rpc: JsonRpcProvider): Promise<number> {
  await rpc.send("evm_mine", []);
  return (await rpc.getBlock("latest"))!.timestamp;
}

describe("embedded engine (anvil)", function () {
  this.timeout(60_000);
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined);
  });

  it("keeps blocks and balances across down and up", async () => {
    const dir = await networkDir();
    const engine = new EmbeddedEngine({ networkDir: dir, port: await freePort() });
    cleanup.push(
      () => rm(dir, { recursive: true }),
      () => engine.down(),
    );
    await engine.up();
    await engine.ready();

    const provider = new JsonRpcProvider(engine.rpcUrl(), undefined, { staticNetwork: true });
    const recipient = Wallet.createRandom().address;
    const tx = await FUNDED.connect(provider).sendTransaction({
      to: recipient,
      value: 7n,
      gasPrice: 0n,
      type: 0,
    });
    const receipt = await tx.wait();
    const status = await engine.status();
    expect(status.running).to.equal(true);
    expect(status.chainId).to.equal(BigInt(CHAIN_ID));
    provider.destroy();

    await engine.down();
    const stopped = await engine.status();
    expect(stopped.running).to.equal(false);
    expect(stopped.problem).to.equal(`stopped; 'gridchain up' resumes from ${engine.stateFile}`);
    expect(JSON.parse(await readFile(engine.stateFile, "utf8"))).to.have.property("accounts");

    await engine.up();
    await engine.ready();
    const again = new JsonRpcProvider(engine.rpcUrl(), undefined, { staticNetwork: true });
    expect(await again.getBalance(recipient)).to.equal(7n);
    expect(await again.getBlockNumber()).to.be.at.least(receipt!.blockNumber);
    expect((await again.getBlock(receipt!.blockNumber))!.hash).to.equal(receipt!.blockHash);
    again.destroy();
  });

  it("replaces a stale PID file and says so in status before", async () => {
    const dir = await networkDir();
    const engine = new EmbeddedEngine({ networkDir: dir, port: await freePort() });
    cleanup.push(
      () => rm(dir, { recursive: true }),
      () => engine.down(),
    );
    const gone = spawn("true");
    await new Promise((resolve) => gone.once("exit", resolve));
    await mkdir(join(dir, "embedded"));
    await writeFile(
      engine.pidFile,
      JSON.stringify({ pid: gone.pid, host: "127.0.0.1", port: 1, startedAt: "x" }),
    );

    const before = await engine.status();
    expect(before.running).to.equal(false);
    expect(before.problem).to.equal(
      `stale PID file ${engine.pidFile}: process ${gone.pid} is gone`,
    );
    await engine.up();
    await engine.ready();
    expect((await engine.status()).running).to.equal(true);
  });

  it("never signals a live process that is not its anvil", async () => {
    const dir = await networkDir();
    const engine = new EmbeddedEngine({ networkDir: dir, port: await freePort() });
    const other = spawn("sleep", ["30"]);
    cleanup.push(
      () => rm(dir, { recursive: true }),
      async () => other.kill(),
    );
    await mkdir(join(dir, "embedded"));
    await writeFile(
      engine.pidFile,
      JSON.stringify({ pid: other.pid, host: "127.0.0.1", port: 9, startedAt: "x" }),
    );

    await engine.down();
    expect(other.exitCode).to.equal(null);
    expect(() => process.kill(other.pid!, 0)).to.not.throw();
  });

  it("explains a port already in use and starts nothing", async () => {
    const dir = await networkDir();
    const port = await freePort();
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(port, "127.0.0.1", resolve));
    cleanup.push(
      () => rm(dir, { recursive: true }),
      () => new Promise((r) => busy.close(r)),
    );
    const engine = new EmbeddedEngine({ networkDir: dir, port });

    const error = await engine.up().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(OperatorError);
    expect((error as OperatorError).message).to.equal(
      `port ${port} on 127.0.0.1 is already in use by another process`,
    );
    expect((await engine.status()).problem).to.equal("not started");
  });

  it("starts a chain at the current time, whatever its genesis timestamp", async () => {
    // The test genesis has timestamp 0: anvil's own clock would start in 1970.
    const dir = await networkDir();
    const engine = new EmbeddedEngine({ networkDir: dir, port: await freePort() });
    cleanup.push(
      () => rm(dir, { recursive: true }),
      () => engine.down(),
    );
    const before = Math.floor(Date.now() / 1000);
    const report = await engine.up();
    expect(report.resumedFrom).to.equal(undefined);
    const rpc = provider(engine);
    cleanup.push(async () => rpc.destroy());
    expect(await mineOne(rpc)).to.be.at.least(before);
  });

  it("never moves the chain's clock back across down and up after evm_increaseTime", async () => {
    const dir = await networkDir();
    const engine = new EmbeddedEngine({ networkDir: dir, port: await freePort() });
    cleanup.push(
      () => rm(dir, { recursive: true }),
      () => engine.down(),
    );
    await engine.up();
    let rpc = provider(engine);
    await rpc.send("evm_increaseTime", [3600]);
    const ahead = await mineOne(rpc);
    expect(ahead).to.be.above(Date.now() / 1000 + 3000);
    rpc.destroy();
    await engine.down();

    const report = await engine.up();
    expect(report.crashed).to.equal(false);
    rpc = provider(engine);
    cleanup.push(async () => rpc.destroy());
    expect(report.resumedFrom).to.equal(BigInt(await rpc.getBlockNumber()));
    expect(await mineOne(rpc)).to.be.above(ahead);
  });

  it("loses at most the save interval when anvil is killed under load, and says it crashed", async () => {
    const dir = await networkDir();
    const engine = new EmbeddedEngine({
      networkDir: dir,
      port: await freePort(),
      saveIntervalSeconds: 1,
    });
    cleanup.push(
      () => rm(dir, { recursive: true }),
      () => engine.down(),
    );
    await engine.up();
    let rpc = provider(engine);
    const sender = FUNDED.connect(rpc);
    // Five transfers at a time, each to its own recipient, until eight 1 s blocks are mined.
    const sent: { to: string; value: bigint; receipt: TransactionReceipt }[] = [];
    let nonce = await rpc.getTransactionCount(FUNDED.address);
    while ((await rpc.getBlockNumber()) < 8) {
      const batch = await Promise.all(
        Array.from({ length: 5 }, async () => {
          const to = Wallet.createRandom().address;
          const value = BigInt(sent.length + 1) * 1000n + BigInt(nonce);
          const tx = await sender.sendTransaction({
            to,
            value,
            nonce: nonce++,
            gasPrice: 0n,
            type: 0,
          });
          return { to, value, tx };
        }),
      );
      for (const { to, value, tx } of batch) sent.push({ to, value, receipt: (await tx.wait())! });
    }
    const hashes = new Map<number, string>();
    for (const { receipt } of sent) hashes.set(receipt.blockNumber, receipt.blockHash);
    const heightAtKill = await rpc.getBlockNumber();
    rpc.destroy();
    const { pid } = JSON.parse(await readFile(engine.pidFile, "utf8")) as { pid: number };
    process.kill(pid, "SIGKILL");
    await new Promise<void>((resolve) => {
      const check = () => {
        try {
          process.kill(pid, 0);
          setImmediate(check);
        } catch {
          resolve();
        }
      };
      check();
    });

    const report = await engine.up();
    expect(report.crashed).to.equal(true);
    expect(report.lossWindowSeconds).to.equal(1);
    const resumed = Number(report.resumedFrom);
    // 1 s between saves, 1 s blocks: the save being written when the kill came, and the one before.
    expect(resumed).to.be.at.least(heightAtKill - 2);
    rpc = provider(engine);
    cleanup.push(async () => rpc.destroy());
    for (const { to, value, receipt } of sent) {
      const kept = receipt.blockNumber <= resumed;
      expect(await rpc.getBalance(to), `transfer in block ${receipt.blockNumber}`).to.equal(
        kept ? value : 0n,
      );
      if (kept) expect((await rpc.getBlock(receipt.blockNumber))!.hash).to.equal(receipt.blockHash);
    }
    expect(hashes.size).to.be.at.least(2);
  });
});
