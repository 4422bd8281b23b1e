import { expect } from "chai";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SigningKey, getAddress, type Provider } from "ethers";
import { ChannelClient } from "../../ops/channels/index.js";
import { bindToChain } from "../../ops/channels/binding.js";
import { ChannelStore } from "../../ops/channels/store.js";
import { OperatorError } from "../../ops/errors.js";

const KEY = new SigningKey(`0x${"41".repeat(32)}`);
const CONTRACT = "0x00000000000000000000000000000000000000c1";
const OTHER = "0x00000000000000000000000000000000000000c2";
const blockOne = (hash: string) => ({ getBlock: async () => ({ hash }) }) as unknown as Provider;

async function refused(run: Promise<unknown>): Promise<OperatorError> {
  const error = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).to.be.instanceOf(OperatorError);
  return error as OperatorError;
}

describe("channel stores are bound to their chain", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "gridchain-binding-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses a store written for another channels contract, naming both", async () => {
    const storePath = join(dir, "a.jsonl");
    const domain = { chainId: 4242n, verifyingContract: CONTRACT } as const;
    const first = await ChannelClient.start({ key: KEY, domain, storePath });
    await first.stop();
    const again = await ChannelClient.start({ key: KEY, domain, storePath });
    await again.stop();
    const error = await refused(
      ChannelClient.start({ key: KEY, domain: { ...domain, verifyingContract: OTHER }, storePath }),
    );
    expect(error.message).to.equal(`channel store ${storePath} belongs to another chain`);
    expect(error.details).to.equal(
      `it was written on chain id 4242, channels ${getAddress(CONTRACT)}, block 1 unknown; this chain is chain id 4242, channels ${getAddress(OTHER)}, block 1 unknown`,
    );
    expect(error.hint).to.contain("'gridchain reset'");
  });

  it("tells a reset chain (same id and addresses, other blocks) from the one it was written on", async () => {
    const path = join(dir, "b.jsonl");
    const domain = { chainId: 4242n, verifyingContract: CONTRACT } as const;
    const opened = await ChannelStore.open(path);
    await bindToChain(opened.store, opened.records, domain, blockOne(`0x${"aa".repeat(32)}`));
    await opened.store.close();

    const same = await ChannelStore.open(path);
    await bindToChain(same.store, same.records, domain, blockOne(`0x${"aa".repeat(32)}`));
    await same.store.close();

    const reset = await ChannelStore.open(path);
    const error = await refused(
      bindToChain(reset.store, reset.records, domain, blockOne(`0x${"bb".repeat(32)}`)),
    );
    expect(error.details).to.contain(`block 1 0x${"aa".repeat(32)}`);
  });

  it("refuses a store that records channels but not its chain", async () => {
    const storePath = join(dir, "old.jsonl");
    await writeFile(storePath, '{"kind":"closed","channelId":"1"}\n', { mode: 0o600 });
    const error = await refused(
      ChannelClient.start({
        key: KEY,
        domain: { chainId: 4242n, verifyingContract: CONTRACT },
        storePath,
      }),
    );
    expect(error.details).to.equal("it was written before stores recorded their chain");
  });
});
