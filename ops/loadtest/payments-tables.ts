import { formatUnits } from "ethers";
import type { LoadReport, Section } from "./report-model.js";

/* The report's payments section and setup line, read from the computed report (payments-report.ts). */

const NONE = "—";

function credits(units: string | null): string {
  return units === null ? NONE : `${formatUnits(BigInt(units), 6)} GridCredit`;
}

function gas(value: string): string {
  return Number(value).toLocaleString("en-US");
}

/** "Setup: ... in X s (funding a s, workers b s, ...); offers published in c s." */
export function setupLine(setup: NonNullable<LoadReport["setup"]>): string {
  const phases = Object.entries(setup.phases)
    .map(([name, seconds]) => `${name} ${seconds.toFixed(1)} s`)
    .join(", ");
  return (
    `Setup (mints, bonds, channels): ${setup.transactions} transactions in ${setup.seconds.toFixed(1)} s` +
    (phases === "" ? "" : ` (${phases}, overlapping)`) +
    (setup.offersSeconds > 0 ? `; offers published in ${setup.offersSeconds.toFixed(1)} s.` : ".")
  );
}

const TOPOLOGY_NAMES = {
  hub: "through the grid operator's hub (one channel per participant)",
  direct: "over direct channels (one per consumer and seller)",
  onchain: "by one GridCredit transfer per order",
} as const;

export function paymentSections(report: LoadReport): Section[] {
  const p = report.payments;
  if (p === null) return [];
  const text = [
    `Orders paid ${TOPOLOGY_NAMES[p.topology]}: ${p.payments} payments for the executed trades, ` +
      `${p.tradedPairs} distinct buyer-seller pairs among ${p.participants} participants; ` +
      `${p.channelsOpened} channels opened, ${p.transactions} on-chain payment transactions using ${gas(p.gas)} gas` +
      (Object.keys(p.gasByKind).length === 0
        ? "."
        : ` (${Object.entries(p.gasByKind)
            .map(([kind, used]) => `${kind} ${gas(used!)}`)
            .join(", ")}).`),
  ];
  if (p.mediatedPerSecond !== null) {
    text.push(`Mediated payments: ${p.mediatedPerSecond.toFixed(2)} per second of the runs.`);
  }
  const hub = p.hub;
  if (hub !== null) {
    text.push(
      `Hub ${hub.address ?? NONE}: fee ${credits(hub.feePerKwh)} per kWh; liquidity planned from the schedule ` +
        `(${hub.plannedTrades ?? NONE} trades) ${credits(hub.plannedLiquidity)}, deposited ${credits(hub.deposited)} ` +
        `over ${hub.channels ?? NONE} open channels; ${hub.mediated ?? NONE} payments mediated, ${hub.released ?? NONE} ` +
        `released after the market decided their orders; locks pending in ${credits(hub.lockedIn)}, out ` +
        `${credits(hub.lockedOut)}; earned ${credits(hub.earned)} (received less sent during the test).`,
    );
  }
  return [
    {
      level: 2,
      title: "Payments: channels and on-chain gas by topology",
      text: [
        ...text,
        "The topology the test ran is measured; the others are estimated for the same executed trades " +
          "and participants, with this test's mean gas per step (or the bench:channels figure for a step it never sent).",
      ],
      table: {
        headers: ["topology", "", "channels", "payment transactions", "gas"],
        numeric: [false, false, true, true, true],
        rows: p.comparison.map((cost) => [
          cost.topology,
          cost.measured ? "measured" : "estimated",
          String(cost.channels),
          String(cost.transactions),
          gas(cost.gas),
        ]),
      },
    },
  ];
}
