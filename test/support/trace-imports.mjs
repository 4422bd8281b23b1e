// Preloaded by tests (node --import) to list every module a CLI run loads: each resolved URL is
// written to $GRIDCHAIN_TRACE_IMPORTS when the process exits. Hardhat's test runner also imports
// this file when it collects test files: without the variable it does nothing.
import { registerHooks } from "node:module";
import { writeFileSync } from "node:fs";

const out = process.env.GRIDCHAIN_TRACE_IMPORTS;
if (out) {
  const seen = new Set();
  registerHooks({
    resolve(specifier, context, nextResolve) {
      const result = nextResolve(specifier, context);
      seen.add(result.url);
      return result;
    },
  });
  process.on("exit", () => writeFileSync(out, [...seen].join("\n")));
}
