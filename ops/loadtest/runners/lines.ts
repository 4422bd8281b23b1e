import type { Readable } from "node:stream";
import type { FromWorker } from "../protocol.js";

/**
 * Calls `onLine` for each line of `stream` (UTF-8, "\n" or "\r\n"), however the bytes are split
 * into chunks; the last line is delivered even without a final newline. Only each new chunk is
 * scanned for newlines, so a line of many megabytes costs time linear in its length.
 */
export function readLines(stream: Readable, onLine: (line: string) => void): void {
  stream.setEncoding("utf8");
  let pending: string[] = [];
  const emit = (line: string): void => {
    const text = line.endsWith("\r") ? line.slice(0, -1) : line;
    if (text.length > 0) onLine(text);
  };
  stream.on("data", (chunk: string) => {
    let start = 0;
    let newline = chunk.indexOf("\n");
    while (newline !== -1) {
      const tail = chunk.slice(start, newline);
      emit(pending.length === 0 ? tail : pending.join("") + tail);
      pending = [];
      start = newline + 1;
      newline = chunk.indexOf("\n", start);
    }
    if (start < chunk.length) pending.push(chunk.slice(start));
  });
  stream.on("end", () => {
    if (pending.length > 0) emit(pending.join(""));
    pending = [];
  });
}

/** A worker's stdout line as a message: JSON objects with a string `type`, anything else a log line. */
export function parseWorkerLine(line: string): FromWorker {
  try {
    const value: unknown = JSON.parse(line);
    if (
      typeof value === "object" &&
      value !== null &&
      typeof (value as { type?: unknown }).type === "string"
    ) {
      return value as FromWorker;
    }
  } catch {
    // Not JSON: a stray print from the worker or a library it uses.
  }
  return { type: "log", message: line };
}

/**
 * Fans parsed messages out to listeners. Messages that arrive before the first listener is added
 * are kept and handed to it, so a worker that speaks first loses nothing.
 */
export class MessageFanout {
  private readonly listeners: ((message: FromWorker) => void)[] = [];
  private early: FromWorker[] = [];

  add(listener: (message: FromWorker) => void): void {
    this.listeners.push(listener);
    if (this.listeners.length === 1) {
      const queued = this.early;
      this.early = [];
      for (const message of queued) listener(message);
    }
  }

  deliver(message: FromWorker): void {
    if (this.listeners.length === 0) {
      this.early.push(message);
      return;
    }
    for (const listener of this.listeners) listener(message);
  }
}
