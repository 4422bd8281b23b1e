import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { load as loadYaml } from "js-yaml";
import { monitoringFiles } from "../../monitoring/files.js";
import {
  besuDashboard,
  dashboardExpressions,
  marketDashboard,
} from "../../monitoring/grafana/dashboards.js";
import {
  loadConsortium,
  planNetwork,
  renderNetwork,
  resolveKeys,
} from "../../ops/consortium/index.js";
import { writeFileAtomic } from "../../ops/fs.js";
import { CONFIRMATION_BUCKETS, exposedNames, METRICS } from "../../ops/metrics/catalogue.js";
import { LocalPrometheus } from "../../ops/metrics/local-prometheus.js";
import { alertRules, recordingRules, type RuleFile } from "../../ops/metrics/prometheus.js";
import { freePort } from "../support/net.js";
import { BESU_DATA, readJson, seededKeys, tempDir } from "./helpers.js";

const EXAMPLES = [
  "network/consortium.yaml",
  "network/examples/clique-26.2.yaml",
  "network/examples/loadtest-3000.yaml",
];

/** Names PromQL treats as keywords, not series. */
const KEYWORDS = new Set([
  "by",
  "without",
  "on",
  "ignoring",
  "or",
  "and",
  "unless",
  "bool",
  "offset",
]);

/** The series names a PromQL expression reads (functions, labels, strings and keywords removed). */
function seriesNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, "")
    .replace(/\{[^}]*\}/g, "")
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "")
    .replace(/\$\w+/g, "");
  const names = new Set<string>();
  for (const match of stripped.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?/g)) {
    if (match[2] !== undefined || KEYWORDS.has(match[1]!)) continue;
    names.add(match[1]!);
  }
  return [...names];
}

