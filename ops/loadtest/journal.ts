import { closeSync, fsyncSync, openSync, writeSync } from "node:fs";
import type { JournalRecord } from "./protocol.js";

/**
 * The test's journal: one JSON record per line, appended in the order the coordinator learns
 * facts. Lines are written in groups every `flushMs` and on close, then fsynced, so that an
 * interrupted test keeps every record up to its last flush and the report is rebuilt from it.
 */
export class Journal {
  private readonly fd: number;
  private pending: string[] = [];
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(
    readonly path: string,
    flushMs = 250,
  ) {
    this.fd = openSync(path, "a", 0o644);
    this.timer = setInterval(() => this.flush(), flushMs);
    this.timer.unref();
  }

  write(record: JournalRecord): void {
    if (this.closed) throw new Error(`journal ${this.path} is closed`);
    this.pending.push(JSON.stringify(record));
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const text = `${this.pending.join("\n")}\n`;
    this.pending = [];
    writeSync(this.fd, text);
  }

  close(): void {
    if (this.closed) return;
    clearInterval(this.timer);
    this.flush();
    fsyncSync(this.fd);
    closeSync(this.fd);
    this.closed = true;
  }
}
