import {
  GRAFANA_DATASOURCE_UID,
  renderGrafanaDashboardProvider,
  renderGrafanaDatasource,
} from "../ops/compose/render.js";
import {
  alertRules,
  gridchainJobs,
  recordingRules,
  renderPrometheusConfig,
  yaml,
} from "../ops/metrics/prometheus.js";
import { DATASOURCE, renderDashboards } from "./grafana/dashboards.js";

/** The defaults the committed rules are rendered for: `consortium.yaml` without overrides. */
export const DEFAULT_RULE_PARAMETERS = { blockPeriodSeconds: 2, minPeers: 2 };

/**
 * Every committed file under monitoring/, by path relative to it. The per-network copies that
 * `gridchain generate` writes come from the same functions with the network's own parameters.
 */
export function monitoringFiles(): Map<string, string> {
  if (DATASOURCE.uid !== GRAFANA_DATASOURCE_UID) throw new Error("datasource uids disagree");
  const files = new Map<string, string>([
    [
      "prometheus/prometheus.yml",
      renderPrometheusConfig({
        scrapeInterval: "5s",
        ruleFiles: ["rules/*.yml"],
        jobs: gridchainJobs("127.0.0.1", "local"),
      }),
    ],
    ["prometheus/rules/recording.yml", yaml(recordingRules())],
    ["prometheus/rules/alerts.yml", yaml(alertRules(DEFAULT_RULE_PARAMETERS))],
    [
      "grafana/provisioning/datasources/prometheus.yml",
      renderGrafanaDatasource("http://prometheus:9090"),
    ],
    ["grafana/provisioning/dashboards/gridchain.yml", renderGrafanaDashboardProvider()],
  ]);
  for (const [name, content] of renderDashboards())
    files.set(`grafana/dashboards/${name}`, content);
  return files;
}
