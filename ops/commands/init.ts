import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, extname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { OperatorError } from "../errors.js";
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
    .option(
      "--name <name>",
      "the network's name (its folder network/<name>); default: from the file name, pilot for consortium.yaml",
    )
    .addHelpText(
      "after",
      "\nExamples:\n  gridchain init\n  gridchain init -c network/my-consortium.yaml\n  gridchain init -c network/trial.yaml --name trial-2",
    )
    .action((options: { config: string; name?: string }) => {
      console.log(init(options.config, options.name));
    });
}

const NAME = /^[a-z][a-z0-9-]{0,30}[a-z0-9]$/;

/**
 * Writes the template to `file` when it is missing; returns the line to print. The network is
 * named after the file (or `name`), never after another file's network: two files with one name
 * would share one network folder, its keys and its chain.
 */
export function init(file: string, name?: string): string {
  if (existsSync(file)) return `${file} exists: left as it is`;
  const chosen = name ?? nameFromFile(file);
  if (!NAME.test(chosen)) {
    throw new OperatorError(`--name ${chosen} is not a network name`, {
      details: "2-32 characters, lower-case letters, digits and dashes, starting with a letter",
      hint: name === undefined ? "name it with --name" : undefined,
    });
  }
  const folder = join("network", chosen);
  if (existsSync(folder) && !generatedFrom(folder, file)) {
    throw new OperatorError(`${folder} already exists: another consortium file's network`, {
      details: `a new ${file} named ${chosen} would drive that network, its keys and its chain`,
      hint: "pick another name with --name, or edit the file that made it",
    });
  }
  const template = readFileSync(TEMPLATE, "utf8");
  writeFileAtomic(file, template.replace(/^name: pilot$/m, `name: ${chosen}`));
  return `wrote ${file} (network "${chosen}", the pilot consortium's layout); edit it, then run 'gridchain generate -c ${file}'`;
}

/** "network/my-grid.yaml" -> "my-grid"; the default file keeps the template's "pilot". */
function nameFromFile(file: string): string {
  const stem = basename(file, extname(file));
  if (stem === "consortium") return "pilot";
  return stem
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^[^a-z]+/, "")
    .replace(/-+$/, "")
    .slice(0, 32);
}

/** Whether `folder` was generated from `file` (a deleted file may be written again). */
function generatedFrom(folder: string, file: string): boolean {
  try {
    const source = JSON.parse(readFileSync(join(folder, "source.json"), "utf8")) as {
      file?: string;
    };
    return source.file === resolve(file);
  } catch {
    return false;
  }
}
