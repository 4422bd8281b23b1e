import { z } from "zod/v4";

/** Besu versions gridchain knows the option names and genesis keys of (shared/besu). */
export const BESU_VERSIONS = ["26.8.0", "26.2.0"] as const;
export type BesuVersion = (typeof BESU_VERSIONS)[number];
/** The last Besu release that still has Clique (removed in 26.4.0). */
export const LAST_CLIQUE_VERSION: BesuVersion = "26.2.0";
/**
 * Where Besu's images are published: Besu's daily image scan at 26.8.0 pulls
 * `hyperledger/besu:<tag>` (.github/workflows/docker-security-scan-daily.yml); the publish workflow
 * itself takes the organisation from a secret, so the name is a setting (`besu.image`).
 */
export const DEFAULT_BESU_IMAGE = "hyperledger/besu";

const NAME = /^[a-z][a-z0-9-]{0,30}[a-z0-9]$/;
const name = (what: string) =>
  z
    .string()
    .regex(
      NAME,
      `${what}: 2-32 characters, lower-case letters, digits and dashes, starting with a letter`,
    );
const positiveInt = z.number().int().positive();
const port = z.number().int().min(1).max(65535);
const ipv4 = z.ipv4();
/** GridCredit has 6 decimals; amounts are written as decimal strings to keep them exact. */
export const creditsSchema = z
  .string()
  .regex(/^\d{1,18}(\.\d{1,6})?$/, "a GridCredit amount: a decimal string with at most 6 decimals")
  .transform((text) => {
    const [whole = "0", fraction = ""] = text.split(".");
    return BigInt(whole) * 1_000_000n + BigInt(fraction.padEnd(6, "0"));
  });

/** PaymentChannels.MIN_SETTLE_TIMEOUT: a shorter window would not give a watcher time to react. */
export const MIN_SETTLE_TIMEOUT_SECONDS = 60;
/** PaymentChannels.MAX_SETTLE_TIMEOUT (30 days): settleAt must stay far from the uint64 limit. */
export const MAX_SETTLE_TIMEOUT_SECONDS = 30 * 24 * 3600;
/** GridReview keeps per-kWh grid charges as uint32 base units: at most 4294.967295 credits. */
const MAX_PER_KWH_UNITS = 2n ** 32n - 1n;
/** A grid charge per kWh in GridCredit, written like other amounts, bounded by its on-chain type. */
const perKwhCredits = creditsSchema.refine(
  (units) => units <= MAX_PER_KWH_UNITS,
  "at most 4294.967295 GridCredit per kWh (GridReview stores base units as a uint32)",
);

/** A node key given by the operator instead of generated: a key file, or a node run elsewhere. */
const importedKey = z.union([
  z.strictObject({
    keyFile: z
      .string()
      .min(1)
      .describe("path to a file holding the node's private key, relative to this YAML"),
  }),
  z.strictObject({
    publicKey: z
      .string()
      .describe("the node's 64-byte public key: it runs outside this compose network"),
    ip: ipv4.describe("the IPv4 address the node listens on for P2P"),
    p2pPort: port.default(30303),
  }),
]);

const organisation = z.strictObject({
  id: name("organisation id"),
  name: z.string().min(1).optional(),
  role: z.enum(["grid-operator", "producer"]),
  zone: z.string().optional(),
  validators: z.number().int().min(0).default(1),
  rpcNodes: z.number().int().min(0).default(0),
  bootnodes: z.number().int().min(0).default(0),
  importedKeys: z.record(z.string(), importedKey).default({}),
});

const explicitAccount = z.strictObject({
  address: z.string().regex(/^0x[0-9a-fA-F]{40}$/, "an address: 0x and 40 hex digits"),
  role: z.enum(["deployer", "grid-operator", "meter", "producer", "consumer"]),
  organisation: z.string(),
  zone: z.string().optional(),
});

const zone = z.strictObject({
  id: name("zone id"),
  importKw: positiveInt,
  exportKw: positiveInt,
});

