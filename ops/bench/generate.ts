/**
 * Benchmark: generate the 3000-account load-test consortium (30 validators) into a temporary
 * folder, as `gridchain generate` does (keys, render, atomic writes), then again (keys reused).
 * Prints wall time per run and the process's peak resident memory.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { generate } from "../commands/generate.js";

const CONFIG = process.argv[2] ?? "network/examples/loadtest-3000.yaml";
const TARGET_SECONDS = 10;

const dir = mkdtempSync(join(tmpdir(), "gridchain-bench-"));
try {
  const out = join(dir, "network");
  const runs: { label: string; seconds: number; summary: string[] }[] = [];
  for (const label of ["first run (keys generated)", "second run (keys reused)"]) {
    const started = performance.now();
    const summary = await generate({ config: CONFIG, out, rotate: false });
    runs.push({ label, seconds: (performance.now() - started) / 1000, summary });
  }
  const peakMiB = process.resourceUsage().maxRSS / 1024;
  console.log(`bench:generate ${CONFIG}`);
  console.log(runs[0]!.summary.slice(1, 5).join("\n"));
  for (const run of runs) {
    console.log(`${run.label}: ${run.seconds.toFixed(2)} s (target < ${TARGET_SECONDS} s)`);
  }
  console.log(`peak RSS: ${peakMiB.toFixed(0)} MiB`);
  if (runs[0]!.seconds >= TARGET_SECONDS) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
