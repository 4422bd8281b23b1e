import { expect } from "chai";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { SigningKey, computeAddress } from "ethers";
import { ChannelClient } from "../../ops/channels/client.js";
import { ChannelStore } from "../../ops/channels/store.js";
import { AMOUNT, CHANNEL_ID, DOMAIN } from "./fixtures/channel-payer.js";

const PAYER_KEY = `0x${"44".repeat(32)}`;
const ORDERS = 1000n;

type Released = {
  orderId: string;
  nonce: string;
  transferredAmount: string;
  additionalHash: string;
  signature: string;
};

/**
 * Runs the payer process; with `killAfter`, sends SIGKILL once that many proofs were released,
 * while it is in the middle of further payments. Returns the proofs it released.
 */
function runPayer(storePath: string, killAfter?: number) {
  return new Promise<{ released: Released[]; done: boolean; signal: string | null }>(
    (resolve, reject) => {
      const child = spawn(
        "ops/bin/node22",
        ["--import", "tsx", "test/ops/fixtures/channel-payer.ts", storePath, `${ORDERS}`, "8"],
        {
          env: { ...process.env, CHANNEL_PAYER_KEY: PAYER_KEY },
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      const released: Released[] = [];
      let done = false;
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      createInterface({ input: child.stdout }).on("line", (line) => {
        if (line === "DONE") {
          done = true;
          return;
        }
        released.push(JSON.parse(line) as Released);
        if (killAfter !== undefined && released.length === killAfter) child.kill("SIGKILL");
      });
      child.on("error", reject);
      child.on("close", (code, signal) => {
        if (signal === null && code !== 0) reject(new Error(`payer exited ${code}: ${stderr}`));
        else resolve({ released, done, signal });
      });
    },
  );
}

describe("channels: a payer killed mid-payment", function () {
  this.timeout(120_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "gridchain-crash-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("restarts with no lost and no duplicated payment", async () => {
    const storePath = join(dir, "payer.jsonl");
    const first = await runPayer(storePath, 60);
    expect(first.signal).to.equal("SIGKILL");
    expect(first.done).to.equal(false);

    // Every proof that left the process is in the log; nothing after the kill point is half there.
    const { store, records } = await ChannelStore.open(storePath);
    await store.close();
    const sentAtKill = records.flatMap((r) => (r.kind === "sent" ? [r] : []));
    expect(sentAtKill.length).to.be.at.least(first.released.length);
    expect(sentAtKill.length).to.be.below(Number(ORDERS));
    const byNonce = new Map(sentAtKill.map((r) => [`${r.nonce}`, r]));
    for (const proof of first.released) {
      const stored = byNonce.get(proof.nonce);
      expect(stored && "signature" in stored ? stored.signature : undefined).to.equal(
        proof.signature,
      );
    }

    const second = await runPayer(storePath);
    expect(second.done).to.equal(true);

    const { store: finalStore, records: finalRecords } = await ChannelStore.open(storePath);
    await finalStore.close();
    const sent = finalRecords.flatMap((r) => (r.kind === "sent" ? [r] : []));
    // One payment per order, nonces 1..ORDERS without gap or repeat, cumulative amounts exact.
    expect(sent.map((r) => r.orderId).sort((a, b) => Number(a! - b!))).to.deep.equal(
      Array.from({ length: Number(ORDERS) }, (_, i) => BigInt(i + 1)),
    );
    expect(sent.map((r) => r.nonce)).to.deep.equal(
      Array.from({ length: Number(ORDERS) }, (_, i) => BigInt(i + 1)),
    );
    expect(sent.map((r) => r.transferredAmount)).to.deep.equal(
      Array.from({ length: Number(ORDERS) }, (_, i) => BigInt(i + 1) * AMOUNT),
    );
    // Both runs together released every order exactly once.
    const releasedOrders = [...first.released, ...second.released].map((p) => BigInt(p.orderId));
    expect(new Set(releasedOrders).size).to.equal(releasedOrders.length);

    // The partner accepts the released proofs in order and ends with exactly ORDERS * AMOUNT.
    const payee = await ChannelClient.start({
      key: new SigningKey(`0x${"55".repeat(32)}`),
      domain: DOMAIN,
      storePath: join(dir, "payee.jsonl"),
    });
    const payerAddress = computeAddress(PAYER_KEY);
    await payee.track({
      channelId: CHANNEL_ID,
      partner: payerAddress,
      participant1: payerAddress,
      selfDeposit: 0n,
      partnerDeposit: 1_000_000n,
    });
    const ordered = [...first.released, ...second.released].sort((a, b) =>
      Number(BigInt(a.nonce) - BigInt(b.nonce)),
    );
    for (const proof of ordered) {
      await payee.receive({
        channelId: CHANNEL_ID,
        nonce: BigInt(proof.nonce),
        transferredAmount: BigInt(proof.transferredAmount),
        additionalHash: proof.additionalHash,
        signature: proof.signature,
        sender: payerAddress,
      });
    }
    expect(payee.balanceOf(CHANNEL_ID)).to.equal(ORDERS * AMOUNT);
    await payee.stop();
  });
});
