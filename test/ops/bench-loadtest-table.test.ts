import { expect } from "chai";
import { printTable, targets, type Row } from "../../ops/bench/loadtest-table.js";

function row(overrides: Partial<Row>): Row {
  return {
    name: "stress standing",
    path: "standing",
    agents: 3000,
    setupSeconds: 12,
    executed: 1000,
    failed: 0,
    kneeTradesPerSecond: 500,
    kneeAtTop: false,
    txPerSecond: 500,
    txPerTrade: 1,
    p50Periods: 0.6,
    p99Periods: 1.2,
    cpuMsPerTx: 0.5,
    ...overrides,
  };
}

describe("load-test benchmark table: the issue's targets", function () {
  it("meets every target when the figures are inside them", () => {
    const rows = [
      row({}),
      row({ name: "stress two-tx", path: "request-confirm", kneeTradesPerSecond: 250 }),
      row({ name: "paper standing", kneeTradesPerSecond: null }),
    ];
    expect(targets(550, rows).map((target) => target.met)).to.deep.equal(Array(6).fill(true));
  });

  it("misses each target on its own bound, and says what was measured", () => {
    const rows = [
      row({ txPerSecond: 480, cpuMsPerTx: 0.81 }),
      row({ name: "stress two-tx", path: "request-confirm", kneeTradesPerSecond: 300 }),
      row({ name: "paper standing", kneeTradesPerSecond: null, p50Periods: 0.71, failed: 1 }),
    ];
    const result = targets(550, rows);
    expect(result.map((target) => [target.met, target.measured])).to.deep.equal([
      [false, "87 %"],
      [false, "1.67x"],
      [false, "0.81 ms"],
      [false, "0.71"],
      [true, "1.20"],
      [false, "1"],
    ]);
  });

  it("neither meets nor misses a target whose run was not made", () => {
    const result = targets(550, [row({})]);
    expect(result.map((target) => target.met)).to.deep.equal([true, null, true, null, null, null]);
    const lines: string[] = [];
    printTable((line) => lines.push(line), 550, [row({ kneeAtTop: true })]);
    expect(lines).to.include(
      "| stress standing | 3000 | 12.0 | 1000 | 0 | 500 (top step) | 500 | 91 % | 1.00 | 0.60 | 1.20 | 0.50 |",
    );
    expect(lines).to.include(
      "NOT RUN standing-offer knee >= 1.8x the two-transaction knee (trades/s): —",
    );
  });
});
