import { expect } from "chai";
import {
  checkBlocksAdvance,
  checkPeers,
  checkValidators,
  type Rpc,
} from "../../ops/engines/besu-checks.js";

/**
 * Responses shaped as Besu documents them for its JSON-RPC API (private networks reference):
 * `net_peerCount` a hex quantity, `qbft_getValidatorsByBlockNumber` and `clique_getSigners` arrays of
 * lower-case addresses.
 */
const DOCUMENTED: Record<string, unknown> = {
  net_peerCount: "0x5",
  qbft_getValidatorsByBlockNumber: [
    "0x42d4287eac8078828cf5f3486cfe601a275a49a5",
    "0xb1b2bc9582d2901afdc579f528a35ca41403fa85",
    "0xef1bfb6a12794615c9b0b5a21e6741f01e570185",
  ],
  clique_getSigners: [
    "0x42eb768f2244c8811c63729a21a3569731535f06",
    "0x7ffc57839b00206d1ad20c69a1981b489f772031",
  ],
};

function rpcFrom(answers: Record<string, unknown>, calls: Array<[string, unknown[]]> = []): Rpc {
  return async <T>(method: string, params: unknown[] = []) => {
    calls.push([method, params]);
    if (!(method in answers)) throw new Error(`Method not enabled: ${method}`);
    return answers[method] as T;
  };
}

describe("besu readiness checks", () => {
  it("accepts the planned peer count and reports a different one", async () => {
    expect(await checkPeers(rpcFrom(DOCUMENTED), 5)).to.deep.equal({ ok: true });
    expect(await checkPeers(rpcFrom(DOCUMENTED), 6)).to.deep.equal({
      ok: false,
      problem: "5 peers, expected 6",
    });
  });

  it("compares QBFT validators at the head case-insensitively, whatever the order", async () => {
    const calls: Array<[string, unknown[]]> = [];
    const planned = [
      "0xEF1BFB6A12794615C9B0B5A21E6741F01E570185",
      "0x42d4287eac8078828cf5f3486cfe601a275a49a5",
      "0xb1b2bc9582d2901afdc579f528a35ca41403fa85",
    ];
    expect(await checkValidators(rpcFrom(DOCUMENTED, calls), "qbft", planned)).to.deep.equal({
      ok: true,
    });
    expect(calls).to.deep.equal([["qbft_getValidatorsByBlockNumber", ["latest"]]]);
  });

  it("names missing and unplanned validators", async () => {
    const planned = [
      "0x42d4287eac8078828cf5f3486cfe601a275a49a5",
      "0x1111111111111111111111111111111111111111",
    ];
    expect(await checkValidators(rpcFrom(DOCUMENTED), "qbft", planned)).to.deep.equal({
      ok: false,
      problem:
        "missing validators 0x1111111111111111111111111111111111111111; unplanned validators " +
        "0xb1b2bc9582d2901afdc579f528a35ca41403fa85, 0xef1bfb6a12794615c9b0b5a21e6741f01e570185",
    });
  });

  it("asks Clique networks for their signers", async () => {
    const calls: Array<[string, unknown[]]> = [];
    const result = await checkValidators(
      rpcFrom(DOCUMENTED, calls),
      "clique",
      DOCUMENTED.clique_getSigners as string[],
    );
    expect(result).to.deep.equal({ ok: true });
    expect(calls[0]![0]).to.equal("clique_getSigners");
  });

  it("reports a head that does not move", async () => {
    const heights = ["0x10", "0x10", "0x10", "0x11"];
    const rpc: Rpc = async <T>() => heights.shift() as T;
    const noSleep = async () => undefined;
    expect(await checkBlocksAdvance(rpc, 2000, noSleep)).to.deep.equal({
      ok: false,
      problem: "head stuck at block 16 for 2000 ms",
    });
    expect(await checkBlocksAdvance(rpc, 2000, noSleep)).to.deep.equal({ ok: true });
  });
});
