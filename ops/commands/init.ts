import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { writeFileAtomic } from "../fs.js";

/** The starter consortium file `init` copies. */
export const TEMPLATE = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  "network",
  "consortium.template.yaml",
);

/** `gridchain init`: write a starter consortium file unless one exists. */
export function register(program: Command): void {
  program
    .command("init")
    .description("write a starter consortium file (never overwrites one)")
    .option("-c, --config <file>", "consortium YAML file to create", "network/consortium.yaml")
    .addHelpText(
      "after",
      "\nExamples:\n  gridchain init\n  gridchain init -c network/my-consortium.yaml",
    )
    .action((options: { config: string }) => {
      console.log(init(options.config));
    });
}

/** Writes the template to `file` when it is missing; returns the line to print. */
export function init(file: string): string {
  if (existsSync(file)) return `${file} exists: left as it is`;
  writeFileAtomic(file, readFileSync(TEMPLATE, "utf8"));
  return `wrote ${file} (the pilot consortium); edit it, then run 'gridchain generate -c ${file}'`;
}
