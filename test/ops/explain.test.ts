import { expect } from "chai";
import { promises as fs } from "node:fs";
import { Interface, makeError } from "ethers";
import { OperatorError } from "../../ops/errors.js";
import { explainError } from "../../ops/explain.js";

/** The way fetch() fails when nothing listens: a TypeError caused by the socket's error. */
function refused(port: number): TypeError {
  const cause = Object.assign(new Error(`connect ECONNREFUSED 127.0.0.1:${port}`), {
    code: "ECONNREFUSED",
    address: "127.0.0.1",
    port,
  });
  return new TypeError("fetch failed", { cause });
}

describe("the CLI's error boundary: one line per error, in the project's words", () => {
  it("an operator error: its message, details and hint", async () => {
    const error = new OperatorError("the embedded chain is not running", { hint: "gridchain up" });
    expect(await explainError(error)).to.deep.equal({
      line: "the embedded chain is not running; hint: gridchain up",
      code: 1,
      bug: false,
    });
  });

  it("a chain that does not answer: where, and what to do", async () => {
    expect((await explainError(refused(8545))).line).to.equal(
      "cannot reach 127.0.0.1:8545 (connection refused); hint: is the chain running? 'gridchain status' tells, 'gridchain up' starts it",
    );
  });

  it("a node's refusal reported by ethers: its short message", async () => {
    const error = makeError(
      "insufficient funds for intrinsic transaction cost",
      "INSUFFICIENT_FUNDS",
      {
        transaction: {},
      },
    );
    expect(await explainError(error)).to.deep.equal({
      line: "the chain refused: insufficient funds for intrinsic transaction cost",
      code: 1,
      bug: false,
    });
  });

  it("a contract's custom error, decoded from the compiled ABIs, with its hint", async () => {
    const data = new Interface([
      "error PaymentChannelsNotParticipant(uint256 channelId, address account)",
    ]).encodeErrorResult("PaymentChannelsNotParticipant", [
      7n,
      "0x00000000000000000000000000000000000000aa",
    ]);
    const error = makeError("execution reverted", "CALL_EXCEPTION", {
      action: "estimateGas",
      data,
      reason: null,
      transaction: { to: null, data: "0x" },
      invocation: null,
      revert: null,
    });
    expect((await explainError(error)).line).to.equal(
      "a contract refused the transaction: PaymentChannelsNotParticipant(channelId=7, account=0x00000000000000000000000000000000000000AA); hint: the local channel store describes channels this chain does not have (was the chain reset?): clear network/<name>/channels",
    );
  });

  it("a file that cannot be read: the path and why", async () => {
    const error = await fs.readFile("/nonexistent/gridchain.json").catch((e: unknown) => e);
    expect((await explainError(error)).line).to.equal(
      "cannot open /nonexistent/gridchain.json: no such file or folder",
    );
  });

  it("OpenZeppelin's upgrade check: its verdict and first finding in one line", async () => {
    class UpgradesError extends Error {}
    class StorageUpgradeErrors extends UpgradesError {}
    const error = new StorageUpgradeErrors(
      "New storage layout is incompatible\n\ncontracts/X.sol:10: Deleted `x`\n  > Keep the variable\ncontracts/X.sol:11: Inserted `y`\n",
    );
    expect((await explainError(error)).line).to.equal(
      "upgrade refused by OpenZeppelin's safety check: New storage layout is incompatible; contracts/X.sol:10: Deleted `x` (and 1 more); hint: keep the existing storage variables in place and add new ones at the end (see the ERC-7201 storage struct)",
    );
  });

  it("anything else is a bug: one line naming it so, exit code 70", async () => {
    expect(await explainError(new RangeError("index 7 out of range"))).to.deep.equal({
      line: "unexpected error (a bug in gridchain): RangeError: index 7 out of range; run again with --debug (or GRIDCHAIN_DEBUG=1) for the stack trace",
      code: 70,
      bug: true,
    });
  });
});
