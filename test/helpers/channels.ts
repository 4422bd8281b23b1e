import hre from "hardhat";
import { upgrades as upgradesFor } from "@openzeppelin/hardhat-upgrades";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import type {
  GridAccessManager,
  GridCredit,
  PaymentChannels,
} from "../../types/ethers-contracts/index.js";
import {
  INTENT_TYPES,
  ZERO_HASH,
  typedDataDomain,
  type BalanceProofFields,
  type ChannelsDomain,
  type ProofIntent,
} from "../../ops/channels/proofs.js";

export const UPGRADER = 1n;
export const GRID_OPERATOR = 2n;
export const PRODUCER = 4n;
export const CONSUMER = 5n;
export const SETTLE_TIMEOUT = 3600n;
export const FUNDS = 1_000_000_000n;

export type ChannelsFixture = Awaited<ReturnType<typeof deployChannels>>;

/**
 * A consortium with GridCredit and PaymentChannels behind UUPS proxies: `grid` is the grid
 * operator (pauses, sets the settle timeout), `alice` a producer, `bob` and `carol` consumers,
 * `mallory` no member at all. Members hold FUNDS credits and approved the channels contract.
 */
export async function deployChannels() {
  const connection = await hre.network.create();
  const { ethers, networkHelpers } = connection;
  const upgrades = await upgradesFor(hre, connection);
  const [admin, grid, alice, bob, carol, mallory, relayer] = await ethers.getSigners();
  const manager = (await upgrades.deployProxy(
    await ethers.getContractFactory("GridAccessManager"),
    [admin!.address],
    { kind: "uups" },
  )) as unknown as GridAccessManager;
  const managerAddress = await manager.getAddress();
  const credit = (await upgrades.deployProxy(
    await ethers.getContractFactory("GridCredit"),
    [managerAddress],
    { kind: "uups" },
  )) as unknown as GridCredit;
  const channelsFactory = await ethers.getContractFactory("PaymentChannels");
  const deployPaymentChannels = async () =>
    (await upgrades.deployProxy(
      channelsFactory,
      [managerAddress, await credit.getAddress(), SETTLE_TIMEOUT],
      { kind: "uups" },
    )) as unknown as PaymentChannels;
  const channels = await deployPaymentChannels();
  const channelsAddress = await channels.getAddress();

  await manager.setTargetFunctionRole(
    await credit.getAddress(),
    [credit.interface.getFunction("mint").selector],
    GRID_OPERATOR,
  );
  await manager.setTargetFunctionRole(
    channelsAddress,
    (["pause", "unpause", "setSettleTimeout"] as const).map(
      (name) => channels.interface.getFunction(name).selector,
    ),
    GRID_OPERATOR,
  );
  await manager.setTargetFunctionRole(
    channelsAddress,
    [channels.interface.getFunction("upgradeToAndCall").selector],
    UPGRADER,
  );
  await manager.grantRole(GRID_OPERATOR, grid!.address, 0);
  await manager.grantRole(UPGRADER, admin!.address, 0);
  await manager.grantRole(PRODUCER, alice!.address, 0);
  await manager.grantRole(CONSUMER, bob!.address, 0);
  await manager.grantRole(CONSUMER, carol!.address, 0);
  for (const member of [alice!, bob!, carol!]) {
    await credit.connect(grid!).mint(member.address, FUNDS, ZERO_HASH);
    await credit.connect(member).approve(channelsAddress, FUNDS);
  }
  const { chainId } = await ethers.provider.getNetwork();
  const domain: ChannelsDomain = { chainId, verifyingContract: channelsAddress };
  return {
    connection,
    ethers,
    networkHelpers,
    manager,
    credit,
    channels,
    deployPaymentChannels,
    domain,
    admin: admin!,
    grid: grid!,
    alice: alice!,
    bob: bob!,
    carol: carol!,
    mallory: mallory!,
    relayer: relayer!,
  };
}

/** Signs a balance proof's fields under one intent with ethers' standard EIP-712 path. */
export function signProofIntent(
  signer: HardhatEthersSigner,
  domain: ChannelsDomain,
  intent: ProofIntent,
  fields: BalanceProofFields,
): Promise<string> {
  return signer.signTypedData(typedDataDomain(domain), INTENT_TYPES[intent], fields);
}

/** A balance proof ready for `closeChannel` / `updateBalanceProof`. */
export async function signedProof(
  signer: HardhatEthersSigner,
  domain: ChannelsDomain,
  fields: BalanceProofFields,
) {
  return { ...fields, signature: await signProofIntent(signer, domain, "BalanceProof", fields) };
}

export type WithdrawTerms = {
  totalWithdraw: bigint;
  expiry: bigint;
  nonce?: bigint;
  transferredAmount?: bigint;
  partnerNonce?: bigint;
  partnerTransferredAmount?: bigint;
};

/** `withdraw` arguments for `participant`, signed by it and by `partner` (bound payments default to none). */
export async function signedWithdraw(
  domain: ChannelsDomain,
  channelId: bigint,
  participant: HardhatEthersSigner,
  partner: HardhatEthersSigner,
  terms: WithdrawTerms,
) {
  const intent = {
    participant: participant.address,
    totalWithdraw: terms.totalWithdraw,
    expiry: terms.expiry,
    nonce: terms.nonce ?? 0n,
    transferredAmount: terms.transferredAmount ?? 0n,
    partnerNonce: terms.partnerNonce ?? 0n,
    partnerTransferredAmount: terms.partnerTransferredAmount ?? 0n,
  };
  const fields = { channelId, ...intent };
  const sign = (signer: HardhatEthersSigner) =>
    signer.signTypedData(typedDataDomain(domain), INTENT_TYPES.Withdraw, fields);
  return [channelId, intent, await sign(participant), await sign(partner)] as const;
}

export type CooperativeTerms = {
  amount1: bigint;
  amount2: bigint;
  expiry: bigint;
  nonce1?: bigint;
  nonce2?: bigint;
};

/** `cooperativeSettle` arguments signed by both participants (`one` is participant1). */
export async function signedCooperativeSettle(
  domain: ChannelsDomain,
  channelId: bigint,
  one: HardhatEthersSigner,
  two: HardhatEthersSigner,
  terms: CooperativeTerms,
) {
  const settlement = {
    amount1: terms.amount1,
    nonce1: terms.nonce1 ?? 0n,
    amount2: terms.amount2,
    nonce2: terms.nonce2 ?? 0n,
    expiry: terms.expiry,
  };
  const fields = {
    channelId,
    participant1: one.address,
    participant2: two.address,
    ...settlement,
  };
  const sign = (signer: HardhatEthersSigner) =>
    signer.signTypedData(typedDataDomain(domain), INTENT_TYPES.CooperativeSettle, fields);
  return [channelId, settlement, await sign(one), await sign(two)] as const;
}

/** Opens a channel from `a` to `b` and deposits for both; returns its id. */
export async function openFunded(
  fixture: ChannelsFixture,
  a: HardhatEthersSigner,
  b: HardhatEthersSigner,
  depositA: bigint,
  depositB: bigint,
): Promise<bigint> {
  const { channels } = fixture;
  await channels.connect(a).openChannel(b.address);
  const channelId = await channels.lastChannelId();
  if (depositA > 0n) await channels.connect(a).setTotalDeposit(channelId, a.address, depositA);
  if (depositB > 0n) await channels.connect(b).setTotalDeposit(channelId, b.address, depositB);
  return channelId;
}
