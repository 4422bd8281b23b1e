import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { OperatorError } from "../errors.js";
import { chainContext, chainOptions, type ChainOptions } from "./context.js";

type MonitorOptions = ChainOptions & { port?: string };

/** `gridchain monitor up|down`: a local Prometheus for the embedded engine. */
export function register(program: Command): void {
  const monitor = program
    .command("monitor")
    .description("run a local Prometheus for the embedded engine (besu runs its own in compose)");
  chainOptions(monitor.command("up").description("start Prometheus on 127.0.0.1"))
    .option("--port <port>", "Prometheus port on 127.0.0.1", "9090")
    .addHelpText("after", "\nExamples:\n  gridchain monitor up\n  gridchain monitor up --port 9091")
    .action(async (options: MonitorOptions) => {
      const prometheus = await localPrometheus(options);
      const started = await prometheus.up();
      if (!started.started) {
        console.log(
          `Prometheus already running: ${started.url} (pid ${started.pid}); 'gridchain monitor down' stops it`,
        );
        return;
      }
      await prometheus.ready();
      console.log(`Prometheus up: ${prometheus.url} (log ${prometheus.logFile})`);
      console.log("start 'gridchain exporter' so it has something to scrape");
    });
  chainOptions(monitor.command("down").description("stop the Prometheus 'monitor up' started"))
    .addHelpText("after", "\nExample:\n  gridchain monitor down")
    .action(async (options: MonitorOptions) => {
      const prometheus = await localPrometheus(options);
      console.log((await prometheus.down()) ? "Prometheus stopped" : "Prometheus was not running");
    });
}

async function localPrometheus(options: MonitorOptions) {
  const port = Number(options.port ?? "9090");
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new OperatorError(`--port ${options.port} is not a TCP port`, { hint: "use 1..65535" });
  }
  const { kind, networkDir, spec } = await chainContext(options);
  if (kind === "besu") {
    throw new OperatorError("the besu engine runs Prometheus and Grafana in its compose network", {
      details: `Prometheus http://127.0.0.1:${spec.docker.hostPorts.prometheus}, Grafana http://127.0.0.1:${spec.docker.hostPorts.grafana}`,
      hint: "'gridchain up --engine besu' starts them",
    });
  }
  const configFile = join(networkDir, "prometheus", "local.yml");
  if (!existsSync(configFile)) {
    throw new OperatorError(`${configFile} does not exist`, {
      hint: `regenerate the network: 'gridchain generate -c ${options.config}'`,
    });
  }
  const { LocalPrometheus } = await import("../metrics/local-prometheus.js");
  return new LocalPrometheus({
    configFile,
    dataDir: join(networkDir, "prometheus-data"),
    stateDir: networkDir,
    port,
  });
}
