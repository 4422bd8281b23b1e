import { CONTAINER_PATHS, permissionsFile } from "../besu/config-toml.js";
import { besuImage } from "../besu/versions.js";
import { GRAFANA_HOST, PROMETHEUS_HOST, subnetAddress } from "../consortium/layout.js";
import { RPC_HTTP_PORT, RPC_WS_PORT, type NetworkPlan } from "../consortium/plan.js";

export const PROMETHEUS_IMAGE = "prom/prometheus:v3.5.0";
export const GRAFANA_IMAGE = "grafana/grafana:12.1.1";
/**
 * Besu's image starts as root; its entrypoint hands the data path and the genesis file to the
 * `besu` user (uid 1000) and drops to it (docker/Dockerfile, app/src/main/scripts/besu-entry.sh).
 */
export const BESU_UID = 1000;

/** The subset of the Compose Specification gridchain writes. */
export type ComposeService = {
  image: string;
  hostname?: string;
  user?: string;
  entrypoint?: string[];
  command?: string[];
  restart: "unless-stopped";
  ports?: string[];
  volumes: string[];
  networks: Record<string, { ipv4_address: string }>;
  healthcheck?: {
    test: string[];
    interval: string;
    timeout: string;
    retries: number;
    start_period: string;
  };
  cpus?: number;
  mem_limit?: string;
  logging: { driver: "json-file"; options: Record<string, string> };
};

export type ComposeModel = {
  services: Record<string, ComposeService>;
  networks: Record<string, { driver: "bridge"; ipam: { config: { subnet: string }[] } }>;
  volumes: Record<string, Record<string, never>>;
};

export const LOGGING: ComposeService["logging"] = {
  driver: "json-file",
  options: { "max-size": "10m", "max-file": "3" },
};

/** How often a Besu container is probed, and how long it may take to become healthy. */
export const HEALTHCHECK_TIMING = {
  interval: "5s",
  timeout: "5s",
  retries: 30,
  start_period: "60s",
} as const;

/** The bind mounts of a Besu container: its node folder, the shared files, its data volume. */
export function nodeVolumes(root: string, node: string, dataVolume: string): string[] {
  return [
    `${root}/nodes/${node}:${CONTAINER_PATHS.nodeFolder}:ro`,
    `${root}/genesis.json:${CONTAINER_PATHS.genesis}:ro`,
    `${root}/static-nodes.json:${CONTAINER_PATHS.staticNodes}:ro`,
    // A folder, not the file: `generate` replaces files by rename, which a single-file bind
    // mount would not see (it keeps the old inode) until the container is recreated.
    `${root}/${permissionsFile(node).replace(/\/[^/]+$/, "")}:${CONTAINER_PATHS.permissionsFolder}`,
    `${dataVolume}:${CONTAINER_PATHS.data}`,
  ];
}

/**
 * A health probe in bash alone (Besu's image has no curl or wget): GET /readiness on the RPC port,
 * healthy on 200. Besu answers it with the peer count and sync distance it asks for
 * (ethereum/api/.../jsonrpc/health/ReadinessCheck.java); the Host header must be in the node's
 * host-allowlist, which always holds "localhost". `$$` is Compose's escape for a literal `$`.
 */
export function readinessProbe(minPeers: number): string {
  const request = `GET /readiness?minPeers=${minPeers}&maxBlocksBehind=2 HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n`;
  return [
    `exec 3<>/dev/tcp/127.0.0.1/${RPC_HTTP_PORT}`,
    `printf '${request}' >&3`,
    "IFS= read -r -t 4 status <&3",
    "[[ $$status == 'HTTP/1.1 200'* ]]",
  ].join(" && ");
}

/**
 * One service per node run here (validators publish nothing; RPC nodes publish HTTP and WebSocket
 * on the publish host, 127.0.0.1 by default), then Prometheus and Grafana. `root` is the network
 * folder as seen from the compose file: "." beside it, "./network/<name>" from the project root.
 */
export function composeModel(plan: NetworkPlan, root: string): ComposeModel {
  const { spec } = plan;
  const network = `${spec.name}-net`;
  const publish = spec.docker.publishHost;
  const services: Record<string, ComposeService> = {};
  const volumes: ComposeModel["volumes"] = {};
  for (const node of plan.nodes.filter((candidate) => candidate.inCompose)) {
    const dataVolume = `${node.name}-data`;
    volumes[dataVolume] = {};
    const service: ComposeService = {
      image: besuImage(spec.besu),
      hostname: node.name,
      // No `user:`: the image starts as root, start.sh hands the key and the permissions file to
      // the besu user, then Besu's own entrypoint does the same for the data path and drops to it.
      entrypoint: ["/bin/bash", CONTAINER_PATHS.startScript],
      command: [`--config-file=${CONTAINER_PATHS.config}`],
      restart: "unless-stopped",
      volumes: nodeVolumes(root, node.name, dataVolume),
      networks: { [network]: { ipv4_address: node.ip } },
      healthcheck: {
        // One peer at least, unless the network is this node alone (nodes run elsewhere count).
        test: [
          "CMD",
          "bash",
          "-c",
          // Bash speaks no TLS and the image has no TLS client: an RPC node with TLS is probed
          // for a listening RPC port only; `gridchain up` still checks peers, validators, blocks.
          node.kind === "rpc" && spec.docker.rpcTls !== undefined
            ? `exec 3<>/dev/tcp/127.0.0.1/${RPC_HTTP_PORT}`
            : readinessProbe(Math.min(1, plan.nodes.length - 1)),
        ],
        ...HEALTHCHECK_TIMING,
      },
      cpus: spec.docker.nodeCpus,
      mem_limit: spec.docker.nodeMemory,
      logging: LOGGING,
    };
    if (node.published !== undefined) {
      service.ports = [
        `${publish}:${node.published.rpcHttp}:${RPC_HTTP_PORT}`,
        `${publish}:${node.published.rpcWs}:${RPC_WS_PORT}`,
      ];
    }
    services[node.name] = service;
  }
  services.prometheus = {
    image: PROMETHEUS_IMAGE,
    restart: "unless-stopped",
    ports: [`${publish}:${spec.docker.hostPorts.prometheus}:9090`],
    volumes: [
      `${root}/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro`,
      `${root}/prometheus/rules:/etc/prometheus/rules:ro`,
    ],
    networks: { [network]: { ipv4_address: subnetAddress(spec.docker.subnet, PROMETHEUS_HOST) } },
    logging: LOGGING,
  };
  services.grafana = {
    image: GRAFANA_IMAGE,
    restart: "unless-stopped",
    ports: [`${publish}:${spec.docker.hostPorts.grafana}:3000`],
    volumes: [
      `${root}/grafana/provisioning:/etc/grafana/provisioning:ro`,
      `${root}/grafana/dashboards:/var/lib/grafana/dashboards:ro`,
    ],
    networks: { [network]: { ipv4_address: subnetAddress(spec.docker.subnet, GRAFANA_HOST) } },
    logging: LOGGING,
  };
  return {
    services,
    networks: {
      [network]: { driver: "bridge", ipam: { config: [{ subnet: spec.docker.subnet }] } },
    },
    volumes,
  };
}
