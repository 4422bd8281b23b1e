import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";

/**
 * CPU and memory of the chain and of each worker over a load test, sampled from /proc (Linux)
 * once a second into resources.jsonl beside the journal. A process that cannot be read (gone, or
 * not on this host, like a container) is skipped for that sample; the report says which were not
 * sampled at all.
 */

/** One sample of one process: its CPU seconds so far (user + system) and resident memory. */
export type ResourceSample = {
  at: number;
  name: string;
  pid: number;
  cpuSeconds: number;
  rssBytes: number;
};

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these ticks (100 on every common arch). */
const TICKS_PER_SECOND = 100;

/** CPU seconds and resident bytes of `pid`, or undefined when /proc has no such process. */
export async function readProcess(
  pid: number,
): Promise<{ cpuSeconds: number; rssBytes: number } | undefined> {
  try {
    const [stat, status] = await Promise.all([
      readFile(`/proc/${pid}/stat`, "utf8"),
      readFile(`/proc/${pid}/status`, "utf8"),
    ]);
    // The command name (field 2) may hold spaces and parentheses: count fields after its ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const rss = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
    return {
      cpuSeconds: (utime + stime) / TICKS_PER_SECOND,
      rssBytes: rss === null ? 0 : Number(rss[1]) * 1024,
    };
  } catch {
    return undefined;
  }
}

/**
 * Samples the processes `targets` names every `intervalMs` until stopped; `targets` is asked
 * again at each sample, so workers that start or end during the test are followed.
 */
export function sampleResources(options: {
  file: string;
  targets: () => { name: string; pid: number }[];
  intervalMs?: number;
}): { stop: () => Promise<void> } {
  let pending: Promise<void> = Promise.resolve();
  const sample = async () => {
    const lines: string[] = [];
    for (const { name, pid } of options.targets()) {
      const read = await readProcess(pid);
      if (read !== undefined) lines.push(JSON.stringify({ at: Date.now(), name, pid, ...read }));
    }
    if (lines.length > 0) appendFileSync(options.file, `${lines.join("\n")}\n`);
  };
  const timer = setInterval(() => {
    pending = pending.then(sample);
  }, options.intervalMs ?? 1000);
  pending = pending.then(sample);
  return {
    async stop() {
      clearInterval(timer);
      pending = pending.then(sample);
      await pending;
    },
  };
}

/** The samples of a resources.jsonl; none when the file is missing. Torn lines are skipped. */
export function readResources(file: string): ResourceSample[] {
  if (!existsSync(file)) return [];
  const samples: ResourceSample[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (line.trim() === "") continue;
    try {
      const value = JSON.parse(line) as ResourceSample;
      if (typeof value.name === "string" && Number.isFinite(value.cpuSeconds)) samples.push(value);
    } catch {
      // A line cut short by a crash.
    }
  }
  return samples;
}

/** Per process: mean and peak CPU (percent of one core) and peak resident memory over the test. */
export type ResourceUse = {
  name: string;
  samples: number;
  cpuPercentMean: number | null;
  cpuPercentPeak: number | null;
  rssPeakMiB: number;
};

export function summariseResources(samples: readonly ResourceSample[]): ResourceUse[] {
  const byName = new Map<string, ResourceSample[]>();
  for (const sample of samples) {
    const list = byName.get(sample.name) ?? [];
    list.push(sample);
    byName.set(sample.name, list);
  }
  return [...byName.entries()].map(([name, list]) => {
    const sorted = [...list].sort((a, b) => a.at - b.at);
    const rates: number[] = [];
    for (let i = 1; i < sorted.length; i += 1) {
      const previous = sorted[i - 1]!;
      const current = sorted[i]!;
      // A restarted process (new pid) starts its CPU count again: no rate across the restart.
      if (current.pid !== previous.pid || current.at <= previous.at) continue;
      rates.push(
        (100 * (current.cpuSeconds - previous.cpuSeconds)) / ((current.at - previous.at) / 1000),
      );
    }
    const first = sorted[0]!;
    const last = sorted.at(-1)!;
    const span = (last.at - first.at) / 1000;
    return {
      name,
      samples: sorted.length,
      cpuPercentMean:
        span > 0 && first.pid === last.pid
          ? (100 * (last.cpuSeconds - first.cpuSeconds)) / span
          : null,
      cpuPercentPeak: rates.length === 0 ? null : Math.max(...rates),
      rssPeakMiB: Math.max(...sorted.map((s) => s.rssBytes)) / 2 ** 20,
    };
  });
}

/** Whether a sampled process is the load generator's own: the coordinator or a worker. */
export function isClient(name: string): boolean {
  return name === "coordinator" || /^worker \d+$/.test(name);
}

/**
 * CPU seconds the load generator (coordinator and workers) spent between `from` and `to` (epoch
 * ms), from each process's samples: its CPU count at the last sample at or before each bound
 * (its first sample when it started later, its last when it ended earlier).
 */
export function clientCpuSeconds(
  samples: readonly ResourceSample[],
  from: number,
  to: number,
): number {
  const byProcess = new Map<string, ResourceSample[]>();
  for (const sample of samples) {
    if (!isClient(sample.name)) continue;
    const key = `${sample.name}/${sample.pid}`;
    const list = byProcess.get(key) ?? [];
    list.push(sample);
    byProcess.set(key, list);
  }
  let total = 0;
  for (const list of byProcess.values()) {
    const sorted = [...list].sort((a, b) => a.at - b.at);
    const at = (time: number) =>
      (sorted.findLast((sample) => sample.at <= time) ?? sorted[0]!).cpuSeconds;
    total += Math.max(0, at(to) - at(from));
  }
  return total;
}

/**
 * The chain's processes to sample: the embedded engine's anvil, or each Besu container's main
 * process as this host sees it (Docker's inspect gives its host PID).
 */
export async function chainTargets(status: {
  engine: string;
  details: Record<string, unknown>;
}): Promise<{ name: string; pid: number }[]> {
  if (typeof status.details.pid === "number") {
    return [{ name: "chain (anvil)", pid: status.details.pid }];
  }
  const containers = status.details.containers;
  if (status.engine !== "besu" || !Array.isArray(containers)) return [];
  const { default: Docker } = await import("dockerode");
  const docker = new Docker();
  const targets: { name: string; pid: number }[] = [];
  for (const container of containers as { name: string }[]) {
    const pid = await docker
      .getContainer(container.name)
      .inspect()
      .then((info) => info.State.Pid)
      .catch(() => 0);
    if (pid > 0) targets.push({ name: `chain ${container.name}`, pid });
  }
  return targets;
}
