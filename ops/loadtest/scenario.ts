import { readFileSync } from "node:fs";
import { z } from "zod/v4";
import { OperatorError } from "../errors.js";
import { creditsSchema } from "../consortium/spec.js";
import { parseYamlWith } from "../yaml.js";
import { MAX_MEDIATION_FEE_PER_KWH } from "../channels/locks.js";

const positiveInt = z.number().int().positive();

/** How the load test pays its orders (see `payments` below). */
export const PAYMENT_TOPOLOGIES = ["hub", "direct", "onchain"] as const;
export type PaymentTopology = (typeof PAYMENT_TOPOLOGIES)[number];
const share = z.number().min(0).max(1);

const runSchema = z
  .object({
    /** Trades the run signs; or */
    trades: positiveInt.optional(),
    /** seconds the run keeps starting trades. */
    durationSeconds: positiveInt.optional(),
    /** Overrides the scenario's open-loop rate for this run. */
    tradesPerSecond: z.number().positive().optional(),
  })
  .strict()
  .refine((run) => (run.trades === undefined) !== (run.durationSeconds === undefined), {
    message: "a run has either trades or durationSeconds",
  });

export const scenarioSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "lower-case letters, digits and '-'"),
    /** Trading nodes simulated; each is one consortium account with its own key. */
    agents: positiveInt,
    /** Share of the agents that are producers (the rest are consumers). */
    producerShare: share.default(0.2),
    runs: z.array(runSchema).min(1),
    load: z
      .object({
        model: z.enum(["open", "closed"]).default("open"),
        /** Open loop: trades started per second, reached after a linear ramp. */
        tradesPerSecond: z.number().positive().default(20),
        rampSeconds: z.number().min(0).default(0),
        /** Closed loop: trades kept in flight. */
        inFlight: positiveInt.default(50),
      })
      .strict()
      .prefault({}),
    trade: z
      .object({
        wh: positiveInt.default(1000),
        /** Credits per kWh, as a decimal string (6 decimals). */
        pricePerKwh: creditsSchema.default(120_000n),
        defaultPerKwh: creditsSchema.default(50_000n),
        /** Off-chain channel payments per trade (installments); 0 pays nothing. */
        paymentsPerTrade: z.number().int().min(0).max(1000).default(20),
        /**
         * How a trade reaches the chain: `standing` offers carry the seller's acceptance terms, so
         * the consumer's `buy` establishes the order in one transaction; `request-confirm` is the
         * two-transaction path (the consumer requests, the seller confirms or rejects).
         */
        path: z.enum(["standing", "request-confirm"]).default("standing"),
        /** Share of requests the seller turns down (`request-confirm` only: exercises `rejected`). */
        rejectShare: share.default(0),
      })
      .strict()
      .prefault({}),
    /**
     * How orders are paid (when `trade.paymentsPerTrade` > 0): `hub` - every participant keeps one
     * channel with the grid operator's hub, any consumer buys from any producer (seeded random
     * pairing) and each order is paid with one lock on its outcome, buyer -> hub -> seller;
     * `direct` - each consumer keeps a channel with one fixed seller and pays in
     * `paymentsPerTrade` installments; `onchain` - one GridCredit transfer per order (the baseline).
     */
    payments: z
      .object({
        topology: z.enum(PAYMENT_TOPOLOGIES).default("direct"),
        /** Seeds the consumer-producer pairing of `hub` and `onchain`: the same seed, the same pairs. */
        pairingSeed: z.number().int().min(0).max(0xffffffff).default(1),
        /** The hub's mediation fee, GridCredit per kWh forwarded (the grid company's income). */
        hubFeePerKwh: creditsSchema.default(1_000n),
      })
      .strict()
      .prefault({}),
    /**
     * The grid's review during the test: as deployed, or switched for the test (and switched
     * back after it): `auto` reviews inside the seller's confirmation, `manual` makes every order
     * wait for the grid operator, whom the coordinator plays (it approves).
     */
    review: z
      .object({ mode: z.enum(["as-deployed", "auto", "manual"]).default("as-deployed") })
      .strict()
      .prefault({}),
    metering: z
      .object({
        /** Share of executed trades the grid's meter records after their delivery window. */
        sample: share.default(0),
        /** Share of the metered trades that deliver less than ordered (a default is settled). */
        shortfallShare: share.default(0.25),
        /** Longest the test waits for the last metered window to end. */
        maxWaitSeconds: z.number().int().min(0).default(300),
      })
      .strict()
      .prefault({}),
    timeouts: z
      .object({
        confirmationSeconds: positiveInt.default(30),
        tradeSeconds: positiveInt.default(90),
      })
      .strict()
      .prefault({}),
    workers: positiveInt.max(64).default(2),
    runner: z.enum(["process", "docker"]).default("process"),
    docker: z
      .object({
        cpus: z.number().positive().default(1),
        memoryMiB: positiveInt.default(1024),
      })
      .strict()
      .prefault({}),
    /**
     * Stress: runs are generated, one per step of rising rate, until success falls below the floor
     * or p99 confirmation exceeds the bound; the report names the last good step (the knee).
     */
    stress: z
      .object({
        startTradesPerSecond: z.number().positive(),
        stepTradesPerSecond: z.number().positive(),
        maxTradesPerSecond: z.number().positive(),
        stepSeconds: positiveInt,
        successFloor: share.default(0.999),
        p99BlockPeriods: z.number().positive().default(2),
      })
      .strict()
      .optional(),
  })
  .strict();

export type Scenario = z.infer<typeof scenarioSchema>;
export type RunPlan = Scenario["runs"][number];

