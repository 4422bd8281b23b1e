import { setTimeout as sleep } from "node:timers/promises";
import { Interface, keccak256, toUtf8Bytes } from "ethers";
import { EnergyMarket__factory } from "../../types/ethers-contracts/index.js";
import { OperatorError } from "../errors.js";
import type { TradeTracker } from "./confirmations.js";
import type { LoadTestContext } from "./context.js";
import type { Worker } from "./types.js";

const MARKET = new Interface(EnergyMarket__factory.abi);

/** Manual review: the grid operator approves the order (the load test's operator says yes). */
export async function approveOrder(
  ctx: LoadTestContext,
  tracker: TradeTracker,
  worker: Worker,
  trade: number,
  orderId: string,
): Promise<void> {
  const flight = tracker.inFlight.get(trade);
  try {
    const result = await tracker.sendAs(
      ctx.operator!,
      "review",
      ctx.options.contracts.market,
      MARKET.encodeFunctionData("approveOrder", [BigInt(orderId)]),
      { trade, run: flight?.run },
    );
    worker.handle.send({
      type: "reviewed",
      trade,
      approved: result.status === "success",
      ...(result.status === "success" ? {} : { detail: `approveOrder ${result.hash} reverted` }),
    });
  } catch (error) {
    worker.handle.send({
      type: "reviewed",
      trade,
      approved: false,
      detail: (error as Error).message,
    });
  }
}

/**
 * Metering a sample after the delivery window: the meter records a reading for a share of the
 * executed orders, a part of them short, and the short ones are settled from the seller's bond.
 */
export async function meter(ctx: LoadTestContext, tracker: TradeTracker): Promise<void> {
  const { scenario, accounts, contracts } = ctx.options;
  const { sample, shortfallShare, maxWaitSeconds } = scenario.metering;
  const executed = tracker.executed;
  if (sample <= 0 || executed.length === 0) return;
  const count = Math.max(1, Math.round(executed.length * sample));
  const step = executed.length / count;
  const chosen = Array.from({ length: count }, (_, i) => executed[Math.floor(i * step)]!);
  const windowEnd = Math.max(...chosen.map((trade) => ctx.runWindows.get(trade.run)!.end));
  const meterAccount = accounts.find((account) => account.role === "meter");
  if (meterAccount === undefined) throw new OperatorError("the consortium has no meter account");
  tracker.report({ phase: "metering" });
  const head = async () =>
    Number(
      BigInt(
        (await ctx.rpc.call<{ timestamp: string }>("eth_getBlockByNumber", ["latest", false]))
          .timestamp,
      ),
    );
  const waitSeconds = windowEnd - (await head());
  if (waitSeconds > maxWaitSeconds) {
    const detail = `the sampled delivery windows end in ${waitSeconds} s; metering.maxWaitSeconds is ${maxWaitSeconds}`;
    ctx.journal.write({ t: "metering-skipped", at: Date.now(), windowEnd, detail });
    ctx.log(`metering skipped: ${detail}`);
    return;
  }
  if (waitSeconds > 0)
    ctx.log(`metering: waiting ${waitSeconds} s for the delivery windows to end`);
  while (!ctx.interrupted && (await head()) <= windowEnd) await sleep(500);
  if (ctx.interrupted) return;
  const sender = ctx.senderFor(meterAccount.id);
  await sender.init();
  const wh = BigInt(ctx.terms.wh);
  await Promise.all(
    chosen.map(async ({ trade, run, orderId }, index) => {
      const short = index < Math.round(count * shortfallShare);
      const delivered = short ? (wh * 8n) / 10n : wh;
      const meterId = keccak256(toUtf8Bytes(`gridchain load test order ${orderId}`));
      let outcome: "delivered" | "default settled" | "failed" = short
        ? "default settled"
        : "delivered";
      let detail: string | undefined;
      try {
        const reading = await tracker.sendAs(
          sender,
          "meter",
          contracts.market,
          MARKET.encodeFunctionData("recordMeterReading", [
            BigInt(orderId),
            meterId,
            delivered + 1n,
            delivered,
          ]),
          { trade, run },
        );
        if (reading.status !== "success")
          throw new Error(`recordMeterReading ${reading.hash} reverted`);
        if (short) {
          const settled = await tracker.sendAs(
            sender,
            "settle_default",
            contracts.market,
            MARKET.encodeFunctionData("settleDefault", [BigInt(orderId)]),
            { trade, run },
          );
          if (settled.status !== "success")
            throw new Error(`settleDefault ${settled.hash} reverted`);
        }
      } catch (error) {
        outcome = "failed";
        detail = (error as Error).message;
      }
      ctx.journal.write({
        t: "metered",
        trade,
        run,
        orderId,
        deliveredWh: delivered.toString(),
        outcome,
        ...(detail === undefined ? {} : { detail }),
        at: Date.now(),
      });
    }),
  );
  ctx.log(
    `metering: ${count} orders metered, ${Math.round(count * shortfallShare)} shortfalls settled from bonds`,
  );
}

/**
 * Records the grid's income the market holds (tariffs and kept capacity fees, GridCredit base
 * units), read from the chain before the first run and after metering: the report takes the test's
 * income as after minus before, since the grid is paid when orders are metered.
 */
export async function recordGridIncome(
  ctx: LoadTestContext,
  phase: "before" | "after",
): Promise<void> {
  const data = await ctx.rpc.call<string>("eth_call", [
    { to: ctx.options.contracts.market, data: MARKET.encodeFunctionData("gridIncome") },
    "latest",
  ]);
  const [income] = MARKET.decodeFunctionResult("gridIncome", data) as unknown as [bigint];
  ctx.journal.write({ t: "grid-income", phase, at: Date.now(), credits: income.toString() });
}
