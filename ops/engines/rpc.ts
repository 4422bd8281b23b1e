/** Minimal JSON-RPC over fetch: engines probe nodes before any ethers provider makes sense. */
export async function rpcCall<T>(
  url: string,
  method: string,
  params: unknown[] = [],
  timeoutMs = 2_000,
  token?: string,
): Promise<T> {
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

/** Mean block interval over the last `span` blocks, from their timestamps. */
export async function blockTime(
  url: string,
  head: bigint,
  span = 10,
  token?: string,
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
        token,
      ),
    ),
  );
  return Number(BigInt(last!.timestamp) - BigInt(first!.timestamp)) / Number(head - from);
}
