import {
  permissionsFile,
  renderNodeConfig,
  renderPermissions,
  renderStaticNodes,
} from "../besu/config-toml.js";
import { renderStartScript } from "../besu/start-script.js";
import { renderGenesis } from "../besu/genesis.js";
import { PROMETHEUS_HOST, subnetAddress } from "./layout.js";
import {
  renderCompose,
  renderGrafanaDashboardProvider,
  renderGrafanaDatasource,
  renderLocalPrometheus,
  renderPrometheus,
  renderRuleFiles,
} from "../compose/render.js";
import { renderDashboards } from "../../monitoring/grafana/dashboards.js";
import { METRICS_PORT, type NetworkPlan } from "./plan.js";

/**
 * A file of the generated network: its text and the mode it is written with; `base64` marks a
 * binary file (a keystore) whose text is its bytes in base64.
 */
export type RenderedFile = { content: string; mode: number; base64?: boolean };

export const SECRET_MODE = 0o600;
export const PUBLIC_MODE = 0o644;
export const SCRIPT_MODE = 0o755;
/** The private key gridchain signs RPC tokens with when RPC is published beyond 127.0.0.1. */
export const RPC_JWT_KEY_FILE = "rpc-jwt.key";

/**
 * Every file of network/<name>/, by path relative to that folder. Pure: the same plan gives the
 * same bytes. Secrets (node and account private keys) carry mode 0600.
 */
export function renderNetwork(plan: NetworkPlan): Map<string, RenderedFile> {
  const files = new Map<string, RenderedFile>();
  const add = (path: string, content: string, mode = PUBLIC_MODE) =>
    files.set(path, { content, mode });

  add("genesis.json", renderGenesis(plan));
  add("static-nodes.json", renderStaticNodes(plan));
  const permissions = renderPermissions(plan);
  if (plan.rpcJwt !== undefined) add(RPC_JWT_KEY_FILE, plan.rpcJwt.privateKeyPem, SECRET_MODE);
  for (const node of plan.nodes.filter((candidate) => candidate.inCompose)) {
    const folder = `nodes/${node.name}`;
    // One permissions file per node: each node rewrites its own at run time (perm_add*).
    add(permissionsFile(node.name), permissions);
    add(`${folder}/start.sh`, renderStartScript(), SCRIPT_MODE);
    if (node.kind === "rpc" && plan.rpcJwt !== undefined) {
      add(`${folder}/rpc-jwt-public.pem`, plan.rpcJwt.publicKeyPem);
    }
    if (node.kind === "rpc" && plan.rpcTls !== undefined) {
      files.set(`${folder}/rpc-tls.p12`, {
        content: plan.rpcTls.keystore.toString("base64"),
        mode: SECRET_MODE,
        base64: true,
      });
      add(`${folder}/rpc-tls.pass`, plan.rpcTls.password.toString("utf8"), SECRET_MODE);
    }
    add(`${folder}/key`, node.key.privateKey!, SECRET_MODE);
    add(`${folder}/key.pub`, node.key.publicKey);
    add(`${folder}/address`, node.key.address);
    add(`${folder}/enode`, node.enode);
    add(`${folder}/config.toml`, renderNodeConfig(plan, node));
  }
  add(
    "nodes.json",
    json(
      plan.nodes.map((node) => ({
        name: node.name,
        organisation: node.organisation,
        kind: node.kind,
        address: node.key.address,
        publicKey: node.key.publicKey,
        ip: node.ip,
        enode: node.enode,
        runsHere: node.inCompose,
        ...(node.published === undefined ? {} : { hostPorts: node.published }),
      })),
    ),
  );
  for (const account of plan.accounts) {
    if (account.key?.privateKey !== undefined) {
      add(`accounts/${account.id}.key`, account.key.privateKey, SECRET_MODE);
    }
  }
  add(
    "accounts.json",
    json(
      plan.accounts.map(({ id, address, role, organisation, zone }) => ({
        id,
        address,
        role,
        organisation,
        zone,
      })),
    ),
  );
  add("prometheus/prometheus.yml", renderPrometheus(plan, METRICS_PORT));
  add("prometheus/local.yml", renderLocalPrometheus(plan));
  for (const [name, content] of renderRuleFiles(plan)) add(`prometheus/rules/${name}`, content);
  add("grafana/provisioning/dashboards/gridchain.yml", renderGrafanaDashboardProvider());
  for (const [name, content] of renderDashboards()) add(`grafana/dashboards/${name}`, content);
  add(
    "grafana/provisioning/datasources/prometheus.yml",
    renderGrafanaDatasource(
      `http://${subnetAddress(plan.spec.docker.subnet, PROMETHEUS_HOST)}:9090`,
    ),
  );
  add("docker-compose.yml", renderCompose(plan, "."));
  return files;
}

function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
