import { mkdtempSync, readFileSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { keccak256, toUtf8Bytes } from "ethers";
import { keyFromPrivate, type KeyPair } from "../../ops/besu/keys.js";

/** shared/besu reference data, beside the project (CI has shared/ beside the clone). */
export const BESU_DATA = "../shared/besu";

export function readJson<T = any>(path: string): T {
  return JSON.parse(readFileSync(path, "utf8")) as T;
}

export function tempDir(prefix = "gridchain-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A deterministic key source for tests: key n = keccak256("seed/n"). */
export function seededKeys(seed: string): () => KeyPair {
  let n = 0;
  return () => keyFromPrivate(keccak256(toUtf8Bytes(`${seed}/${n++}`)));
}

/** Every file under a folder, relative path -> content, for byte-for-byte comparisons. */
export function snapshot(root: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder)) {
      const path = join(folder, entry);
      if (statSync(path).isDirectory()) walk(path);
      else files.set(relative(root, path), readFileSync(path, "utf8"));
    }
  };
  walk(root);
  return files;
}
