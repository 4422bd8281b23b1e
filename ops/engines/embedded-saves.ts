import { copyFile, open, rename, rm } from "node:fs/promises";
import { dirname, join, basename } from "node:path";
import { randomBytes } from "node:crypto";

/** A save of the embedded chain that anvil can load: the last block it holds. */
export type ChainSave = { path: string; block: bigint; timestamp: bigint };

/** What a save file holds: a usable save, nothing, or a file anvil did not finish writing. */
export type SaveCheck = { kind: "ok"; save: ChainSave } | { kind: "absent" } | { kind: "torn" };

const PEEK = 4096;
/** anvil writes the block environment first: `{"block":{"number":"0x..",...,"timestamp":"0x.."`. */
const HEAD = /^\{"block":\{"number":"(0x[0-9a-f]+)"[^{}]*?"timestamp":"(0x[0-9a-f]+)"/;
/** ... and the (empty unless asked for) historical states last. */
const TAIL = /"historical_states":(null|\{.*\})\}\s*$/s;

/**
 * Reads the head and tail of a state file anvil wrote (by `--dump-state` on its timer, or our own
 * `anvil_dumpState` on `down`). anvil's periodic dump rewrites its file in place, so a process
 * killed during a dump leaves a file cut short: such a file is "torn" and never loaded. Only the
 * two ends are read: a long chain's save is larger than a JavaScript string.
 */
export async function checkSave(path: string): Promise<SaveCheck> {
  let handle;
  try {
    handle = await open(path, "r");
  } catch {
    return { kind: "absent" };
  }
  try {
    const { size } = await handle.stat();
    if (size === 0) return { kind: "torn" };
    const head = Buffer.alloc(Math.min(PEEK, size));
    await handle.read(head, 0, head.length, 0);
    const tail = Buffer.alloc(Math.min(PEEK, size));
    await handle.read(tail, 0, tail.length, size - tail.length);
    const found = HEAD.exec(head.toString("latin1"));
    if (found === null || !TAIL.test(tail.toString("latin1"))) return { kind: "torn" };
    return { kind: "ok", save: { path, block: BigInt(found[1]!), timestamp: BigInt(found[2]!) } };
  } finally {
    await handle.close();
  }
}

/** Copies `from` over `to` through a temporary file and a rename: `to` is never half written. */
export async function copySaveAtomic(from: string, to: string): Promise<void> {
  const temporary = join(dirname(to), `.${basename(to)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await copyFile(from, temporary);
    const handle = await open(temporary, "r+");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, to);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
