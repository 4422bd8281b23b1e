import {
  METRICS_PORT,
  RPC_HTTP_PORT,
  RPC_WS_PORT,
  type NetworkPlan,
  type PlannedNode,
} from "../consortium/plan.js";

/** Where the compose file mounts each file inside a Besu container. */
export const CONTAINER_PATHS = {
  data: "/opt/besu/data",
  genesis: "/config/genesis.json",
  staticNodes: "/config/static-nodes.json",
  /** The node's own permissions folder, mounted read-write: Besu rewrites the file in place. */
  permissionsFolder: "/config/permissions",
  permissions: "/config/permissions/permissions_config.toml",
  nodeFolder: "/config/node",
  /** The key as generated (0600, the operator's); start.sh copies it for the besu user. */
  nodeKeySource: "/config/node/key",
  nodeKey: "/opt/besu/data/key",
  startScript: "/config/node/start.sh",
  config: "/config/node/config.toml",
  rpcJwtPublicKey: "/config/node/rpc-jwt-public.pem",
  /** The TLS keystore and its password as generated (0600); start.sh copies them for Besu. */
  rpcTlsKeystoreSource: "/config/node/rpc-tls.p12",
  rpcTlsPasswordSource: "/config/node/rpc-tls.pass",
  rpcTlsKeystore: "/opt/besu/data/rpc-tls.p12",
  rpcTlsPassword: "/opt/besu/data/rpc-tls.pass",
} as const;

/** Where a node's permissions file sits in the network folder (one per node: each rewrites its own). */
export function permissionsFile(node: string): string {
  return `nodes/${node}/permissions/permissions_config.toml`;
}

/**
 * Whether RPC nodes require a JWT: yes as soon as their ports are published beyond the loopback
 * interface. Besu answers /liveness and /readiness before its authentication handler
 * (ethereum/api/.../jsonrpc/JsonRpcHttpService.java), so health checks need no token.
 */
export function rpcAuthRequired(plan: NetworkPlan): boolean {
  return !plan.spec.docker.publishHost.startsWith("127.");
}

export type TomlValue = string | number | boolean | readonly string[];

/**
 * The config.toml entries of one node, in a fixed order. Every key is a Besu option name (without
 * `--`) of the pinned version: Besu refuses to start on an unknown key.
 */
