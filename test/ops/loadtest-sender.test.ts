import { expect } from "chai";
import { Wallet, zeroPadValue } from "ethers";
import { rpcCall } from "../../ops/engines/rpc.js";
import { BlockFollower, type BlockSeen } from "../../ops/loadtest/chain/follower.js";
import {
  ANVIL_DEV_KEYS,
  startLocalAnvil,
  type LocalAnvil,
} from "../../ops/loadtest/chain/local-anvil.js";
import { JsonRpc, RpcError, RpcTransportError } from "../../ops/loadtest/chain/rpc.js";
import {
  AccountSender,
  TxError,
  classifySendRefusal,
  type SendRefusal,
  type SendResult,
} from "../../ops/loadtest/chain/sender.js";

const CHAIN_ID = 31337;
const KEY = ANVIL_DEV_KEYS[0];
const ACCOUNT = new Wallet(KEY).address;
/** Runtime code: LOG1(topic = caller), no data. */
const LOGGER = "0x00000000000000000000000000000000000010a1";
/** Runtime code: REVERT(0, 0). */
const REVERTER = "0x00000000000000000000000000000000000010a2";
const CALL = { to: LOGGER, data: "0x", gasLimit: 50_000n };

type Chain = {
  anvil: LocalAnvil;
  rpc: JsonRpc;
  follower: BlockFollower;
  call<T>(method: string, params?: unknown[]): Promise<T>;
  sender(options?: {
    rpc?: JsonRpc;
    timeoutMs?: number;
    onSent?: (hash: string, nonce: number) => void;
  }): Promise<AccountSender>;
  nonceOf(hash: string): Promise<number>;
};

/** A real anvil with the logger and reverter contracts, one follower and helpers. */
async function chain(args: string[], cleanup: Array<() => unknown>): Promise<Chain> {
  const anvil = await startLocalAnvil(["--accounts", "3", "--chain-id", String(CHAIN_ID), ...args]);
  cleanup.push(() => anvil.stop());
  const call = <T>(method: string, params: unknown[] = []) =>
    rpcCall<T>(anvil.url, method, params, 5_000);
  await call("anvil_setCode", [LOGGER, "0x3360006000a100"]);
  await call("anvil_setCode", [REVERTER, "0x60006000fd"]);
  const rpc = new JsonRpc(anvil.url);
  cleanup.push(() => rpc.close());
  const follower = new BlockFollower(rpc, { pollMs: 20 });
  await follower.start();
  cleanup.push(() => follower.stop());
  return {
    anvil,
    rpc,
    follower,
    call,
    async sender(options = {}) {
      const sender = new AccountSender({
        key: KEY,
        chainId: CHAIN_ID,
        rpc: options.rpc ?? rpc,
        follower,
        timeoutMs: options.timeoutMs ?? 10_000,
        resendAfterBlocks: 2,
        ...(options.onSent ? { onSent: options.onSent } : {}),
      });
      await sender.init();
      return sender;
    },
    async nonceOf(hash) {
      const tx = await call<{ nonce: string }>("eth_getTransactionByHash", [hash]);
      return Number(BigInt(tx.nonce));
    },
  };
}

/**
 * Mines a block every 100 ms until `work` settles (for chains started with --no-mining). Mining
 * starts only once `ready` has settled: a test that tampers with the pool (drops or replaces a
 * transaction) passes the tampering's own promise, so no block can take the transaction first.
 */
async function mining<T>(chain: Chain, work: Promise<T>, ready?: Promise<unknown>): Promise<T> {
  let done = false;
  const settled = work.finally(() => (done = true));
  if (ready) await Promise.race([ready, settled.catch(() => undefined)]);
  while (!done) {
    await chain.call("evm_mine");
    await Promise.race([settled.catch(() => undefined), new Promise((r) => setTimeout(r, 100))]);
  }
  return await work;
}

