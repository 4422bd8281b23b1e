import { request } from "node:https";

/** How to reach a node's RPC: a bearer token (JWT) and, for TLS with a private CA, the CA in PEM. */
export type RpcAccess = { token?: string; ca?: string };

/** Minimal JSON-RPC over fetch: engines probe nodes before any ethers provider makes sense. */
export async function rpcCall<T>(
  url: string,
  method: string,
  params: unknown[] = [],
  timeoutMs = 2_000,
  access: RpcAccess | string = {},
): Promise<T> {
  const { token, ca } = typeof access === "string" ? { token: access } : access;
  if (url.startsWith("https:")) {
    return rpcOverHttps<T>(url, method, params, timeoutMs, { token, ca });
  }
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = (await response.json()) as { result?: T; error?: { code: number; message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message} (${body.error.code})`);
  return body.result as T;
}

/**
 * JSON-RPC over node:https: fetch takes no CA (a node whose certificate a private CA signed) and
 * hides why a TLS handshake failed behind "fetch failed".
 */
function rpcOverHttps<T>(
  url: string,
  method: string,
  params: unknown[],
  timeoutMs: number,
  { token, ca }: { token?: string; ca?: string },
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        ...(ca === undefined ? {} : { ca }),
        timeout: timeoutMs,
        headers: {
          "content-type": "application/json",
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => {
          try {
            const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as {
              result?: T;
              error?: { code: number; message: string };
            };
            if (body.error)
              reject(new Error(`${method}: ${body.error.message} (${body.error.code})`));
            else resolve(body.result as T);
          } catch (error) {
            reject(error as Error);
          }
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method}: no answer in ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }));
  });
}

/** Mean block interval over the last `span` blocks, from their timestamps. */
export async function blockTime(
  url: string,
  head: bigint,
  span = 10,
  access: RpcAccess | string = {},
): Promise<number | undefined> {
  if (head < 1n) return undefined;
  const from = head > BigInt(span) ? head - BigInt(span) : 0n;
  const [first, last] = await Promise.all(
    [from, head].map((n) =>
      rpcCall<{ timestamp: string }>(
        url,
        "eth_getBlockByNumber",
        [`0x${n.toString(16)}`, false],
        2_000,
        access,
      ),
    ),
  );
  return Number(BigInt(last!.timestamp) - BigInt(first!.timestamp)) / Number(head - from);
}
