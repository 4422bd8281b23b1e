import { existsSync } from "node:fs";
import type { Command } from "commander";
import { subnetAddress } from "../consortium/layout.js";
import { OperatorError } from "../errors.js";
import { chainContext, chainOptions, type ChainOptions } from "./context.js";

type ExporterCommandOptions = ChainOptions & {
  port: string;
  host: string;
  besu: boolean;
  pollMs: string;
};

/** `gridchain exporter`: serve chain, market and Besu consensus metrics for Prometheus. */
export function register(program: Command): void {
  chainOptions(
    program
      .command("exporter")
      .description("serve chain, market and (on Besu) consensus metrics at /metrics"),
  )
    .option("--port <port>", "port of /metrics", "9464")
    .option(
      "--host <ip>",
      "address to bind; the besu engine's Prometheus reaches the host at the compose network's gateway",
      "127.0.0.1",
    )
    .option(
      "--besu",
      "also read peers and validators over Besu's JSON-RPC (default with the besu engine)",
      false,
    )
    .option("--poll-ms <ms>", "milliseconds between polls of the chain", "1000")
    .addHelpText(
      "after",
      "\nExamples:\n  gridchain exporter\n  gridchain exporter --engine besu --host 172.16.240.1",
    )
    .action(async (options: ExporterCommandOptions) => {
      const port = Number(options.port);
      if (!Number.isInteger(port) || port < 0 || port > 65_535) {
        throw new OperatorError(`--port ${options.port} is not a TCP port`, {
          hint: "use 0..65535",
        });
      }
      const pollMs = Number(options.pollMs);
      if (!Number.isInteger(pollMs) || pollMs < 100) {
        throw new OperatorError(`--poll-ms ${options.pollMs} is not allowed`, {
          hint: "use an integer of at least 100",
        });
      }
      const { engine, kind, spec, manifestPath } = await chainContext(options);
      const gateway = subnetAddress(spec.docker.subnet, 1);
      if (options.host !== "127.0.0.1" && options.host !== gateway) {
        throw new OperatorError(`--host ${options.host} is not allowed`, {
          details: "metrics name accounts and rates: they stay on this host",
          hint: `use 127.0.0.1, or ${gateway} (the compose network's gateway) for the besu engine's Prometheus`,
        });
      }
      const { readManifest } = await import("../contracts/index.js");
      const { marketAddresses, startExporter } = await import("../metrics/exporter.js");
      const rpcUrl = engine.rpcUrl();
      let market;
      if (options.manifest !== undefined || existsSync(manifestPath)) {
        market = await marketAddresses(rpcUrl, await readManifest(manifestPath));
      } else {
        console.log(`no deployment at ${manifestPath}: exporting chain metrics only`);
      }
      const { governanceRecordPath, readGovernanceRecord } =
        await import("../governance/deploy.js");
      const governance = readGovernanceRecord(governanceRecordPath(manifestPath));
      const exporter = await startExporter({
        rpcUrl,
        market,
        governance,
        besu: options.besu || kind === "besu" ? spec.consensus.protocol : undefined,
        host: options.host,
        port,
        pollMs,
      });
      console.log(`exporter serving ${exporter.url} (chain ${rpcUrl})`);
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      await exporter.close();
    });
}
