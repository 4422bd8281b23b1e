import { expect } from "chai";
import { join } from "node:path";
import {
  clientCpuSeconds,
  readProcess,
  readResources,
  sampleResources,
  summariseResources,
  type ResourceSample,
} from "../../ops/loadtest/resources.js";
import { computeReport, renderMarkdown } from "../../ops/loadtest/report.js";
import { testRecord } from "../helpers/loadtest.js";
import { tempDir } from "./helpers.js";

describe("load-test resources: CPU and memory of the chain and workers", () => {
  it("reads a live process's CPU seconds and resident memory from /proc", async () => {
    const own = await readProcess(process.pid);
    expect(own).to.not.equal(undefined);
    expect(own!.cpuSeconds).to.be.greaterThan(0);
    expect(own!.rssBytes).to.be.greaterThan(10 * 2 ** 20);
    expect(await readProcess(2 ** 22 + 1)).to.equal(undefined);
  });

  it("samples its targets into a file, and a last time when stopped", async () => {
    const file = join(tempDir("gridchain-resources-"), "resources.jsonl");
    const sampler = sampleResources({
      file,
      targets: () => [
        { name: "me", pid: process.pid },
        { name: "gone", pid: 2 ** 22 + 1 },
      ],
      intervalMs: 60_000,
    });
    await sampler.stop();
    const samples = readResources(file);
    expect(samples.map((s) => s.name)).to.deep.equal(["me", "me"]);
    expect(samples.every((s) => s.pid === process.pid && s.rssBytes > 0)).to.equal(true);
  });

  it("summarises mean and peak CPU per process, not across a restart, and peak memory", () => {
    const at = (s: number) => 1_000_000 + s * 1000;
    const samples: ResourceSample[] = [
      { at: at(0), name: "chain", pid: 10, cpuSeconds: 5, rssBytes: 100 * 2 ** 20 },
      { at: at(1), name: "chain", pid: 10, cpuSeconds: 5.5, rssBytes: 120 * 2 ** 20 },
      { at: at(2), name: "chain", pid: 10, cpuSeconds: 5.75, rssBytes: 110 * 2 ** 20 },
      { at: at(0), name: "worker 0", pid: 20, cpuSeconds: 1, rssBytes: 50 * 2 ** 20 },
      { at: at(1), name: "worker 0", pid: 21, cpuSeconds: 0.1, rssBytes: 60 * 2 ** 20 },
    ];
    expect(summariseResources(samples)).to.deep.equal([
      { name: "chain", samples: 3, cpuPercentMean: 37.5, cpuPercentPeak: 50, rssPeakMiB: 120 },
      { name: "worker 0", samples: 2, cpuPercentMean: null, cpuPercentPeak: null, rssPeakMiB: 60 },
    ]);
  });

  it("counts the load generator's CPU seconds (coordinator and workers, not the chain) over a window", () => {
    const sample = (name: string, pid: number, at: number, cpuSeconds: number) => ({
      at,
      name,
      pid,
      cpuSeconds,
      rssBytes: 1,
    });
    const samples = [
      sample("chain (anvil)", 1, 1000, 5),
      sample("chain (anvil)", 1, 3000, 50),
      sample("coordinator", 2, 1000, 1),
      sample("coordinator", 2, 2000, 1.5),
      sample("coordinator", 2, 3000, 2),
      sample("worker 0", 3, 1000, 10),
      sample("worker 0", 3, 3000, 12),
      // started within the window: counted from its first sample
      sample("worker 1", 4, 2000, 0.5),
      sample("worker 1", 4, 3000, 0.75),
    ];
    expect(clientCpuSeconds(samples, 1000, 3000)).to.equal(1 + 2 + 0.25);
    // 2500 falls between samples: the count at the last sample before it
    expect(clientCpuSeconds(samples, 1000, 2500)).to.equal(0.5 + 0 + 0);
  });

  it("puts date, network, gridchain version, contracts, the embedded warning and resources in the report", () => {
    const contracts = {
      market: "0x00000000000000000000000000000000000000a1",
      review: "0x00000000000000000000000000000000000000a2",
      credit: "0x00000000000000000000000000000000000000a3",
      channels: "0x00000000000000000000000000000000000000a4",
    };
    const test = testRecord({
      at: Date.UTC(2026, 11, 1, 9, 30),
      network: "pilot",
      gridchain: { version: "0.1.0", commit: "0123456789ab" },
      contracts,
    });
    const samples: ResourceSample[] = [
      { at: 1_000, name: "chain (anvil)", pid: 5, cpuSeconds: 1, rssBytes: 64 * 2 ** 20 },
      { at: 3_000, name: "chain (anvil)", pid: 5, cpuSeconds: 2, rssBytes: 96 * 2 ** 20 },
    ];
    const markdown = renderMarkdown(computeReport([test], samples));
    expect(markdown).to.contain(
      "Run on 2026-12-01T09:30:00.000Z against network pilot by gridchain 0.1.0 (commit 0123456789ab).",
    );
    expect(markdown).to.contain(
      `Contracts: market ${contracts.market}, review ${contracts.review}, credit ${contracts.credit}, channels ${contracts.channels}.`,
    );
    expect(markdown).to.contain(
      "Warning: these figures come from the embedded engine (one anvil process, no consensus, no peers): they say nothing about a Besu network's throughput or latency.",
    );
    expect(markdown).to.contain("| chain (anvil) | 2 | 50 | 50 | 96 |");
    const besu = renderMarkdown(computeReport([testRecord({ engine: "besu" })]));
    expect(besu).to.not.contain("Warning: these figures come from the embedded engine");
    expect(besu).to.contain("No sample was taken.");
  });
});
