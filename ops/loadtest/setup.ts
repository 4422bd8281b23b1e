import { Interface, keccak256, toUtf8Bytes } from "ethers";
import { GridCredit__factory, GridReview__factory } from "../../types/ethers-contracts/index.js";
import { OperatorError } from "../errors.js";
import type { TradeTracker } from "./confirmations.js";
import type { LoadTestContext } from "./context.js";
import { requireAgents } from "./preflight.js";
import type { AgentSpec } from "./protocol.js";
import { agentSplit } from "./scenario.js";
import type { Supervisor } from "./supervision.js";
import type { Epoch } from "./types.js";

const CREDIT = new Interface(GridCredit__factory.abi);
const REVIEW = new Interface(GridReview__factory.abi);
const REVIEW_MODES = { auto: 0n, manual: 1n } as const;

/** The first producers and consumers of the consortium, each consumer assigned a seller. */
export function pickAgents(ctx: LoadTestContext): AgentSpec[] {
  const { scenario, accounts, keyOf } = ctx.options;
  const wantedProducers = agentSplit(scenario).producers;
  const wantedConsumers = scenario.agents - wantedProducers;
  requireAgents(scenario, accounts);
  const producers = accounts.filter((account) => account.role === "producer");
  const consumers = accounts.filter((account) => account.role === "consumer");
  const agents: AgentSpec[] = [];
  const chosenProducers = producers.slice(0, wantedProducers);
  for (const account of chosenProducers) {
    agents.push({
      id: account.id,
      address: account.address,
      role: "producer",
      zone: account.zone,
      key: keyOf(account.id),
    });
  }
  consumers.slice(0, wantedConsumers).forEach((account, index) => {
    agents.push({
      id: account.id,
      address: account.address,
      role: "consumer",
      zone: account.zone,
      key: keyOf(account.id),
      seller: chosenProducers[index % chosenProducers.length]!.id,
    });
  });
  return agents;
}

/**
 * Mints, from the grid operator, what each agent lacks for its bond or channel deposit: all
 * mints pipelined from one nonce manager, not one round trip each. Sets up the grid operator's
 * sender the rest of the test uses; returns how many mints it sent.
 */
export async function fund(
  ctx: LoadTestContext,
  tracker: TradeTracker,
  agents: AgentSpec[],
): Promise<number> {
  const { contracts, accounts } = ctx.options;
  const operatorAccount = accounts.find((account) => account.role === "grid-operator");
  if (operatorAccount === undefined)
    throw new OperatorError("the consortium has no grid operator account");
  const operator = ctx.senderFor(operatorAccount.id);
  ctx.operator = operator;
  await operator.init();
  const needs = agents.map((agent) => ({
    agent,
    need:
      agent.role === "producer"
        ? BigInt(ctx.terms.bond)
        : BigInt(ctx.terms.buyerBond) +
          (ctx.terms.paymentsPerTrade > 0 ? BigInt(ctx.terms.channelDeposit) : 0n),
  }));
  const balances = await Promise.all(
    needs.map(({ agent }) =>
      ctx.rpc.call<string>("eth_call", [
        { to: contracts.credit, data: CREDIT.encodeFunctionData("balanceOf", [agent.address]) },
        "latest",
      ]),
    ),
  );
  const mints = needs
    .map(({ agent, need }, index) => ({ agent, missing: need - BigInt(balances[index]!) }))
    .filter(({ missing }) => missing > 0n);
  const ref = keccak256(toUtf8Bytes("gridchain load test funding"));
  const results = await Promise.all(
    mints.map(({ agent, missing }) =>
      tracker.sendAs(
        operator,
        "mint",
        contracts.credit,
        CREDIT.encodeFunctionData("mint", [agent.address, missing, ref]),
      ),
    ),
  );
  const reverted = results.filter((result) => result.status !== "success").length;
  if (reverted > 0)
    throw new OperatorError(`${reverted} funding mints reverted`, {
      hint: "is the grid operator's role granted? run 'gridchain deploy'",
    });
  if (mints.length > 0) ctx.log(`funding: minted credits to ${mints.length} agents`);
  return mints.length;
}

/**
 * Where any consumer buys from any producer, a consumer buys across zones and reserves line
 * capacity: the market takes the capacity fee from its bond. Sizes that bond like its channel
 * deposit, for twice its share of the trades, at the review's fee per kWh.
 */
export async function sizeBuyerBond(ctx: LoadTestContext): Promise<void> {
  if (ctx.terms.topology === "direct" || ctx.terms.path !== "standing") return;
  const [fee] = REVIEW.decodeFunctionResult(
    "capacityFee",
    await ctx.rpc.call<string>("eth_call", [
      { to: ctx.options.contracts.review, data: REVIEW.encodeFunctionData("capacityFee") },
      "latest",
    ]),
  ) as unknown as [bigint];
  const price = BigInt(ctx.terms.pricePerKwh);
  const trades = (BigInt(ctx.terms.channelDeposit) * 1000n) / (BigInt(ctx.terms.wh) * price);
  ctx.terms.buyerBond = ((trades * BigInt(ctx.terms.wh) * fee) / 1000n).toString();
}

