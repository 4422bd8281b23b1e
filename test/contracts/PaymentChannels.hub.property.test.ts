import { expect } from "chai";
import fc from "fast-check";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { encodeLocks, lockShare, type Lock, type OrderOutcome } from "../../ops/channels/locks.js";
import {
  closeWith,
  deployLockWorld,
  lockedProof,
  openChannel,
  reveal,
  updateWith,
  type LockWorld,
  meter,
} from "../helpers/locks.js";
import { publishOffer, requestOrder } from "../helpers/market.js";

/**
 * Random interleavings of payments, locks, order outcomes, closes, updates and settles across the
 * hub's two channels (alice -> hub, hub -> solar), checked against a model of the latest proofs:
 * every channel pays out exactly its deposits, and each party that closed with its partner's
 * latest proof (or did not close) gets at least, and with honest closes exactly, what its latest
 * proofs and the market's outcomes entitle it to.
 */
const ORDERS = 2;
const QUANTITY_WH = 4_000n;
const PRICE = 1_000_000n; // 4 kWh at 0.25 credits per kWh
const FEE = 40_000n; // 0.01 credits per kWh on 4 kWh
const DEPOSIT = 3_000_000n;

type Hop = 0 | 1;
type Op =
  | { kind: "pay"; hop: Hop; back: boolean; amount: bigint }
  | { kind: "lock"; order: number }
  | { kind: "release"; hop: Hop; order: number }
  | { kind: "cancel"; order: number }
  | { kind: "meter"; order: number; deliveredWh: bigint }
  | { kind: "close"; hop: Hop; byFirst: boolean; stale: boolean };

const hop = fc.constantFrom<Hop>(0, 1);
const order = fc.integer({ min: 0, max: ORDERS - 1 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant("pay" as const),
    hop,
    back: fc.boolean(),
    amount: fc.bigInt({ min: 1n, max: 400_000n }),
  }),
  fc.record({ kind: fc.constant("lock" as const), order }),
  fc.record({ kind: fc.constant("lock" as const), order }),
  fc.record({ kind: fc.constant("release" as const), hop, order }),
  fc.record({ kind: fc.constant("cancel" as const), order }),
  fc.record({
    kind: fc.constant("meter" as const),
    order,
    deliveredWh: fc.constantFrom(0n, 1_000n, 2_500n, QUANTITY_WH),
  }),
  fc.record({
    kind: fc.constant("close" as const),
    hop,
    byFirst: fc.boolean(),
    stale: fc.boolean(),
  }),
);

type Side = { signer: HardhatEthersSigner; deposit: bigint; proofs: Proof[]; locks: Lock[] };
type Proof = Awaited<ReturnType<typeof lockedProof>> & { locks: Lock[]; transferred: bigint };
type Channel = { id: bigint; sides: [Side, Side]; closed: boolean; staleCloser?: number };

describe("PaymentChannels across the hub (property)", function () {
  this.timeout(600_000);
  let w: LockWorld;
  let orderIds: bigint[];

  before(async () => {
    w = await deployLockWorld();
    orderIds = [];
    for (let i = 0; i < ORDERS; i++) {
      const offerId = await publishOffer(w, w.solar, QUANTITY_WH);
      const orderId = await requestOrder(w, w.alice, offerId, QUANTITY_WH);
      await w.market.connect(w.solar).confirm(orderId);
      orderIds.push(orderId);
    }
  });

  it("conserves value and pays each honest party its latest proofs and the market's outcomes", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 16 }), async (ops) => {
        const snapshot = await w.connection.networkHelpers.takeSnapshot();
        try {
          await runScenario(w, orderIds, ops);
        } finally {
          await snapshot.restore();
        }
      }),
      { numRuns: 30 },
    );
  });
});

