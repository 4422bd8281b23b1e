import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import Ajv2019 from "ajv/dist/2019.js";
import { keccak256, toUtf8Bytes } from "ethers";
import { keyFromPrivate, type KeyPair } from "../../ops/besu/keys.js";

/** shared/besu reference data, beside the project (CI has shared/ beside the clone). */
export const BESU_DATA = "../shared/besu";

export function readJson<T = any>(path: string): T {
  return JSON.parse(readFileSync(path, "utf8")) as T;
}

const tempDirs: string[] = [];

/** A fresh temporary folder, removed when the test run ends (it may hold generated keys). */
export function tempDir(prefix = "gridchain-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

after(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

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

/**
 * Reads the flat TOML gridchain writes (key=value, arrays over several lines), failing on anything
 * else: a bare key, a table, a missing `=`, a value that is not a TOML string, number, boolean or
 * array of strings.
 */
export function parseFlatToml(text: string): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  const lines = text.split("\n").filter((line) => line.trim() !== "" && !line.startsWith("#"));
  for (let i = 0; i < lines.length; i += 1) {
    const match = /^([a-z0-9-]+)=(.*)$/.exec(lines[i]!);
    if (match === null) throw new Error(`not a key=value line: ${lines[i]}`);
    let value = match[2]!;
    if (value === "[") {
      while (lines[i + 1] !== "]") {
        i += 1;
        if (i >= lines.length) throw new Error(`unterminated array for ${match[1]}`);
        value += lines[i]!.trim();
      }
      i += 1;
      value += "]";
    }
    if (match[1]! in result) throw new Error(`duplicate key ${match[1]}`);
    result[match[1]!] = JSON.parse(value);
  }
  return result;
}

const COMPOSE_SCHEMA = "/usr/lib/python3/dist-packages/compose/config/compose_spec.json";

/**
 * The Compose Specification schema Debian's docker-compose ships. It uses draft-04 `id` keywords
 * (dropped here) and compose's own formats, which are defined as the spec describes them.
 */
export function composeValidator() {
  const maps = new Set(["properties", "patternProperties", "definitions"]);
  const clean = (node: unknown, isMap: boolean): unknown => {
    if (Array.isArray(node)) return node.map((item) => clean(item, false));
    if (node === null || typeof node !== "object") return node;
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) {
      if (!isMap && (key === "id" || key === "$schema") && typeof value === "string") continue;
      out[key] = clean(value, !isMap && maps.has(key));
    }
    return out;
  };
  const ajv = new Ajv2019.default({ strict: false, allErrors: true });
  ajv.addFormat("duration", /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
  ajv.addFormat("ports", /^((\d{1,3}(\.\d{1,3}){3}):)?(\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp))?$/);
  ajv.addFormat("expose", /^\d+(-\d+)?(\/(tcp|udp))?$/);
  ajv.addFormat("subnet_ip_address", /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/);
  return ajv.compile(clean(JSON.parse(readFileSync(COMPOSE_SCHEMA, "utf8")), false) as object);
}