export function nodeConfigEntries(plan: NetworkPlan, node: PlannedNode): [string, TomlValue][] {
  const consensusApi = plan.spec.consensus.protocol === "qbft" ? "QBFT" : "CLIQUE";
  // Host names clients use: the published port on the host, the service name and IP inside the
  // compose network (Prometheus scrapes by IP; Besu applies the same allowlist to metrics).
  const serviceNames = [
    ...new Set(["localhost", "127.0.0.1", plan.spec.docker.publishHost, node.name, node.ip]),
  ];
  const entries: [string, TomlValue][] = [
    ["data-path", CONTAINER_PATHS.data],
    ["genesis-file", CONTAINER_PATHS.genesis],
    ["node-private-key-file", CONTAINER_PATHS.nodeKey],
    ["logging", "INFO"],
    // Besu's --profile=ENTERPRISE (config/src/main/resources/profiles/enterprise-private.toml),
    // written out so the file says what the node does; one value differs, explained below.
    ["sync-mode", "FULL"],
    ["data-storage-format", "FOREST"],
    ["sync-min-peers", 1],
    // Members connect from few addresses (one compose host): no share limit on remote peers.
    ["remote-connections-limit-enabled", false],
    ["min-gas-price", 0],
    ["tx-pool", "SEQUENCED"],
    ["tx-pool-no-local-priority", true],
    // The profile keeps 15 % of the pool per sender. The grid operator mints for every account
    // and reviews orders back to back, and every member pipelines its own: members are
    // permissioned, so no sender is capped below the pool.
    ["tx-pool-limit-by-account-percentage", 1],
    ["tx-pool-max-size", txPoolSize(plan)],
    ["revert-reason-enabled", true],
    // P2P on the fixed compose IP; static nodes and bootnodes use IPs, never DNS names.
    ["p2p-enabled", true],
    ["p2p-host", node.ip],
    ["p2p-interface", "0.0.0.0"],
    ["p2p-port", node.p2pPort],
    ["discovery-enabled", true],
    [
      "bootnodes",
      plan.bootnodes.filter((boot) => boot.name !== node.name).map((boot) => boot.enode),
    ],
    ["static-nodes-file", CONTAINER_PATHS.staticNodes],
    ["permissions-nodes-config-file-enabled", true],
    ["permissions-nodes-config-file", CONTAINER_PATHS.permissions],
    ["permissions-accounts-config-file-enabled", true],
    ["permissions-accounts-config-file", CONTAINER_PATHS.permissions],
    ["host-allowlist", serviceNames],
    // JSON-RPC listens inside the container on every node; only RPC nodes publish it to the host.
    ["rpc-http-enabled", true],
    ["rpc-http-host", "0.0.0.0"],
    ["rpc-http-port", RPC_HTTP_PORT],
    // The profile's value: Besu's default of 80 would refuse the load test's extra workers.
    ["rpc-http-max-active-connections", 300],
  ];
  if (node.kind === "rpc") {
    // Published to the host: no ADMIN, DEBUG or TRACE (gridchain calls none of them). PERM stays
    // for allowlist changes at run time; beyond 127.0.0.1 every call needs a JWT.
    const apis = ["ETH", "NET", "WEB3", "TXPOOL", consensusApi, "PERM"];
    entries.push(
      ["rpc-http-api", apis],
      ["rpc-http-cors-origins", ["http://localhost", "http://127.0.0.1"]],
      ["rpc-ws-enabled", true],
      ["rpc-ws-host", "0.0.0.0"],
      ["rpc-ws-port", RPC_WS_PORT],
      ["rpc-ws-api", apis],
    );
    if (plan.spec.docker.rpcTls !== undefined) {
      // Besu wants a PKCS#12 keystore (app/.../cli/options/JsonRpcHttpOptions.java).
      entries.push(
        ["rpc-http-tls-enabled", true],
        ["rpc-http-tls-keystore-file", CONTAINER_PATHS.rpcTlsKeystore],
        ["rpc-http-tls-keystore-password-file", CONTAINER_PATHS.rpcTlsPassword],
        ["rpc-ws-ssl-enabled", true],
        ["rpc-ws-ssl-keystore-type", "PKCS12"],
        ["rpc-ws-ssl-keystore-file", CONTAINER_PATHS.rpcTlsKeystore],
        ["rpc-ws-ssl-keystore-password-file", CONTAINER_PATHS.rpcTlsPassword],
      );
    }
    if (rpcAuthRequired(plan)) {
      // RS256 tokens signed with rpc-jwt.key, which only the operator's host holds.
      entries.push(
        ["rpc-http-authentication-enabled", true],
        ["rpc-http-authentication-jwt-public-key-file", CONTAINER_PATHS.rpcJwtPublicKey],
        ["rpc-http-authentication-jwt-algorithm", "RS256"],
        ["rpc-ws-authentication-enabled", true],
        ["rpc-ws-authentication-jwt-public-key-file", CONTAINER_PATHS.rpcJwtPublicKey],
        ["rpc-ws-authentication-jwt-algorithm", "RS256"],
      );
    }
  } else {
    entries.push(["rpc-http-api", ["ETH", "NET", "WEB3", consensusApi, "ADMIN", "PERM", "TXPOOL"]]);
  }
  entries.push(
    ["metrics-enabled", true],
    ["metrics-host", "0.0.0.0"],
    ["metrics-port", METRICS_PORT],
  );
  return entries;
}

/** Ten pending transactions per account of the consortium, and never below Besu's 4096. */
function txPoolSize(plan: NetworkPlan): number {
  return Math.max(4096, 10 * plan.accounts.length);
}

/** Renders flat TOML: strings as JSON-compatible basic strings, arrays one item per line. */
export function renderToml(entries: readonly [string, TomlValue][]): string {
  const lines = entries.map(([key, value]) => {
    if (Array.isArray(value)) {
      if (value.length === 0) return `${key}=[]`;
      return `${key}=[\n${value.map((item) => `  ${JSON.stringify(item)}`).join(",\n")}\n]`;
    }
    return `${key}=${typeof value === "string" ? JSON.stringify(value) : String(value)}`;
  });
  return `${lines.join("\n")}\n`;
}

/** config.toml of one node. */
export function renderNodeConfig(plan: NetworkPlan, node: PlannedNode): string {
  return renderToml(nodeConfigEntries(plan, node));
}

/**
 * static-nodes.json: every node's enode with its fixed IP (Besu rejects host names here unless DNS
 * is enabled). The same file serves every node; Besu skips its own entry.
 */
export function renderStaticNodes(plan: NetworkPlan): string {
  return `${JSON.stringify(
    plan.nodes.map((node) => node.enode),
    null,
    2,
  )}\n`;
}

/** permissions_config.toml: every node may connect; every consortium account may transact. */
export function renderPermissions(plan: NetworkPlan): string {
  return renderToml([
    ["nodes-allowlist", plan.nodes.map((node) => node.enode)],
    ["accounts-allowlist", plan.accounts.map((account) => account.address)],
  ]);
}