/** Switches the review to the scenario's mode for the test and back to what it was after it. */
export class ReviewSwitch {
  /** The review mode the test found, when it switched it for the test. */
  private before: { mode: bigint; threshold: bigint } | undefined;

  constructor(
    private readonly ctx: LoadTestContext,
    private readonly tracker: TradeTracker,
  ) {}

  async apply(): Promise<void> {
    const { ctx } = this;
    const wanted = ctx.options.scenario.review.mode;
    if (wanted === "as-deployed") return;
    const review = ctx.options.contracts.review;
    const [mode, threshold] = REVIEW.decodeFunctionResult(
      "reviewMode",
      await ctx.rpc.call<string>("eth_call", [
        { to: review, data: REVIEW.encodeFunctionData("reviewMode") },
        "latest",
      ]),
    ) as unknown as [bigint, bigint];
    if (mode === REVIEW_MODES[wanted]) return;
    const result = await this.tracker.sendAs(
      ctx.operator!,
      "review",
      review,
      REVIEW.encodeFunctionData("setReviewMode", [REVIEW_MODES[wanted], 0n]),
    );
    if (result.status !== "success") {
      throw new OperatorError(`switching the review to ${wanted} reverted (${result.hash})`);
    }
    this.before = { mode, threshold };
    ctx.log(`review: switched to ${wanted} for the test`);
  }

  async restore(): Promise<void> {
    if (this.before === undefined) return;
    const { mode, threshold } = this.before;
    const result = await this.tracker.sendAs(
      this.ctx.operator!,
      "review",
      this.ctx.options.contracts.review,
      REVIEW.encodeFunctionData("setReviewMode", [mode, threshold]),
    );
    if (result.status !== "success") {
      throw new OperatorError(`restoring the review mode reverted (${result.hash})`, {
        hint: "set it again with 'gridchain deploy'",
      });
    }
    this.ctx.log("review: switched back to the mode it had before the test");
  }
}

/**
 * An epoch's offers are for a delivery slot that starts after its last run can have ended
 * (orders are confirmed before the offer expires at the window's start), each epoch in a slot
 * of its own.
 */
export async function publishOffers(
  ctx: LoadTestContext,
  supervisor: Supervisor,
  epoch: Epoch,
): Promise<void> {
  const { slotSeconds } = ctx.options.capacity;
  const head = await ctx.rpc.call<{ timestamp: string }>("eth_getBlockByNumber", ["latest", false]);
  const now = Number(BigInt(head.timestamp));
  const lead = Math.ceil(epoch.seconds + ctx.terms.tradeTimeoutSeconds + 10);
  let start = Math.ceil((now + lead) / slotSeconds) * slotSeconds;
  const previous = ctx.runWindows.get(epoch.runs[0]! - 1);
  if (previous !== undefined && start < previous.end) start = previous.end;
  const end = start + slotSeconds;
  for (const run of epoch.runs) ctx.runWindows.set(run, { start, end });
  const producers = supervisor.workers.flatMap((worker) =>
    worker.agents.filter((agent) => agent.role === "producer"),
  );
  const perProducer = Math.ceil((epoch.trades / Math.max(1, producers.length)) * 2) + 5;
  const started = Date.now();
  const answers = await Promise.all(
    supervisor.workers
      .filter((worker) => worker.alive)
      .map((worker) => {
        const wh: Record<string, string> = {};
        for (const agent of worker.agents)
          if (agent.role === "producer")
            wh[agent.id] = (BigInt(perProducer) * BigInt(ctx.terms.wh)).toString();
        const done = supervisor.expect(worker, "offers-done");
        worker.handle.send({
          type: "offers",
          run: epoch.runs[0]!,
          deliveryStart: start,
          deliveryEnd: end,
          wh,
        });
        return done;
      }),
  );
  const offers: Record<string, string> = {};
  for (const answer of answers)
    if (answer.type === "offers-done") Object.assign(offers, answer.offers);
  ctx.journal.write({
    t: "offers",
    run: epoch.runs[0]!,
    at: Date.now(),
    seconds: (Date.now() - started) / 1000,
    offers: Object.keys(offers).length,
  });
  // Where any consumer buys from any producer, every worker needs every producer's offer.
  if (ctx.terms.topology !== "direct") {
    ctx.offerBook = offers;
    for (const worker of supervisor.workers)
      if (worker.alive) worker.handle.send({ type: "offer-book", offers });
  }
}