const market = z
  .strictObject({
    reviewMode: z.enum(["auto", "manual", "threshold"]).default("auto"),
    manualAboveKwh: positiveInt.optional(),
    slotSeconds: positiveInt.default(900),
    zones: z
      .array(zone)
      .min(1)
      .default([{ id: "zone-1", importKw: 5000, exportKw: 5000 }]),
    maxKwhPerOrder: positiveInt.default(100),
    maxKwhPerParticipantPerSlot: positiveInt.default(500),
    defaultPenaltyBps: z.number().int().min(0).max(10_000).default(1000),
    startingCredits: z
      .strictObject({
        producer: creditsSchema.default(0n),
        consumer: creditsSchema.default(1_000_000_000n),
        gridOperator: creditsSchema.default(0n),
      })
      .prefault({}),
    /**
     * Locked per kWh of line capacity a cross-zone order reserves, refunded on delivery, kept by
     * the grid for energy not delivered (GridReview.setCapacityFee).
     */
    capacityFeePerKwh: perKwhCredits.default(10_000n),
    /** The least default per kWh an offer may state (GridReview.setMinDefault). */
    minDefaultPerKwh: perKwhCredits.default(50_000n),
    upgradeDelaySeconds: z.number().int().min(0).default(0),
    /** PaymentChannels accepts 60 s to 30 days: a longer timeout would overflow settleAt. */
    channelSettleTimeoutSeconds: z
      .number()
      .int()
      .min(MIN_SETTLE_TIMEOUT_SECONDS)
      .max(MAX_SETTLE_TIMEOUT_SECONDS)
      .default(3600),
    /**
     * The grid company's fee for mediating a payment through its hub, in credits per kWh ordered
     * (the hub forwards the buyer's lock less this): at most 1 credit per kWh.
     */
    hubMediationFeePerKwh: creditsSchema
      .refine((fee) => fee <= 1_000_000n, "at most 1 credit per kWh")
      .default(0n),
  })
  .prefault({});

/**
 * Chain ids of public networks. A consortium chain with one of them would accept transactions signed
 * for that network and the other way round (EIP-155 binds a signature to the chain id only), and
 * wallets and explorers would take it for the public chain.
 */
export const PUBLIC_CHAIN_IDS: ReadonlyMap<number, string> = new Map([
  [1, "Ethereum mainnet"],
  [5, "Goerli"],
  [10, "OP Mainnet"],
  [56, "BNB Smart Chain"],
  [100, "Gnosis"],
  [137, "Polygon PoS"],
  [250, "Fantom"],
  [324, "zkSync Era"],
  [8453, "Base"],
  [17000, "Holesky"],
  [42161, "Arbitrum One"],
  [43114, "Avalanche C-Chain"],
  [59144, "Linea"],
  [560048, "Hoodi"],
  [11155111, "Sepolia"],
]);

