/**
 * The engine's ceiling: how many transactions per second the chain confirms at all on this
 * machine, measured with the leanest client there is. Simple transfers (21,000 gas, gas price 0,
 * value 0, each account to itself) from many fresh accounts are signed before the clock starts,
 * then sent as JSON-RPC batches of raw transactions, several requests in flight, nonce by nonce
 * across the accounts; new blocks are learnt by subscription. The ceiling is the transactions
 * confirmed over the seconds from the first send to the block holding the last one.
 */
import { performance } from "node:perf_hooks";
import { randomBytes } from "node:crypto";
import { Signature, SigningKey, Transaction, computeAddress, hexlify } from "ethers";
import { defaultEcdsa } from "../channels/ecdsa.js";
import { BlockFollower, pollIntervalMs, samePortWebSocket } from "../loadtest/chain/follower.js";
import { JsonRpc } from "../loadtest/chain/rpc.js";

export type Ceiling = {
  transactions: number;
  /** Confirmed transactions per second: the ceiling. */
  confirmedPerSecond: number;
  /** Transactions the node accepted per second of sending. */
  acceptedPerSecond: number;
  refused: number;
  blocks: number;
  /** Microseconds of this process's CPU per transaction while sending (signing excluded). */
  clientCpuMicrosPerTx: number;
  signMicrosPerTx: number;
};

export async function measureCeiling(options: {
  rpcUrl: string;
  chainId: number;
  blockPeriodSeconds: number;
  /** Subscribe to new heads on this endpoint (else poll). */
  wsUrl?: string;
  accounts?: number;
  perAccount?: number;
  /** Raw transactions per JSON-RPC batch, and batches in flight. */
  batch?: number;
  inFlight?: number;
}): Promise<Ceiling> {
  const accounts = options.accounts ?? 300;
  const perAccount = options.perAccount ?? 100;
  const batch = options.batch ?? 500;
  const inFlight = options.inFlight ?? 4;
  const total = accounts * perAccount;

  // Fresh keys: every nonce starts at 0, and the accounts hold nothing (gas price 0).
  const keys = Array.from({ length: accounts }, () => new SigningKey(hexlify(randomBytes(32))));
  const signStarted = performance.now();
  const raws: string[] = [];
  for (let nonce = 0; nonce < perAccount; nonce += 1) {
    for (const key of keys) {
      const address = computeAddress(key);
      const tx = Transaction.from({
        type: 0,
        to: address,
        value: 0n,
        gasLimit: 21_000n,
        gasPrice: 0n,
        nonce,
        chainId: BigInt(options.chainId),
        data: "0x",
      });
      tx.signature = Signature.from(defaultEcdsa.sign(key, tx.unsignedHash));
      raws.push(tx.serialized);
    }
  }
  const signMicrosPerTx = ((performance.now() - signStarted) * 1000) / total;

  const rpc = new JsonRpc(options.rpcUrl, { timeoutMs: 60_000 });
  const follower = new BlockFollower(rpc, {
    pollMs: pollIntervalMs(options.blockPeriodSeconds),
    receipts: "watched",
    subscribeUrl: options.wsUrl ?? samePortWebSocket(options.rpcUrl),
  });
  let confirmed = 0;
  let blocks = 0;
  let lastSeen = 0;
  let target = total;
  let done: () => void = () => {};
  const allMined = new Promise<void>((resolve) => (done = resolve));
  follower.onBlock((block) => {
    if (block.transactions === 0) return;
    confirmed += block.transactions;
    blocks += 1;
    lastSeen = block.seenAt;
    if (confirmed >= target) done();
  });
  await follower.start();

  let refused = 0;
  const sendStarted = Date.now();
  const cpuBefore = process.cpuUsage();
  let next = 0;
  const lane = async () => {
    while (next < raws.length) {
      const chunk = raws.slice(next, next + batch);
      next += chunk.length;
      const body = JSON.stringify(
        chunk.map((raw, i) => ({
          jsonrpc: "2.0",
          id: i,
          method: "eth_sendRawTransaction",
          params: [raw],
        })),
      );
      const response = await fetch(options.rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      const answers = (await response.json()) as { error?: unknown }[];
      refused += answers.filter((answer) => answer.error !== undefined).length;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  const sendSeconds = (Date.now() - sendStarted) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  target = total - refused;
  if (confirmed >= target) done();
  const bound = setTimeout(done, 120_000);
  await allMined;
  clearTimeout(bound);
  follower.stop();
  rpc.close();
  return {
    transactions: confirmed,
    confirmedPerSecond: confirmed / ((lastSeen - sendStarted) / 1000),
    acceptedPerSecond: (total - refused) / sendSeconds,
    refused,
    blocks,
    clientCpuMicrosPerTx: (cpu.user + cpu.system) / total,
    signMicrosPerTx,
  };
}
