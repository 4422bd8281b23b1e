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
import { open } from "node:fs/promises";
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
 * and mode are already right is left alone. All temporary files are written and flushed first (in
 * parallel, so the filesystem can batch the flushes) and renamed only when every one succeeded:
 * a failure leaves the folder as it was. Returns how many files were written and left alone.
 */
export async function writeFilesAtomic(
  root: string,
  files: ReadonlyMap<string, { content: string; mode: number; base64?: boolean }>,
): Promise<{ written: number; unchanged: number }> {
  const pending: { path: string; temp: string; content: string | Buffer; mode: number }[] = [];
  let unchanged = 0;
  for (const [relative, file] of files) {
    const path = join(root, relative);
    const { mode } = file;
    // A binary file (a keystore) travels as base64 text and is written as its bytes.
    const content = file.base64 === true ? Buffer.from(file.content, "base64") : file.content;
    if (
      existsSync(path) &&
      (statSync(path).mode & 0o777) === mode &&
      (typeof content === "string"
        ? readFileSync(path, "utf8") === content
        : readFileSync(path).equals(content))
    ) {
      unchanged += 1;
      continue;
    }
    const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
    pending.push({ path, temp, content, mode });
  }
  try {
    // A folder that holds nothing but secrets is created 0700.
    const secretOnly = new Map<string, boolean>();
    for (const [relative, { mode }] of files) {
      const folder = dirname(join(root, relative));
      secretOnly.set(folder, (secretOnly.get(folder) ?? true) && mode === SECRET_FILE_MODE);
    }
    for (const folder of new Set(pending.map((file) => dirname(file.path)))) {
      mkdirSync(folder, { recursive: true, mode: secretOnly.get(folder) === true ? 0o700 : 0o755 });
    }
    for (let at = 0; at < pending.length; at += PARALLEL_WRITES) {
      await Promise.all(
        pending.slice(at, at + PARALLEL_WRITES).map(async ({ temp, content, mode }) => {
          const handle = await open(temp, "wx", mode);
          try {
            await handle.chmod(mode);
            await handle.writeFile(content);
            await handle.sync();
          } finally {
            await handle.close();
          }
        }),
      );
    }
  } catch (error) {
    for (const { temp } of pending) rmSync(temp, { force: true });
    throw error;
  }
  for (const { temp, path } of pending) renameSync(temp, path);
  return { written: pending.length, unchanged };
}

const PARALLEL_WRITES = 64;
const SECRET_FILE_MODE = 0o600;
