import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import type { NetworkConnection } from "hardhat/types/network";
import hre from "hardhat";
import { HDNodeWallet, Mnemonic, type SigningKey } from "ethers";
import { ZERO_HASH, type ChannelsDomain } from "../../ops/channels/proofs.js";
import { lockedTotal, locksCommitment, locksroot, type Lock } from "../../ops/channels/locks.js";
import type { PaymentChannels } from "../../types/ethers-contracts/index.js";
import { signProofIntent } from "./channels.js";
import { deployWorld, publishOffer, requestOrder, type MarketWorld } from "./market.js";
import { recordReading } from "./metering.js";

/** Hardhat's simulated accounts come from its well-known test mnemonic: the clients need the keys. */
const HARDHAT_MNEMONIC = "test test test test test test test test test test test junk";

/** The private key of one of Hardhat's simulated accounts. */
export function keyOf(signer: HardhatEthersSigner): SigningKey {
  const mnemonic = Mnemonic.fromPhrase(HARDHAT_MNEMONIC);
  for (let i = 0; i < 20; i++) {
    const wallet = HDNodeWallet.fromMnemonic(mnemonic, `m/44'/60'/0'/0/${i}`);
    if (wallet.address === signer.address) return wallet.signingKey;
  }
  throw new Error(`no test key for ${signer.address}`);
}

/** An order of establishedOrder's default 10 kWh at the market fixture's 0.25 credits per kWh. */
export const ORDER_PRICE = 2_500_000n;
/** What a channel's opener deposits in the lock tests. */
export const CHANNEL_DEPOSIT = 10_000_000n;
/** EnergyMarket.METERING_GRACE: 14 days. */
export const METERING_GRACE = 14n * 24n * 3600n;

/**
 * Registers the hooks of a suite that shares one lock world and restores it after each test;
 * returns the accessor the tests read it through.
 */
export function lockWorldPerTest(): () => LockWorld {
  let world: LockWorld | undefined;
  let restore: (() => Promise<void>) | undefined;
  before(async () => {
    world = await deployLockWorld();
    const snapshot = await world.connection.networkHelpers.takeSnapshot();
    restore = () => snapshot.restore();
  });
  afterEach(async () => {
    await restore?.();
  });
  return () => world!;
}

export const CHANNEL_FUNDS = 100_000_000n; // 100 credits per member, for channel deposits

export type LockWorld = MarketWorld & {
  connection: NetworkConnection;
  channels: PaymentChannels;
  domain: ChannelsDomain;
};

/**
 * The market world with its PaymentChannels (locks decided by that market): `grid` is the hub, the
 * producers sell, the consumers buy; every one of them holds CHANNEL_FUNDS approved for the channels.
 */
export async function deployLockWorld(): Promise<LockWorld> {
  const connection = await hre.network.create();
  const world = await deployWorld(hre, connection);
  const { ethers } = connection;
  const address = world.manifest.contracts.PaymentChannels.proxy;
  const channels = (await ethers.getContractAt(
    "PaymentChannels",
    address,
  )) as unknown as PaymentChannels;
  for (const member of [world.grid, world.solar, world.wind, world.alice, world.bob]) {
    await world.credit.connect(world.grid).mint(member.address, CHANNEL_FUNDS, ZERO_HASH);
    await world.credit.connect(member).approve(address, CHANNEL_FUNDS);
  }
  const { chainId } = await ethers.provider.getNetwork();
  return { ...world, connection, channels, domain: { chainId, verifyingContract: address } };
}

/** Opens a channel from `a` to `b`, `a` depositing `deposit`; returns its id. */
export async function openChannel(
  w: LockWorld,
  a: HardhatEthersSigner,
  b: HardhatEthersSigner,
  deposit: bigint,
  depositB = 0n,
): Promise<bigint> {
  await w.channels.connect(a).openChannel(b.address);
  const channelId = await w.channels.lastChannelId();
  if (deposit > 0n) await w.channels.connect(a).setTotalDeposit(channelId, a.address, deposit);
  if (depositB > 0n) await w.channels.connect(b).setTotalDeposit(channelId, b.address, depositB);
  return channelId;
}