/** A promise and the functions that settle it, for ordering a test's events. */
function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
} {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** A transaction from the same key, signed outside the sender. */
async function outsider(
  nonce: number,
  gasPrice = 0n,
): Promise<{ raw: string; hash: string; to: string }> {
  const to = Wallet.createRandom().address;
  const raw = await new Wallet(KEY).signTransaction({
    type: 0,
    chainId: CHAIN_ID,
    nonce,
    to,
    value: 1n,
    gasLimit: 21_000n,
    gasPrice,
  });
  const { keccak256 } = await import("ethers");
  return { raw, hash: keccak256(raw), to };
}

function expectMined(result: SendResult, resent: number): void {
  expect(result.status).to.equal("success");
  expect(result.resent).to.equal(resent);
  expect(result.gasUsed > 21_000n).to.equal(true);
  expect(result.logs).to.deep.equal([
    { address: LOGGER, topics: [zeroPadValue(ACCOUNT.toLowerCase(), 32)], data: "0x" },
  ]);
}

describe("load test chain access: JSON-RPC batching, block follower, account sender", function () {
  this.timeout(15_000);
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    // Every step runs even when an earlier one throws: a failed test must not leave anvil running.
    const failures: unknown[] = [];
    for (const step of cleanup.splice(0).reverse()) {
      try {
        await step();
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length > 0) throw failures[0];
  });

  it("reads anvil's and Besu's refusals of eth_sendRawTransaction", () => {
    const table: Array<[string, SendRefusal]> = [
      ["nonce too low", "nonce-low"],
      ["Nonce too low", "nonce-low"],
      ['eth_sendRawTransaction: Nonce too low (-32001) "NONCE_TOO_LOW"', "nonce-low"],
      ["Nonce too high", "nonce-high"],
      ["Incorrect nonce", "nonce-high"],
      ["Transaction nonce is too distant from current sender nonce", "nonce-high"],
      ["NONCE_TOO_HIGH", "nonce-high"],
      ["transaction already imported", "known"],
      ["Tx: [0xab] already Imported", "known"],
      ["Known transaction", "known"],
      ["already known", "known"],
      ["Replacement transaction underpriced", "underpriced"],
      ["Tx: [0xab] insufficient gas price to replace existing transaction", "underpriced"],
      ["Upfront cost exceeds account balance", "other"],
      ["Sender account not authorized to send transactions", "other"],
      ["intrinsic gas too low", "other"],
    ];
    expect(table.map(([text]) => [text, classifySendRefusal(text)])).to.deep.equal(table);
  });

  it("batches calls made within the window into one HTTP request", async () => {
    const anvil = await startLocalAnvil([]);
    cleanup.push(() => anvil.stop());
    const bodies: unknown[] = [];
    const counting: typeof fetch = async (input, init) => {
      bodies.push(JSON.parse(String(init!.body)));
      return await fetch(input, init);
    };
    const rpc = new JsonRpc(anvil.url, { batchWindowMs: 5, fetch: counting });
    cleanup.push(() => rpc.close());
    const [chainId, block, missing] = await Promise.allSettled([
      rpc.call<string>("eth_chainId", []),
      rpc.call<string>("eth_blockNumber", []),
      rpc.call<string>("no_suchMethod", []),
    ]);
    expect(bodies).to.have.length(1);
    expect((bodies[0] as Array<{ method: string }>).map((b) => b.method)).to.deep.equal([
      "eth_chainId",
      "eth_blockNumber",
      "no_suchMethod",
    ]);
    expect(chainId).to.deep.equal({ status: "fulfilled", value: "0x7a69" });
    expect(block).to.deep.equal({ status: "fulfilled", value: "0x0" });
    expect(missing.status).to.equal("rejected");
    expect((missing as PromiseRejectedResult).reason).to.be.instanceOf(RpcError);
    expect((missing as PromiseRejectedResult).reason.code).to.equal(-32601);

    const closed = new JsonRpc(`http://127.0.0.1:${anvil.port + 1}`, { timeoutMs: 500 });
    const error = await closed.call("eth_chainId", []).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(RpcTransportError);
  });

  it("follower sees every block once, reading header and receipts in one request per block", async () => {
    const anvil = await startLocalAnvil(["--no-mining", "--chain-id", String(CHAIN_ID)]);
    cleanup.push(() => anvil.stop());
    const requests: Array<Array<{ method: string; params: unknown[] }>> = [];
    const counting: typeof fetch = async (input, init) => {
      const body = JSON.parse(String(init!.body));
      requests.push(Array.isArray(body) ? body : [body]);
      return await fetch(input, init);
    };
    const rpc = new JsonRpc(anvil.url, { fetch: counting });
    cleanup.push(() => rpc.close());
    const follower = new BlockFollower(rpc, { pollMs: 20 });
    const seen: BlockSeen[] = [];
    let reached: () => void;
    const third = new Promise<void>((resolve) => (reached = resolve));
    follower.onBlock((block) => {
      seen.push(block);
      if (block.number === 3) reached();
    });
    await follower.start();
    cleanup.push(() => follower.stop());
    expect(follower.head).to.equal(0);

    const a = await outsider(0);
    const b = await outsider(1);
    for (const tx of [a, b]) await rpcCall(anvil.url, "eth_sendRawTransaction", [tx.raw]);
    const watched = Promise.all([follower.watch(a.hash), follower.watch(b.hash)]);
    await rpcCall(anvil.url, "anvil_mine", ["0x3"]);
    await third;
    const receipts = await watched;

    // A few more polls: nothing is read twice.
    const polls = requests.length;
    while (requests.length < polls + 5) await new Promise((r) => setTimeout(r, 20));
    expect(seen.map((block) => [block.number, block.transactions])).to.deep.equal([
      [1, 2],
      [2, 0],
      [3, 0],
    ]);
    expect(seen[0]!.gasUsed).to.equal(42_000n);
    expect(seen[0]!.gasLimit > 0n).to.equal(true);
    expect(follower.head).to.equal(3);
    expect(receipts.map((r) => [r.hash, r.blockNumber, r.status, r.gasUsed])).to.deep.equal([
      [a.hash, 1, "success", 21_000n],
      [b.hash, 1, "success", 21_000n],
    ]);
    expect(receipts[0]!.blockTimestamp).to.equal(seen[0]!.timestamp);

    const all = requests.flat();
    expect(all.filter((c) => c.method === "eth_getTransactionReceipt")).to.have.length(0);
    const receiptCalls = requests.filter((r) => r.some((c) => c.method === "eth_getBlockReceipts"));
    expect(
      all.filter((c) => c.method === "eth_getBlockReceipts").map((c) => c.params),
    ).to.deep.equal([["0x1"], ["0x2"], ["0x3"]]);
    for (const request of receiptCalls) {
      const receiptBlocks = request
        .filter((c) => c.method === "eth_getBlockReceipts")
        .map((c) => c.params[0]);
      const headerBlocks = request
        .filter((c) => c.method === "eth_getBlockByNumber")
        .map((c) => c.params[0]);
      expect(headerBlocks).to.deep.equal(receiptBlocks);
    }
    // A late watch still resolves from the blocks already followed.
    expect((await follower.watch(a.hash)).blockNumber).to.equal(1);
  });

  it("a follower of watched receipts reads none while nobody waits, and fetches a late watch alone", async () => {
    const anvil = await startLocalAnvil(["--no-mining", "--chain-id", String(CHAIN_ID)]);
    cleanup.push(() => anvil.stop());
    const methods: string[] = [];
    const counting: typeof fetch = async (input, init) => {
      const body = JSON.parse(String(init!.body));
      for (const call of Array.isArray(body) ? body : [body]) methods.push(call.method);
      return await fetch(input, init);
    };
    const rpc = new JsonRpc(anvil.url, { fetch: counting });
    cleanup.push(() => rpc.close());
    const follower = new BlockFollower(rpc, { pollMs: 20, receipts: "watched" });
    const seen: number[] = [];
    let reached: () => void;
    const first = new Promise<void>((resolve) => (reached = resolve));
    follower.onBlock((block) => {
      seen.push(block.transactions);
      if (block.number === 1) reached();
    });
    await follower.start();
    cleanup.push(() => follower.stop());
    const a = await outsider(0);
    await rpcCall(anvil.url, "eth_sendRawTransaction", [a.raw]);
    await rpcCall(anvil.url, "anvil_mine", ["0x1"]);
    await first;
    expect(seen).to.deep.equal([1]);
    expect(methods.filter((method) => method === "eth_getBlockReceipts")).to.deep.equal([]);
    const receipt = await follower.watch(a.hash);
    expect([receipt.hash, receipt.blockNumber, receipt.status, receipt.gasUsed]).to.deep.equal([
      a.hash,
      1,
      "success",
      21_000n,
    ]);
    expect(methods.filter((method) => method === "eth_getTransactionReceipt")).to.have.length(1);
  });

  it("takes the address it is given (the accounts list) instead of deriving it from the key", () => {
    const rpc = new JsonRpc("http://127.0.0.1:9");
    const follower = new BlockFollower(rpc, { pollMs: 1000 });
    const options = { key: KEY, chainId: CHAIN_ID, rpc, follower, timeoutMs: 1000 };
    expect(new AccountSender(options).address).to.equal(ACCOUNT);
    const given = ACCOUNT.toLowerCase();
    expect(new AccountSender({ ...options, address: given }).address).to.equal(given);
  });

  it("sends one account's transactions one after another with consecutive nonces", async () => {
    const c = await chain([], cleanup);
    const sender = await c.sender();
    expect(sender.address).to.equal(ACCOUNT);
    const results: SendResult[] = [];
    for (let i = 0; i < 3; i++) results.push(await sender.send(CALL));
    for (const result of results) expectMined(result, 0);
    expect(await Promise.all(results.map((r) => c.nonceOf(r.hash)))).to.deep.equal([0, 1, 2]);
    expect(results.map((r) => r.blockNumber)).to.deep.equal([1, 2, 3]);
    expect(results.every((r) => r.seenAt >= r.sentAt)).to.equal(true);
    // The node's acceptance falls between the send and the block: the journal splits on it.
    for (const r of results) expect(r.acceptedAt).to.be.within(r.sentAt, r.seenAt);
    expect(sender.unmined).to.equal(0);
  });

  it("sends 100 concurrent transactions from one account: all mined, nonces 0..99", async () => {
    // Interval mining, as both engines run: with anvil's mine-on-arrival mode, nonces that reach
    // the node before a lower one can stay in the pool with no later arrival to mine them.
    const c = await chain(["--block-time", "1"], cleanup);
    const sender = await c.sender();
    const results = await Promise.all(Array.from({ length: 100 }, () => sender.send(CALL)));
    for (const result of results) expectMined(result, 0);
    const nonces = await Promise.all(results.map((r) => c.nonceOf(r.hash)));
    expect(nonces).to.deep.equal(Array.from({ length: 100 }, (_, i) => i));
    expect(await c.call("eth_getTransactionCount", [ACCOUNT, "latest"])).to.equal("0x64");
  });

  it("takes a fresh nonce when another client used ours first (nonce too low)", async () => {
    const c = await chain([], cleanup);
    const sender = await c.sender();
    const other = await outsider(0);
    await c.call("eth_sendRawTransaction", [other.raw]);
    const result = await sender.send(CALL);
    expectMined(result, 1);
    expect(await c.nonceOf(result.hash)).to.equal(1);
    expect(await c.nonceOf(other.hash)).to.equal(0);
    const next = await sender.send(CALL);
    expectMined(next, 0);
    expect(await c.nonceOf(next.hash)).to.equal(2);
  });

  it("sends the same bytes again when the pool dropped the transaction", async () => {
    const c = await chain(["--no-mining"], cleanup);
    const accepted: string[] = [];
    const dropped = deferred<unknown>();
    const sender = await c.sender({
      onSent: (hash) => {
        accepted.push(hash);
        if (accepted.length === 1) {
          c.call("anvil_dropTransaction", [hash]).then(dropped.resolve, dropped.reject);
        }
      },
    });
    // The pool loses the transaction before any block exists that could include it.
    const result = await mining(c, sender.send(CALL), dropped.promise);
    expectMined(result, 1);
    expect(accepted).to.deep.equal([result.hash, result.hash]);
    expect(await c.nonceOf(result.hash)).to.equal(0);
  });

  it("signs again with a fresh nonce when another transaction replaced ours", async () => {
    const c = await chain(["--no-mining"], cleanup);
    const other = await outsider(0, 1_000_000_000n);
    const accepted: string[] = [];
    const replaced = deferred<unknown>();
    const sender = await c.sender({
      onSent: (hash) => {
        accepted.push(hash);
        if (accepted.length === 1) {
          c.call("eth_sendRawTransaction", [other.raw]).then(replaced.resolve, replaced.reject);
        }
      },
    });
    // The higher-priced transaction takes our nonce in the pool before any block is mined.
    const result = await mining(c, sender.send(CALL), replaced.promise);
    expectMined(result, 1);
    expect(accepted).to.have.length(2);
    expect(accepted[1]).to.equal(result.hash);
    expect(result.hash).to.not.equal(accepted[0]);
    expect(await c.call("eth_getTransactionReceipt", [accepted[0]])).to.equal(null);
    expect(await c.nonceOf(other.hash)).to.equal(0);
    expect(await c.nonceOf(result.hash)).to.equal(1);
  });

  it("resends the same bytes after a transport failure, lost before or after the node", async () => {
    const c = await chain([], cleanup);
    let failNext: "before" | "after" | undefined;
    class FlakyRpc extends JsonRpc {
      override async call<T>(method: string, params: unknown[]): Promise<T> {
        const when = failNext;
        if (method !== "eth_sendRawTransaction" || when === undefined) {
          return await super.call<T>(method, params);
        }
        failNext = undefined;
        if (when === "after") await super.call<T>(method, params);
        throw new RpcTransportError(`${method}: socket hang up (${when})`);
      }
    }
    const flaky = new FlakyRpc(c.anvil.url);
    cleanup.push(() => flaky.close());
    const accepted: string[] = [];
    const sender = await c.sender({ rpc: flaky, onSent: (hash) => accepted.push(hash) });

    failNext = "before";
    const first = await sender.send(CALL);
    expectMined(first, 1);
    expect(await c.nonceOf(first.hash)).to.equal(0);
    // The node took the bytes but the answer was lost: the resend learns the nonce is used by
    // this very transaction, and its receipt is the answer.
    failNext = "after";
    const second = await sender.send(CALL);
    expectMined(second, 1);
    expect(await c.nonceOf(second.hash)).to.equal(1);
    // Whether the node answers the resend "already known" or takes it again depends on when it
    // mined the first copy; either way the same bytes went out, and only they.
    expect([...new Set(accepted)]).to.deep.equal([first.hash, second.hash]);
    expect(await c.call("eth_getTransactionCount", [ACCOUNT, "latest"])).to.equal("0x2");
  });

  it("resyncs and resends in nonce order when the node answers nonce too high", async () => {
    const c = await chain([], cleanup);
    let refuse = true;
    class BesuLikeRpc extends JsonRpc {
      override async call<T>(method: string, params: unknown[]): Promise<T> {
        if (method === "eth_sendRawTransaction" && refuse) {
          refuse = false;
          throw new RpcError(method, { code: -32006, message: "Nonce too high" });
        }
        return await super.call<T>(method, params);
      }
    }
    const besuLike = new BesuLikeRpc(c.anvil.url);
    cleanup.push(() => besuLike.close());
    const sender = await c.sender({ rpc: besuLike });
    const [first, second] = await Promise.all([sender.send(CALL), sender.send(CALL)]);
    expectMined(first!, 1);
    expectMined(second!, 0);
    expect(await c.nonceOf(first!.hash)).to.equal(0);
    expect(await c.nonceOf(second!.hash)).to.equal(1);
  });

  it("resolves a reverted transaction with status reverted", async () => {
    const c = await chain([], cleanup);
    const sender = await c.sender();
    const result = await sender.send({ to: REVERTER, data: "0x", gasLimit: 50_000n });
    expect(result.status).to.equal("reverted");
    expect(result.resent).to.equal(0);
    expect(result.logs).to.deep.equal([]);
    expect(result.gasUsed).to.equal(21_000n + 6n);
  });

  it("a timed-out transaction that left the pool gives its nonce to a filler", async () => {
    const c = await chain(["--no-mining"], cleanup);
    const sender = await c.sender({ timeoutMs: 1_000 });
    const error = await sender.send(CALL).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(TxError);
    expect((error as TxError).reason).to.equal("timeout");
    await c.call("anvil_dropTransaction", [(error as TxError).hash]);

    const next = await mining(c, sender.send(CALL));
    expectMined(next, 0);
    expect(await c.nonceOf(next.hash)).to.equal(1);
    const filler = await c.call<{ to: string; input: string; value: string }>(
      "eth_getTransactionByBlockNumberAndIndex",
      [`0x${next.blockNumber.toString(16)}`, "0x0"],
    );
    expect(await c.nonceOf((filler as unknown as { hash: string }).hash)).to.equal(0);
    expect([filler.to.toLowerCase(), filler.input, filler.value]).to.deep.equal([
      ACCOUNT.toLowerCase(),
      "0x",
      "0x0",
    ]);
    expect(await c.call("eth_getTransactionReceipt", [(error as TxError).hash])).to.equal(null);
    expect(sender.unmined).to.equal(0);
  });
});
