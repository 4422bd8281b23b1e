// Preloaded by tests (node --import) to list every module a CLI run loads: each resolved URL is
// written to $GRIDCHAIN_TRACE_IMPORTS when the process exits.
import { registerHooks } from "node:module";
import { writeFileSync } from "node:fs";

const seen = new Set();
registerHooks({
  resolve(specifier, context, nextResolve) {
    const result = nextResolve(specifier, context);
    seen.add(result.url);
    return result;
  },
});
process.on("exit", () => writeFileSync(process.env.GRIDCHAIN_TRACE_IMPORTS, [...seen].join("\n")));
