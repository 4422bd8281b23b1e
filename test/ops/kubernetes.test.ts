import { expect } from "chai";
import { readFileSync } from "node:fs";
import { load, loadAll } from "js-yaml";
import * as apps from "kubernetes-models/apps/v1";
import * as batch from "kubernetes-models/batch/v1";
import * as networking from "kubernetes-models/networking.k8s.io/v1";
import * as rbac from "kubernetes-models/rbac.authorization.k8s.io/v1";
import * as core from "kubernetes-models/v1";
import { keyFromPrivate } from "../../ops/besu/keys.js";
import { assembleNetwork, parseManifest } from "../../ops/members/assemble.js";
import { renderMemberBundle } from "../../ops/members/bundle.js";
import { initMember, memberFileText } from "../../ops/members/init.js";
import { seededKeys } from "./helpers.js";

type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [key: string]: any;
};

/** The model class of an object's apiVersion and kind, from the Kubernetes API schemas. */
const MODELS: Record<string, Record<string, unknown>> = {
  v1: core,
  "apps/v1": apps,
  "batch/v1": batch,
  "networking.k8s.io/v1": networking,
  "rbac.authorization.k8s.io/v1": rbac,
};

/** Validates one object against its API schema; throws with the schema's message if it breaks it. */
function validate(object: Obj): void {
  const Model = MODELS[object.apiVersion]?.[object.kind] as
    (new (data: Obj) => { validate(): void }) | undefined;
  if (Model === undefined) throw new Error(`no model for ${object.apiVersion} ${object.kind}`);
  new Model(object).validate();
}

/** The grid member's Kubernetes files of network/examples/hosts.yaml, rendered from a manifest. */
function gridKubernetes(): { files: Map<string, string>; keys: Map<string, string> } {
  const generate = seededKeys("kubernetes");
  const init = (organisation: string, role: "grid-operator" | "producer", nodes: string[]) =>
    initMember({
      network: { name: "hosts", chainId: 2027 },
      organisation: { id: organisation, role },
      nodes: nodes.map((kind, i) => ({
        kind: kind as "validator",
        host: `${organisation}-${i}.example.net`,
        p2pPort: 30303,
      })),
      accounts: [{ role: role === "producer" ? "producer" : "deployer" }],
      generate,
    });
  const members = [
    init("grid", "grid-operator", ["validator", "rpc"]),
    init("solar-north", "producer", ["validator"]),
    init("wind-south", "producer", ["validator"]),
  ];
  const consortium = "network/examples/hosts.yaml";
  const { manifestText } = assembleNetwork(
    { file: consortium, text: readFileSync(consortium, "utf8") },
    members.map(({ member }, i) => ({ file: `m${i}.json`, text: memberFileText(member) })),
  );
  const manifest = parseManifest(manifestText, "network-manifest.json");
  const own = new Map(
    [...members[0]!.files]
      .filter(([path]) => path.startsWith("keys/nodes/"))
      .map(([path, file]) => [path.slice("keys/nodes/".length, -".key".length), file.content]),
  );
  const nodeKeys = new Map([...own].map(([name, text]) => [name, keyFromPrivate(text)] as const));
  const bundle = renderMemberBundle(
    manifest,
    manifestText,
    "network-manifest.json",
    "grid",
    nodeKeys,
  );
  const files = new Map(
    [...bundle]
      .filter(([path]) => path.startsWith("kubernetes/"))
      .map(([path, file]) => [path.slice("kubernetes/".length), file.content]),
  );
  return { files, keys: own };
}

