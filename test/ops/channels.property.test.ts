import { expect } from "chai";
import fc from "fast-check";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SigningKey, Wallet } from "ethers";
import { ChannelClient, type Signed } from "../../ops/channels/client.js";
import {
  ZERO_HASH,
  type CooperativeSettleFields,
  type SignedBalanceProof,
  type WithdrawFields,
} from "../../ops/channels/proofs.js";
import {
  CONSUMER,
  FUNDS,
  PRODUCER,
  SETTLE_TIMEOUT,
  deployChannels,
  type ChannelsFixture,
} from "../helpers/channels.js";

const KEY_MALLORY = new SigningKey(`0x${"51".repeat(32)}`);
const KEY_HONEST = new SigningKey(`0x${"52".repeat(32)}`);

type Who = "mallory" | "honest";
type Op =
  | { kind: "pay"; from: Who; amount: bigint; deliver: boolean }
  | { kind: "deposit"; who: Who; amount: bigint }
  | { kind: "withdraw"; who: Who; amount: bigint; submitNow: boolean }
  | { kind: "lateWithdraw" }
  | { kind: "offer"; signer: Who }
  | { kind: "submitOffer"; newest: boolean }
  | { kind: "time"; seconds: bigint };
type End = { closer: Who; staleProof: boolean };

const who = fc.constantFrom<Who>("mallory", "honest");
const amount = fc.bigInt({ min: 1n, max: 300n });
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("pay" as const),
      from: who,
      amount,
      deliver: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("deposit" as const), who, amount }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("withdraw" as const),
      who,
      amount,
      submitNow: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("lateWithdraw" as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("offer" as const), signer: who }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("submitOffer" as const), newest: fc.boolean() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("time" as const),
      seconds: fc.bigInt({ min: 1n, max: 400n }),
    }),
  },
);
const end: fc.Arbitrary<End> = fc.record({ closer: who, staleProof: fc.boolean() });

/**
 * Random interleavings of payments, withdrawals, cooperative settlements, deposits, block time,
 * closes, updates and settles between an honest client and "mallory", who signs with a real client
 * but also submits everything it ever received on chain directly, whenever it likes: old
 * withdrawal confirmations, old cooperative offers, a stale proof at close. Whatever it does, value
 * is conserved and the honest side ends with at least what its own latest proofs entitle it to:
 * its deposits, plus the latest total it accepted, minus the latest total it signed.
 */
describe("channels: honest clients against any interleaving (property)", function () {
  this.timeout(300_000);
  let f: ChannelsFixture;
  const wallets = {} as Record<Who, Wallet>;

  before(async () => {
    f = await deployChannels();
    for (const [name, key, role] of [
      ["mallory", KEY_MALLORY, CONSUMER],
      ["honest", KEY_HONEST, PRODUCER],
    ] as const) {
      const wallet = new Wallet(key.privateKey, f.ethers.provider);
      await f.admin.sendTransaction({ to: wallet.address, value: 10n ** 18n });
      await f.manager.grantRole(role, wallet.address, 0);
      await f.credit.connect(f.grid).mint(wallet.address, FUNDS, ZERO_HASH);
      wallets[name] = wallet;
    }
  });

  it("conserves value and never leaves the honest side below its latest proofs", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 10 }), end, async (ops, finish) => {
        const snapshot = await f.networkHelpers.takeSnapshot();
        const dir = await mkdtemp(join(tmpdir(), "gridchain-channels-property-"));
        try {
          await run(f, wallets, dir, ops, finish);
        } finally {
          await snapshot.restore();
          await rm(dir, { recursive: true, force: true });
        }
      }),
      {
        numRuns: 60,
        // The attacks the rules exist for are always among the runs.
        examples: [
          [
            [
              { kind: "withdraw", who: "mallory", amount: 300n, submitNow: false },
              { kind: "pay", from: "mallory", amount: 300n, deliver: true },
              { kind: "lateWithdraw" },
            ],
            { closer: "honest", staleProof: false },
          ],
          [
            [
              { kind: "pay", from: "mallory", amount: 100n, deliver: true },
              { kind: "offer", signer: "honest" },
              { kind: "pay", from: "mallory", amount: 150n, deliver: true },
              { kind: "submitOffer", newest: false },
            ],
            { closer: "honest", staleProof: false },
          ],
        ],
      },
    );
  });
});

async function attempt<T>(action: () => Promise<T>): Promise<T | undefined> {
  try {
    return await action();
  } catch {
    return undefined;
  }
}

async function run(
  f: ChannelsFixture,
  wallets: Record<Who, Wallet>,
  dir: string,
  ops: Op[],
  finish: End,
): Promise<void> {
  const { channels, credit } = f;
  const clients = {} as Record<Who, ChannelClient>;
  for (const name of ["mallory", "honest"] as const) {
    clients[name] = await ChannelClient.start({
      key: name === "mallory" ? KEY_MALLORY : KEY_HONEST,
      domain: f.domain,
      storePath: join(dir, `${name}.jsonl`),
      chain: { channels: channels.connect(wallets[name]), token: credit.connect(wallets[name]) },
    });
  }
  try {
    await play(f, clients, ops, finish);
  } finally {
    for (const client of Object.values(clients)) await client.stop();
  }
}

