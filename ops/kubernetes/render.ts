import { dump } from "js-yaml";
import {
  CONTAINER_PATHS,
  type TomlValue,
  renderPermissions,
  renderStaticNodes,
  renderToml,
} from "../besu/config-toml.js";
import { renderGenesis } from "../besu/genesis.js";
import { P2P_HOST_NAME_ENV, renderStartScript } from "../besu/start-script.js";
import { besuImage } from "../besu/versions.js";
import { isIpv4, routableConfigEntries } from "../besu/routable-config.js";
import {
  METRICS_PORT,
  RPC_HTTP_PORT,
  type NetworkPlan,
  type PlannedNode,
} from "../consortium/plan.js";
import { loadtestJob, prometheusObjects } from "./extras.js";
// Types only: an object literal with a misspelt or misplaced field fails the typecheck (the
// models' runtime validation checks types, enums and required fields, not unknown keys).
import type { IStatefulSet } from "kubernetes-models/apps/v1";
import type { INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import type { IRole, IRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import type {
  IConfigMap,
  INamespace,
  ISecret,
  IService,
  IServiceAccount,
} from "kubernetes-models/v1";

import type { KubeObject } from "./object.js";

export type { KubeObject } from "./object.js";

/** Where the permissions file a ConfigMap holds is mounted, before it is copied for Besu. */
const PERMISSIONS_SOURCE = "/config/permissions-source";
const NODE_STORAGE = "20Gi";

/** The file holding a node's key as a Secret (mode 0600 in the bundle). */
export function secretFile(node: string): string {
  return `secret-${node}.yaml`;
}

/** Whether a rendered Kubernetes file holds a secret. */
export function isSecretFile(path: string): boolean {
  return path.startsWith("secret-");
}

/** The namespace of one member's objects: `<network>-<organisation>`, within 63 characters. */
export function memberNamespace(plan: NetworkPlan, organisation: string): string {
  return `${plan.spec.name}-${organisation}`.slice(0, 63).replace(/-+$/, "");
}

/** Labels every pod of a node carries; NetworkPolicy, Services and Prometheus select by them. */
export function nodeLabels(plan: NetworkPlan, node: PlannedNode): Record<string, string> {
  return {
    "app.kubernetes.io/name": "besu",
    "app.kubernetes.io/instance": node.name,
    "app.kubernetes.io/part-of": plan.spec.name,
    "gridchain.io/organisation": node.organisation,
    "gridchain.io/kind": node.kind,
  };
}

/**
 * Kubernetes manifests of one member's nodes, by file name (each file a multi-document YAML): the
 * namespace and the network's shared ConfigMap, then per node a StatefulSet with its volume claim,
 * a headless Service (stable DNS inside the cluster), a LoadBalancer Service for P2P (TCP and UDP
 * on the enode's port, client addresses kept: Besu's allowlist matches a peer's source IP),
 * ConfigMaps, its key as its own Secret, a ServiceAccount whose Role may read that Secret alone,
 * and a NetworkPolicy; then Prometheus discovery and the load test's Indexed Job.
 */
export function renderKubernetes(plan: NetworkPlan, organisation: string): Map<string, string> {
  const namespace = memberNamespace(plan, organisation);
  const files = new Map<string, string>();
  files.set(
    "00-namespace.yaml",
    yamlDocuments([
      { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } } satisfies INamespace,
      {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: "network", namespace },
        data: { "genesis.json": renderGenesis(plan), "static-nodes.json": renderStaticNodes(plan) },
      } satisfies IConfigMap,
    ]),
  );
  for (const node of plan.nodes.filter((candidate) => candidate.inCompose)) {
    const objects = nodeObjects(plan, node, namespace);
    // The key's Secret in a file of its own, which the bundle writes 0600 like the key itself.
    files.set(
      `node-${node.name}.yaml`,
      yamlDocuments(objects.filter((object) => object.kind !== "Secret")),
    );
    files.set(
      secretFile(node.name),
      yamlDocuments(objects.filter((object) => object.kind === "Secret")),
    );
  }
  files.set("prometheus.yaml", yamlDocuments(prometheusObjects(plan, namespace)));
  files.set("loadtest-job.yaml", yamlDocuments([loadtestJob(plan, namespace)]));
  return files;
}

