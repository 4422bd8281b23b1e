import { expect } from "chai";
import { readFileSync } from "node:fs";
import { parseConsortium } from "../../ops/consortium/index.js";
import {
  formatCredits,
  marketSetup,
  sameCode,
  type ConsortiumAccount,
} from "../../ops/contracts/consortium.js";
import { renderTable } from "../../ops/market/demo.js";
import { nextSlot } from "../../ops/market/client.js";

const pilot = parseConsortium(
  readFileSync("network/consortium.template.yaml", "utf8"),
  "network/consortium.template.yaml",
);
const address = (n: number) => `0x${n.toString(16).padStart(40, "0")}` as const;
const accounts: ConsortiumAccount[] = [
  { id: "deployer", address: address(1), role: "deployer", organisation: "grid", zone: "north" },
  {
    id: "grid-operator",
    address: address(2),
    role: "grid-operator",
    organisation: "grid",
    zone: "north",
  },
  { id: "grid-meter", address: address(3), role: "meter", organisation: "grid", zone: "north" },
  {
    id: "producer-1",
    address: address(4),
    role: "producer",
    organisation: "solar-north",
    zone: "north",
  },
  { id: "consumer-1", address: address(5), role: "consumer", organisation: "grid", zone: "south" },
];

describe("market setup from the consortium file", () => {
  it("maps zones in YAML order, kW to W, kWh to Wh and credits per role", () => {
    const setup = marketSetup(pilot, accounts);
    expect(setup.zoneIds).to.deep.equal({ north: 1, south: 2 });
    expect(setup.capacities).to.deep.equal([
      { zone: 1, exportW: 1_500_000n, importW: 2_000_000n },
      { zone: 2, exportW: 2_000_000n, importW: 1_500_000n },
    ]);
    expect(setup.review).to.deep.equal({
      slotSeconds: 900,
      maxOrderWh: 100_000n,
      maxParticipantSlotWh: 500_000n,
      mode: "auto",
      manualThresholdWh: 0n,
    });
    expect(setup.roles).to.deep.equal({
      UPGRADER: [address(1)],
      GRID_OPERATOR: [address(2)],
      METER: [address(3)],
      PRODUCER: [address(4)],
      CONSUMER: [address(5)],
    });
    expect(setup.participantZones).to.deep.equal([
      { account: address(4), zone: 1 },
      { account: address(5), zone: 2 },
    ]);
    // The pilot gives consumers 1000 credits and producers and the grid operator none.
    expect(setup.credits).to.deep.equal([{ account: address(5), amount: 1_000_000_000n }]);
    expect(setup.upgraderDelaySeconds).to.equal(0);
    expect(setup.settleTimeoutSeconds).to.equal(3600);
    expect(setup.mediationFeePerKwh).to.equal(10_000n);
  });

  it("turns a threshold review mode into manualAbove with the threshold in Wh", () => {
    const spec = {
      ...pilot,
      market: { ...pilot.market, reviewMode: "threshold" as const, manualAboveKwh: 40 },
    };
    const { review } = marketSetup(spec, accounts);
    expect([review.mode, review.manualThresholdWh]).to.deep.equal(["manualAbove", 40_000n]);
  });
});

describe("compiled code comparison", () => {
  const artifact = {
    deployedBytecode: "0x6001aaaaaaaa6002",
    immutableReferences: { "7": [{ start: 2, length: 4 }] },
  };
  it("ignores immutable bytes set at deployment", () => {
    expect(sameCode("0x6001123456786002", artifact)).to.equal(true);
  });
  it("sees any other changed byte and a different length", () => {
    expect(sameCode("0x6001aaaaaaaa6003", artifact)).to.equal(false);
    expect(sameCode("0x6001aaaaaaaa600200", artifact)).to.equal(false);
    expect(sameCode("0x", artifact)).to.equal(false);
  });
});

describe("demo helpers", () => {
  it("formats credits with up to six decimals", () => {
    expect([
      formatCredits(0n),
      formatCredits(1_500_000n),
      formatCredits(12_000_001n),
    ]).to.deep.equal(["0", "1.5", "12.000001"]);
  });
  it("finds the first slot boundary at least the lead time ahead", () => {
    expect(nextSlot(1000n, 900n, 120n)).to.equal(1800n);
    expect(nextSlot(1680n, 900n, 120n)).to.equal(1800n);
    expect(nextSlot(1681n, 900n, 120n)).to.equal(2700n);
  });
  it("renders the summary table with aligned columns", () => {
    const table = renderTable([
      {
        order: 7n,
        seller: "producer-1 (solar)",
        buyer: "household 2",
        energy: "solar",
        kwh: "100",
        price: "12",
        outcome: "delivered",
        note: "paid",
      },
      {
        order: 12n,
        seller: "producer-2 (wind)",
        buyer: "household 10",
        energy: "wind",
        kwh: "25",
        price: "2.5",
        outcome: "rejected",
        note: "",
      },
    ]);
    expect(table.split("\n")).to.deep.equal([
      "order  seller              buyer         energy  kWh  credits  outcome    note",
      "-----  ------------------  ------------  ------  ---  -------  ---------  ----",
      "7      producer-1 (solar)  household 2   solar   100       12  delivered  paid",
      "12     producer-2 (wind)   household 10  wind     25      2.5  rejected",
    ]);
  });
});
