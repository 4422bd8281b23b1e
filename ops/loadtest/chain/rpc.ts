/**
 * JSON-RPC over HTTP for the load test's workers: hundreds of agents share one connection pool, and
 * calls made within a short window leave as one JSON-RPC batch, so a block's worth of agent actions
 * costs a handful of HTTP requests instead of one per call.
 */

/** The node answered with a JSON-RPC error object. */
export class RpcError extends Error {
  override readonly name = "RpcError";
  readonly code: number;
  readonly data?: unknown;

  constructor(method: string, error: { code: number; message: string; data?: unknown }) {
    super(`${method}: ${error.message} (${error.code})`);
    this.code = error.code;
    if (error.data !== undefined) this.data = error.data;
  }

  /** The node's own message, without the method name and code. */
  get reason(): string {
    return this.message.replace(/^[^:]*: /, "").replace(/ \(-?\d+\)$/, "");
  }
}

/** No JSON-RPC answer at all: the socket failed, the HTTP status was not 200, or the call timed out. */
export class RpcTransportError extends Error {
  override readonly name = "RpcTransportError";
}

export type JsonRpcOptions = {
  /** How long a call waits for others to share its HTTP request (default 2 ms; 0 = next tick). */
  batchWindowMs?: number;
  /** Most calls in one batch; a full batch leaves at once (default 200). */
  maxBatch?: number;
  /** Per HTTP request (default 10 000 ms). */
  timeoutMs?: number;
  /** The fetch to use: tests count or break requests through it. */
  fetch?: typeof fetch;
};

type Pending = {
  id: number;
  method: string;
  params: unknown[];
  resolve(value: unknown): void;
  reject(error: Error): void;
};

type Answer = {
  id?: number;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
};

export class JsonRpc {
  readonly url: string;
  private readonly batchWindowMs: number;
  private readonly maxBatch: number;
  private readonly timeoutMs: number;
  private readonly fetch: typeof fetch;
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private nextId = 1;
  private closed = false;

  constructor(url: string, options: JsonRpcOptions = {}) {
    this.url = url;
    this.batchWindowMs = options.batchWindowMs ?? 2;
    this.maxBatch = options.maxBatch ?? 200;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.fetch = options.fetch ?? fetch;
  }

  call<T>(method: string, params: unknown[]): Promise<T> {
    if (this.closed) {
      return Promise.reject(new RpcTransportError(`${method}: the JSON-RPC client is closed`));
    }
    return new Promise<T>((resolve, reject) => {
      this.queue.push({
        id: this.nextId++,
        method,
        params,
        resolve: resolve as (value: unknown) => void,
        reject,
      });
      if (this.queue.length >= this.maxBatch) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.batchWindowMs);
    });
  }

  /** Fails the calls still waiting for their batch; later calls fail at once. */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const call of this.queue.splice(0)) {
      call.reject(new RpcTransportError(`${call.method}: the JSON-RPC client is closed`));
    }
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.queue.length > 0) void this.post(this.queue.splice(0, this.maxBatch));
  }

  private async post(calls: Pending[]): Promise<void> {
    const bodies = calls.map(({ id, method, params }) => ({ jsonrpc: "2.0", id, method, params }));
    let answers: Answer[];
    try {
      const response = await this.fetch(this.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(bodies.length === 1 ? bodies[0] : bodies),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`HTTP ${response.status}: ${text.slice(0, 200)}`);
      const parsed = JSON.parse(text) as Answer | Answer[];
      answers = Array.isArray(parsed) ? parsed : [parsed];
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      for (const call of calls) {
        call.reject(
          new RpcTransportError(`${call.method}: ${why} (${this.url})`, { cause: error }),
        );
      }
      return;
    }
    const byId = new Map<number, Answer>();
    for (const answer of answers) if (typeof answer.id === "number") byId.set(answer.id, answer);
    // A node that rejects the whole batch answers once, without an id.
    const whole = answers.length === 1 && answers[0]!.id == null ? answers[0] : undefined;
    for (const call of calls) {
      const answer = byId.get(call.id) ?? whole;
      if (answer === undefined) {
        call.reject(new RpcTransportError(`${call.method}: no answer in the batch (${this.url})`));
      } else if (answer.error) {
        call.reject(new RpcError(call.method, answer.error));
      } else {
        call.resolve(answer.result);
      }
    }
  }
}

/** `0x`-prefixed hex quantity, as JSON-RPC wants block numbers and nonces. */
export const quantity = (value: number | bigint): string => `0x${value.toString(16)}`;