/** A balance proof of `sender` carrying `locks` (their commitment as additionalHash). */
export async function lockedProof(
  w: LockWorld,
  sender: HardhatEthersSigner,
  channelId: bigint,
  nonce: bigint,
  transferredAmount: bigint,
  locks: readonly Lock[],
) {
  const fields = {
    channelId,
    nonce,
    transferredAmount,
    additionalHash: locks.length === 0 ? ZERO_HASH : locksCommitment(locks),
  };
  return {
    ...fields,
    signature: await signProofIntent(sender, w.domain, "BalanceProof", fields),
  };
}

type Proof = Awaited<ReturnType<typeof lockedProof>>;

/** `closer` closes with its partner's `proof`. */
export async function closeWith(
  w: LockWorld,
  closer: HardhatEthersSigner,
  channelId: bigint,
  proof: Proof,
): Promise<void> {
  const signature = await signProofIntent(closer, w.domain, "Close", proof);
  await w.channels.connect(closer).closeChannel(channelId, closer.address, proof, signature);
}

/**
 * `beneficiary` (or anyone holding its signature: `submitter`) records the newer `proof` of `sender`,
 * with the `locks` it carries in the same transaction when there are any.
 */
export async function updateWith(
  w: LockWorld,
  beneficiary: HardhatEthersSigner,
  sender: HardhatEthersSigner,
  channelId: bigint,
  proof: Proof,
  submitter: HardhatEthersSigner = beneficiary,
  locks: readonly Lock[] = [],
): Promise<void> {
  const signature = await signProofIntent(beneficiary, w.domain, "Update", proof);
  const channels = w.channels.connect(submitter);
  if (locks.length === 0) {
    await channels.updateBalanceProof(channelId, sender.address, proof, signature);
    return;
  }
  await channels.updateBalanceProofWithLocks(
    channelId,
    sender.address,
    proof,
    signature,
    lockedTotal(locks),
    locksroot(locks),
  );
}

/** Reveals the locks `proof` of `sender` carries (anyone may; `by` submits). */
export async function reveal(
  w: LockWorld,
  by: HardhatEthersSigner,
  sender: HardhatEthersSigner,
  channelId: bigint,
  proof: Proof,
  locks: readonly Lock[],
): Promise<void> {
  await w.channels
    .connect(by)
    .revealLocks(channelId, sender.address, proof, lockedTotal(locks), locksroot(locks));
}

/** Moves past the channel's settle window and settles it. */
export async function settleAfterWindow(w: LockWorld, channelId: bigint): Promise<void> {
  const [, , , , , settleAt] = await w.channels.getChannel(channelId);
  const now = BigInt(await w.connection.networkHelpers.time.latest());
  if (now <= settleAt) await w.connection.networkHelpers.time.increaseTo(settleAt + 1n);
  await w.channels.settleChannel(channelId);
}

/** Solar sells `quantityWh` to alice: published, requested and confirmed (established). */
export async function establishedOrder(w: LockWorld, quantityWh = 10_000n): Promise<bigint> {
  const offerId = await publishOffer(w, w.solar, quantityWh);
  const orderId = await requestOrder(w, w.alice, offerId, quantityWh);
  await w.market.connect(w.solar).confirm(orderId);
  return orderId;
}

/**
 * Moves to the end of the delivery window and records `deliveredWh` for `orderId`. Each order has
 * its own meter: the market keeps one reading per meter and window end, and these orders share
 * their window.
 */
export async function meter(w: LockWorld, orderId: bigint, deliveredWh: bigint, reading: bigint) {
  const now = BigInt(await w.connection.networkHelpers.time.latest());
  if (now < w.deliveryEnd) await w.connection.networkHelpers.time.increaseTo(w.deliveryEnd);
  const meterId = `0x${orderId.toString(16).padStart(64, "0")}`;
  return recordReading(w, orderId, meterId, reading, deliveredWh);
}
