import { expect } from "chai";
import { rpcCall } from "../../ops/engines/rpc.js";
import {
  BlockFollower,
  type BlockSeen,
  pollIntervalMs,
  samePortWebSocket,
} from "../../ops/loadtest/chain/follower.js";
import { startLocalAnvil } from "../../ops/loadtest/chain/local-anvil.js";
import { JsonRpc } from "../../ops/loadtest/chain/rpc.js";

/** Resolves when `follower` has handled block `number`; fails after `boundMs`. */
function blockSeen(follower: BlockFollower, number: number, boundMs: number): Promise<BlockSeen> {
  return new Promise((resolve, reject) => {
    const bound = setTimeout(
      () => reject(new Error(`block ${number} not seen within ${boundMs} ms`)),
      boundMs,
    );
    follower.onBlock((block) => {
      if (block.number !== number) return;
      clearTimeout(bound);
      resolve(block);
    });
  });
}

describe("load test block follower: new heads by subscription, polling tuned to the period", function () {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  it("polls the head twenty times a block period, between 20 and 250 ms", () => {
    expect(pollIntervalMs(1)).to.equal(50);
    expect(pollIntervalMs(2)).to.equal(100);
    expect(pollIntervalMs(0.2)).to.equal(20);
    expect(pollIntervalMs(15)).to.equal(250);
    expect(samePortWebSocket("http://127.0.0.1:8545")).to.equal("ws://127.0.0.1:8545");
    expect(samePortWebSocket("https://node:8545")).to.equal("wss://node:8545");
  });

  it("reads a block the moment the node announces it, without polling the head", async () => {
    const anvil = await startLocalAnvil(["--no-mining"]);
    cleanup.push(() => anvil.stop());
    const methods: string[] = [];
    const counting: typeof fetch = async (input, init) => {
      const body = JSON.parse(String(init!.body));
      for (const call of Array.isArray(body) ? body : [body]) methods.push(call.method);
      return await fetch(input, init);
    };
    const rpc = new JsonRpc(anvil.url, { fetch: counting });
    cleanup.push(() => rpc.close());
    // Polling alone would not see a block for a minute.
    const follower = new BlockFollower(rpc, {
      pollMs: 60_000,
      subscribedPollMs: 60_000,
      subscribeUrl: samePortWebSocket(anvil.url),
    });
    await follower.start();
    cleanup.push(() => follower.stop());
    expect(follower.subscribed).to.equal(true);
    const seen = [blockSeen(follower, 1, 5000), blockSeen(follower, 2, 5000)];
    const before = Date.now();
    await rpcCall(anvil.url, "anvil_mine", ["0x1"]);
    const first = (await seen[0])!;
    await rpcCall(anvil.url, "anvil_mine", ["0x1"]);
    await seen[1];
    expect(follower.head).to.equal(2);
    // When the notification arrived, kept apart from when the block was read: the client's lag.
    expect(first.announcedAt).to.be.a("number");
    expect(first.announcedAt).to.be.within(before, first.seenAt);
    // One head read at start; the blocks came from the subscription.
    expect(methods.filter((method) => method === "eth_blockNumber")).to.have.length(1);
    expect(methods.filter((method) => method === "eth_getBlockByNumber")).to.have.length(2);
  });

  it("follows by polling when the node has no WebSocket endpoint", async () => {
    const anvil = await startLocalAnvil(["--no-mining"]);
    cleanup.push(() => anvil.stop());
    const rpc = new JsonRpc(anvil.url);
    cleanup.push(() => rpc.close());
    // Port 9 (discard) on loopback: nothing listens, the socket fails at once.
    const follower = new BlockFollower(rpc, { pollMs: 20, subscribeUrl: "ws://127.0.0.1:9" });
    await follower.start();
    cleanup.push(() => follower.stop());
    expect(follower.subscribed).to.equal(false);
    const seen = blockSeen(follower, 1, 5000);
    await rpcCall(anvil.url, "anvil_mine", ["0x1"]);
    expect((await seen).announcedAt).to.equal(undefined);
    expect(follower.head).to.equal(1);
  });
});
