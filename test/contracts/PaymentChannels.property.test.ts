import { expect } from "chai";
import fc from "fast-check";
import { ZERO_HASH } from "../../ops/channels/proofs.js";
import {
  SETTLE_TIMEOUT,
  deployChannels,
  signedCooperativeSettle,
  signProofIntent,
  signedWithdraw,
  signedProof,
  type ChannelsFixture,
} from "../helpers/channels.js";

type Side = 0 | 1;
type Op =
  | { kind: "deposit"; side: Side; amount: bigint }
  | { kind: "pay"; side: Side; amount: bigint }
  | { kind: "withdraw"; side: Side; amount: bigint };
type Exit = { kind: "cooperative" } | { kind: "close"; closer: Side; staleAtClose: boolean };

const side = fc.constantFrom<Side>(0, 1);
const amount = fc.bigInt({ min: 1n, max: 1_000n });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("deposit" as const), side, amount }),
  fc.record({ kind: fc.constant("pay" as const), side, amount }),
  fc.record({ kind: fc.constant("pay" as const), side, amount }),
  fc.record({ kind: fc.constant("withdraw" as const), side, amount }),
);
const exit: fc.Arbitrary<Exit> = fc.oneof(
  fc.record({ kind: fc.constant("cooperative" as const) }),
  fc.record({ kind: fc.constant("close" as const), closer: side, staleAtClose: fc.boolean() }),
);

describe("PaymentChannels conservation (property)", () => {
  let f: ChannelsFixture;
  before(async () => {
    f = await deployChannels();
  });

  it("pays out exactly deposits minus withdrawals, each side exactly its net balance", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), exit, async (ops, end) => {
        const snapshot = await f.networkHelpers.takeSnapshot();
        try {
          await runScenario(f, ops, end);
        } finally {
          await snapshot.restore();
        }
      }),
      { numRuns: 25 },
    );
  });
});

async function runScenario(f: ChannelsFixture, ops: Op[], end: Exit): Promise<void> {
  const { channels, credit, domain } = f;
  const people = [f.alice, f.bob] as const;
  await channels.connect(f.alice).openChannel(f.bob.address);
  const channelId = await channels.lastChannelId();
  const deposit = [0n, 0n];
  const withdrawn = [0n, 0n];
  const transferred = [0n, 0n];
  // Every proof each side sent: [nonce, cumulative amount].
  const sent: [bigint, bigint][][] = [[], []];
  const balance = (s: Side) => deposit[s]! - withdrawn[s]! + transferred[1 - s]! - transferred[s]!;
  const bound = (s: Side) => ({
    nonce: BigInt(sent[s]!.length),
    transferredAmount: transferred[s]!,
    partnerNonce: BigInt(sent[1 - s]!.length),
    partnerTransferredAmount: transferred[1 - s]!,
  });
  const before = [await credit.balanceOf(f.alice.address), await credit.balanceOf(f.bob.address)];

  for (const step of ops) {
    const who = people[step.side];
    if (step.kind === "deposit") {
      deposit[step.side]! += step.amount;
      await channels.connect(who).setTotalDeposit(channelId, who.address, deposit[step.side]!);
    } else if (step.kind === "pay") {
      if (step.amount > balance(step.side)) continue;
      transferred[step.side]! += step.amount;
      sent[step.side]!.push([BigInt(sent[step.side]!.length + 1), transferred[step.side]!]);
    } else {
      if (step.amount > balance(step.side)) continue;
      withdrawn[step.side]! += step.amount;
      await channels.withdraw(
        ...(await signedWithdraw(domain, channelId, who, people[1 - step.side]!, {
          totalWithdraw: withdrawn[step.side]!,
          expiry: BigInt(await f.networkHelpers.time.latest()) + 3600n,
          // The withdrawal binds both sides' latest payments, as the partner's client signs it.
          ...bound(step.side),
        })),
      );
    }
  }

  const net = [balance(0), balance(1)];
  if (end.kind === "cooperative") {
    await channels.cooperativeSettle(
      ...(await signedCooperativeSettle(domain, channelId, f.alice, f.bob, {
        amount1: net[0]!,
        amount2: net[1]!,
        nonce1: BigInt(sent[0]!.length),
        nonce2: BigInt(sent[1]!.length),
        expiry: BigInt(await f.networkHelpers.time.latest()) + 600n,
      })),
    );
  } else {
    const closer = end.closer;
    const partner = (1 - closer) as Side;
    const proofOf = async (s: Side, which: "latest" | "stale") => {
      const list = sent[s]!;
      const entry = which === "latest" ? list[list.length - 1] : list[0];
      if (!entry) return undefined;
      return signedProof(people[s], domain, {
        channelId,
        nonce: entry[0],
        transferredAmount: entry[1],
        additionalHash: ZERO_HASH,
      });
    };
    const atClose = (await proofOf(partner, end.staleAtClose ? "stale" : "latest")) ?? {
      nonce: 0n,
      transferredAmount: 0n,
      additionalHash: ZERO_HASH,
      signature: "0x",
    };
    await channels.closeChannel(
      channelId,
      people[closer].address,
      atClose,
      await signProofIntent(people[closer], domain, "Close", { ...atClose, channelId }),
    );
    // Each beneficiary (or its watcher) brings the other side's latest proof if it is newer.
    for (const s of [closer, partner]) {
      const latest = await proofOf(s, "latest");
      const [, , recorded] = await channels.getParticipant(channelId, people[s].address);
      if (!latest || latest.nonce <= recorded) continue;
      const update = await signProofIntent(people[1 - s]!, domain, "Update", latest);
      await channels.updateBalanceProof(channelId, people[s].address, latest, update);
    }
    await f.networkHelpers.time.increase(SETTLE_TIMEOUT + 1n);
    await channels.settleChannel(channelId);
  }

  const after = [await credit.balanceOf(f.alice.address), await credit.balanceOf(f.bob.address)];
  const paidOut = [
    after[0]! - before[0]! + deposit[0]! - withdrawn[0]!,
    after[1]! - before[1]! + deposit[1]! - withdrawn[1]!,
  ];
  expect(paidOut[0]! + paidOut[1]!).to.equal(
    deposit[0]! + deposit[1]! - withdrawn[0]! - withdrawn[1]!,
  );
  expect(paidOut).to.deep.equal(net);
  expect(await credit.balanceOf(await channels.getAddress())).to.equal(0n);
}