function nodeObjects(plan: NetworkPlan, node: PlannedNode, namespace: string): KubeObject[] {
  const labels = nodeLabels(plan, node);
  const selector = { "app.kubernetes.io/instance": node.name };
  const meta = (name: string) => ({ name, namespace, labels });
  const secretName = `${node.name}-key`;
  const p2p = node.p2pPort;
  return [
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: meta(`${node.name}-config`),
      data: {
        "config.toml": renderToml(podConfigEntries(plan, node, namespace)),
        "start.sh": renderStartScript(),
      },
    } satisfies IConfigMap,
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: meta(`${node.name}-permissions`),
      data: { "permissions_config.toml": renderPermissions(plan) },
    } satisfies IConfigMap,
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: meta(secretName),
      type: "Opaque",
      stringData: { key: node.key.privateKey! },
    } satisfies ISecret,
    {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: meta(node.name),
      automountServiceAccountToken: false,
    } satisfies IServiceAccount,
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: meta(`${node.name}-own-key`),
      rules: [
        { apiGroups: [""], resources: ["secrets"], resourceNames: [secretName], verbs: ["get"] },
      ],
    } satisfies IRole,
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: meta(`${node.name}-own-key`),
      roleRef: {
        apiGroup: "rbac.authorization.k8s.io",
        kind: "Role",
        name: `${node.name}-own-key`,
      },
      subjects: [{ kind: "ServiceAccount", name: node.name, namespace }],
    } satisfies IRoleBinding,
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: meta(node.name),
      spec: {
        clusterIP: "None",
        // Peers must reach a node before it is ready: readiness waits for peers.
        publishNotReadyAddresses: true,
        selector,
        ports: [
          { name: "p2p", port: p2p, targetPort: p2p, protocol: "TCP" },
          { name: "rpc-http", port: RPC_HTTP_PORT, targetPort: RPC_HTTP_PORT, protocol: "TCP" },
          { name: "metrics", port: METRICS_PORT, targetPort: METRICS_PORT, protocol: "TCP" },
        ],
      },
    } satisfies IService,
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: meta(`${node.name}-p2p`),
      spec: {
        type: "LoadBalancer",
        // Keeps the peer's source address: Besu admits an inbound peer only when the source IP
        // and its announced port match an allowlist entry (EnodeURLImpl.sameListeningEndpoint).
        externalTrafficPolicy: "Local",
        selector,
        ports: [
          { name: "p2p-tcp", port: p2p, targetPort: p2p, protocol: "TCP" },
          { name: "p2p-udp", port: p2p, targetPort: p2p, protocol: "UDP" },
        ],
      },
    } satisfies IService,
    statefulSet(plan, node, namespace),
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: meta(node.name),
      spec: {
        podSelector: { matchLabels: selector },
        policyTypes: ["Ingress"],
        ingress: [
          // P2P from anywhere: the other members' nodes run outside this cluster.
          {
            ports: [
              { port: p2p, protocol: "TCP" },
              { port: p2p, protocol: "UDP" },
            ],
          },
          // RPC from this namespace only (the load test's workers, operators' tools).
          {
            from: [{ podSelector: {} }],
            ports: [{ port: RPC_HTTP_PORT, protocol: "TCP" }],
          },
          // Metrics for Prometheus in this namespace.
          {
            from: [{ podSelector: { matchLabels: { "app.kubernetes.io/name": "prometheus" } } }],
            ports: [{ port: METRICS_PORT, protocol: "TCP" }],
          },
        ],
      },
    } satisfies INetworkPolicy,
  ];
}

