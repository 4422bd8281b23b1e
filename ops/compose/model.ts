import { CONTAINER_PATHS } from "../besu/config-toml.js";
import { besuImage } from "../besu/versions.js";
import { GRAFANA_HOST, PROMETHEUS_HOST, subnetAddress } from "../consortium/layout.js";
import { METRICS_PORT, RPC_HTTP_PORT, RPC_WS_PORT, type NetworkPlan } from "../consortium/plan.js";

export const PROMETHEUS_IMAGE = "prom/prometheus:v3.5.0";
export const GRAFANA_IMAGE = "grafana/grafana:12.1.1";
/** Besu's image runs as this user; the node folders it reads must be readable by it. */
export const BESU_UID = 1000;

/** The subset of the Compose Specification gridchain writes. */
export type ComposeService = {
  image: string;
  hostname?: string;
  user?: string;
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

const LOGGING: ComposeService["logging"] = {
  driver: "json-file",
  options: { "max-size": "10m", "max-file": "3" },
};

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
      image: besuImage(spec.besu.version),
      hostname: node.name,
      user: `${BESU_UID}:${BESU_UID}`,
      command: [`--config-file=${CONTAINER_PATHS.config}`],
      restart: "unless-stopped",
      volumes: [
        `${root}/nodes/${node.name}:${CONTAINER_PATHS.nodeFolder}:ro`,
        `${root}/genesis.json:${CONTAINER_PATHS.genesis}:ro`,
        `${root}/static-nodes.json:${CONTAINER_PATHS.staticNodes}:ro`,
        `${root}/permissions_config.toml:${CONTAINER_PATHS.permissions}:ro`,
        `${dataVolume}:${CONTAINER_PATHS.data}`,
      ],
      networks: { [network]: { ipv4_address: node.ip } },
      healthcheck: {
        test: ["CMD-SHELL", `bash -c 'exec 3<>/dev/tcp/127.0.0.1/${METRICS_PORT}'`],
        interval: "10s",
        timeout: "5s",
        retries: 30,
        start_period: "30s",
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
