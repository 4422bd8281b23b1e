import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import type { HardhatRuntimeEnvironment } from "hardhat/types/hre";
import type { NetworkConnection } from "hardhat/types/network";
import { deployMarket, type Address, type ReviewMode } from "../../ops/contracts/index.js";
import type {
  EnergyMarket,
  GridAccessManager,
  GridCredit,
  GridReview,
} from "../../types/ethers-contracts/index.js";

export const SLOT_SECONDS = 900;
export const MAX_ORDER_WH = 50_000n;
export const MAX_PARTICIPANT_SLOT_WH = 20_000n;
/** 40 kW over a 900 s slot carries exactly 10 kWh. */
export const LINE_W = 40_000n;
export const LINE_SLOT_WH = 10_000n;
export const PRICE_PER_KWH = 250_000n; // 0.25 credits
export const DEFAULT_PER_KWH = 100_000n; // 0.10 credits
export const BOND = 1_000_000_000n; // 1000 credits

export const EnergyType = { Solar: 0n, Wind: 1n } as const;
export const OrderStatus = {
  None: 0n,
  Requested: 1n,
  Rejected: 2n,
  Cancelled: 3n,
  Expired: 4n,
  Denied: 5n,
  AwaitingReview: 6n,
  Established: 7n,
  Delivered: 8n,
  Defaulted: 9n,
  DefaultSettled: 10n,
} as const;
export const Denial = {
  None: 0n,
  ZoneUnknown: 1n,
  WindowNotAligned: 2n,
  WindowTooLong: 3n,
  OrderTooLarge: 4n,
  ParticipantSlotLimit: 5n,
  ExportCapacity: 6n,
  ImportCapacity: 7n,
  DeniedByOperator: 8n,
} as const;

export type MarketWorld = Awaited<ReturnType<typeof deployWorld>>;

/**
 * A deployed market with two producers (solar in zone 1, wind in zone 2), three consumers (alice in
 * zone 2, bob in zone 1, carol without zone), lines of 40 kW in and out of zones 1 and 2, and bonds.
 */
export async function deployWorld(
  hre: HardhatRuntimeEnvironment,
  connection: NetworkConnection,
  mode: ReviewMode = "auto",
  manualThresholdWh = 0n,
  slotSeconds = SLOT_SECONDS,
) {
  const { ethers } = connection;
  const signers = await ethers.getSigners();
  const signer = (index: number): HardhatEthersSigner => {
    const found = signers[index];
    if (found === undefined) throw new Error(`the network has no account #${index}`);
    return found;
  };
  const [admin, grid, meter, solar, wind, alice, bob, carol, outsider] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8,
  ].map(signer) as [
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
  const addr = (s: HardhatEthersSigner) => s.address as Address;
  const manifest = await deployMarket({
    hre,
    connection,
    channels: { settleTimeoutSeconds: 3600 },
    deployer: admin,
    roles: {
      upgraders: [addr(admin)],
      upgraderDelaySeconds: 0,
      gridOperators: [addr(grid)],
      meters: [addr(meter)],
      producers: [addr(solar), addr(wind)],
      consumers: [addr(alice), addr(bob), addr(carol)],
    },
    review: {
      slotSeconds,
      maxOrderWh: MAX_ORDER_WH,
      maxParticipantSlotWh: MAX_PARTICIPANT_SLOT_WH,
      mode,
      manualThresholdWh,
    },
  });
  const manager = (await ethers.getContractAt(
    "GridAccessManager",
    manifest.contracts.GridAccessManager.proxy,
  )) as unknown as GridAccessManager;
  const credit = (await ethers.getContractAt(
    "GridCredit",
    manifest.contracts.GridCredit.proxy,
  )) as unknown as GridCredit;
  const review = (await ethers.getContractAt(
    "GridReview",
    manifest.contracts.GridReview.proxy,
  )) as unknown as GridReview;
  const market = (await ethers.getContractAt(
    "EnergyMarket",
    manifest.contracts.EnergyMarket.proxy,
  )) as unknown as EnergyMarket;

  await review
    .connect(grid)
    .setZones([solar.address, wind.address, alice.address, bob.address], [1, 2, 2, 1]);
  await review.connect(grid).setZoneCapacity(1, LINE_W, LINE_W);
  await review.connect(grid).setZoneCapacity(2, LINE_W, LINE_W);
  for (const producer of [solar, wind]) {
    await credit.connect(grid).mint(producer.address, BOND, ethers.ZeroHash);
    await credit.connect(producer).approve(await market.getAddress(), BOND);
    await market.connect(producer).depositBond(BOND);
  }
  const now = BigInt((await ethers.provider.getBlock("latest"))!.timestamp);
  // First slot boundary at least two hours ahead: offers expire at the delivery start.
  const deliveryStart = ((now + 7200n) / BigInt(slotSeconds) + 1n) * BigInt(slotSeconds);
  return {
    manifest,
    manager,
    credit,
    review,
    market,
    admin,
    grid,
    meter,
    solar,
    wind,
    alice,
    bob,
    carol,
    outsider,
    deliveryStart,
    deliveryEnd: deliveryStart + BigInt(slotSeconds),
  };
}

