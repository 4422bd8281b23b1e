import { setTimeout as sleep } from "node:timers/promises";
import { Interface, keccak256, toUtf8Bytes } from "ethers";
import { EnergyMarket__factory } from "../../types/ethers-contracts/index.js";
import { OperatorError } from "../errors.js";
import { batchGasLimit, batches, refusedItems } from "../market/batch.js";
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
 * Both go in batches (one transaction per `MAX_BATCH_ITEMS` orders), as the grid operator would:
 * a refused item fails that order alone.
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
  const shortCount = Math.round(count * shortfallShare);
  const items = chosen.map(({ trade, run, orderId }, index) => {
    const short = index < shortCount;
    return { trade, run, orderId, short, delivered: short ? (wh * 8n) / 10n : wh };
  });
  // Each item's outcome until a batch says otherwise; a refused item or a failed batch fails it.
  const failed = new Map<string, string>();
  // The meter's readings go in batches, one transaction each; then the shortfalls, likewise.
  const send = async (
    kind: "meter" | "settle_default",
    batch: typeof items,
    data: string,
  ): Promise<void> => {
    try {
      const result = await tracker.sendAs(sender, kind, contracts.market, data, {
        gasLimit: batchGasLimit(batch.length),
      });
      if (result.status !== "success") throw new Error(`${kind} batch ${result.hash} reverted`);
      for (const [orderId, reason] of refusedItems(MARKET, result.logs))
        failed.set(orderId.toString(), `${kind} refused: ${reason}`);
    } catch (error) {
      for (const item of batch) failed.set(item.orderId, (error as Error).message);
    }
  };
  for (const batch of batches(items)) {
    await send(
      "meter",
      batch,
      MARKET.encodeFunctionData("recordMeterReadings", [
        batch.map(({ orderId, delivered }) => ({
          orderId: BigInt(orderId),
          meterId: keccak256(toUtf8Bytes(`gridchain load test order ${orderId}`)),
          readingWh: delivered + 1n,
          deliveredWh: delivered,
        })),
      ]),
    );
  }
  const shortfalls = items.filter((item) => item.short && !failed.has(item.orderId));
  for (const batch of batches(shortfalls)) {
    await send(
      "settle_default",
      batch,
      MARKET.encodeFunctionData("settleDefaults", [batch.map(({ orderId }) => BigInt(orderId))]),
    );
  }
  for (const { trade, run, orderId, short, delivered } of items) {
    const detail = failed.get(orderId);
    ctx.journal.write({
      t: "metered",
      trade,
      run,
      orderId,
      deliveredWh: delivered.toString(),
      outcome: detail !== undefined ? "failed" : short ? "default settled" : "delivered",
      ...(detail === undefined ? {} : { detail }),
      at: Date.now(),
    });
  }
  ctx.log(
    `metering: ${count} orders metered, ${shortCount} shortfalls settled from bonds, in ${batches(items).length + batches(shortfalls).length} transactions, ${failed.size} failed`,
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
