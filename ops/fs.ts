import { randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  fchmodSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";

/**
 * Writes a file so that readers see either the old content or the new, never a torn file: the data
 * goes to a temporary file in the same folder (same filesystem, so the rename is atomic), which is
 * flushed and renamed over the target. The mode applies from creation on, so a secret never exists
 * on disk with looser permissions.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): void {
  const folder = dirname(path);
  mkdirSync(folder, { recursive: true });
  const temp = join(folder, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    const fd = openSync(temp, "wx", mode);
    try {
      fchmodSync(fd, mode);
      writeFileSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

/**
 * Writes a set of files under `root` (paths relative to it), each atomically; a file whose content
 * and mode are already right is left alone. Returns how many were written and left alone.
 */
export function writeFilesAtomic(
  root: string,
  files: ReadonlyMap<string, { content: string; mode: number }>,
): { written: number; unchanged: number } {
  let written = 0;
  let unchanged = 0;
  for (const [relative, { content, mode }] of files) {
    const path = join(root, relative);
    if (existsSync(path) && (statSync(path).mode & 0o777) === mode && readFileSync(path, "utf8") === content) {
      unchanged += 1;
      continue;
    }
    writeFileAtomic(path, content, mode);
    written += 1;
  }
  return { written, unchanged };
}
