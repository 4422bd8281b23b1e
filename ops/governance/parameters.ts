import type { ConsortiumSpec } from "../consortium/index.js";
import type { GovernanceParameters } from "./deploy.js";

const FIELDS = [
  "approvalBps",
  "votingPeriodSeconds",
  "executionDelaySeconds",
  "executionWindowSeconds",
] as const;

/** The YAML's voting rules, as the governance contract takes them. */
export function votingRules(spec: ConsortiumSpec): GovernanceParameters {
  return Object.fromEntries(
    FIELDS.map((field) => [field, spec.governance[field]]),
  ) as GovernanceParameters;
}

/**
 * The voting rules as `members status` prints them: the chain's, and where the YAML differs. After
 * the deploy the rules are chain state that only a passed `setParameters` proposal changes; the
 * YAML's `governance` section only seeds them, so an edit there alone changes nothing and is shown.
 */
export function describeVotingRules(
  yaml: GovernanceParameters,
  chain: Record<(typeof FIELDS)[number], bigint | number>,
  config: string,
): string[] {
  const lines = [
    `voting rules on chain: approval ${chain.approvalBps} bps of members, voting ${chain.votingPeriodSeconds} s, delay ${chain.executionDelaySeconds} s, window ${chain.executionWindowSeconds} s`,
  ];
  const differs = FIELDS.filter((field) => Number(chain[field]) !== yaml[field]);
  if (differs.length === 0) {
    lines.push(`  ${config} governance: the same`);
  } else {
    lines.push(
      `  ${config} governance differs: ${differs.map((field) => `${field} ${yaml[field]} (chain ${chain[field]})`).join(", ")}`,
      "  the chain's rules change only by a vote: 'gridchain members propose parameters' proposes the file's",
    );
  }
  return lines;
}
