export { deployMarket, upgradeMarketContract } from "./deploy.js";
export type {
  Address,
  DeployMarketParams,
  ReviewMode,
  ReviewParameters,
  RoleAccounts,
  UpgradeMarketContractParams,
  UpgradeResult,
  Wh,
} from "./deploy.js";
export { readManifest, writeManifest } from "./manifest.js";
export type { DeploymentManifest } from "./manifest.js";
export { MARKET_CONTRACTS, ROLE_IDS, ROLE_TABLE } from "./roles.js";
export type { MarketContractName, RoleName, RoleRule } from "./roles.js";
