/**
 * Payment channel benchmark: off-chain payments per second (sign + verify + persist, both sides
 * in this one process, each proof durable before it is released) and the gas of every on-chain
 * channel step next to paying the same amounts with one GridCredit transfer each, and payments
 * mediated by the hub (buyer -> hub -> seller, each hop a lock on the same order).
 *
 * Run: npm run bench:channels   (hardhat run ops/bench/channels.ts on the in-process chain)
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import hre from "hardhat";
import { upgrades as upgradesFor } from "@openzeppelin/hardhat-upgrades";
import { SigningKey, type ContractTransactionResponse } from "ethers";
import type {
  GridAccessManager,
  GridCredit,
  PaymentChannels,
} from "../../types/ethers-contracts/index.js";
import { ChannelClient } from "../channels/client.js";
import { acceptLock, acceptRelease, lockOrder, releaseLock } from "../channels/dvp.js";
import { HubMediator } from "../channels/hub.js";
import { Pairing } from "../loadtest/pairing.js";
import type { OrderSource, OutcomeSource } from "../channels/market.js";
import { ethersEcdsa, libsecp256k1Ecdsa, type Ecdsa } from "../channels/ecdsa.js";
import {
  ChannelsTypedData,
  INTENT_TYPES,
  ZERO_HASH,
  typedDataDomain,
  type ChannelsDomain,
} from "../channels/proofs.js";

const DOMAIN: ChannelsDomain = {
  chainId: 31337n,
  verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
};

type OffchainResult = { ecdsa: string; window: number; payments: number; perSecond: number };

/** `payments` payments from a payer client to a payee client, `window` of them in flight. */
async function offchain(ecdsa: Ecdsa, payments: number, window: number): Promise<OffchainResult> {
  const dir = await mkdtemp(join(tmpdir(), "gridchain-bench-"));
  try {
    const payer = await ChannelClient.start({
      key: new SigningKey(`0x${"61".repeat(32)}`),
      domain: DOMAIN,
      storePath: join(dir, "payer.jsonl"),
      ecdsa,
    });
    const payee = await ChannelClient.start({
      key: new SigningKey(`0x${"62".repeat(32)}`),
      domain: DOMAIN,
      storePath: join(dir, "payee.jsonl"),
      ecdsa,
    });
    const deposit = BigInt(payments) * 10n;
    await payer.track({
      channelId: 1n,
      partner: payee.address,
      participant1: payer.address,
      selfDeposit: deposit,
      partnerDeposit: 0n,
    });
    await payee.track({
      channelId: 1n,
      partner: payer.address,
      participant1: payer.address,
      selfDeposit: 0n,
      partnerDeposit: deposit,
    });
    const started = process.hrtime.bigint();
    const inFlight = new Set<Promise<void>>();
    for (let i = 0; i < payments; i++) {
      // Proofs resolve in nonce order (one batch after the other), so receive sees them in order.
      const payment = payer.pay(1n, 7n).then((proof) => payee.receive(proof));
      const tracked = payment.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
      if (inFlight.size >= window) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (payee.balanceOf(1n) !== BigInt(payments) * 7n) throw new Error("payee balance is wrong");
    await payer.stop();
    await payee.stop();
    return { ecdsa: ecdsa.name, window, payments, perSecond: payments / seconds };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

type MediatedResult = { pairs: number; payments: number; pending: number; perSecond: number };

/**
 * Payments through the hub: `pairs` buyer/seller pairs at once, each buyer with its own channel to
 * the hub and the hub with one to each seller. A payment is the buyer's lock, the hub's forward less
 * its fee, and the seller's acceptance; once `pending` locks are open per pair, each new payment also
 * releases the oldest order on both hops (its outcome decided: delivered in full), so the proofs stay
 * small as in steady operation. Every proof is durable at its sender and its receiver.
 */
async function mediated(pairs: number, perPair: number, pending: number): Promise<MediatedResult> {
  const dir = await mkdtemp(join(tmpdir(), "gridchain-bench-hub-"));
  const key = (i: number) => new SigningKey(`0x${(i + 1).toString(16).padStart(64, "0")}`);
  const start = (k: SigningKey, name: string) =>
    ChannelClient.start({ key: k, domain: DOMAIN, storePath: join(dir, `${name}.jsonl`) });
  try {
    const buyers = await Promise.all(
      Array.from({ length: pairs }, (_, i) => start(key(i), `b${i}`)),
    );
    const sellers = await Promise.all(
      Array.from({ length: pairs }, (_, i) => start(key(1000 + i), `s${i}`)),
    );
    const orders: OrderSource = {
      address: "0x000000000000000000000000000000000000a11e",
      getOrder: async (orderId) => {
        const pair = Number(orderId / 1_000_000n);
        return {
          buyer: buyers[pair]!.address,
          seller: sellers[pair]!.address,
          offerId: 1n,
          quantityWh: 1_000n,
          pricePerKwh: 250_000n,
          deliveryStart: 900n,
          deliveryEnd: 1800n,
          defaultAmount: 0n,
          status: 7n,
        };
      },
    };
    const outcomes: OutcomeSource = {
      outcome: async () => ({ decided: true, deliveredWh: 1_000n, quantityWh: 1_000n }),
    };
    const hub = await HubMediator.start({
      key: key(5000),
      domain: DOMAIN,
      storePath: join(dir, "hub.jsonl"),
      orders,
      feePerKwh: 10_000n,
    });
    const funds = BigInt(perPair) * 1_000_000n;
    for (let i = 0; i < pairs; i++) {
      const [buyer, seller] = [buyers[i]!, sellers[i]!];
      const inbound = BigInt(2 * i + 1);
      const outbound = BigInt(2 * i + 2);
      const view = (partner: string, participant1: string, self: bigint, other: bigint) => ({
        partner,
        participant1,
        selfDeposit: self,
        partnerDeposit: other,
      });
      await buyer.track({
        channelId: inbound,
        ...view(hub.client.address, buyer.address, funds, 0n),
      });
      await hub.client.track({
        channelId: inbound,
        ...view(buyer.address, buyer.address, 0n, funds),
      });
      await hub.client.track({
        channelId: outbound,
        ...view(seller.address, hub.client.address, funds, 0n),
      });
      await seller.track({
        channelId: outbound,
        ...view(hub.client.address, hub.client.address, 0n, funds),
      });
    }
    const started = process.hrtime.bigint();
    await Promise.all(
      buyers.map(async (buyer, i) => {
        const seller = sellers[i]!;
        const [inbound, outbound] = [BigInt(2 * i + 1), BigInt(2 * i + 2)];
        for (let k = 0; k < perPair; k++) {
          const orderId = BigInt(i) * 1_000_000n + BigInt(k);
          const forward = await hub.mediate(
            await lockOrder(buyer, orders, orderId, inbound),
            orderId,
          );
          await acceptLock(seller, orders, forward, { orderId, minAmount: 0n });
          if (k < pending) continue;
          const old = orderId - BigInt(pending);
          await acceptRelease(
            hub.client,
            outcomes,
            await releaseLock(buyer, outcomes, inbound, old),
          );
          await acceptRelease(
            seller,
            outcomes,
            await releaseLock(hub.client, outcomes, outbound, old),
          );
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    for (const c of [...buyers, ...sellers, hub.client]) await c.stop();
    const payments = pairs * perPair;
    return { pairs, payments, pending, perSecond: payments / seconds };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Signatures and recoveries per second of one implementation, no storage. */
function rawCrypto(ecdsa: Ecdsa, count: number) {
  const typed = new ChannelsTypedData(DOMAIN);
  const key = new SigningKey(`0x${"63".repeat(32)}`);
  const digests = Array.from({ length: count }, (_, i) =>
    typed.proofDigest("BalanceProof", {
      channelId: 1n,
      nonce: BigInt(i + 1),
      transferredAmount: BigInt(i),
      additionalHash: ZERO_HASH,
    }),
  );
  let t = performance.now();
  const signatures = digests.map((digest) => ecdsa.sign(key, digest));
  const sign = count / ((performance.now() - t) / 1000);
  t = performance.now();
  for (let i = 0; i < count; i++) ecdsa.recover(digests[i]!, signatures[i]!);
  const recover = count / ((performance.now() - t) / 1000);
  return { sign, recover };
}

async function gas(): Promise<Record<string, bigint>> {
  const connection = await hre.network.create();
  const { ethers, networkHelpers } = connection;
  const upgrades = await upgradesFor(hre, connection);
  const [admin, grid, alice, bob, carol] = await ethers.getSigners();
  const manager = (await upgrades.deployProxy(
    await ethers.getContractFactory("GridAccessManager"),
    [admin!.address],
    { kind: "uups" },
  )) as unknown as GridAccessManager;
  const credit = (await upgrades.deployProxy(
    await ethers.getContractFactory("GridCredit"),
    [await manager.getAddress()],
    { kind: "uups" },
  )) as unknown as GridCredit;
  const channels = (await upgrades.deployProxy(
    await ethers.getContractFactory("PaymentChannels"),
    [await manager.getAddress(), await credit.getAddress(), 3600n],
    { kind: "uups" },
  )) as unknown as PaymentChannels;
  const channelsAddress = await channels.getAddress();
  await manager.setTargetFunctionRole(
    await credit.getAddress(),
    [credit.interface.getFunction("mint").selector],
    2n,
  );
  await manager.grantRole(2n, grid!.address, 0);
  await manager.grantRole(5n, alice!.address, 0);
  await manager.grantRole(4n, bob!.address, 0);
  for (const who of [alice!, bob!]) {
    await credit.connect(grid!).mint(who.address, 10n ** 12n, ZERO_HASH);
    await credit.connect(who).approve(channelsAddress, 10n ** 12n);
  }
  const domain = typedDataDomain({
    chainId: (await ethers.provider.getNetwork()).chainId,
    verifyingContract: channelsAddress,
  });
  const used = async (tx: Promise<ContractTransactionResponse>) =>
    (await (await tx).wait())!.gasUsed;
  const result: Record<string, bigint> = {};

  // A first approval, as each participant gives once before its first channel deposit.
  await credit.connect(grid!).mint(carol!.address, 10n ** 12n, ZERO_HASH);
  result["approve (first)"] = await used(
    credit.connect(carol!).approve(channelsAddress, 10n ** 6n),
  );

  // An ERC-20 transfer per payment: the seller already holds credits (warm, non-zero balance).
  result["GridCredit transfer (one payment on chain)"] = await used(
    credit.connect(alice!).transfer(bob!.address, 1_000n),
  );

  result["open"] = await used(channels.connect(alice!).openChannel(bob!.address));
  result["deposit (first)"] = await used(
    channels.connect(alice!).setTotalDeposit(1n, alice!.address, 1_000_000n),
  );
  result["deposit (top-up)"] = await used(
    channels.connect(alice!).setTotalDeposit(1n, alice!.address, 2_000_000n),
  );
  const expiry = BigInt(await networkHelpers.time.latest()) + 600n;
  const w = {
    participant: alice!.address,
    totalWithdraw: 100n,
    expiry,
    nonce: 0n,
    transferredAmount: 0n,
    partnerNonce: 0n,
    partnerTransferredAmount: 0n,
  };
  result["withdraw"] = await used(
    channels.withdraw(
      1n,
      w,
      await alice!.signTypedData(domain, INTENT_TYPES.Withdraw, { channelId: 1n, ...w }),
      await bob!.signTypedData(domain, INTENT_TYPES.Withdraw, { channelId: 1n, ...w }),
    ),
  );
  const cs = { amount1: 1_000_000n, nonce1: 0n, amount2: 999_900n, nonce2: 0n, expiry };
  const csFields = {
    channelId: 1n,
    participant1: alice!.address,
    participant2: bob!.address,
    ...cs,
  };
  result["cooperative settle"] = await used(
    channels.cooperativeSettle(
      1n,
      cs,
      await alice!.signTypedData(domain, INTENT_TYPES.CooperativeSettle, csFields),
      await bob!.signTypedData(domain, INTENT_TYPES.CooperativeSettle, csFields),
    ),
  );

  await channels.connect(alice!).openChannel(bob!.address);
  await channels.connect(alice!).setTotalDeposit(2n, alice!.address, 1_000_000n);
  await channels.connect(bob!).setTotalDeposit(2n, bob!.address, 1_000_000n);
  const fromAlice = {
    channelId: 2n,
    nonce: 500n,
    transferredAmount: 400_000n,
    additionalHash: `0x${"ab".repeat(32)}`,
  };
  const fromBob = { ...fromAlice, nonce: 20n, transferredAmount: 30_000n };
  const aliceProof = {
    ...fromAlice,
    signature: await alice!.signTypedData(domain, INTENT_TYPES.BalanceProof, fromAlice),
  };
  const bobProof = {
    ...fromBob,
    signature: await bob!.signTypedData(domain, INTENT_TYPES.BalanceProof, fromBob),
  };
  result["close"] = await used(
    channels.closeChannel(
      2n,
      bob!.address,
      aliceProof,
      await bob!.signTypedData(domain, INTENT_TYPES.Close, fromAlice),
    ),
  );
  result["update"] = await used(
    channels.updateBalanceProof(
      2n,
      bob!.address,
      bobProof,
      await alice!.signTypedData(domain, INTENT_TYPES.Update, fromBob),
    ),
  );
  await networkHelpers.time.increase(3601);
  result["settle"] = await used(channels.settleChannel(2n));
  return result;
}

/**
 * Gas to pay a load test's executed trades by each topology, every channel opened, funded and
 * settled cooperatively: the hub's one channel per participant, a direct channel per traded pair
 * (the seeded pairing of the load test, consumers in turn), or one transfer per trade.
 */
function topologies(g: Record<string, bigint>): void {
  const settled = Number(
    g["open"]! + g["approve (first)"]! + g["deposit (first)"]! + g["cooperative settle"]!,
  );
  const transfer = Number(g["GridCredit transfer (one payment on chain)"]);
  const approve = Number(g["approve (first)"]);
  console.log(
    `\ngas per settled channel (open, approve, deposit, cooperative settle): ${fmt(settled)}`,
  );
  console.log(
    "  shape                              topology  channels  gas (millions)  payments per channel",
  );
  for (const [name, producers, consumers, trades] of [
    ["smoke (4 producers, 8 consumers)", 4, 8, 60],
    ["paper (600 producers, 2400 consumers)", 600, 2400, 4597],
  ] as const) {
    const pairing = new Pairing(1, producers);
    const pairs = new Set<string>();
    for (let trade = 1; trade <= trades; trade++)
      pairs.add(`${(trade - 1) % consumers}>${pairing.sellerOf(trade)}`);
    const rows: [string, number, number][] = [
      // The producers' channels are funded by the hub, which approves once for all of them.
      [
        "hub",
        producers + consumers,
        (producers + consumers) * (settled - approve) + (consumers + 1) * approve,
      ],
      ["direct", pairs.size, pairs.size * settled],
      ["onchain", 0, trades * transfer],
    ];
    for (const [topology, channels, gas] of rows) {
      const perChannel = channels === 0 ? "—" : (trades / channels).toFixed(2);
      console.log(
        `  ${name.padEnd(36)} ${topology.padEnd(9)} ${String(channels).padStart(8)}  ${(gas / 1e6).toFixed(1).padStart(14)}  ${perChannel.padStart(20)}`,
      );
    }
  }
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

const ecdsas = [libsecp256k1Ecdsa, ethersEcdsa].filter((e): e is Ecdsa => e !== undefined);

console.log("off-chain payments (sign + verify + persist with fdatasync, one process, one core)");
for (const ecdsa of ecdsas) {
  const raw = rawCrypto(ecdsa, ecdsa === ethersEcdsa ? 500 : 5_000);
  console.log(
    `  ${ecdsa.name}: sign ${fmt(raw.sign)}/s, recover ${fmt(raw.recover)}/s (no storage)`,
  );
  const many = ecdsa === ethersEcdsa ? 1_000 : 20_000;
  for (const [window, payments] of [
    [1, Math.min(many, 2_000)],
    [32, many],
    [128, many],
  ] as const) {
    const r = await offchain(ecdsa, payments, window);
    const mode = window === 1 ? "one fdatasync per payment" : `group commit, ${window} in flight`;
    console.log(`  ${ecdsa.name}, ${mode}: ${fmt(r.perSecond)} payments/s (${payments} payments)`);
  }
}

console.log(
  "\nmediated payments through the hub (lock, forward less fee, accept; releases in steady state)",
);
for (const [pairs, perPair] of [
  [1, 400],
  [16, 125],
  [64, 40],
] as const) {
  const r = await mediated(pairs, perPair, 8);
  console.log(
    `  ${pairs} buyer/seller pair${pairs === 1 ? "" : "s"} at once, ${r.pending} locks pending per pair: ${fmt(r.perSecond)} payments/s (${r.payments} payments)`,
  );
}

const g = await gas();
console.log("\non-chain gas per step");
for (const [step, value] of Object.entries(g))
  console.log(`  ${step.padEnd(42)} ${fmt(Number(value))}`);
const transfer = Number(g["GridCredit transfer (one payment on chain)"]);
topologies(g);
const happy = Number(g["open"]! + 2n * g["deposit (first)"]! + g["cooperative settle"]!);
const dispute = Number(
  g["open"]! + 2n * g["deposit (first)"]! + g["close"]! + g["update"]! + g["settle"]!,
);
console.log("\nN payments: gas on chain (one transfer each) vs one channel");
console.log("  N        transfers      channel (cooperative)   channel (close/update/settle)");
for (const n of [1, 10, 100, 1_000, 10_000]) {
  console.log(
    `  ${String(n).padEnd(8)} ${fmt(n * transfer).padStart(12)}   ${fmt(happy).padStart(20)}   ${fmt(dispute).padStart(26)}`,
  );
}
