/**
 * Gas per step of one trade on the in-process network, printed as a table:
 *   ops/bin/node22 node_modules/hardhat/dist/src/cli.js run ops/bench/gas.ts   (npm run bench:gas)
 * "cold" is the first trade touching a delivery slot (its usage counters are created); "warm" is a
 * second trade on the same offer and slot, the steady state of a busy market.
 */
import hre from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import type { ContractTransactionResponse } from "ethers";
import { deployMarket, type Address } from "../contracts/index.js";

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
const [admin, grid, meter, solar, alice, bob] = [0, 1, 2, 3, 4, 5].map(at) as [
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
  deployer: admin,
  roles: {
    upgraders: [a(admin)],
    upgraderDelaySeconds: 0,
    gridOperators: [a(grid)],
    meters: [a(meter)],
    producers: [a(solar)],
    consumers: [a(alice), a(bob)],
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
await review.connect(grid).setZones([solar.address, alice.address, bob.address], [1, 2, 2]);
await review.connect(grid).setZoneCapacity(1, LINE_W, LINE_W);
await review.connect(grid).setZoneCapacity(2, LINE_W, LINE_W);
await credit.connect(grid).mint(solar.address, CREDITS, ethers.ZeroHash);
await credit.connect(solar).approve(await market.getAddress(), CREDITS);
await market.connect(solar).depositBond(CREDITS);

const gasOf = async (sent: Promise<ContractTransactionResponse>): Promise<bigint> => {
  const receipt = await (await sent).wait();
  if (receipt === null) throw new Error("no receipt");
  return receipt.gasUsed;
};

const now = BigInt(await networkHelpers.time.latest());
const start = ((now + 7200n) / SLOT_SECONDS + 1n) * SLOT_SECONDS;
const end = start + SLOT_SECONDS;
const rows: [string, bigint][] = [];

rows.push([
  "publish offer",
  await gasOf(market.connect(solar).publish(0, 250_000n, 100_000n, 1_000_000n, start, end, start)),
]);
const trade = async (buyer: HardhatEthersSigner, quantityWh: bigint) => {
  const request = await gasOf(market.connect(buyer).request(1n, quantityWh));
  const orderId = await market.orderCount();
  const confirm = await gasOf(market.connect(solar).confirm(orderId));
  return { orderId, request, confirm };
};
const cold = await trade(alice, 10_000n);
rows.push(["request (cold)", cold.request]);
rows.push(["confirm + auto review (cold, cross-zone)", cold.confirm]);
rows.push(["whole trade: request + confirm (cold)", cold.request + cold.confirm]);
const warm = await trade(bob, 10_000n);
rows.push(["request (warm)", warm.request]);
rows.push(["confirm + auto review (warm, cross-zone)", warm.confirm]);
rows.push(["whole trade: request + confirm (warm)", warm.request + warm.confirm]);
const manual = await trade(alice, 60_000n);
rows.push(["confirm, review reserves, awaits grid operator", manual.confirm]);
rows.push(["manual review: grid operator approves", await gasOf(market.connect(grid).approveOrder(manual.orderId))]);

await networkHelpers.time.increaseTo(end);
const meterId = ethers.id("meter:alice");
rows.push([
  "meter reading, delivered in full",
  await gasOf(market.connect(meter).recordMeterReading(cold.orderId, meterId, 10_000n, 10_000n)),
]);
rows.push([
  "meter reading, shortfall",
  await gasOf(market.connect(meter).recordMeterReading(warm.orderId, ethers.id("meter:bob"), 4_000n, 4_000n)),
]);
rows.push(["default settlement", await gasOf(market.connect(alice).settleDefault(warm.orderId))]);

const width = Math.max(...rows.map(([name]) => name.length));
console.log(`${"step".padEnd(width)}  gas`);
console.log(`${"-".repeat(width)}  ${"-".repeat(7)}`);
for (const [name, gas] of rows) console.log(`${name.padEnd(width)}  ${gas.toString().padStart(7)}`);
