import { expect } from "chai";
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChannelStore } from "../../ops/channels/store.js";
import { OperatorError } from "../../ops/errors.js";

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}

describe("channels: durable store", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "gridchain-store-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("group-commits concurrent appends and reads them back in order, mode 0600", async () => {
    const path = join(dir, "log.jsonl");
    const { store } = await ChannelStore.open(path);
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => store.append({ kind: "closed", channelId: BigInt(i) })),
    );
    await store.close();
    const { store: again, records } = await ChannelStore.open(path);
    expect(records.map((r) => ("channelId" in r ? r.channelId : undefined))).to.deep.equal(
      Array.from({ length: 50 }, (_, i) => BigInt(i)),
    );
    expect((await stat(path)).mode & 0o777).to.equal(0o600);
    await again.close();
  });

  it("cuts off a torn last line and refuses a damaged one in the middle", async () => {
    const path = join(dir, "log.jsonl");
    await writeFile(path, '{"kind":"closed","channelId":"1"}\n{"kind":"clo', { mode: 0o600 });
    const { store, records } = await ChannelStore.open(path);
    expect(records).to.deep.equal([{ kind: "closed", channelId: 1n }]);
    await store.append({ kind: "settled", channelId: 1n });
    await store.close();
    expect(await readFile(path, "utf8")).to.equal(
      '{"kind":"closed","channelId":"1"}\n{"kind":"settled","channelId":"1"}\n',
    );
    await appendFile(path, "not json\n{}\n");
    const error = await rejection(ChannelStore.open(path));
    expect(error).to.be.instanceOf(OperatorError);
    expect(error.message).to.equal(`channel store ${path} is damaged at line 3`);
  });
});
