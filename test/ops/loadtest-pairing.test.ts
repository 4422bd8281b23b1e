import { expect } from "chai";
import { scenarioProblem } from "../helpers/loadtest.js";
import { JsonRpcProvider } from "ethers";
import { AgentPayments } from "../../ops/loadtest/agent-payments.js";
import { InNonceOrder } from "../../ops/loadtest/hub-wire.js";
import { echoInit } from "../helpers/loadtest-workers.js";
import { Pairing, planHubDeposits } from "../../ops/loadtest/pairing.js";
import { parseScenario, presetScenario } from "../../ops/loadtest/scenario.js";

const sellers = (seed: number, producers: number, trades: number) => {
  const pairing = new Pairing(seed, producers);
  return Array.from({ length: trades }, (_, i) => pairing.sellerOf(i + 1));
};

const problem = scenarioProblem;

describe("load-test pairing and hub plan", function () {
  it("draws the same sellers from the same seed, other sellers from another seed", function () {
    expect(sellers(7, 600, 4597)).to.deep.equal(sellers(7, 600, 4597));
    expect(sellers(7, 600, 4597)).to.not.deep.equal(sellers(8, 600, 4597));
    // Not the fixed round robin of direct channels.
    expect(sellers(7, 4, 8)).to.not.deep.equal([0, 1, 2, 3, 0, 1, 2, 3]);
  });

  it("gives every producer one trade per block of trades, so none sells more than one over another", function () {
    const drawn = sellers(3, 5, 5 * 40 + 3);
    for (let block = 0; block < 40; block++) {
      expect([...drawn.slice(block * 5, block * 5 + 5)].sort()).to.deep.equal([0, 1, 2, 3, 4]);
    }
    // Any stretch of n trades: each producer at most ceil(n / P) + 1.
    for (const [from, n] of [
      [2, 7],
      [13, 31],
      [100, 9],
    ] as const) {
      const counts = new Map<number, number>();
      for (const seller of drawn.slice(from, from + n))
        counts.set(seller, (counts.get(seller) ?? 0) + 1);
      expect(Math.max(...counts.values())).to.be.at.most(Math.ceil(n / 5) + 1);
    }
  });

  it("pairs any consumer with any producer when trades go round the consumers", function () {
    // The smoke preset's shape: 8 consumers in turn, 4 producers, 60 trades.
    const drawn = sellers(1, 4, 60);
    const perConsumer = new Map<number, Set<number>>();
    drawn.forEach((seller, i) => {
      const consumer = i % 8;
      perConsumer.set(consumer, (perConsumer.get(consumer) ?? new Set()).add(seller));
    });
    expect([...perConsumer.values()].every((set) => set.size >= 2)).to.equal(true);
    expect(new Set(drawn.map((seller, i) => `${i % 8}>${seller}`)).size).to.be.greaterThan(8);
  });

  it("plans the hub's deposit toward each seller from the schedule's trades less its fee, twice its share and five more", function () {
    const producers = ["0xa", "0xb", "0xc"];
    const plan = planHubDeposits({
      producers,
      seed: 1,
      plannedTrades: 10,
      wh: 1000n,
      pricePerKwh: 120_000n,
      feePerKwh: 1_000n,
    });
    // Twice each seller's share of the 10 planned trades, and 5 more, at 119,000 forwarded each.
    expect(plan.trades).to.equal(10);
    expect(plan.total).to.equal((2n * 10n + 5n * 3n) * 119_000n);
    const drawn = sellers(1, 3, 10);
    for (const [index, producer] of producers.entries()) {
      const count = BigInt(drawn.filter((seller) => seller === index).length);
      expect(plan.perSeller.get(producer)).to.equal((2n * count + 5n) * 119_000n);
    }
    expect([...plan.perSeller.values()].reduce((a, b) => a + b, 0n)).to.equal(plan.total);
  });

  it("takes a channel's proofs in nonce order, whatever order they arrive in", async function () {
    const gate = new InNonceOrder();
    let held = 4n;
    const handled: bigint[] = [];
    const take = (nonce: bigint) =>
      gate.run(
        9n,
        nonce,
        () => held,
        async () => {
          handled.push(nonce);
          held = nonce;
        },
      );
    await Promise.all([take(7n), take(6n), take(5n)]);
    expect(handled).to.deep.equal([5n, 6n, 7n]);
  });

  it("pays over direct channels by default and validates the topology and the hub's fee", function () {
    // The hub is chosen explicitly: a hub channel that an interrupted or killed run left a proof
    // behind is not recovered yet, and every later hub payment of that participant would fail.
    for (const name of ["smoke", "paper", "stress"])
      expect(presetScenario(name).payments.topology).to.equal("direct");
    const base = "name: mine\nagents: 10\nruns:\n  - trades: 5\n";
    expect(parseScenario(base, "s.yaml").payments).to.deep.equal({
      topology: "direct",
      pairingSeed: 1,
      hubFeePerKwh: 1_000n,
    });
    expect(problem(`${base}payments:\n  topology: mesh\n`)).to.match(
      /^scenario\.yaml: payments\.topology: .*"hub".*"direct".*"onchain".*; line 6$/,
    );
    expect(
      problem(
        `${base}trade:\n  pricePerKwh: "0.1"\npayments:\n  topology: hub\n  hubFeePerKwh: "0.1"\n`,
      ),
    ).to.contain("payments.hubFeePerKwh: the fee must be below trade.pricePerKwh");
    expect(
      parseScenario(`${base}payments: { topology: onchain, pairingSeed: 9 }\n`, "s.yaml").payments,
    ).to.include({ topology: "onchain", pairingSeed: 9 });
  });

  it("a buyer pays no producer whose worker was lost: the next producer with an offer sells", function () {
    const producers = ["p0", "p1", "p2", "p3"].map((id, i) => ({
      id,
      address: `0x${String(i + 1).padStart(40, "0")}` as const,
    }));
    const init = {
      ...echoInit(0, 0),
      producers,
      terms: { ...echoInit(0, 0).terms, path: "standing" as const, topology: "hub" as const },
    };
    const reader = new JsonRpcProvider("http://127.0.0.1:9", 1, { staticNetwork: true });
    const payments = new AgentPayments(
      init,
      new Map(),
      reader,
      () => {},
      async () => "0x",
    );
    payments.offerBook({ p0: "10", p1: "11", p2: "12", p3: "13" });
    const drawn = sellers(1, 4, 40);
    expect(Array.from({ length: 40 }, (_, i) => payments.sellerOf(i + 1).id)).to.deep.equal(
      drawn.map((index) => producers[index]!.id),
    );
    payments.offerBook({ p0: "10", p2: "12", p3: "13" });
    for (let trade = 1; trade <= 40; trade++) {
      const { id, offer } = payments.sellerOf(trade);
      expect(id).to.equal(drawn[trade - 1] === 1 ? "p2" : producers[drawn[trade - 1]!]!.id);
      expect(offer).to.equal(BigInt(id.slice(1)) + 10n);
    }
    reader.destroy();
  });
});
