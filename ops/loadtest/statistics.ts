import type { Stats } from "./report-model.js";

/** Nearest-rank percentile of ascending values; null for none. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

export function stats(values: readonly number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: sorted.length,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted.length === 0 ? null : sorted[sorted.length - 1]!,
    mean: sorted.length === 0 ? null : sorted.reduce((sum, v) => sum + v, 0) / sorted.length,
  };
}

/** The smallest value, or null for none (without spreading: journals hold millions of values). */
export function least(values: readonly number[]): number | null {
  let out: number | null = null;
  for (const value of values) if (out === null || value < out) out = value;
  return out;
}

export function greatest(values: readonly number[]): number | null {
  let out: number | null = null;
  for (const value of values) if (out === null || value > out) out = value;
  return out;
}
