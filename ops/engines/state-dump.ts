import { createWriteStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { Readable, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";

const RESULT = '"result":"';
/** How much of a non-result answer (an error) is kept for the message. */
const ERROR_TEXT = 2_000;

/**
 * Saves anvil's state (`anvil_dumpState`: hex of gzipped JSON) to `path` as the JSON that
 * `--load-state` reads, streaming from the socket to the file: after a long load test the state
 * is larger than any string JavaScript can hold. Written to a temporary file and renamed, so the
 * previous save survives a failure.
 */
export async function saveAnvilState(url: string, path: string, timeoutMs: number): Promise<void> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "anvil_dumpState", params: [] }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!response.ok || response.body === null) {
    throw new Error(`anvil_dumpState: HTTP ${response.status}`);
  }
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    await pipeline(
      Readable.fromWeb(response.body as import("node:stream/web").ReadableStream),
      new ResultHexDecoder(),
      new MaybeGunzip(),
      createWriteStream(temporary, { mode: 0o644, flush: true }),
    );
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** Turns a JSON-RPC answer `{"result":"0x<hex>"}` into the bytes of the hex, chunk by chunk. */
class ResultHexDecoder extends Transform {
  private state: "prefix" | "hex" | "done" = "prefix";
  private head = "";
  private carry = "";

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    let text = chunk.toString("latin1");
    if (this.state === "prefix") {
      this.head += text;
      const at = this.head.indexOf(RESULT);
      // Wait for the two characters after the quote: they may be the "0x" prefix.
      if (at >= 0 && this.head.length < at + RESULT.length + 2) {
        done();
        return;
      }
      if (at < 0) {
        this.head = this.head.slice(-ERROR_TEXT);
        done();
        return;
      }
      text = this.head.slice(at + RESULT.length).replace(/^0x/, "");
      this.head = "";
      this.state = "hex";
    }
    if (this.state === "hex") {
      const end = text.indexOf('"');
      if (end >= 0) {
        text = text.slice(0, end);
        this.state = "done";
      }
      const hex = this.carry + text;
      const even = hex.length - (hex.length % 2);
      this.carry = hex.slice(even);
      if (even > 0) this.push(Buffer.from(hex.slice(0, even), "hex"));
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    if (this.state === "prefix") {
      done(new Error(`anvil_dumpState answered no result: ${this.head.slice(0, 300)}`));
      return;
    }
    if (this.state === "hex") {
      done(new Error("anvil_dumpState: the answer ended inside the state"));
      return;
    }
    done();
  }
}

/** Gunzips when the bytes start with gzip's magic number; passes them through otherwise. */
class MaybeGunzip extends Transform {
  private inner: Transform | undefined;
  /** Bytes held until there are two to look at. */
  private start = Buffer.alloc(0);

  override _transform(input: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    let chunk = input;
    if (this.inner === undefined) {
      this.start = Buffer.concat([this.start, input]);
      if (this.start.length < 2) {
        done();
        return;
      }
      chunk = this.start;
      const gzip = chunk[0] === 0x1f && chunk[1] === 0x8b;
      if (!gzip) {
        this.inner = new Transform({ transform: (data, _e, next) => next(null, data) });
      } else {
        this.inner = createGunzip();
      }
      this.inner.on("data", (data: Buffer) => {
        if (!this.push(data)) this.inner!.pause();
      });
      this.inner.on("error", (error) => this.destroy(error));
    }
    if (this.inner.write(chunk)) done();
    else this.inner.once("drain", () => done());
  }

  override _read(size: number): void {
    this.inner?.resume();
    super._read(size);
  }

  override _flush(done: TransformCallback): void {
    if (this.inner === undefined) {
      done(null, this.start);
      return;
    }
    this.inner.once("end", () => done());
    this.inner.end();
  }
}
