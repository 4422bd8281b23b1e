import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { OperatorError } from "../errors.js";

/** Where a generated network folder records the consortium file it was generated from. */
export const SOURCE_FILE = "source.json";

/**
 * Refuses to generate into a network folder that another consortium file generated, when that
 * file still exists with other content: two files naming one network would take turns rewriting
 * its genesis, keys and nodes. A renamed or moved file (the old one gone) takes the folder over.
 */
export function checkNetworkSource(outDir: string, configFile: string, text: string): void {
  let recorded: string | undefined;
  try {
    recorded = (JSON.parse(readFileSync(join(outDir, SOURCE_FILE), "utf8")) as { file?: string })
      .file;
  } catch {
    return;
  }
  if (recorded === undefined || recorded === resolve(configFile) || !existsSync(recorded)) return;
  if (readFileSync(recorded, "utf8") === text) return;
  throw new OperatorError(`${outDir} was generated from ${recorded}, not from ${configFile}`, {
    details: "both files name this network, with different content",
    hint: `give ${configFile} a name of its own, or generate it elsewhere with --out`,
  });
}

/** The content of `source.json` for a folder generated from `configFile`. */
export function sourceRecord(configFile: string): string {
  return `${JSON.stringify({ file: resolve(configFile) })}\n`;
}
