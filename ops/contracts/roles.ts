/**
 * The consortium's roles and which role may call which restricted function. One table, applied by
 * the deploy module on the GridAccessManager; later contracts append their rows.
 */

/** Role ids of contracts/access/GridRoles.sol; never renumbered, only appended. */
export const ROLE_IDS = {
  ADMIN: 0n,
  UPGRADER: 1n,
  GRID_OPERATOR: 2n,
  METER: 3n,
  PRODUCER: 4n,
  CONSUMER: 5n,
} as const;

export type RoleName = keyof typeof ROLE_IDS;

/** The contracts the deploy module puts behind UUPS proxies, in deployment order. */
export const MARKET_CONTRACTS = [
  "GridAccessManager",
  "GridCredit",
  "GridReview",
  "EnergyMarket",
  "PaymentChannels",
] as const;
export type MarketContractName = (typeof MARKET_CONTRACTS)[number];

/** One row: these functions of this contract may be called by holders of this role. */
export type RoleRule = {
  readonly contract: MarketContractName;
  readonly functions: readonly string[];
  readonly role: RoleName;
};

/**
 * Every restricted selector and its role. Functions not listed fall back to the manager's ADMIN
 * role (AccessManager's default), which is why `GridReview.setMarket` and `PaymentChannels.setLockMarket` need no row.
 */
export const ROLE_TABLE: readonly RoleRule[] = [
  { contract: "GridAccessManager", functions: ["upgradeToAndCall"], role: "UPGRADER" },
  { contract: "GridCredit", functions: ["mint", "burn"], role: "GRID_OPERATOR" },
  { contract: "GridCredit", functions: ["upgradeToAndCall"], role: "UPGRADER" },
  {
    contract: "GridReview",
    functions: [
      "setZones",
      "setZoneCapacity",
      "setLimits",
      "setReviewMode",
      "setTariff",
      "setCapacityFee",
      "setMinDefault",
    ],
    role: "GRID_OPERATOR",
  },
  { contract: "GridReview", functions: ["upgradeToAndCall"], role: "UPGRADER" },
  { contract: "EnergyMarket", functions: ["publish", "publishStanding"], role: "PRODUCER" },
  {
    contract: "EnergyMarket",
    functions: ["approveOrder", "denyOrder", "pause", "unpause", "withdrawGridIncome"],
    role: "GRID_OPERATOR",
  },
  { contract: "EnergyMarket", functions: ["recordMeterReadings"], role: "METER" },
  { contract: "EnergyMarket", functions: ["upgradeToAndCall"], role: "UPGRADER" },
  {
    contract: "PaymentChannels",
    functions: ["pause", "unpause", "setSettleTimeout"],
    role: "GRID_OPERATOR",
  },
  { contract: "PaymentChannels", functions: ["upgradeToAndCall"], role: "UPGRADER" },
];
