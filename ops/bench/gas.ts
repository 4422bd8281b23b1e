/**
 * Gas per step of one trade on the in-process network, printed as a table:
 *   ops/bin/node22 node_modules/hardhat/dist/src/cli.js run ops/bench/gas.ts   (npm run bench:gas)
 * A trade's cost depends on how many storage slots it creates (22.1k gas each): the order's two,
 * the seller's and the buyer's usage in each slot of the window, and for a cross-zone trade the
 * word holding the seller zone's export and the buyer zone's import (two words when the zones sit
 * in different words of four).
 */
import hre from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import type { ContractTransactionResponse } from "ethers";
import { deployMarket, type Address } from "../contracts/index.js";
import { encodeLocks, lockedTotal, locksCommitment, locksroot } from "../channels/locks.js";
import { INTENT_TYPES, typedDataDomain } from "../channels/proofs.js";
import { formatProfile, profileTransaction } from "./gas-profile.js";
import { batchRows } from "./gas-batch.js";

const SLOT_SECONDS = 900n;
const LINE_W = 4_000_000n; // 4 MW: the bench never hits a capacity limit
const CREDITS = 10n ** 12n;

const connection = await hre.network.create();
const { ethers, networkHelpers } = connection;
const signers = await ethers.getSigners();
const at = (index: number): HardhatEthersSigner => {
  const signer = signers[index];
  if (signer === undefined) throw new Error(`the network has no account #${index}`);
  return signer;
};
const [admin, grid, meter, solar, alice, bob, carol, dave, erin, frank] = [
  0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
].map(at) as [
  HardhatEthersSigner,
  HardhatEthersSigner,
  HardhatEthersSigner,
  HardhatEthersSigner,
  HardhatEthersSigner,
  HardhatEthersSigner,
  HardhatEthersSigner,
  HardhatEthersSigner,
  HardhatEthersSigner,
  HardhatEthersSigner,
];
const a = (s: HardhatEthersSigner) => s.address as Address;

const manifest = await deployMarket({
  hre,
  connection,
  channels: { settleTimeoutSeconds: 3600 },
  deployer: admin,
  roles: {
    upgraders: [a(admin)],
    upgraderDelaySeconds: 0,
    gridOperators: [a(grid)],
    meters: [a(meter)],
    producers: [a(solar)],
    consumers: [a(alice), a(bob), a(carol), a(dave), a(erin), a(frank)],
  },
  review: {
    slotSeconds: Number(SLOT_SECONDS),
    maxOrderWh: 10n ** 9n,
    maxParticipantSlotWh: 10n ** 9n,
    mode: "manualAbove",
    manualThresholdWh: 50_000n,
  },
});
const review = await ethers.getContractAt("GridReview", manifest.contracts.GridReview.proxy);
const market = await ethers.getContractAt("EnergyMarket", manifest.contracts.EnergyMarket.proxy);
const credit = await ethers.getContractAt("GridCredit", manifest.contracts.GridCredit.proxy);
await review
  .connect(grid)
  .setZones(
    [
      solar.address,
      alice.address,
      bob.address,
      carol.address,
      dave.address,
      erin.address,
      frank.address,
    ],
    [1, 2, 2, 1, 5, 2, 6],
  );
// Zone 5's counters sit in another storage word than zone 1's (four zones to a word).
for (const zone of [1, 2, 5, 6]) await review.connect(grid).setZoneCapacity(zone, LINE_W, LINE_W);
await credit.connect(grid).mint(solar.address, CREDITS, ethers.ZeroHash);
await credit.connect(solar).approve(await market.getAddress(), CREDITS);
await market.connect(solar).depositBond(CREDITS);

// With GAS_PROFILE=1, each whole trade's transactions are profiled (ops/bench/gas-profile.ts).
const profiling = process.env.GAS_PROFILE === "1" || process.env.GAS_PROFILE === "opcodes";
const names = new Map<string, string>();
for (const [name, deployed] of Object.entries(manifest.contracts)) {
  names.set(deployed.proxy.toLowerCase(), `${name} proxy`);
  names.set(deployed.implementation.toLowerCase(), name);
}
const profiles: string[] = [];
let lastHash = "";
const gasOf = async (sent: Promise<ContractTransactionResponse>): Promise<bigint> => {
  const receipt = await (await sent).wait();
  if (receipt === null) throw new Error("no receipt");
  lastHash = receipt.hash;
  return receipt.gasUsed;
};
const profileLast = async (title: string) => {
  if (profiling)
    profiles.push(
      ...formatProfile(
        title,
        await profileTransaction(
          ethers.provider,
          lastHash,
          names,
          process.env.GAS_PROFILE === "opcodes",
        ),
      ),
    );
};

const now = BigInt(await networkHelpers.time.latest());
const start = ((now + 7200n) / SLOT_SECONDS + 1n) * SLOT_SECONDS;
const end = start + SLOT_SECONDS;
const rows: [string, bigint][] = [];