/** Every metric name the pinned Besu exposes, from shared/besu. */
function besuNames(): Set<string> {
  const data = readJson<{
    metrics: { exposedAs: string; type: string }[];
    jvmProcessFromLibrary: string[];
  }>(join(BESU_DATA, "besu-metrics-26.8.0.json"));
  const names = new Set<string>();
  for (const metric of data.metrics) {
    names.add(metric.exposedAs);
    // Timers are summaries: _count and _sum beside the quantiles.
    if (metric.type === "timer(summary)" || metric.type === "histogram") {
      names.add(`${metric.exposedAs}_count`);
      names.add(`${metric.exposedAs}_sum`);
    }
    if (metric.type === "histogram") names.add(`${metric.exposedAs}_bucket`);
  }
  for (const entry of data.jvmProcessFromLibrary) names.add(entry.split(/[{ ]/)[0]!);
  return names;
}

function ruleExpressions(file: RuleFile): string[] {
  return file.groups.flatMap((group) => group.rules.map((rule) => rule.expr));
}

const RECORDED = new Set(
  recordingRules().groups.flatMap((group) =>
    group.rules.flatMap((rule) => ("record" in rule ? [rule.record] : [])),
  ),
);

describe("metric catalogue", () => {
  it("names follow Prometheus conventions: gridchain_ prefix, counters _total, histograms with buckets", () => {
    const problems: string[] = [];
    for (const metric of METRICS) {
      if (!metric.name.startsWith("gridchain_")) problems.push(`${metric.name}: prefix`);
      if ((metric.type === "counter") !== metric.name.endsWith("_total"))
        problems.push(`${metric.name}: _total is for counters only`);
      const buckets: readonly number[] | undefined =
        "buckets" in metric ? metric.buckets : undefined;
      if ((metric.type === "histogram") !== (buckets !== undefined))
        problems.push(`${metric.name}: buckets are for histograms only`);
      if (buckets !== undefined && buckets.some((b, i) => i > 0 && b <= buckets[i - 1]!))
        problems.push(`${metric.name}: buckets must increase`);
      if (metric.type === "histogram" && !metric.name.endsWith("_seconds"))
        problems.push(`${metric.name}: histograms here measure seconds`);
    }
    expect(problems).to.deep.equal([]);
    expect(new Set(METRICS.map((metric) => metric.name)).size).to.equal(METRICS.length);
  });

  it("confirmation time buckets span 0.05 s to 120 s", () => {
    expect(CONFIRMATION_BUCKETS[0]).to.equal(0.05);
    expect(CONFIRMATION_BUCKETS.at(-1)).to.equal(120);
  });
});

describe("dashboards and rules use only known metric names", () => {
  const gridchain = exposedNames();
  const besu = besuNames();

  it("extracts series names from PromQL, skipping functions, labels and keywords", () => {
    expect(
      seriesNames(
        'sum by (le) (rate(a_bucket{job=~"$node", x="y"}[1m])) / on() group_left() b or c:d:e > 3',
      ),
    ).to.deep.equal(["a_bucket", "b", "c:d:e"]);
  });

  it("the market dashboard and all rules read gridchain metrics or recorded series", () => {
    const unknown: string[] = [];
    const exprs = [
      ...dashboardExpressions(marketDashboard()).map(({ expr }) => expr),
      ...ruleExpressions(recordingRules()),
      ...ruleExpressions(alertRules({ blockPeriodSeconds: 2, minPeers: 2 })),
    ];
    for (const expr of exprs) {
      for (const name of seriesNames(expr)) {
        if (!gridchain.has(name) && !RECORDED.has(name) && !besu.has(name)) unknown.push(name);
      }
    }
    expect(unknown).to.deep.equal([]);
  });

  it("the Besu dashboard and the Besu alert read only names in besu-metrics-26.8.0.json (or the exporter's)", () => {
    const names = [
      ...dashboardExpressions(besuDashboard()).flatMap(({ expr }) => seriesNames(expr)),
      ...seriesNames(
        ruleExpressions(alertRules({ blockPeriodSeconds: 2, minPeers: 2 })).find((e) =>
          e.includes("peer"),
        )!,
      ),
    ];
    const besuOnly = names.filter((name) => !name.startsWith("gridchain"));
    expect(besuOnly.length).to.be.greaterThan(8);
    expect(besuOnly.filter((name) => !besu.has(name))).to.deep.equal([]);
    expect(
      names.filter((name) => name.startsWith("gridchain") && !gridchain.has(name)),
    ).to.deep.equal([]);
  });

  it("a renamed Besu metric is caught (jvm_memory_bytes_used is the pre-24.12 name)", () => {
    expect(besu.has("jvm_memory_bytes_used")).to.equal(false);
    expect(besu.has("jvm_memory_used_bytes")).to.equal(true);
  });
});

describe("monitoring/ files", () => {
  it("the committed files are what monitoring/render.ts renders", () => {
    const stale: string[] = [];
    for (const [path, content] of monitoringFiles()) {
      let committed: string | undefined;
      try {
        committed = readFileSync(join("monitoring", path), "utf8");
      } catch {
        committed = undefined;
      }
      if (committed !== content) stale.push(path);
    }
    expect(stale, "run the monitoring render script").to.deep.equal([]);
  });

  it("promtool accepts the committed config and rules", () => {
    const out = execFileSync(
      "promtool",
      [
        "check",
        "rules",
        "monitoring/prometheus/rules/recording.yml",
        "monitoring/prometheus/rules/alerts.yml",
      ],
      { encoding: "utf8" },
    );
    expect(out).to.contain("SUCCESS: 7 rules found");
    expect(out).to.contain("SUCCESS: 5 rules found");
    execFileSync("promtool", ["check", "config", "monitoring/prometheus/prometheus.yml"], {
      stdio: "pipe",
    });
  });

  it("the provisioned dashboards refer to the provisioned datasource", () => {
    const files = monitoringFiles();
    const datasource = loadYaml(files.get("grafana/provisioning/datasources/prometheus.yml")!) as {
      datasources: { uid: string }[];
    };
    for (const name of ["gridchain-market.json", "besu-network.json"]) {
      const dashboard = JSON.parse(files.get(`grafana/dashboards/${name}`)!) as {
        panels: { type: string; datasource?: { uid: string } }[];
      };
      const uids = new Set(
        dashboard.panels.filter((p) => p.type !== "row").map((p) => p.datasource?.uid),
      );
      expect([...uids], name).to.deep.equal([datasource.datasources[0]!.uid]);
    }
  });
});

describe("generated network monitoring files", () => {
  for (const example of EXAMPLES) {
    it(`promtool checks prometheus.yml, local.yml and the rules of ${example}`, () => {
      const out = join(tempDir(), "net");
      const spec = loadConsortium(example);
      const { keys } = resolveKeys(spec, out, { rotate: false, generate: seededKeys(example) });
      const files = renderNetwork(planNetwork(spec, keys));
      for (const [path, file] of files) {
        if (path.startsWith("prometheus/") || path.startsWith("grafana/"))
          writeFileAtomic(join(out, path), file.content);
      }
      const rules = ["recording.yml", "alerts.yml"].map((name) =>
        join(out, "prometheus/rules", name),
      );
      const checked = execFileSync("promtool", ["check", "rules", ...rules], { encoding: "utf8" });
      expect(checked).to.contain("SUCCESS: 5 rules found");
      // local.yml resolves rules/*.yml beside it, so the check also loads the rules.
      const local = execFileSync(
        "promtool",
        ["check", "config", join(out, "prometheus/local.yml")],
        {
          encoding: "utf8",
        },
      );
      expect(local).to.contain("SUCCESS: 2 rule files found");
      // The compose config names the rules by their path inside the container: check it with
      // that path pointed at the generated folder.
      const composeConfig = files
        .get("prometheus/prometheus.yml")!
        .content.replace("/etc/prometheus/rules/", `${join(out, "prometheus/rules")}/`);
      const copy = join(out, "prometheus/compose-check.yml");
      writeFileSync(copy, composeConfig);
      const compose = execFileSync("promtool", ["check", "config", copy], { encoding: "utf8" });
      expect(compose).to.contain("SUCCESS: 2 rule files found");
      const alerts = readFileSync(rules[1]!, "utf8");
      expect(alerts).to.contain(`> ${2 * spec.consensus.blockPeriodSeconds}\n`);
    });
  }

  it("scrapes every node run here, the exporter and the load test at the compose gateway", () => {
    const spec = loadConsortium("network/consortium.yaml");
    const { keys } = resolveKeys(spec, tempDir(), {
      rotate: false,
      generate: seededKeys("jobs"),
    });
    const plan = planNetwork(spec, keys);
    const config = loadYaml(renderNetwork(plan).get("prometheus/prometheus.yml")!.content) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    const jobs = config.scrape_configs.map((job) => [
      job.job_name,
      job.static_configs[0]!.targets[0],
    ]);
    expect(jobs).to.deep.equal([
      ...plan.nodes.filter((node) => node.inCompose).map((node) => [node.name, `${node.ip}:9545`]),
      ["gridchain-exporter", "172.16.240.1:9464"],
      ["gridchain-loadtest", "172.16.240.1:9465"],
    ]);
  });
});

describe("local Prometheus process (monitor up|down)", () => {
  it("down leaves alone a PID file whose process is not its Prometheus", async () => {
    const dir = tempDir();
    const prometheus = new LocalPrometheus({
      configFile: join(dir, "prometheus.yml"),
      dataDir: join(dir, "data"),
      stateDir: dir,
      port: 1,
    });
    // Our own PID: alive, but a node process, not prometheus on port 1.
    writeFileAtomic(
      prometheus.pidFile,
      JSON.stringify({ pid: process.pid, port: 1, startedAt: "2026-01-01T00:00:00Z" }),
    );
    expect(await prometheus.down()).to.equal(false);
    expect(() => readFileSync(prometheus.pidFile)).to.throw(/ENOENT/);
  });

  it("refuses to start without the prometheus binary, naming the package", async () => {
    const dir = tempDir();
    const prometheus = new LocalPrometheus({
      configFile: join(dir, "prometheus.yml"),
      dataDir: join(dir, "data"),
      stateDir: dir,
      port: await freePort(),
    });
    const path = process.env.PATH;
    process.env.PATH = dir;
    try {
      await prometheus.up();
      expect.fail("up should have thrown");
    } catch (error) {
      expect((error as Error).message).to.equal("prometheus is not installed");
    } finally {
      process.env.PATH = path;
    }
  });
});
