import { Registry } from "prom-client";
import {
  FAILURE_REASONS,
  TRANSACTION_KINDS,
  TRADE_OUTCOMES,
  createMetric,
} from "../metrics/catalogue.js";
import type { TradeEnd, TxEvent } from "./protocol.js";

/** Seconds over which the achieved transaction rate is averaged. */
const RATE_WINDOW_SECONDS = 5;

/**
 * The load test's Prometheus metrics (names and labels from the catalogue), fed by the
 * coordinator from what the workers report: one registry for the whole test, however many workers.
 */
export class LoadTestMetrics {
  readonly registry = new Registry();
  private readonly submitted = createMetric(
    this.registry,
    "gridchain_loadtest_transactions_submitted_total",
  );
  private readonly confirmed = createMetric(
    this.registry,
    "gridchain_loadtest_transactions_confirmed_total",
  );
  private readonly confirmation = createMetric(
    this.registry,
    "gridchain_loadtest_confirmation_seconds",
  );
  private readonly trades = createMetric(this.registry, "gridchain_loadtest_trades_total");
  private readonly failures = createMetric(
    this.registry,
    "gridchain_loadtest_trade_failures_total",
  );
  private readonly inFlight = createMetric(this.registry, "gridchain_loadtest_trades_in_flight");
  private readonly offered = createMetric(
    this.registry,
    "gridchain_loadtest_offered_transactions_per_second",
  );
  private readonly achieved = createMetric(
    this.registry,
    "gridchain_loadtest_achieved_transactions_per_second",
  );
  private readonly payments = createMetric(
    this.registry,
    "gridchain_loadtest_channel_payments_total",
  );
  private readonly paymentSeconds = createMetric(
    this.registry,
    "gridchain_loadtest_channel_payment_seconds",
  );
  /** Confirmation times (ms) of the last window, for the achieved rate. */
  private readonly recent: number[] = [];

  constructor() {
    // Every series exists from the first scrape, so rate() and ratios have a start point.
    for (const outcome of TRADE_OUTCOMES) this.trades.inc({ outcome }, 0);
    for (const reason of FAILURE_REASONS) this.failures.inc({ reason }, 0);
    for (const kind of TRANSACTION_KINDS) {
      this.submitted.inc({ kind }, 0);
      for (const status of ["success", "reverted"] as const)
        this.confirmed.inc({ kind, status }, 0);
    }
    this.inFlight.set(0);
    this.offered.set(0);
    this.achieved.set(0);
    this.payments.inc({ outcome: "ok" }, 0);
    this.payments.inc({ outcome: "failed" }, 0);
  }

  tradeStarted(): void {
    this.inFlight.inc();
  }

  tx(event: TxEvent): void {
    this.submitted.inc({ kind: event.kind });
    if (event.status === "lost" || event.minedAt === undefined) return;
    this.confirmed.inc({ kind: event.kind, status: event.status });
    this.confirmation.observe(
      { kind: event.kind },
      Math.max(0, event.minedAt - event.sentAt) / 1000,
    );
    this.recent.push(event.minedAt);
  }

  tradeEnded(
    end: Pick<TradeEnd, "outcome" | "reason" | "paymentSeconds" | "failedPayments">,
  ): void {
    this.inFlight.dec();
    this.trades.inc({ outcome: end.outcome });
    if (end.outcome === "failed") this.failures.inc({ reason: end.reason ?? "other" });
    for (const seconds of end.paymentSeconds) {
      this.payments.inc({ outcome: "ok" });
      this.paymentSeconds.observe(seconds);
    }
    if (end.failedPayments) this.payments.inc({ outcome: "failed" }, end.failedPayments);
  }

  /** The transaction rate the scenario asks for right now (trades/s x transactions per trade). */
  offer(transactionsPerSecond: number): void {
    this.offered.set(transactionsPerSecond);
  }

  /** Recomputes the achieved rate over the last window; called once a second. */
  tick(now = Date.now()): void {
    const from = now - RATE_WINDOW_SECONDS * 1000;
    while (this.recent.length > 0 && this.recent[0]! < from) this.recent.shift();
    this.achieved.set(this.recent.length / RATE_WINDOW_SECONDS);
  }
}