async function play(
  f: ChannelsFixture,
  clients: Record<Who, ChannelClient>,
  ops: Op[],
  finish: End,
): Promise<void> {
  const { channels, credit } = f;
  const { mallory, honest } = clients;
  const key = (name: Who) => (name === "mallory" ? KEY_MALLORY : KEY_HONEST);
  const other = (name: Who): Who => (name === "mallory" ? "honest" : "mallory");
  const start = {
    mallory: await credit.balanceOf(mallory.address),
    honest: await credit.balanceOf(honest.address),
    contract: await credit.balanceOf(await channels.getAddress()),
  };
  const channelId = await mallory.openChannel(honest.address);
  await mallory.deposit(channelId, 300n);
  await honest.sync(channelId);
  await honest.deposit(channelId, 100n);
  await mallory.sync(channelId);

  // Everything mallory ever got its hands on, to replay at will.
  const heldWithdrawals: Signed<WithdrawFields>[] = [];
  const heldOffers: Signed<CooperativeSettleFields>[] = [];
  const proofsOfHonest: SignedBalanceProof[] = [];
  let settled = false;

  const submitWithdrawal = async (held: Signed<WithdrawFields>) => {
    const { channelId: id, ...intent } = held.fields;
    const own = key("mallory").sign(mallory.typedData.withdrawDigest(held.fields)).serialized;
    await channels.withdraw(id, intent, own, held.signature);
  };

  for (const step of ops) {
    if (settled) break;
    if (step.kind === "pay") {
      const proof = await attempt(() => clients[step.from].pay(channelId, step.amount));
      if (!proof) continue;
      if (step.from === "honest") proofsOfHonest.push(proof);
      if (step.deliver) await attempt(() => clients[other(step.from)].receive(proof));
    } else if (step.kind === "deposit") {
      const client = clients[step.who];
      await attempt(() =>
        client.deposit(channelId, client.channel(channelId).selfDeposit + step.amount),
      );
      await clients[other(step.who)].sync(channelId);
    } else if (step.kind === "withdraw") {
      const participant = clients[step.who];
      const totalWithdraw = participant.channel(channelId).selfWithdrawn + step.amount;
      const expiry = BigInt(await f.networkHelpers.time.latest()) + 300n;
      const confirmation = await attempt(() =>
        clients[other(step.who)].confirmWithdraw(channelId, { totalWithdraw, expiry }),
      );
      if (!confirmation) continue;
      if (step.who === "honest") {
        if (step.submitNow) await attempt(() => honest.withdraw(confirmation));
      } else {
        heldWithdrawals.push(confirmation);
        if (step.submitNow) await attempt(() => submitWithdrawal(confirmation));
      }
      await mallory.sync(channelId);
      await honest.sync(channelId);
    } else if (step.kind === "lateWithdraw") {
      const held = heldWithdrawals.shift();
      if (held) await attempt(() => submitWithdrawal(held));
      await mallory.sync(channelId);
      await honest.sync(channelId);
    } else if (step.kind === "offer") {
      const expiry = BigInt(await f.networkHelpers.time.latest()) + 300n;
      const offer = await attempt(() =>
        clients[step.signer].cooperativeSettleSignature(channelId, expiry),
      );
      if (!offer) continue;
      if (step.signer === "honest") heldOffers.push(offer);
      else if (await attempt(() => honest.cooperativeSettle(offer).then(() => true)))
        settled = true;
    } else if (step.kind === "submitOffer") {
      const held = step.newest ? heldOffers.pop() : heldOffers.shift();
      if (!held) continue;
      const { channelId: id, participant1: _p1, participant2: _p2, ...settlement } = held.fields;
      const own = key("mallory").sign(
        mallory.typedData.cooperativeSettleDigest(held.fields),
      ).serialized;
      const first = held.fields.participant1 === mallory.address;
      const done = await attempt(async () =>
        (
          await channels.cooperativeSettle(
            id,
            settlement,
            first ? own : held.signature,
            first ? held.signature : own,
          )
        ).wait(),
      );
      if (done) settled = true;
    } else {
      await f.networkHelpers.time.increase(step.seconds);
      await mallory.sync(channelId);
      await honest.sync(channelId);
    }
  }

  if (!settled) {
    if (finish.closer === "honest") {
      await honest.close(channelId);
    } else {
      // Mallory closes with the oldest proof of the honest side it holds, or none at all.
      const stale = finish.staleProof ? proofsOfHonest[0] : undefined;
      const proof = stale ?? {
        nonce: 0n,
        transferredAmount: 0n,
        additionalHash: ZERO_HASH,
        signature: "0x",
      };
      const closeSignature = key("mallory").sign(
        mallory.typedData.proofDigest("Close", { ...proof, channelId }),
      ).serialized;
      await channels.closeChannel(channelId, mallory.address, proof, closeSignature);
    }
    // The honest side (or its watcher) brings mallory's latest proof; mallory never updates.
    await honest.update(channelId);
    await f.networkHelpers.time.increase(SETTLE_TIMEOUT + 1n);
    await channels.settleChannel(channelId);
  }

  const view = honest.channel(channelId);
  const final = {
    mallory: await credit.balanceOf(mallory.address),
    honest: await credit.balanceOf(honest.address),
    contract: await credit.balanceOf(await channels.getAddress()),
  };
  expect(final.mallory + final.honest + final.contract).to.equal(
    start.mallory + start.honest + start.contract,
  );
  expect(final.contract).to.equal(start.contract);
  const entitled = (view.received?.transferredAmount ?? 0n) - (view.sent?.transferredAmount ?? 0n);
  expect(
    final.honest - start.honest >= entitled,
    `honest got ${final.honest - start.honest}, entitled to ${entitled}`,
  ).to.equal(true);
}
