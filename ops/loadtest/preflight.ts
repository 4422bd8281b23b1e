import { OperatorError } from "../errors.js";
import { agentSplit, type Scenario } from "./scenario.js";

/*
 * What a load test checks before it writes anything or starts a server: that the consortium has
 * the accounts the scenario needs and that the review lets its trades through.
 */

/** Fails when the consortium has fewer producers or consumers than the scenario's agents. */
export function requireAgents(
  scenario: Pick<Scenario, "agents" | "producerShare">,
  accounts: readonly { role: string }[],
): void {
  const { producers: wantedProducers, consumers: wantedConsumers } = agentSplit(scenario);
  const producers = accounts.filter((account) => account.role === "producer").length;
  const consumers = accounts.filter((account) => account.role === "consumer").length;
  if (producers < wantedProducers || consumers < wantedConsumers) {
    throw new OperatorError(
      `the scenario needs ${wantedProducers} producers and ${wantedConsumers} consumers; the consortium has ${producers} and ${consumers}`,
      {
        hint: "lower agents in the scenario, or use a consortium with more accounts (network/examples/loadtest-3000.yaml has 600 + 2400)",
      },
    );
  }
}

/**
 * How many trades of `wh` one delivery slot takes: the smallest of the grid's line capacity
 * (the tightest zone line times the number of zones, as trades spread over zones) and the
 * per-participant limits of the producers and of the consumers.
 */
export function slotCapacity(
  market: {
    slotSeconds: number;
    zones: { importKw: number; exportKw: number }[];
    maxKwhPerOrder: number;
    maxKwhPerParticipantPerSlot: number;
  },
  agents: { producers: number; consumers: number },
  wh: number,
): { slotSeconds: number; tradesPerSlot: number } {
  if (wh > market.maxKwhPerOrder * 1000) {
    throw new OperatorError(
      `a trade of ${wh} Wh is above the review's limit of ${market.maxKwhPerOrder} kWh per order: every order would be denied`,
      {
        hint: "lower trade.wh in the scenario, or raise market.maxKwhPerOrder in the consortium file",
      },
    );
  }
  const lineKw = Math.min(...market.zones.map((zone) => Math.min(zone.importKw, zone.exportKw)));
  const lineTrades =
    Math.floor((lineKw * 1000 * market.slotSeconds) / 3600 / wh) * market.zones.length;
  const perParticipant = Math.floor((market.maxKwhPerParticipantPerSlot * 1000) / wh);
  return {
    slotSeconds: market.slotSeconds,
    tradesPerSlot: Math.min(
      lineTrades,
      perParticipant * agents.producers,
      perParticipant * agents.consumers,
    ),
  };
}
