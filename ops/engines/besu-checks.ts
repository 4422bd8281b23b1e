/**
 * Readiness checks that only a Besu network can answer (peers, validators). Each takes the JSON-RPC
 * call as a function so that it can be tested against Besu's documented responses.
 */
export type Rpc = <T>(method: string, params?: unknown[]) => Promise<T>;

export type CheckResult = { ok: true } | { ok: false; problem: string };

/** `net_peerCount` must equal the planned peers (every other node, through static nodes). */
export async function checkPeers(rpc: Rpc, expected: number): Promise<CheckResult> {
  const count = Number(BigInt(await rpc<string>("net_peerCount")));
  return count === expected
    ? { ok: true }
    : { ok: false, problem: `${count} peers, expected ${expected}` };
}

/**
 * The validators the chain uses at its head must be exactly the planned ones: QBFT answers
 * `qbft_getValidatorsByBlockNumber`, Clique `clique_getSigners`. Addresses compare case-insensitively.
 */
export async function checkValidators(
  rpc: Rpc,
  consensus: "qbft" | "clique",
  expected: readonly string[],
): Promise<CheckResult> {
  const method = consensus === "qbft" ? "qbft_getValidatorsByBlockNumber" : "clique_getSigners";
  const actual = (await rpc<string[]>(method, ["latest"])).map((a) => a.toLowerCase()).sort();
  const planned = expected.map((a) => a.toLowerCase()).sort();
  const missing = planned.filter((a) => !actual.includes(a));
  const unknown = actual.filter((a) => !planned.includes(a));
  if (missing.length === 0 && unknown.length === 0) return { ok: true };
  return {
    ok: false,
    problem: [
      missing.length > 0 ? `missing validators ${missing.join(", ")}` : "",
      unknown.length > 0 ? `unplanned validators ${unknown.join(", ")}` : "",
    ]
      .filter(Boolean)
      .join("; "),
  };
}

/** The head must move: two readings of `eth_blockNumber` `waitMs` apart must differ. */
export async function checkBlocksAdvance(
  rpc: Rpc,
  waitMs: number,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<CheckResult> {
  const first = BigInt(await rpc<string>("eth_blockNumber"));
  await sleep(waitMs);
  const second = BigInt(await rpc<string>("eth_blockNumber"));
  return second > first
    ? { ok: true }
    : { ok: false, problem: `head stuck at block ${second} for ${waitMs} ms` };
}