rows.push([
  "publish offer",
  await gasOf(market.connect(solar).publish(0, 250_000n, 100_000n, 1_000_000n, start, end, start)),
]);
await market
  .connect(solar)
  .publish(0, 250_000n, 100_000n, 1_000_000n, end, end + SLOT_SECONDS, start);
const trade = async (offerId: bigint, buyer: HardhatEthersSigner, quantityWh: bigint) => {
  const request = await gasOf(market.connect(buyer).request(offerId, quantityWh));
  await profileLast(`request on offer #${offerId}`);
  const orderId = await market.orderCount();
  const confirm = await gasOf(market.connect(solar).confirm(orderId));
  await profileLast(`confirm of order #${orderId}`);
  return { orderId, request, confirm };
};
const report = (label: string, t: { request: bigint; confirm: bigint }) => {
  rows.push([`${label}: request`, t.request]);
  rows.push([`${label}: confirm + auto review`, t.confirm]);
  rows.push([`${label}: whole trade`, t.request + t.confirm]);
};
const first = await trade(1n, alice, 10_000n);
report("first cross-zone trade in a slot", first);
const newBuyer = await trade(1n, bob, 10_000n);
report("new buyer, busy slot", newBuyer);
report("repeat buyer, busy slot", await trade(1n, alice, 10_000n));
report("first same-zone trade in a slot", await trade(2n, carol, 10_000n));
const untouched = async (slots: bigint) => {
  const from = end + slots * SLOT_SECONDS;
  await market
    .connect(solar)
    .publish(0, 250_000n, 100_000n, 1_000_000n, from, from + SLOT_SECONDS, start);
  return market.offerCount();
};
report(
  "first cross-zone trade in a slot, zones in two counter words",
  await trade(await untouched(10n), dave, 10_000n),
);
const deadlineOffer = await untouched(11n);
const withDeadline = await gasOf(
  market.connect(erin).requestBefore(deadlineOffer, 10_000n, start - 60n),
);
const deadlineConfirm = await gasOf(market.connect(solar).confirm(await market.orderCount()));
report("first cross-zone trade in a slot, request with a confirm deadline", {
  request: withDeadline,
  confirm: deadlineConfirm,
});
// One transaction per trade: a consumer buys from a standing offer (no seller transaction).
const standingStart = end + SLOT_SECONDS;
const standing = async (first: bigint) => {
  await market
    .connect(solar)
    .publishStanding(0, 250_000n, 100_000n, 1_000_000n, first, first + SLOT_SECONDS, start);
  return market.offerCount();
};
const crossOffer = await standing(standingStart);
const localOffer = await standing(standingStart + SLOT_SECONDS);
const buy = async (offerId: bigint, buyer: HardhatEthersSigner) => {
  const gas = await gasOf(market.connect(buyer).buy(offerId, 10_000n));
  await profileLast(`buy on offer #${offerId}`);
  return gas;
};
rows.push([
  "one-transaction trade (buy, standing offer), first cross-zone in a slot",
  await buy(crossOffer, alice),
]);
rows.push(["one-transaction trade, new buyer in a busy slot", await buy(crossOffer, bob)]);
rows.push(["one-transaction trade, repeat buyer in a busy slot", await buy(crossOffer, alice)]);
rows.push(["one-transaction trade, first same-zone trade in a slot", await buy(localOffer, carol)]);
rows.push([
  "one-transaction trade, first cross-zone in a slot, zones in two counter words",
  await buy(await standing(standingStart + 3n * SLOT_SECONDS), dave),
]);
const manual = await trade(1n, alice, 60_000n);
rows.push(["confirm above threshold (reserves, awaits operator)", manual.confirm]);
rows.push([
  "manual review: grid operator approves",
  await gasOf(market.connect(grid).approveOrder(manual.orderId)),
]);

// With the grid's charges set (the pilot's 0.01 capacity fee, a tariff): a buyer's buy locks the
// capacity fee from its own bond.
await review.connect(grid).setCapacityFee(10_000);
await review.connect(grid).setTariff(1, 2, 20_000);
for (const buyer of [bob, frank]) {
  await credit.connect(grid).mint(buyer.address, CREDITS, ethers.ZeroHash);
  await credit.connect(buyer).approve(await market.getAddress(), CREDITS);
  await market.connect(buyer).depositBond(CREDITS);
}
const chargedOffer = await standing(standingStart + 2n * SLOT_SECONDS);
rows.push([
  "one-transaction trade, first cross-zone in a slot, capacity fee and tariff set",
  await buy(chargedOffer, bob),
]);
rows.push([
  "one-transaction trade, zones in two counter words, capacity fee and tariff set",
  await buy(await standing(standingStart + 4n * SLOT_SECONDS), frank),
]);
report(
  "first cross-zone trade in a slot, capacity fee and tariff set",
  await trade(await untouched(12n), alice, 10_000n),
);