describe("Kubernetes manifests of a member (validated against the API schemas, not run)", () => {
  const { files, keys } = gridKubernetes();
  const objects = [...files].flatMap(([file, text]) =>
    (loadAll(text) as Obj[]).map((object) => ({ file, object })),
  );

  it("every object of every file validates against its Kubernetes API schema", () => {
    expect([...files.keys()].sort()).to.deep.equal([
      "00-namespace.yaml",
      "loadtest-job.yaml",
      "node-grid-rpc-1.yaml",
      "node-grid-validator-1.yaml",
      "prometheus.yaml",
      "secret-grid-rpc-1.yaml",
      "secret-grid-validator-1.yaml",
    ]);
    expect(objects.length).to.be.greaterThan(20);
    for (const { file, object } of objects) {
      expect(
        () => validate(object),
        `${file}: ${object.kind} ${object.metadata.name}`,
      ).to.not.throw();
    }
  });

  it("a broken manifest fails the validation", () => {
    const statefulSet = structuredClone(
      objects.find(({ object }) => object.kind === "StatefulSet")!.object,
    );
    statefulSet.spec.replicas = "one";
    expect(() => validate(statefulSet)).to.throw(/spec\/replicas must be integer/);
    const service = structuredClone(
      objects.find(({ object }) => object.kind === "Service")!.object,
    );
    service.spec.ports[0].protocol = "TCPX";
    expect(() => validate(service)).to.throw(/protocol must be equal to one of the allowed values/);
    const job = structuredClone(objects.find(({ object }) => object.kind === "Job")!.object);
    delete job.spec.template.spec.containers;
    expect(() => validate(job)).to.throw(/containers/);
  });

  it("per node: a StatefulSet with its claim, a headless Service, a P2P LoadBalancer, probes and resources", () => {
    for (const node of ["grid-validator-1", "grid-rpc-1"]) {
      const mine = objects
        .filter(({ file }) => file === `node-${node}.yaml` || file === `secret-${node}.yaml`)
        .map(({ object }) => object);
      expect(mine.map((object) => `${object.kind}/${object.metadata.name}`).sort()).to.deep.equal(
        [
          `ConfigMap/${node}-config`,
          `ConfigMap/${node}-permissions`,
          `NetworkPolicy/${node}`,
          `Role/${node}-own-key`,
          `RoleBinding/${node}-own-key`,
          `Secret/${node}-key`,
          `Service/${node}`,
          `Service/${node}-p2p`,
          `ServiceAccount/${node}`,
          `StatefulSet/${node}`,
        ].sort(),
      );
      const set = mine.find((object) => object.kind === "StatefulSet")!;
      expect(set.spec.serviceName).to.equal(node);
      expect(set.spec.volumeClaimTemplates[0].metadata.name).to.equal("data");
      const container = set.spec.template.spec.containers[0];
      expect(container.livenessProbe.httpGet.path).to.equal("/liveness");
      expect(container.readinessProbe.httpGet.path).to.match(/^\/readiness\?minPeers=1/);
      expect(container.resources).to.deep.equal({
        requests: { cpu: "1", memory: "2Gi" },
        limits: { cpu: "2", memory: "2Gi" },
      });
      expect(container.env).to.deep.equal([
        {
          name: "GRIDCHAIN_P2P_HOST_NAME",
          value: `grid-${node === "grid-rpc-1" ? 1 : 0}.example.net`,
        },
      ]);
      const config = mine.find((object) => object.metadata.name === `${node}-config`)!;
      const allowlist = /host-allowlist=\[([^\]]*)\]/.exec(config.data["config.toml"])![1]!;
      expect(allowlist).to.include(`"${node}.hosts-grid.svc"`);
      const headless = mine.find(
        (object) => object.kind === "Service" && object.metadata.name === node,
      )!;
      expect(headless.spec.clusterIP).to.equal("None");
      const p2p = mine.find((object) => object.metadata.name === `${node}-p2p`)!;
      expect(p2p.spec.externalTrafficPolicy).to.equal("Local");
      expect(p2p.spec.ports.map((port: any) => `${port.port}/${port.protocol}`)).to.deep.equal([
        "30303/TCP",
        "30303/UDP",
      ]);
    }
  });

  it("each node key is its own Secret, mounted in its own pod only, readable by its own account only", () => {
    const secrets = objects
      .filter(({ object }) => object.kind === "Secret")
      .map(({ object }) => object);
    expect(secrets.map((secret) => secret.metadata.name).sort()).to.deep.equal([
      "grid-rpc-1-key",
      "grid-validator-1-key",
    ]);
    for (const secret of secrets) {
      const node = secret.metadata.name.replace(/-key$/, "");
      expect(secret.stringData.key).to.equal(keys.get(node));
      const role = objects.find(
        ({ object }) => object.kind === "Role" && object.metadata.name === `${node}-own-key`,
      )!.object;
      expect(role.rules).to.deep.equal([
        {
          apiGroups: [""],
          resources: ["secrets"],
          resourceNames: [secret.metadata.name],
          verbs: ["get"],
        },
      ]);
      const binding = objects.find(
        ({ object }) => object.kind === "RoleBinding" && object.metadata.name === `${node}-own-key`,
      )!.object;
      expect(binding.subjects).to.deep.equal([
        { kind: "ServiceAccount", name: node, namespace: "hosts-grid" },
      ]);
      const set = objects.find(
        ({ object }) => object.kind === "StatefulSet" && object.metadata.name === node,
      )!.object;
      expect(set.spec.template.spec.serviceAccountName).to.equal(node);
      const mounted = JSON.stringify(set.spec.template.spec.volumes).match(
        /"name":"[a-z0-9-]+-key"/g,
      );
      expect(mounted).to.deep.equal([`"name":"${secret.metadata.name}"`]);
    }
  });

  it("Prometheus finds the Besu pods by pod discovery (kept by label and port name); workers are an Indexed Job", () => {
    const config = objects.find(
      ({ object }) => object.kind === "ConfigMap" && object.metadata.name === "prometheus",
    )!.object;
    // Debian's promtool is built without Kubernetes discovery, so the structure is checked here.
    const prometheus = load(config.data["prometheus.yml"]) as any;
    const [scrape] = prometheus.scrape_configs;
    expect(scrape.kubernetes_sd_configs).to.deep.equal([
      { role: "pod", namespaces: { names: ["hosts-grid"] } },
    ]);
    expect(scrape.relabel_configs.slice(0, 2)).to.deep.equal([
      {
        source_labels: ["__meta_kubernetes_pod_label_app_kubernetes_io_name"],
        regex: "besu",
        action: "keep",
      },
      {
        source_labels: ["__meta_kubernetes_pod_container_port_name"],
        regex: "metrics",
        action: "keep",
      },
    ]);
    const pod = objects.find(({ object }) => object.kind === "StatefulSet")!.object.spec.template;
    expect(pod.metadata.labels["app.kubernetes.io/name"]).to.equal("besu");
    expect(pod.spec.containers[0].ports.map((port: any) => port.name)).to.include("metrics");
    const job = objects.find(({ object }) => object.kind === "Job")!.object;
    expect(job.spec.completionMode).to.equal("Indexed");
    expect(job.spec.completions).to.equal(job.spec.parallelism);
  });
});