async function runScenario(w: LockWorld, orderIds: bigint[], ops: Op[]): Promise<void> {
  const side = (signer: HardhatEthersSigner, deposit: bigint): Side => ({
    signer,
    deposit,
    proofs: [],
    locks: [],
  });
  const channels: [Channel, Channel] = [
    {
      id: await openChannel(w, w.alice, w.grid, DEPOSIT),
      sides: [side(w.alice, DEPOSIT), side(w.grid, 0n)],
      closed: false,
    },
    {
      id: await openChannel(w, w.grid, w.solar, DEPOSIT),
      sides: [side(w.grid, DEPOSIT), side(w.solar, 0n)],
      closed: false,
    },
  ];
  const outcomes = new Map<bigint, OrderOutcome>();
  let metered = false;
  let reading = 0n;
  const transferred = (s: Side) => s.proofs.at(-1)?.transferred ?? 0n;
  const locked = (s: Side) => s.locks.reduce((sum, l) => sum + l.amount, 0n);
  /** What an honest sender may still commit: deposit + received - sent - locked. */
  const room = (c: Channel, i: number) => {
    const self = c.sides[i]!;
    const other = c.sides[1 - i]!;
    return self.deposit + transferred(other) - transferred(self) - locked(self);
  };
  const send = async (c: Channel, i: number, amount: bigint, locks: Lock[]) => {
    const s = c.sides[i]!;
    const total = transferred(s) + amount;
    const proof = await lockedProof(w, s.signer, c.id, BigInt(s.proofs.length + 1), total, locks);
    s.proofs.push({ ...proof, locks, transferred: total });
    s.locks = locks;
  };

  for (const step of ops) {
    if (step.kind === "pay") {
      const c = channels[step.hop];
      const i = step.back ? 1 : 0;
      if (!c.closed && step.amount <= room(c, i)) await send(c, i, step.amount, c.sides[i]!.locks);
    } else if (step.kind === "lock") {
      const id = orderIds[step.order]!;
      const [a, b] = channels;
      const open =
        !outcomes.has(id) && !a.closed && !a.sides[0].locks.some((l) => l.orderId === id);
      if (!open || room(a, 0) < PRICE) continue;
      await send(a, 0, 0n, [...a.sides[0].locks, { orderId: id, amount: PRICE }]);
      // The hub forwards if it can; otherwise it refuses and only holds the incoming lock.
      if (!b.closed && room(b, 0) >= PRICE - FEE)
        await send(b, 0, 0n, [...b.sides[0].locks, { orderId: id, amount: PRICE - FEE }]);
    } else if (step.kind === "release") {
      const c = channels[step.hop];
      const id = orderIds[step.order]!;
      const lock = c.sides[0].locks.find((l) => l.orderId === id);
      const outcome = outcomes.get(id);
      if (c.closed || !lock || !outcome) continue;
      await send(
        c,
        0,
        lockShare(lock, outcome),
        c.sides[0].locks.filter((l) => l !== lock),
      );
    } else if (step.kind === "cancel") {
      const id = orderIds[step.order]!;
      if (metered || outcomes.has(id)) continue;
      await w.market.connect(w.grid).cancelOrder(id);
      outcomes.set(id, { decided: true, deliveredWh: 0n, quantityWh: QUANTITY_WH });
    } else if (step.kind === "meter") {
      const id = orderIds[step.order]!;
      if (outcomes.has(id)) continue;
      await meterOrder(id, step.deliveredWh);
    } else {
      const c = channels[step.hop];
      if (!c.closed) await close(c, step.byFirst ? 0 : 1, step.stale);
    }
  }
  for (const id of orderIds) if (!outcomes.has(id)) await meterOrder(id, 2_500n);
  for (const c of channels) if (!c.closed) await close(c, 0, false);
  const now = BigInt(await w.connection.networkHelpers.time.latest());
  await w.connection.networkHelpers.time.increaseTo(now + 3_601n);

  for (const c of channels) {
    const paid = [0n, 0n];
    const addressOf = c.sides.map((s) => s.signer.address);
    const credit = (address: string, amount: bigint) => {
      paid[addressOf.indexOf(address)]! += amount;
    };
    // Settlement clears the participants: read which proof each side has recorded first.
    const recorded = await Promise.all(
      c.sides.map(async (s) => (await w.channels.getParticipant(c.id, s.signer.address))[2]),
    );
    const receipt = await (await w.channels.settleChannel(c.id)).wait();
    for (const log of receipt!.logs) {
      const parsed = w.channels.interface.parseLog(log);
      if (parsed?.name === "ChannelSettled") {
        credit(parsed.args.participant1, parsed.args.amount1);
        credit(parsed.args.participant2, parsed.args.amount2);
      }
    }
    for (const [i, s] of c.sides.entries()) {
      if ((await w.channels.pendingLocks(c.id, s.signer.address)).amount === 0n) continue;
      const locks = s.proofs[Number(recorded[i]!) - 1]!.locks;
      const unlock = await (
        await w.channels.unlock(c.id, s.signer.address, encodeLocks(locks))
      ).wait();
      for (const log of unlock!.logs) {
        const parsed = w.channels.interface.parseLog(log);
        if (parsed?.name === "LocksUnlocked") {
          credit(parsed.args.receiver, parsed.args.toReceiver);
          credit(parsed.args.sender, parsed.args.toSender);
        }
      }
    }
    // Conservation: the channel paid out exactly its deposits.
    expect(paid[0]! + paid[1]!).to.equal(c.sides[0].deposit + c.sides[1].deposit);
    // Entitlement from the latest proofs and the outcomes: deposit - sent + received - own locks' shares + partner's.
    for (const i of [0, 1]) {
      if (c.staleCloser === i) continue;
      const self = c.sides[i]!;
      const other = c.sides[1 - i]!;
      const shares = (locks: Lock[]) =>
        locks.reduce((sum, l) => sum + lockShare(l, outcomes.get(l.orderId)!), 0n);
      const entitled =
        self.deposit -
        transferred(self) +
        transferred(other) -
        shares(self.locks) +
        shares(other.locks);
      // A partner closing with a stale proof of this side's payments only leaves it more.
      if (c.staleCloser === undefined) expect(paid[i]).to.equal(entitled);
      else expect(paid[i]! >= entitled).to.equal(true);
    }
  }

  async function meterOrder(id: bigint, deliveredWh: bigint) {
    metered = true;
    reading += 10n;
    await meter(w, id, deliveredWh, reading);
    outcomes.set(id, { decided: true, deliveredWh, quantityWh: QUANTITY_WH });
  }

  /** `closer` closes with the partner's latest proof (or the one before, if stale); the partner updates. */
  async function close(c: Channel, closer: number, stale: boolean) {
    const me = c.sides[closer]!;
    const partner = c.sides[1 - closer]!;
    const proofs = partner.proofs;
    const cited = stale && proofs.length >= 2 ? proofs[proofs.length - 2]! : proofs.at(-1);
    if (cited === undefined) {
      const empty = await lockedProof(w, partner.signer, c.id, 0n, 0n, []);
      await closeWith(w, me.signer, c.id, empty);
    } else {
      await closeWith(w, me.signer, c.id, cited);
      if (cited.locks.length > 0)
        await reveal(w, me.signer, partner.signer, c.id, cited, cited.locks);
    }
    if (cited !== proofs.at(-1)) c.staleCloser = closer;
    const own = me.proofs.at(-1);
    if (own !== undefined) {
      await updateWith(w, partner.signer, me.signer, c.id, own);
      if (own.locks.length > 0) await reveal(w, partner.signer, me.signer, c.id, own, own.locks);
    }
    c.closed = true;
  }
}
