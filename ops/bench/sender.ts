/**
 * Throughput of the load test's chain access layer: ACCOUNTS accounts each send TXS contract calls
 * (INFLIGHT at a time) through one batched JSON-RPC client and one block follower, against anvil
 * with 1 s blocks on 127.0.0.1. Prints transactions per second sent (accepted by the node) and
 * confirmed (seen in a followed block), confirmation time p50/p99 and HTTP requests per transaction.
 */
import { performance } from "node:perf_hooks";
import { keccak256, toUtf8Bytes } from "ethers";
import { rpcCall } from "../engines/rpc.js";
import { BlockFollower } from "../loadtest/chain/follower.js";
import { startLocalAnvil } from "../loadtest/chain/local-anvil.js";
import { JsonRpc } from "../loadtest/chain/rpc.js";
import { AccountSender, TxError, type SendResult } from "../loadtest/chain/sender.js";

const ACCOUNTS = Number(process.env.ACCOUNTS ?? 200);
const TXS = Number(process.env.TXS ?? 20);
const INFLIGHT = Number(process.env.INFLIGHT ?? 2);
const CHAIN_ID = 31337;
/** Runtime code: LOG1(topic = caller). */
const LOGGER = "0x00000000000000000000000000000000000010a1";

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const anvil = await startLocalAnvil([
  "--block-time",
  "1",
  "--chain-id",
  String(CHAIN_ID),
  "--accounts",
  "1",
]);
try {
  await rpcCall(anvil.url, "anvil_setCode", [LOGGER, "0x3360006000a100"]);
  let requests = 0;
  const counting: typeof fetch = (input, init) => {
    requests++;
    return fetch(input, init);
  };
  const rpc = new JsonRpc(anvil.url, { fetch: counting });
  const follower = new BlockFollower(rpc, { pollMs: 100 });
  await follower.start();

  let lastSent = 0;
  const senders = Array.from(
    { length: ACCOUNTS },
    (_, i) =>
      new AccountSender({
        // Gas price 0: the accounts need no funds.
        key: keccak256(toUtf8Bytes(`gridchain bench sender ${i}`)),
        chainId: CHAIN_ID,
        rpc,
        follower,
        timeoutMs: 60_000,
        onSent: () => (lastSent = performance.now()),
      }),
  );
  await Promise.all(senders.map((sender) => sender.init()));
  const setupRequests = requests;

  const results: SendResult[] = [];
  const failures = new Map<string, number>();
  const start = performance.now();
  const startedAt = Date.now();
  await Promise.all(
    senders.map(async (sender) => {
      let left = TXS;
      const lane = async () => {
        while (left > 0) {
          left--;
          try {
            results.push(await sender.send({ to: LOGGER, data: "0x", gasLimit: 50_000n }));
          } catch (error) {
            const reason = error instanceof TxError ? error.reason : "other";
            failures.set(reason, (failures.get(reason) ?? 0) + 1);
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(INFLIGHT, TXS) }, lane));
    }),
  );
  const end = performance.now();
  follower.stop();
  rpc.close();

  const total = ACCOUNTS * TXS;
  const latencies = results.map((r) => (r.seenAt - r.sentAt) / 1000).sort((a, b) => a - b);
  const blocks = new Set(results.map((r) => r.blockNumber)).size;
  const lastMined = Math.max(...results.map((r) => r.seenAt));
  const sendSeconds = (lastSent - start) / 1000;
  const confirmSeconds = (lastMined - startedAt) / 1000;
  console.log(
    `sender bench: ${ACCOUNTS} accounts x ${TXS} txs (${INFLIGHT} in flight each), anvil 1 s blocks`,
  );
  console.log(
    `  sent       ${total} txs in ${sendSeconds.toFixed(2)} s: ${(total / sendSeconds).toFixed(0)} tx/s`,
  );
  console.log(
    `  confirmed  ${results.length} txs in ${confirmSeconds.toFixed(2)} s: ${(results.length / confirmSeconds).toFixed(0)} tx/s over ${blocks} blocks`,
  );
  console.log(
    `  confirmation p50 ${percentile(latencies, 50).toFixed(3)} s, p99 ${percentile(latencies, 99).toFixed(3)} s`,
  );
  console.log(
    `  HTTP requests ${requests - setupRequests} (${((requests - setupRequests) / total).toFixed(3)} per tx), resent ${results.reduce((n, r) => n + r.resent, 0)}, failed ${[...failures].map(([k, v]) => `${k}=${v}`).join(" ") || 0}`,
  );
  console.log(`  wall ${((end - start) / 1000).toFixed(2)} s`);
} finally {
  await anvil.stop();
}
