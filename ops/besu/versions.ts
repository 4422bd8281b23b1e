import type { BesuVersion } from "../consortium/spec.js";

/** What differs between the Besu versions gridchain supports (from shared/besu). */
export type BesuFacts = {
  /** The QBFT genesis key for the empty-block period: experimental `x` name before 26.5.0. */
  emptyBlockPeriodKey: "emptyblockperiodseconds" | "xemptyblockperiodseconds";
  /** RPC API groups the version accepts in --rpc-http-api / --rpc-ws-api. */
  rpcApiGroups: readonly string[];
  clique: boolean;
};

export const BESU_FACTS: Record<BesuVersion, BesuFacts> = {
  "26.8.0": {
    emptyBlockPeriodKey: "emptyblockperiodseconds",
    rpcApiGroups: [
      "ETH",
      "DEBUG",
      "MINER",
      "NET",
      "PERM",
      "WEB3",
      "ADMIN",
      "TXPOOL",
      "TRACE",
      "PLUGINS",
      "IBFT",
      "ENGINE",
      "QBFT",
      "TESTING",
    ],
    clique: false,
  },
  "26.2.0": {
    emptyBlockPeriodKey: "xemptyblockperiodseconds",
    rpcApiGroups: [
      "ETH",
      "DEBUG",
      "MINER",
      "NET",
      "PERM",
      "WEB3",
      "ADMIN",
      "TXPOOL",
      "TRACE",
      "PLUGINS",
      "CLIQUE",
      "IBFT",
      "ENGINE",
      "QBFT",
    ],
    clique: true,
  },
};

/** The Docker image of the network's Besu: the configured repository, tagged with the version. */
export function besuImage(besu: { image: string; version: BesuVersion }): string {
  return `${besu.image}:${besu.version}`;
}
