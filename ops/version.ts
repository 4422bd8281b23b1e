import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

/** gridchain's package version and, in a git checkout, the commit it runs from. */
export type GridchainVersion = { version: string; commit: string | undefined };

export function gridchainVersion(): GridchainVersion {
  const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
    version: string;
  };
  let commit: string | undefined;
  try {
    commit = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], {
      cwd: ROOT,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 5_000,
    }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], {
      cwd: ROOT,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 5_000,
    });
    if (dirty.trim().length > 0) commit += "-dirty";
  } catch {
    // An npm install or a tarball: no git, the package version alone.
  }
  return { version, commit: commit || undefined };
}

/** "0.1.0 (commit 1a2b3c4d5e6f)", as `gridchain --version` prints it. */
export function versionLine(): string {
  const { version, commit } = gridchainVersion();
  return commit === undefined ? version : `${version} (commit ${commit})`;
}
