import { expect } from "chai";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { SigningKey, computeAddress } from "ethers";
import { ChannelClient } from "../../ops/channels/client.js";
import { acceptLock, lockOrder } from "../../ops/channels/dvp.js";
import { forwardAmount } from "../../ops/channels/locks.js";
import { ChannelStore } from "../../ops/channels/store.js";
import {
  BUYER_KEY,
  DOMAIN,
  FEE_PER_KWH,
  HUB_KEY,
  IN_CHANNEL,
  OUT_CHANNEL,
  QUANTITY_WH,
  PRICE_PER_KWH,
  SELLER_KEY,
  fixtureOrders,
  fromWire,
  toWire,
} from "./fixtures/hub-mediator.js";

const ORDERS = 60;
const PRICE = (QUANTITY_WH * PRICE_PER_KWH) / 1000n;

type Forward = ReturnType<typeof fromWire>;

/**
 * Runs the hub process and feeds it `lines`; with `killAfter`, SIGKILLs it once that many forwards
 * came out, while it is mediating the next ones. Returns the forwards it released.
 */
function runHub(storePath: string, lines: string[], killAfter?: number) {
  return new Promise<{ forwards: Forward[]; done: boolean; signal: string | null }>(
    (resolve, reject) => {
      const child = spawn(
        "ops/bin/node22",
        ["--import", "tsx", "test/ops/fixtures/hub-mediator.ts", storePath],
        { env: { ...process.env, HUB_KEY }, stdio: ["pipe", "pipe", "pipe"] },
      );
      const forwards: Forward[] = [];
      let done = false;
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      child.stdin.on("error", () => undefined); // the kill may cut a write short
      createInterface({ input: child.stdout }).on("line", (line) => {
        if (line === "DONE") done = true;
        else if (line === "READY") {
          for (const input of lines) child.stdin.write(`${input}\n`);
          child.stdin.end();
        } else {
          forwards.push(fromWire(line));
          if (killAfter !== undefined && forwards.length === killAfter) child.kill("SIGKILL");
        }
      });
      child.on("error", reject);
      child.on("close", (code, signal) => {
        if (signal === null && code !== 0) reject(new Error(`hub exited ${code}: ${stderr}`));
        else resolve({ forwards, done, signal });
      });
    },
  );
}

describe("hub mediator killed mid-mediation", function () {
  this.timeout(120_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "gridchain-hub-crash-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("loses nothing: every accepted lock is forwarded once, every released forward is durable", async () => {
    const buyerAddress = computeAddress(BUYER_KEY);
    const sellerAddress = computeAddress(SELLER_KEY);
    const hubAddress = computeAddress(HUB_KEY);
    const orders = fixtureOrders(buyerAddress, sellerAddress);
    const buyer = await ChannelClient.start({
      key: new SigningKey(BUYER_KEY),
      domain: DOMAIN,
      storePath: join(dir, "buyer.jsonl"),
    });
    await buyer.track({
      channelId: IN_CHANNEL,
      partner: hubAddress,
      participant1: buyerAddress,
      selfDeposit: 1_000_000_000n,
      partnerDeposit: 0n,
    });
    // The buyer locks ORDERS orders toward the hub; the fixture market makes every id its order.
    const inputs: string[] = [];
    for (let orderId = 1n; orderId <= BigInt(ORDERS); orderId++) {
      const { proof, locks } = await lockOrder(buyer, orders, orderId, IN_CHANNEL);
      inputs.push(toWire(orderId, proof, locks));
    }
    await buyer.stop();

    const storePath = join(dir, "hub.jsonl");
    const first = await runHub(storePath, inputs, 20);
    expect(first.signal).to.equal("SIGKILL");
    // Every forward that left the process is in the hub's log with the same signature.
    const { store, records } = await ChannelStore.open(storePath);
    await store.close();
    const sent = new Map(
      records.flatMap((r) => (r.kind === "sent" ? [[r.nonce, r.signature] as const] : [])),
    );
    for (const forward of first.forwards) {
      expect(sent.get(forward.proof.nonce)).to.equal(forward.proof.signature);
    }
    expect(sent.size).to.be.below(ORDERS);

    // Restarted on the same log, fed everything again: it resumes and finishes.
    const second = await runHub(storePath, inputs);
    expect(second.done).to.equal(true);

    // The seller accepts every distinct forward in nonce order: one lock per order, fee taken once.
    const seller = await ChannelClient.start({
      key: new SigningKey(SELLER_KEY),
      domain: DOMAIN,
      storePath: join(dir, "seller.jsonl"),
    });
    await seller.track({
      channelId: OUT_CHANNEL,
      partner: hubAddress,
      participant1: hubAddress,
      selfDeposit: 0n,
      partnerDeposit: 1_000_000_000n,
    });
    const byNonce = new Map<bigint, Forward>();
    for (const forward of [...first.forwards, ...second.forwards]) {
      const seen = byNonce.get(forward.proof.nonce);
      // A nonce is never signed twice with different contents.
      if (seen) expect(seen.proof.signature).to.equal(forward.proof.signature);
      byNonce.set(forward.proof.nonce, forward);
    }
    const nonces = [...byNonce.keys()].sort((a, b) => Number(a - b));
    expect(nonces).to.deep.equal(Array.from({ length: ORDERS }, (_, i) => BigInt(i + 1)));
    const forwarded = forwardAmount(PRICE, QUANTITY_WH, FEE_PER_KWH);
    for (const nonce of nonces) {
      const forward = byNonce.get(nonce)!;
      const lock = forward.locks[forward.locks.length - 1]!;
      await acceptLock(seller, orders, forward, { orderId: lock.orderId, minAmount: forwarded });
    }
    const held = seller.channel(OUT_CHANNEL).receivedLocks;
    expect(held.map((l) => l.orderId)).to.deep.equal(
      Array.from({ length: ORDERS }, (_, i) => BigInt(i + 1)),
    );
    expect(held.every((l) => l.amount === forwarded)).to.equal(true);
    await seller.stop();
  });
});
