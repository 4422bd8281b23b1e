import { expect } from "chai";
import { confirmationParts } from "../../ops/loadtest/latency.js";
import type { JournalRecord } from "../../ops/loadtest/protocol.js";
import { T0, block, tx } from "../helpers/loadtest.js";

/** Blocks announced every second at T0 + n s + 40 ms, read by the worker 30 ms later. */
function announced(number: number): JournalRecord {
  return {
    ...block(number, 1_000 + number, number * 1000 + 60, 1, 0n, 1n),
    announcedAt: T0 + number * 1000 + 40,
  };
}

describe("load test confirmation parts", () => {
  it("splits each confirmation into the wait for its block and the client's lag, by the newHeads time", () => {
    const records: JournalRecord[] = [1, 2, 3, 4].map(announced);
    // Sent at 1.140 s (0.1 period after block 1), included in block 2, receipt 30 ms after it.
    records.push(tx(1, 1, 1_140, 930, "buy", { block: 2, acceptedAt: T0 + 1_150 }));
    // Sent just before block 3 (phase 0.9) and included in it.
    records.push(tx(2, 1, 2_940, 130, "buy", { block: 3, acceptedAt: T0 + 2_970 }));
    // Sent at phase 0.5 but it missed block 3: a whole period more.
    records.push(tx(3, 1, 2_540, 1_530, "buy", { block: 4 }));
    // A kind not asked for, and a block without its notification (found by polling).
    records.push(tx(4, 1, 2_540, 530, "meter", { block: 3 }));
    records.push(block(9, 1_009, 9_060, 1, 0n, 1n), tx(5, 1, 8_500, 560, "buy", { block: 9 }));
    const parts = confirmationParts(records, ["buy"]);
    expect(parts.transactions).to.equal(3);
    expect(parts.intake.count).to.equal(2);
    expectNear(parts.intake.max, 0.03);
    expect(parts.waitForBlock.p50).to.equal(0.9);
    expect(parts.waitForBlock.max).to.equal(1.5);
    expectNear(parts.learn.max, 0.03);
    expectNear(parts.learn.mean, 0.03);
    expect(parts.confirmation.p50).to.equal(0.93);
    expect(parts.confirmation.max).to.equal(1.53);
    expectNear(parts.sendPhase.p50, 0.5);
    expectNear(parts.sendPhase.max, 0.9);
    expect(parts.sendPhase.count).to.equal(3);
    expect(confirmationParts(records).transactions).to.equal(4);
  });
});

/** A float equal up to rounding (chai's closeTo becomes integer math once the ethers matchers load). */
function expectNear(actual: number | null, expected: number): void {
  expect(actual, `expected about ${expected}`).to.be.a("number");
  expect(Math.abs((actual as number) - expected)).to.be.below(1e-9);
}