/** The schema of network/consortium.yaml. Every name is camelCase; the README lists each field. */
export const consortiumSchema = z.strictObject({
  name: name("network name"),
  chainId: z
    .number()
    .int()
    .min(1)
    .max(2 ** 53 - 1),
  /** Accept a public network's chain id (PUBLIC_CHAIN_IDS): only for a deliberate replica. */
  allowPublicChainId: z.boolean().default(false),
  besu: z
    .strictObject({
      version: z.enum(BESU_VERSIONS).default("26.8.0"),
      /** The image repository; the tag is always `version`. */
      image: z
        .string()
        .regex(
          /^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/,
          "an image repository without tag, e.g. hyperledger/besu or registry.example:5000/besu",
        )
        .default(DEFAULT_BESU_IMAGE),
    })
    .prefault({}),
  consensus: z
    .strictObject({
      protocol: z.enum(["qbft", "clique"]).default("qbft"),
      blockPeriodSeconds: positiveInt.default(2),
      emptyBlockPeriodSeconds: positiveInt.optional(),
      requestTimeoutSeconds: positiveInt.optional(),
      epochLength: positiveInt.default(30000),
      createEmptyBlocks: z.boolean().optional(),
      /** One organisation may hold enough validators to make blocks without the others. */
      allowValidatorMajority: z.boolean().default(false),
      /**
       * QBFT only: validators from the ValidatorSet contract (new networks) or from the block
       * headers. Unset: what an existing genesis uses, else contract.
       */
      validatorSelection: z.enum(["contract", "blockheader"]).optional(),
      /** Moves a block-header network to contract mode at `block` (Besu's transitions.qbft). */
      validatorContractTransition: z
        .strictObject({
          block: positiveInt,
          address: z.string().regex(/^0x[0-9a-fA-F]{40}$/, "an address: 0x and 40 hex digits"),
        })
        .optional(),
    })
    .prefault({}),
  genesis: z
    .strictObject({
      gasLimit: z.number().int().min(5000).max(Number.MAX_SAFE_INTEGER).default(1_000_000_000),
      contractSizeLimit: z
        .number()
        .int()
        .min(24576)
        .max(2 ** 31 - 1)
        .default(24576),
      /** Unix seconds of the genesis block; default: when the network was first generated. */
      timestamp: z
        .number()
        .int()
        .min(0)
        .max(2 ** 53 - 1)
        .optional(),
    })
    .prefault({}),
  organisations: z.array(organisation).min(1),
  accounts: z
    .strictObject({
      producers: z.number().int().min(0).default(0),
      consumers: z.number().int().min(0).default(0),
      explicit: z.array(explicitAccount).default([]),
    })
    .prefault({}),
  docker: z
    .strictObject({
      subnet: z.cidrv4().default("172.16.240.0/24"),
      publishHost: ipv4.default("127.0.0.1"),
      hostPorts: z
        .strictObject({
          rpcHttp: port.default(8545),
          rpcWs: port.default(8546),
          prometheus: port.default(9090),
          grafana: port.default(3000),
        })
        .prefault({}),
      /** TLS on the RPC nodes' HTTP and WebSocket RPC: a PKCS#12 keystore and its password. */
      rpcTls: z
        .strictObject({
          keystoreFile: z.string().min(1).describe("PKCS#12 keystore, relative to this YAML"),
          passwordFile: z.string().min(1).describe("file holding the keystore password"),
          caFile: z
            .string()
            .min(1)
            .optional()
            .describe("PEM certificate gridchain trusts for the nodes' RPC (a private CA)"),
        })
        .optional(),
      nodeCpus: z.number().positive().default(2),
      nodeMemory: z
        .string()
        .regex(/^\d+[mg]$/, "a memory size like 512m or 2g")
        .default("2g"),
    })
    .prefault({}),
  market,
  governance: z
    .strictObject({
      /** Votes for a proposal needed, in basis points of the members (6667: more than 2/3). */
      approvalBps: z.number().int().min(1).max(10_000).default(6667),
      votingPeriodSeconds: positiveInt.max(2 ** 32 - 1).default(86_400),
      executionDelaySeconds: z
        .number()
        .int()
        .min(0)
        .max(2 ** 32 - 1)
        .default(3600),
      /** How long a passed proposal may be executed; after that it has expired. */
      executionWindowSeconds: positiveInt.max(2 ** 32 - 1).default(7 * 86_400),
      /**
       * A pilot's opt-out: the deployer keeps ADMIN and UPGRADER beside the governance. By default
       * it renounces both once the governance holds them, so only the members' vote changes roles.
       */
      deployerKeepsAdmin: z.boolean().default(false),
    })
    .prefault({}),
  engine: z
    .strictObject({
      embedded: z
        .strictObject({
          host: z.literal("127.0.0.1").default("127.0.0.1"),
          port: port.default(8545),
          /** How often anvil saves the chain: the most a crash of the engine loses. */
          saveIntervalSeconds: z.number().int().min(1).max(3600).default(2),
        })
        .prefault({}),
    })
    .prefault({}),
});

/** A validated consortium: every default filled in, every cross-reference checked. */
export type ConsortiumSpec = z.output<typeof consortiumSchema> & {
  /** The YAML file it was read from (errors and relative key files refer to it). */
  readonly file: string;
  /** Facts that are allowed but worth a warning (e.g. too few validators to tolerate a fault). */
  readonly warnings: readonly string[];
};
export type Organisation = ConsortiumSpec["organisations"][number];
export type ImportedKey = Organisation["importedKeys"][string];
export type AccountRole = ConsortiumSpec["accounts"]["explicit"][number]["role"];