await networkHelpers.time.increaseTo(end);
const meterId = ethers.id("meter:alice");
rows.push([
  "meter reading, delivered in full",
  await gasOf(
    market
      .connect(meter)
      .recordMeterReadings([
        { orderId: first.orderId, meterId, readingWh: 10_000n, deliveredWh: 10_000n },
      ]),
  ),
]);
rows.push([
  "meter reading, shortfall",
  await gasOf(
    market.connect(meter).recordMeterReadings([
      {
        orderId: newBuyer.orderId,
        meterId: ethers.id("meter:bob"),
        readingWh: 4_000n,
        deliveredWh: 4_000n,
      },
    ]),
  ),
]);
rows.push([
  "default settlement",
  await gasOf(market.connect(alice).settleDefaults([newBuyer.orderId])),
]);

// ---------------------------------------------------------------- a channel settled with locks
// Alice pays the grid operator's hub with locks on decided orders; the hub closes with her proof,
// reveals its locks, settles after the window and unlocks them by the market's outcomes.
// Every order's window ends by then, within the metering deadline of the earliest.
let lastEnd = 0n;
for (let id = 1n; id <= (await market.orderCount()); id++) {
  const { deliveryEnd } = await market.getOrder(id);
  if (deliveryEnd > lastEnd) lastEnd = deliveryEnd;
}
await networkHelpers.time.increaseTo(lastEnd);
let reading = 100_000n;
const orderIds: bigint[] = [];
for (let id = 1n; id <= (await market.orderCount()); id++) {
  const status = (await market.getOrder(id)).status;
  if (status === 7n) {
    reading += 10_000n;
    await market
      .connect(meter)
      .recordMeterReadings([
        { orderId: id, meterId: ethers.id(`meter:${id}`), readingWh: reading, deliveredWh: 7_000n },
      ]);
  }
  if (status >= 7n) orderIds.push(id);
}
const channels = await ethers.getContractAt(
  "PaymentChannels",
  manifest.contracts.PaymentChannels.proxy,
);
const domain = typedDataDomain({
  chainId: (await ethers.provider.getNetwork()).chainId,
  verifyingContract: await channels.getAddress(),
});
await credit.connect(grid).mint(alice.address, CREDITS, ethers.ZeroHash);
await credit.connect(alice).approve(await channels.getAddress(), CREDITS);
const settledWithLocks = async (count: number) => {
  const rowsBefore = rows.length;
  const label = `channel settled with ${count} lock${count === 1 ? "" : "s"}`;
  rows.push([`${label}: open`, await gasOf(channels.connect(alice).openChannel(grid.address))]);
  const channelId = await channels.lastChannelId();
  rows.push([
    `${label}: deposit`,
    await gasOf(channels.connect(alice).setTotalDeposit(channelId, alice.address, 10n ** 9n)),
  ]);
  const locks = orderIds.slice(0, count).map((orderId) => ({ orderId, amount: 2_500_000n }));
  const fields = {
    channelId,
    nonce: 1n,
    transferredAmount: 0n,
    additionalHash: locksCommitment(locks),
  };
  const proof = {
    ...fields,
    signature: await alice.signTypedData(domain, INTENT_TYPES.BalanceProof, fields),
  };
  const closeSignature = await grid.signTypedData(domain, INTENT_TYPES.Close, fields);
  rows.push([
    `${label}: close`,
    await gasOf(
      channels.connect(grid).closeChannel(channelId, grid.address, proof, closeSignature),
    ),
  ]);
  rows.push([
    `${label}: reveal locks`,
    await gasOf(
      channels
        .connect(grid)
        .revealLocks(channelId, alice.address, proof, lockedTotal(locks), locksroot(locks)),
    ),
  ]);
  await networkHelpers.time.increase(3601);
  rows.push([`${label}: settle`, await gasOf(channels.settleChannel(channelId))]);
  rows.push([
    `${label}: unlock`,
    await gasOf(channels.unlock(channelId, alice.address, encodeLocks(locks))),
  ]);
  const total = rows.slice(rowsBefore).reduce((sum, [, gas]) => sum + gas, 0n);
  rows.push([`${label}: whole channel, open to unlock`, total]);
};
await settledWithLocks(1);
await settledWithLocks(Math.min(8, orderIds.length));

// ---------------------------------------------------------------- batched records
rows.push(
  ...(await batchRows({
    market,
    seller: solar,
    buyer: carol,
    meter,
    slotSeconds: SLOT_SECONDS,
    latest: () => networkHelpers.time.latest(),
    increaseTo: (timestamp) => networkHelpers.time.increaseTo(timestamp),
  })),
);

const width = Math.max(...rows.map(([name]) => name.length));
console.log(`${"step".padEnd(width)}  gas`);
console.log(`${"-".repeat(width)}  ${"-".repeat(7)}`);
for (const [name, gas] of rows) console.log(`${name.padEnd(width)}  ${gas.toString().padStart(7)}`);
if (profiling) console.log(["", ...profiles].join("\n"));
