import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { OperatorError } from "../errors.js";

const require = createRequire(import.meta.url);

const PLATFORM_PACKAGES: Record<string, string> = {
  "linux-x64": "@foundry-rs/anvil-linux-amd64",
  "linux-arm64": "@foundry-rs/anvil-linux-arm64",
  "darwin-x64": "@foundry-rs/anvil-darwin-amd64",
  "darwin-arm64": "@foundry-rs/anvil-darwin-arm64",
  "win32-x64": "@foundry-rs/anvil-win32-amd64",
};

/** Path of the anvil binary that npm installed (`@foundry-rs/anvil` and its platform package). */
export function anvilBinary(): string {
  const key = `${process.platform}-${process.arch}`;
  const pkg = PLATFORM_PACKAGES[key];
  if (pkg === undefined) {
    throw new OperatorError(`the embedded engine has no anvil build for ${key}`, {
      hint: "use the besu engine on this platform",
    });
  }
  let binary: string;
  try {
    const root = dirname(require.resolve(`${pkg}/package.json`));
    binary = join(root, "bin", process.platform === "win32" ? "anvil.exe" : "anvil");
  } catch {
    throw new OperatorError(`${pkg} is not installed`, { hint: "run 'npm install'" });
  }
  if (!existsSync(binary)) {
    throw new OperatorError(`anvil binary missing at ${binary}`, { hint: "run 'npm ci'" });
  }
  return binary;
}