function statefulSet(
  plan: NetworkPlan,
  node: PlannedNode,
  namespace: string,
): KubeObject & IStatefulSet {
  const labels = nodeLabels(plan, node);
  const p2p = node.p2pPort;
  const image = besuImage(plan.spec.besu);
  const probe = (path: string) => ({
    // Besu checks the Host header against host-allowlist, which holds "localhost".
    httpGet: {
      path,
      port: "rpc-http",
      httpHeaders: [{ name: "Host", value: "localhost" }],
    },
    periodSeconds: 10,
    timeoutSeconds: 5,
  });
  const memory = kubeMemory(plan.spec.docker.nodeMemory);
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name: node.name, namespace, labels },
    spec: {
      serviceName: node.name,
      replicas: 1,
      selector: { matchLabels: { "app.kubernetes.io/instance": node.name } },
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: node.name,
          // Besu never calls the Kubernetes API; the Role bounds the account all the same.
          automountServiceAccountToken: false,
          initContainers: [
            {
              // perm_add* rewrites the permissions file in place: a ConfigMap mount is read-only,
              // so the file is copied to a writable volume (run-time changes last until restart).
              name: "permissions",
              image,
              command: [
                "/bin/bash",
                "-c",
                `cp ${PERMISSIONS_SOURCE}/permissions_config.toml ${CONTAINER_PATHS.permissionsFolder}/`,
              ],
              volumeMounts: [
                { name: "permissions-source", mountPath: PERMISSIONS_SOURCE, readOnly: true },
                { name: "permissions", mountPath: CONTAINER_PATHS.permissionsFolder },
              ],
            },
          ],
          containers: [
            {
              name: "besu",
              image,
              command: ["/bin/bash", CONTAINER_PATHS.startScript],
              args: [`--config-file=${CONTAINER_PATHS.config}`],
              ...(isIpv4(node.ip) ? {} : { env: [{ name: P2P_HOST_NAME_ENV, value: node.ip }] }),
              ports: [
                { name: "p2p-tcp", containerPort: p2p, protocol: "TCP" },
                { name: "p2p-udp", containerPort: p2p, protocol: "UDP" },
                { name: "rpc-http", containerPort: RPC_HTTP_PORT, protocol: "TCP" },
                { name: "metrics", containerPort: METRICS_PORT, protocol: "TCP" },
              ],
              resources: {
                requests: { cpu: String(plan.spec.docker.nodeCpus / 2), memory },
                limits: { cpu: String(plan.spec.docker.nodeCpus), memory },
              },
              startupProbe: { ...probe("/liveness"), failureThreshold: 30 },
              livenessProbe: { ...probe("/liveness"), failureThreshold: 3 },
              readinessProbe: {
                ...probe("/readiness?minPeers=1&maxBlocksBehind=2"),
                failureThreshold: 3,
              },
              volumeMounts: [
                { name: "node", mountPath: CONTAINER_PATHS.nodeFolder, readOnly: true },
                {
                  name: "network",
                  mountPath: CONTAINER_PATHS.genesis,
                  subPath: "genesis.json",
                  readOnly: true,
                },
                {
                  name: "network",
                  mountPath: CONTAINER_PATHS.staticNodes,
                  subPath: "static-nodes.json",
                  readOnly: true,
                },
                { name: "permissions", mountPath: CONTAINER_PATHS.permissionsFolder },
                { name: "data", mountPath: CONTAINER_PATHS.data },
              ],
            },
          ],
          volumes: [
            {
              // config.toml, start.sh and the key in one folder, as the compose file mounts it.
              name: "node",
              projected: {
                sources: [
                  {
                    configMap: {
                      name: `${node.name}-config`,
                      items: [
                        { key: "config.toml", path: "config.toml" },
                        { key: "start.sh", path: "start.sh", mode: 0o755 },
                      ],
                    },
                  },
                  {
                    secret: {
                      name: `${node.name}-key`,
                      items: [{ key: "key", path: "key", mode: 0o400 }],
                    },
                  },
                ],
              },
            },
            { name: "network", configMap: { name: "network" } },
            { name: "permissions-source", configMap: { name: `${node.name}-permissions` } },
            { name: "permissions", emptyDir: {} },
          ],
        },
      },
      volumeClaimTemplates: [
        {
          metadata: { name: "data" },
          spec: {
            accessModes: ["ReadWriteOnce"],
            resources: { requests: { storage: NODE_STORAGE } },
          },
        },
      ],
    },
  };
}

/**
 * config.toml in a pod: as on a host, plus the node's Service names in host-allowlist, since Besu
 * answers RPC only for a Host header it allows and clients in the cluster call the Service.
 */
export function podConfigEntries(
  plan: NetworkPlan,
  node: PlannedNode,
  namespace: string,
): [string, TomlValue][] {
  const service = `${node.name}.${namespace}.svc`;
  return routableConfigEntries(plan, node).map(([key, value]) =>
    key === "host-allowlist" && Array.isArray(value)
      ? [key, [...value, service, `${service}.cluster.local`]]
      : [key, value],
  );
}

/** docker.nodeMemory ("2g", "512m") in Kubernetes units: "m" there means milli, not mega. */
export function kubeMemory(size: string): string {
  const match = /^(\d+)([mg])$/.exec(size);
  if (match === null) throw new Error(`not a memory size: ${size}`);
  return `${match[1]}${match[2] === "g" ? "Gi" : "Mi"}`;
}

export function yamlDocuments(objects: readonly unknown[]): string {
  return objects.map((object) => `---\n${dump(object, { lineWidth: -1, noRefs: true })}`).join("");
}
