import { expect } from "chai";
import { rm } from "node:fs/promises";
import { JsonRpcProvider, Wallet } from "ethers";
import { Registry } from "prom-client";
import { EmbeddedEngine } from "../../ops/engines/embedded.js";
import { ChainFollower } from "../../ops/metrics/chain.js";
import { serveMetrics } from "../../ops/metrics/server.js";
import { FUNDED, freePort, genesisDir } from "../support/net.js";

/** Reads one sample from Prometheus text format, e.g. `gridchain_blocks_total 4`. */
function sample(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`${name} not exported`);
  return Number(line.split(" ")[1]);
}

describe("chain metrics (embedded engine, scraped over HTTP)", function () {
  this.timeout(60_000);

  it("counts every block and transaction once and exports the head", async () => {
    const dir = await genesisDir(4244);
    const engine = new EmbeddedEngine({ networkDir: dir, port: await freePort() });
    const registry = new Registry();
    const metrics = await serveMetrics(registry, { port: 0 });
    try {
      await engine.up();
      await engine.ready();
      const provider = new JsonRpcProvider(engine.rpcUrl(), undefined, { staticNetwork: true });
      // The genesis is older than the chain's start (up sets the clock to now): follow from the
      // first mined block, whose successors come one block period apart.
      while ((await provider.getBlockNumber()) < 1) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const follower = new ChainFollower(engine.rpcUrl(), registry);
      await follower.poll();
      const first = await provider.getBlockNumber();

      const sender = FUNDED.connect(provider);
      let nonce = await provider.getTransactionCount(sender.address);
      const sent = [];
      for (let i = 0; i < 5; i++) {
        sent.push(
          await sender.sendTransaction({
            to: Wallet.createRandom().address,
            value: 1n,
            gasPrice: 0n,
            type: 0,
            nonce: nonce++,
          }),
        );
      }
      const receipts = await Promise.all(sent.map((tx) => tx.wait()));
      const lastBlock = Math.max(...receipts.map((r) => r!.blockNumber));
      await follower.poll();
      const head = await provider.getBlockNumber();
      provider.destroy();

      const text = await (await fetch(metrics.url)).text();
      // The follower saw the chain up to some head between the last receipt and now.
      const seen = sample(text, "gridchain_chain_head_height");
      expect(seen).to.be.within(lastBlock, head);
      expect(sample(text, "gridchain_blocks_total")).to.equal(seen - first);
      expect(sample(text, "gridchain_block_transactions_total")).to.equal(5);
      expect(sample(text, "gridchain_block_gas_used_total")).to.equal(5 * 21_000);
      expect(sample(text, "gridchain_block_interval_seconds_count")).to.equal(seen - first);
      // 1 s blocks: every interval lands in the 1 s bucket.
      expect(text).to.contain(`gridchain_block_interval_seconds_bucket{le="1"} ${seen - first}`);
    } finally {
      await metrics.close();
      await engine.down().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
