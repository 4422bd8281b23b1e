import { expect } from "chai";
import { scenarioProblem } from "../helpers/loadtest.js";
import { tradeTerms } from "../../ops/loadtest/coordinator.js";
import {
  PRESETS,
  parseScenario,
  presetScenario,
  stressRuns,
  transactionsPerTrade,
} from "../../ops/loadtest/scenario.js";

const problem = scenarioProblem;

describe("load-test scenarios", function () {
  it("every preset validates against the schema", function () {
    for (const name of Object.keys(PRESETS)) expect(presetScenario(name).name).to.equal(name);
  });

  it("the paper preset runs 3000 nodes in the paper's five runs", function () {
    const paper = presetScenario("paper");
    expect(paper.agents).to.equal(3000);
    expect(paper.runs.map((run) => run.trades)).to.deep.equal([1128, 1836, 952, 583, 98]);
    expect(paper.runs.reduce((sum, run) => sum + run.trades!, 0)).to.equal(4597);
  });

  it("fills defaults for a minimal file", function () {
    const scenario = parseScenario("name: mine\nagents: 10\nruns:\n  - trades: 5\n", "s.yaml");
    expect(scenario.load).to.deep.equal({
      model: "open",
      tradesPerSecond: 20,
      rampSeconds: 0,
      inFlight: 50,
    });
    expect(scenario.trade.wh).to.equal(1000);
    expect(scenario.runner).to.equal("process");
  });

  it("names the file, the path and the line of a bad value", function () {
    expect(
      problem("name: mine\nagents: 10\nruns:\n  - trades: 5\nload:\n  model: burst\n"),
    ).to.match(/^scenario\.yaml: load\.model: .*"open".*"closed".*; line 6$/);
  });

  it("rejects a run with both a trade count and a duration", function () {
    expect(
      problem("name: mine\nagents: 10\nruns:\n  - trades: 5\n    durationSeconds: 3\n"),
    ).to.contain("runs[0]: a run has either trades or durationSeconds");
  });

  it("rejects an unknown key with its path", function () {
    expect(problem("name: mine\nagents: 10\nruns:\n  - trades: 5\ntrade:\n  kwh: 3\n")).to.contain(
      'trade.kwh: unknown key "kwh"',
    );
  });

  it("suggests the key meant for a misspelt one, with its line", function () {
    expect(problem("name: mine\nAgents: 10\nruns:\n  - trades: 5\n")).to.equal(
      'scenario.yaml: Agents: unknown key "Agents" (did you mean agents?); allowed here: name, agents, producerShare, runs, load, trade, payments, review, metering, timeouts, workers, runner, docker, stress; line 2',
    );
  });

  it("says what a bound is in the project's words, with the value given", function () {
    expect(problem("name: mine\nagents: 0\nruns:\n  - trades: 5\n")).to.equal(
      "scenario.yaml: agents: must be greater than 0, got 0; line 2",
    );
  });

  it("rejects installments over direct channels too small to split", function () {
    expect(
      problem(
        'name: mine\nagents: 10\nruns:\n  - trades: 5\ntrade:\n  wh: 1\n  pricePerKwh: "0.001"\n  paymentsPerTrade: 5\npayments:\n  topology: direct\n',
      ),
    ).to.contain("trade.paymentsPerTrade: a trade costs 1 base units of credit");
  });

  it("every preset trades from standing offers: one transaction per trade", function () {
    for (const name of Object.keys(PRESETS)) {
      const scenario = presetScenario(name);
      expect(scenario.trade.path, name).to.equal("standing");
      expect(transactionsPerTrade(scenario), name).to.equal(1);
    }
    const twoTx = parseScenario(
      "name: mine\nagents: 10\nruns:\n  - trades: 5\ntrade:\n  path: request-confirm\n  rejectShare: 0.1\n",
      "s.yaml",
    );
    expect(transactionsPerTrade(twoTx)).to.equal(2);
  });

  it("refuses a reject share on standing offers, which no seller can reject", function () {
    expect(
      problem("name: mine\nagents: 10\nruns:\n  - trades: 5\ntrade:\n  rejectShare: 0.1\n"),
    ).to.contain("trade.rejectShare: a standing offer accepts every request within its terms");
  });

  it("ramps a stress test in steps up to the maximum rate", function () {
    const runs = stressRuns({
      startTradesPerSecond: 50,
      stepTradesPerSecond: 50,
      maxTradesPerSecond: 200,
      stepSeconds: 10,
      successFloor: 0.999,
      p99BlockPeriods: 2,
    });
    expect(runs).to.deep.equal(
      [50, 100, 150, 200].map((rate) => ({ durationSeconds: 10, tradesPerSecond: rate })),
    );
  });

  it("sizes deposits and bonds for twice each agent's share of the trades", function () {
    const scenario = presetScenario("smoke");
    const terms = tradeTerms(scenario, scenario.runs, 4);
    // 60 trades over 8 consumers: ceil(7.5 * 2) + 5 = 20 trades of 1 kWh at 0.12 credits.
    expect(terms.channelDeposit).to.equal((20n * 120_000n).toString());
    // 60 trades over 4 producers: ceil(15 * 2) + 5 = 35 trades of 1 kWh, 0.05 credits default each.
    expect(terms.bond).to.equal((35n * 50_000n).toString());
    expect(terms.pricePerKwh).to.equal("120000");
  });
});
