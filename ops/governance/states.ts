/** ConsortiumGovernance.ProposalState, in the contract's order (its uint8 is the index). */
export const PROPOSAL_STATES = [
  "active",
  "defeated",
  "queued",
  "executable",
  "expired",
  "executed",
  "canceled",
] as const;
export type ProposalStateName = (typeof PROPOSAL_STATES)[number];