/** Built-in scenarios: a small one for CI, the paper's, and a rate ramp. */
export const PRESETS = {
  smoke: {
    name: "smoke",
    agents: 12,
    producerShare: 1 / 3,
    runs: [{ trades: 40 }, { trades: 20 }],
    load: { model: "open", tradesPerSecond: 10, rampSeconds: 1 },
    trade: { paymentsPerTrade: 20 },
    metering: { sample: 0.1, maxWaitSeconds: 120 },
    timeouts: { confirmationSeconds: 10, tradeSeconds: 20 },
    workers: 2,
  },
  paper: {
    name: "paper",
    agents: 3000,
    producerShare: 0.2,
    runs: [{ trades: 1128 }, { trades: 1836 }, { trades: 952 }, { trades: 583 }, { trades: 98 }],
    load: { model: "open", tradesPerSecond: 50, rampSeconds: 2 },
    trade: { wh: 500, paymentsPerTrade: 25 },
    metering: { sample: 0.01 },
    workers: 2,
  },
  stress: {
    name: "stress",
    agents: 3000,
    producerShare: 0.2,
    runs: [{ durationSeconds: 20 }],
    trade: { wh: 100, paymentsPerTrade: 0 },
    stress: {
      startTradesPerSecond: 50,
      stepTradesPerSecond: 50,
      maxTradesPerSecond: 800,
      stepSeconds: 20,
    },
    workers: 2,
  },
} as const;

export type PresetName = keyof typeof PRESETS;

/** A preset, validated like a file (so a preset can never drift from the schema). */
export function presetScenario(name: string): Scenario {
  if (!(name in PRESETS)) {
    throw new OperatorError(`no preset named ${name}`, {
      hint: `use one of ${Object.keys(PRESETS).join(", ")}, or --scenario <file>`,
    });
  }
  return scenarioSchema.parse(structuredClone(PRESETS[name as PresetName]));
}

/** Reads and validates a scenario YAML file; one OperatorError names the file, path and line. */
export function loadScenario(file: string): Scenario {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new OperatorError(`${file}: cannot read the scenario file`, {
      details: (error as Error).message,
      hint: "pass a scenario with --scenario <file>, or a preset with --preset smoke|paper|stress",
    });
  }
  return parseScenario(text, file);
}

export function parseScenario(text: string, file: string): Scenario {
  const { data, fail } = parseYamlWith(text, file, scenarioSchema);
  if (data.load.model === "closed" && data.runs.some((run) => run.tradesPerSecond !== undefined)) {
    fail("runs", "tradesPerSecond belongs to the open-loop model", "set load.model: open");
  }
  if (data.stress !== undefined) {
    if (data.stress.maxTradesPerSecond < data.stress.startTradesPerSecond) {
      fail("stress.maxTradesPerSecond", "must be at least stress.startTradesPerSecond");
    }
    if (data.load.model !== "open") fail("load.model", "a stress test runs an open loop");
  }
  if (data.trade.path === "standing" && data.trade.rejectShare > 0) {
    fail(
      "trade.rejectShare",
      "a standing offer accepts every request within its terms: no seller can reject",
      "set trade.path: request-confirm, or rejectShare: 0",
    );
  }
  checkHubFee(data, fail);
  if (data.trade.paymentsPerTrade > 0 && data.payments.topology === "direct") {
    const amount = (BigInt(data.trade.wh) * data.trade.pricePerKwh) / 1000n;
    if (amount < BigInt(data.trade.paymentsPerTrade)) {
      fail(
        "trade.paymentsPerTrade",
        `a trade costs ${amount} base units of credit, too little to split into ${data.trade.paymentsPerTrade} payments`,
        "raise trade.wh or trade.pricePerKwh, or lower paymentsPerTrade",
      );
    }
  }
  return data;
}

/**
 * The hub's fee must leave the seller a payment: below the price per kWh, and within what a
 * deployment accepts (ops/channels/locks.ts, MAX_MEDIATION_FEE_PER_KWH).
 */
function checkHubFee(
  data: Scenario,
  fail: (path: string, message: string, hint?: string) => never,
): void {
  if (data.payments.topology !== "hub") return;
  const fee = data.payments.hubFeePerKwh;
  if (fee > MAX_MEDIATION_FEE_PER_KWH) {
    fail(
      "payments.hubFeePerKwh",
      `at most ${MAX_MEDIATION_FEE_PER_KWH} base units (1 GridCredit) per kWh`,
    );
  }
  if (fee >= data.trade.pricePerKwh) {
    fail(
      "payments.hubFeePerKwh",
      `the fee must be below trade.pricePerKwh (${data.trade.pricePerKwh} base units): the hub forwards the price less its fee`,
      "lower payments.hubFeePerKwh",
    );
  }
}

/** On-chain transactions of a trade that runs every step: `buy`, or `request` and `confirm`. */
export function transactionsPerTrade(scenario: Pick<Scenario, "trade">): number {
  return scenario.trade.path === "standing" ? 1 : 2;
}

/** The stress preset's runs: one per rate step, each `stepSeconds` long. */
export function stressRuns(stress: NonNullable<Scenario["stress"]>): RunPlan[] {
  const runs: RunPlan[] = [];
  for (
    let rate = stress.startTradesPerSecond;
    rate <= stress.maxTradesPerSecond + 1e-9;
    rate += stress.stepTradesPerSecond
  ) {
    runs.push({ durationSeconds: stress.stepSeconds, tradesPerSecond: rate });
  }
  return runs;
}

/** How the scenario's agents split into producers and consumers (at least one of each). */
export function agentSplit(scenario: Pick<Scenario, "agents" | "producerShare">): {
  producers: number;
  consumers: number;
} {
  const producers = Math.max(
    1,
    Math.min(scenario.agents - 1, Math.round(scenario.agents * scenario.producerShare)),
  );
  return { producers, consumers: scenario.agents - producers };
}
