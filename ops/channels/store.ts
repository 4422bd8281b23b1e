import { open, mkdir, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { OperatorError } from "../errors.js";
import type { Lock } from "./locks.js";
import type { Address, Credits, Hash } from "./proofs.js";

/**
 * What the store remembers, one JSON object per line. Amounts are decimal strings so no precision
 * is lost; every record is appended, never rewritten.
 */
export type StoreRecord =
  | {
      kind: "channel";
      channelId: bigint;
      self: Address;
      partner: Address;
      /** The opener: the contract's participant1. */
      participant1: Address;
    }
  | {
      kind: "deposits";
      channelId: bigint;
      selfDeposit: Credits;
      selfWithdrawn: Credits;
      partnerDeposit: Credits;
      partnerWithdrawn: Credits;
    }
  | {
      kind: "sent" | "received";
      channelId: bigint;
      nonce: bigint;
      transferredAmount: Credits;
      additionalHash: Hash;
      signature: string;
      /** The order paid, when the payment pays one. */
      orderId?: bigint;
      /** The proof's pending locks ({@link Lock}); its additionalHash commits to them. */
      locks?: Lock[];
    }
  | {
      /** A withdrawal this client signed (for itself or its partner): reserved until `expiry`. */
      kind: "withdraw-reserved";
      channelId: bigint;
      participant: Address;
      totalWithdraw: Credits;
      expiry: bigint;
    }
  | {
      /** This client signed a cooperative settlement valid until `expiry`. */
      kind: "frozen";
      channelId: bigint;
      expiry: bigint;
    }
  | { kind: "closed" | "settled"; channelId: bigint }
  | {
      /** The chain the log belongs to, written first: a log is never replayed on another chain. */
      kind: "chain";
      chainId: bigint;
      contract: Address;
      /** Hash of block 1: tells a chain from a reset one with the same id and addresses. */
      firstBlock: Hash | null;
    };

const NEWLINE = 0x0a;

const BIGINT_FIELDS = [
  "chainId",
  "channelId",
  "nonce",
  "transferredAmount",
  "orderId",
  "selfDeposit",
  "selfWithdrawn",
  "partnerDeposit",
  "partnerWithdrawn",
  "totalWithdraw",
  "expiry",
] as const;

function encode(record: StoreRecord): string {
  return JSON.stringify(record, (_key, value: unknown) =>
    typeof value === "bigint" ? value.toString() : value,
  );
}

function decode(line: string): StoreRecord {
  const raw = JSON.parse(line) as Record<string, unknown>;
  for (const field of BIGINT_FIELDS) {
    const value = raw[field];
    if (typeof value === "string") raw[field] = BigInt(value);
  }
  if (Array.isArray(raw.locks)) {
    raw.locks = (raw.locks as { orderId: string; amount: string }[]).map((lock) => ({
      orderId: BigInt(lock.orderId),
      amount: BigInt(lock.amount),
    }));
  }
  return raw as StoreRecord;
}

/**
 * A durable, append-only channel log (JSON lines) with write-ahead semantics: `append` resolves
 * only once the record is on disk (written and fdatasync'ed). Callers release a balance proof
 * after `append` resolves, so a proof that left the process is always in the log.
 *
 * Group commit: records appended while a sync is running are written and synced together by the
 * next one, so many concurrent payments share one fdatasync without any of them being released
 * early. On open, a torn last line (the process died inside a write that was never acknowledged)
 * is cut off; damage anywhere else is an error.
 */
export class ChannelStore {
  readonly path: string;
  private readonly handle: FileHandle;
  /** Bytes durable in the log. */
  private size: number;
  private pending: { line: string; resolve: () => void; reject: (error: unknown) => void }[] = [];
  private flushing: Promise<void> | undefined;
  private failure: unknown;

  private constructor(path: string, handle: FileHandle, size: number) {
    this.path = path;
    this.handle = handle;
    this.size = size;
  }

  /** Bytes of the log that are durable. */
  get durableBytes(): number {
    return this.size;
  }

  /** Opens (or creates, mode 0600) the log at `path` and returns it with the records it holds. */
  static async open(path: string): Promise<{ store: ChannelStore; records: StoreRecord[] }> {
    await mkdir(dirname(path), { recursive: true });
    const handle = await open(path, "a+", 0o600);
    try {
      const bytes = await handle.readFile();
      const records: StoreRecord[] = [];
      let offset = 0;
      let line = 0;
      for (let end = bytes.indexOf(NEWLINE); end !== -1; end = bytes.indexOf(NEWLINE, offset)) {
        line++;
        try {
          records.push(decode(bytes.subarray(offset, end).toString("utf8")));
        } catch (error) {
          throw new OperatorError(`channel store ${path} is damaged at line ${line}`, {
            details: "every line must be one JSON record written by gridchain",
            hint: "restore the file from a backup; never edit it by hand",
            cause: error,
          });
        }
        offset = end + 1;
      }
      if (offset < bytes.length) {
        await handle.truncate(offset);
        await handle.datasync();
      }
      return { store: new ChannelStore(path, handle, offset), records };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** Appends one record; resolves once it is durable. */
  append(record: StoreRecord): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending.push({ line: `${encode(record)}\n`, resolve, reject });
      this.flushing ??= this.flush();
    });
  }

  /** Waits for every appended record to be durable, then closes the file. */
  async close(): Promise<void> {
    while (this.flushing) await this.flushing;
    await this.handle.close();
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      try {
        const bytes = Buffer.from(batch.map((entry) => entry.line).join(""), "utf8");
        let written = 0;
        while (written < bytes.length) {
          // The file is open for appending: every write lands at its end.
          const { bytesWritten } = await this.handle.write(bytes, written, bytes.length - written);
          written += bytesWritten;
        }
        await this.handle.datasync();
        this.size += bytes.length;
        for (const entry of batch) entry.resolve();
      } catch (error) {
        // A failed write leaves the log's tail unknown: refuse further appends instead of guessing.
        this.failure = error;
        for (const entry of [...batch, ...this.pending]) entry.reject(error);
        this.pending = [];
      }
    }
    this.flushing = undefined;
  }
}
