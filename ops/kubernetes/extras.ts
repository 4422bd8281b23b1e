import type { NetworkPlan } from "../consortium/plan.js";
import { yaml } from "../metrics/prometheus.js";
import type { KubeObject } from "./object.js";
import type { IJob } from "kubernetes-models/batch/v1";
import type { IRole, IRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import type { IConfigMap, IServiceAccount } from "kubernetes-models/v1";

/** The image `clientDockerfile` (ops/loadtest/runners/image.ts) builds for sites with a registry. */
export const LOADTEST_CLIENT_IMAGE = "gridchain/loadtest-client:registry";
/** Workers the rendered Job runs; `kubectl scale` cannot change an Indexed Job, edit both counts. */
export const LOADTEST_JOB_WORKERS = 4;

/**
 * prometheus.yml for a member's namespace: Besu pods are found by pod discovery (no list of targets
 * to keep up to date), kept by their `besu` label and their port named `metrics`, and labelled with
 * node, organisation and kind as the compose network's static targets are.
 */
export function renderKubernetesPrometheus(plan: NetworkPlan, namespace: string): string {
  const podLabel = (label: string) =>
    `__meta_kubernetes_pod_label_${label.replace(/[^a-zA-Z0-9]/g, "_")}`;
  return yaml({
    global: { scrape_interval: "5s", evaluation_interval: "5s" },
    scrape_configs: [
      {
        job_name: "besu",
        kubernetes_sd_configs: [{ role: "pod", namespaces: { names: [namespace] } }],
        relabel_configs: [
          { source_labels: [podLabel("app.kubernetes.io/name")], regex: "besu", action: "keep" },
          {
            source_labels: ["__meta_kubernetes_pod_container_port_name"],
            regex: "metrics",
            action: "keep",
          },
          { source_labels: [podLabel("app.kubernetes.io/instance")], target_label: "node" },
          { source_labels: [podLabel("gridchain.io/organisation")], target_label: "organisation" },
          { source_labels: [podLabel("gridchain.io/kind")], target_label: "kind" },
          { target_label: "network", replacement: plan.spec.name },
        ],
      },
    ],
  });
}

/** Prometheus' scrape config and the account that may list the namespace's pods, nothing more. */
export function prometheusObjects(plan: NetworkPlan, namespace: string): KubeObject[] {
  const labels = {
    "app.kubernetes.io/name": "prometheus",
    "app.kubernetes.io/part-of": plan.spec.name,
  };
  const meta = (name: string) => ({ name, namespace, labels });
  return [
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: meta("prometheus"),
      data: { "prometheus.yml": renderKubernetesPrometheus(plan, namespace) },
    } satisfies IConfigMap,
    {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: meta("prometheus"),
    } satisfies IServiceAccount,
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: meta("prometheus-pod-discovery"),
      rules: [{ apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"] }],
    } satisfies IRole,
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: meta("prometheus-pod-discovery"),
      roleRef: {
        apiGroup: "rbac.authorization.k8s.io",
        kind: "Role",
        name: "prometheus-pod-discovery",
      },
      subjects: [{ kind: "ServiceAccount", name: "prometheus", namespace }],
    } satisfies IRoleBinding,
  ];
}

/**
 * The load test's workers as an Indexed Job: pod k is worker k (Kubernetes sets
 * JOB_COMPLETION_INDEX). A worker speaks the runner protocol as JSON lines on stdin and stdout
 * (ops/loadtest/protocol.ts) and receives its keys there, never in its spec; the pods keep stdin
 * open for the coordinator to attach to. The RPC URL
 * in that message is the member's RPC node by its headless Service, `http://<node>.<namespace>.svc:8545`.
 */
export function loadtestJob(plan: NetworkPlan, namespace: string): KubeObject & IJob {
  const labels = {
    "app.kubernetes.io/name": "gridchain-loadtest-worker",
    "app.kubernetes.io/part-of": plan.spec.name,
  };
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: "loadtest-workers", namespace, labels },
    spec: {
      completionMode: "Indexed",
      completions: LOADTEST_JOB_WORKERS,
      parallelism: LOADTEST_JOB_WORKERS,
      backoffLimit: 0,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: "Never",
          automountServiceAccountToken: false,
          containers: [
            {
              name: "worker",
              image: LOADTEST_CLIENT_IMAGE,
              stdin: true,
              stdinOnce: true,
              resources: {
                requests: { cpu: "500m", memory: "512Mi" },
                limits: { cpu: "1", memory: "1Gi" },
              },
            },
          ],
        },
      },
    },
  };
}
