import { expect } from "chai";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { memberAssemble, memberInit, memberRender } from "../../ops/commands/member.js";
import { keyFromPrivate } from "../../ops/besu/keys.js";
import { OperatorError } from "../../ops/errors.js";
import { assembleNetwork } from "../../ops/members/assemble.js";
import { MANIFEST_FILE, MEMBER_FILE } from "../../ops/members/index.js";
import { tempDir } from "./helpers.js";

const CONSORTIUM = "network/examples/hosts.yaml";

async function refused(run: Promise<unknown>, pattern: RegExp): Promise<void> {
  const error = await run.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error, `expected an OperatorError matching ${pattern}`).to.be.instanceOf(OperatorError);
  expect((error as OperatorError).oneLine()).to.match(pattern);
}

const base = { network: "hosts", chainId: "2027", account: [] as string[] };

describe("member commands: flags, unsupported settings, layouts Besu cannot serve", () => {
  it("refuses a malformed --node or --account before any key is written", async () => {
    const out = join(tempDir(), "m");
    const grid = { ...base, organisation: "grid", role: "grid-operator", out };
    await refused(
      memberInit({ ...grid, node: ["validator:grid.example.net"] }),
      /^--node validator:grid\.example\.net: expected kind=host\[:port\]/,
    );
    await refused(
      memberInit({ ...grid, node: ["validator=grid.example.net:70000"] }),
      /^--node validator=grid\.example\.net:70000: expected kind=host\[:port\]/,
    );
    await refused(
      memberInit({ ...grid, node: ["validator=grid.example.net"], account: ["banker"] }),
      /^--account banker: expected role\[=count\]/,
    );
    await refused(
      memberInit({ ...grid, organisation: "Grid", node: ["validator=grid.example.net"] }),
      /^member file: organisation\.id: an organisation id/,
    );
    expect(() => readFileSync(join(out, MEMBER_FILE))).to.throw(/ENOENT/);
    await refused(
      memberRender({ manifest: CONSORTIUM, memberDir: out }),
      /member\.json: no member file with an organisation id here/,
    );
  });

  it("refuses consortium settings a member network cannot honour (RPC beyond 127.0.0.1, imported keys, generated accounts)", () => {
    const text = readFileSync(CONSORTIUM, "utf8");
    expect(() =>
      assembleNetwork({ file: "c.yaml", text: `${text}docker:\n  publishHost: 0.0.0.0\n` }, []),
    ).to.throw(
      OperatorError,
      /^c\.yaml: docker\.publishHost: 0\.0\.0\.0: a member network publishes RPC on 127\.0\.0\.1 only/,
    );
    const imported = text.replace(
      "    validators: 1\n    rpcNodes: 1\n",
      `    validators: 1\n    rpcNodes: 1\n    importedKeys:\n      grid-validator-1:\n        publicKey: "${keyFromPrivate("0x" + "11".repeat(32)).publicKey}"\n        ip: 10.0.0.1\n`,
    );
    expect(() =>
      assembleNetwork({ file: "c.yaml", text: `${text}accounts:\n  consumers: 4\n` }, []),
    ).to.throw(OperatorError, /^c\.yaml: accounts: not used by a member network/);
    expect(imported).to.not.equal(text);
    expect(() => assembleNetwork({ file: "c.yaml", text: imported }, [])).to.throw(
      OperatorError,
      /^c\.yaml: organisations\[0\]\.importedKeys: not used by a member network/,
    );
  });

  it("warns when two of a member's nodes share a host, which Besu's allowlist cannot admit", async () => {
    const dirs: string[] = [];
    const members = [
      {
        organisation: "grid",
        role: "grid-operator",
        node: ["validator=grid.example.net", "rpc=grid.example.net:30304"],
        account: ["deployer"],
      },
      { organisation: "solar-north", role: "producer", node: ["validator=solar.example.net"] },
      { organisation: "wind-south", role: "producer", node: ["validator=wind.example.net"] },
    ];
    for (const member of members) {
      const out = join(tempDir(), member.organisation);
      await memberInit({ ...base, ...member, out });
      dirs.push(out);
    }
    const manifestDir = tempDir();
    await memberAssemble(
      dirs.map((dir) => join(dir, MEMBER_FILE)),
      { config: CONSORTIUM, out: manifestDir },
    );
    const lines = await memberRender({
      manifest: join(manifestDir, MANIFEST_FILE),
      memberDir: dirs[0]!,
    });
    expect(lines).to.include(
      "  warning: grid-validator-1, grid-rpc-1 share grid.example.net: peers on one host connect through NAT and Besu's allowlist refuses the rewritten address; give each node a host of its own",
    );
    expect(lines[1]).to.equal("  compose files: hosts/grid.example.net/docker-compose.yml");
    const solar = await memberRender({
      manifest: join(manifestDir, MANIFEST_FILE),
      memberDir: dirs[1]!,
    });
    expect(solar.filter((line) => line.includes("warning"))).to.deep.equal([]);
  });
});
