/** The consortium API other parts of gridchain use: load a YAML file, plan, render. */
export { loadConsortium, parseConsortium } from "./load.js";
export {
  planNetwork,
  type NetworkPlan,
  type NetworkKeys,
  type PlannedNode,
  type PlannedAccount,
} from "./plan.js";
export { renderNetwork, type RenderedFile } from "./render.js";
export { resolveKeys, type KeyOrigins } from "./keystore.js";
export {
  MAX_SETTLE_TIMEOUT_SECONDS,
  MIN_SETTLE_TIMEOUT_SECONDS,
  type ConsortiumSpec,
} from "./spec.js";
