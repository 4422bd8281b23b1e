import { expect } from "chai";
import { generateKeyPairSync, verify } from "node:crypto";
import { createServer } from "node:http";
import { BesuEngine } from "../../ops/engines/besu.js";
import { EmbeddedEngine } from "../../ops/engines/embedded.js";
import { rpcCall } from "../../ops/engines/rpc.js";
import { signRpcToken } from "../../ops/engines/rpc-token.js";
import { freePort } from "../support/net.js";

describe("RPC tokens for JWT-protected Besu RPC", () => {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();

  it("signs RS256 with the exp and permissions claims Besu requires", () => {
    const now = Date.parse("2026-12-02T00:00:00Z");
    const [head, body, signature] = signRpcToken(pem, 600, now).split(".");
    expect(JSON.parse(Buffer.from(head!, "base64url").toString())).to.deep.equal({
      alg: "RS256",
      typ: "JWT",
    });
    const claims = JSON.parse(Buffer.from(body!, "base64url").toString());
    expect(claims).to.deep.equal({ iat: now / 1000, exp: now / 1000 + 600, permissions: ["*:*"] });
    const valid = verify(
      "RSA-SHA256",
      Buffer.from(`${head}.${body}`),
      publicKey,
      Buffer.from(signature!, "base64url"),
    );
    expect(valid).to.equal(true);
  });

  it("rpcCall sends the token as a Bearer authorization header", async () => {
    const port = await freePort();
    const seen: (string | undefined)[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ jsonrpc: "2.0", id: 1, result: "0x1" }));
    });
    await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
    try {
      await rpcCall(`http://127.0.0.1:${port}`, "eth_chainId", [], 2_000, "abc.def.ghi");
      await rpcCall(`http://127.0.0.1:${port}`, "eth_chainId");
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(seen).to.deep.equal(["Bearer abc.def.ghi", undefined]);
  });

  it("engines hand Hardhat sessions a fresh bearer token only where the RPC checks one", () => {
    const guarded = new BesuEngine({
      composeFile: "unused.yml",
      rpcToken: () => signRpcToken(pem),
    });
    const authorization = guarded.rpcHeaders().Authorization;
    expect(authorization).to.match(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    const [head, body, signature] = authorization!.slice("Bearer ".length).split(".");
    const valid = verify(
      "RSA-SHA256",
      Buffer.from(`${head}.${body}`),
      publicKey,
      Buffer.from(signature!, "base64url"),
    );
    expect(valid).to.equal(true);
    expect(new BesuEngine({ composeFile: "unused.yml" }).rpcHeaders()).to.deep.equal({});
    expect(new EmbeddedEngine({ networkDir: "unused" }).rpcHeaders()).to.deep.equal({});
  });
});
