import { existsSync } from "node:fs";
import type { Command } from "commander";
import { chainOptions, recordedContext, type ChainOptions } from "./context.js";

/** `gridchain status`: the engine, chain id, height, block time, engine details and the market. */
export function register(program: Command): void {
  chainOptions(
    program
      .command("status")
      .description("show the chain (engine, chain id, height, block time) and the deployed market"),
  )
    .option("--json", "print JSON", false)
    .addHelpText("after", "\nExamples:\n  gridchain status\n  gridchain status --json")
    .action(async (options: ChainOptions & { json: boolean }) => {
      const { engine, network, manifestPath } = await recordedContext(options);
      const status = await engine.status();
      let deployment: Record<string, unknown> | undefined;
      const lines: string[] = [];
      if (existsSync(manifestPath)) {
        const { readManifest } = await import("../contracts/manifest.js");
        const manifest = await readManifest(manifestPath);
        deployment = { manifest: manifestPath, chainId: manifest.chainId };
        if (status.running) {
          const { readDeploymentState } = await import("../contracts/onchain.js");
          const state = await readDeploymentState(status.rpcUrl, manifest);
          deployment = { ...deployment, ...state };
          lines.push(`deployment: ${manifestPath}`);
          for (const c of state.contracts) {
            const note = !c.hasCode
              ? "NO CODE on this chain"
              : c.matchesManifest
                ? `implementation ${c.implementation}`
                : `implementation ${c.implementation} (manifest says ${manifest.contracts[c.name].implementation})`;
            lines.push(`  ${c.name.padEnd(17)} ${c.proxy}  ${c.contractName}, ${note}`);
          }
          if (state.offers !== undefined)
            lines.push(`market: ${state.offers} offers, ${state.orders} orders`);
          if (state.contracts.every((c) => c.hasCode)) {
            const { readTrustModel, renderTrustModel } = await import("../contracts/trust.js");
            const { governanceRecordPath, readGovernanceRecord } =
              await import("../governance/deploy.js");
            const governance = readGovernanceRecord(governanceRecordPath(manifestPath));
            const trust = await readTrustModel(status.rpcUrl, manifest, {
              governance: governance?.governance,
            });
            deployment = { ...deployment, trust };
            lines.push(...renderTrustModel(trust));
          }
        } else {
          lines.push(`deployment: ${manifestPath} (chain not running)`);
        }
      } else {
        lines.push(`deployment: none yet ('gridchain deploy' writes ${manifestPath})`);
      }
      if (options.json) {
        const { toJson } = await import("../json.js");
        console.log(toJson({ network, ...status, deployment: deployment ?? null }));
      } else {
        console.log(
          [
            `network: ${network}`,
            `engine: ${status.engine} (${status.running ? "running" : "stopped"})`,
            `rpc: ${status.rpcUrl}`,
            ...(status.chainId === undefined ? [] : [`chain id: ${status.chainId}`]),
            ...(status.height === undefined ? [] : [`height: ${status.height}`]),
            ...(status.blockTimeSeconds === undefined
              ? []
              : [`block time: ${status.blockTimeSeconds.toFixed(2)} s`]),
            ...(status.problem === undefined ? [] : [`problem: ${status.problem}`]),
            ...lines,
          ].join("\n"),
        );
      }
      if (!status.running || status.problem !== undefined) process.exitCode = 3;
    });
}