/** Publishes a one-slot offer of `quantityWh` by `seller`, expiring at the delivery start. */
export async function publishOffer(
  world: MarketWorld,
  seller: HardhatEthersSigner,
  quantityWh: bigint,
  window: { start?: bigint; end?: bigint } = {},
): Promise<bigint> {
  const start = window.start ?? world.deliveryStart;
  const end = window.end ?? world.deliveryEnd;
  await world.market
    .connect(seller)
    .publish(EnergyType.Solar, PRICE_PER_KWH, DEFAULT_PER_KWH, quantityWh, start, end, start);
  return world.market.offerCount();
}

/** Publishes a one-slot standing offer of `quantityWh` by `seller`, expiring at the delivery start. */
export function publishStandingOffer(
  world: MarketWorld,
  seller: HardhatEthersSigner,
  quantityWh: bigint,
) {
  return world.market
    .connect(seller)
    .publishStanding(
      EnergyType.Solar,
      PRICE_PER_KWH,
      DEFAULT_PER_KWH,
      quantityWh,
      world.deliveryStart,
      world.deliveryEnd,
      world.deliveryStart,
    );
}

/** Requests `quantityWh` of `offerId` as `buyer`; returns the order id. */
export async function requestOrder(
  world: MarketWorld,
  buyer: HardhatEthersSigner,
  offerId: bigint,
  quantityWh: bigint,
): Promise<bigint> {
  await world.market.connect(buyer).request(offerId, quantityWh);
  return world.market.orderCount();
}

/** The default amount locked for `quantityWh` at the fixture's penalty: ceil(Wh * perKwh / 1000). */
export const defaultFor = (quantityWh: bigint) => (quantityWh * DEFAULT_PER_KWH + 999n) / 1000n;

/** Solar (zone 1) sells 10 kWh to alice (zone 2), confirmed: established by an auto review. */
export async function establishTrade(world: MarketWorld) {
  const offerId = await publishOffer(world, world.solar, 10_000n);
  const orderId = await requestOrder(world, world.alice, offerId, 10_000n);
  await world.market.connect(world.solar).confirm(orderId);
  return { ...world, offerId, orderId };
}

/**
 * The market fixtures of one network connection, for `loadFixture`: each function is created once
 * per connection so that its snapshot is reused by every test of a file.
 */
export function marketFixtures(hre: HardhatRuntimeEnvironment, connection: NetworkConnection) {
  const autoMarket = () => deployWorld(hre, connection);
  const manualMarket = () => deployWorld(hre, connection, "manual");
  const thresholdMarket = () => deployWorld(hre, connection, "manualAbove", 5_000n);
  const establishedTrade = async () => await establishTrade(await autoMarket());
  return { autoMarket, manualMarket, thresholdMarket, establishedTrade };
}

/** The index of the fixture's first delivery slot. */
export async function slotOf(world: MarketWorld) {
  return world.deliveryStart / BigInt(SLOT_SECONDS);
}
