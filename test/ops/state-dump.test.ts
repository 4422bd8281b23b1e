import { expect } from "chai";
import { createServer, type Server } from "node:http";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { saveAnvilState } from "../../ops/engines/state-dump.js";

/** A JSON-RPC server answering `body`, written in chunks of `chunk` bytes (odd splits included). */
async function serve(body: string, chunk: number): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    request.resume();
    request.on("end", async () => {
      response.writeHead(200, { "content-type": "application/json" });
      for (let at = 0; at < body.length; at += chunk) {
        response.write(body.slice(at, at + chunk));
        await new Promise((resolve) => setImmediate(resolve));
      }
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server };
}

describe("saving anvil's state by streaming", function () {
  let dir: string;
  const servers: Server[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "gridchain-state-"));
  });
  afterEach(async () => {
    for (const server of servers.splice(0)) server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("writes the gunzipped state, whatever the chunk boundaries", async () => {
    const state = JSON.stringify({
      block: { number: "0x5" },
      accounts: { a: "x".repeat(100_000) },
    });
    const hex = gzipSync(Buffer.from(state)).toString("hex");
    for (const chunk of [7, 64, 4096]) {
      const { url, server } = await serve(`{"jsonrpc":"2.0","id":1,"result":"0x${hex}"}`, chunk);
      servers.push(server);
      const path = join(dir, `state-${chunk}.json`);
      await saveAnvilState(url, path, 10_000);
      expect(await readFile(path, "utf8")).to.equal(state);
    }
  });

  it("keeps the previous save and says why when the node answers an error", async () => {
    const path = join(dir, "state.json");
    await writeFile(path, "previous");
    const { url, server } = await serve(
      '{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"boom"}}',
      5,
    );
    servers.push(server);
    let message = "";
    await saveAnvilState(url, path, 10_000).catch((error: Error) => (message = error.message));
    expect(message).to.contain("anvil_dumpState answered no result").and.contain("boom");
    expect(await readFile(path, "utf8")).to.equal("previous");
    expect(await readdir(dir)).to.deep.equal(["state.json"]);
  });
});
