import { expect } from "chai";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generate } from "../../ops/commands/generate.js";
import { OperatorError } from "../../ops/errors.js";
import { snapshot, tempDir } from "./helpers.js";

const PILOT = "network/consortium.yaml";
const pilot = readFileSync(PILOT, "utf8");
/** The pilot's second node block: removing it would have moved every node after it. */
const SOLAR_NORTH_VALIDATOR = "    role: producer\n    zone: north\n    validators: 1\n";

type Node = { name: string; ip: string; enode: string };
const nodesOf = (out: string) =>
  new Map(
    (JSON.parse(readFileSync(join(out, "nodes.json"), "utf8")) as Node[]).map((n) => [n.name, n]),
  );

/** A generated pilot network in a temp folder, marked as started the way `up` marks it. */
async function startedPilot(text = pilot): Promise<{
  dir: string;
  out: string;
  manifest: string;
  config: string;
}> {
  const dir = tempDir();
  const out = join(dir, "pilot");
  // The folder's own consortium file, edited in place by the tests as an operator would.
  const config = join(dir, "c.yaml");
  writeFileSync(config, text);
  await generate({ config, out, rotate: false });
  const manifest = join(dir, "deployments", "pilot.json");
  writeFileSync(
    join(out, "engine.json"),
    JSON.stringify({
      engine: "embedded",
      network: "pilot",
      manifest,
      genesisSha256: "",
      embedded: { host: "127.0.0.1", port: 1, saveIntervalSeconds: 2 },
    }),
  );
  mkdirSync(join(out, "embedded"));
  writeFileSync(join(out, "embedded", "state.json"), "{}");
  mkdirSync(join(out, "channels"));
  writeFileSync(join(out, "channels", "consumer-1.jsonl"), "");
  mkdirSync(join(dir, "deployments"));
  writeFileSync(manifest, "{}");
  return { dir, out, manifest, config };
}

async function refusal(config: string, out: string): Promise<OperatorError> {
  const error = await generate({ config, out, rotate: false }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).to.be.instanceOf(OperatorError);
  return error as OperatorError;
}

describe("gridchain generate on a started network", () => {
  it("refuses a new chain id, naming the change and why, and writes nothing", async () => {
    const { dir, out } = await startedPilot();
    const before = snapshot(out);
    writeFileSync(join(dir, "c.yaml"), pilot.replace("chainId: 2026", "chainId: 2027"));
    const error = await refusal(join(dir, "c.yaml"), out);
    expect(error.message).to.equal(
      `${out} holds a chain that has started; this would change its genesis or node identities: chain id 2026 -> 2027`,
    );
    expect(error.details).to.contain("a different genesis or node set is a different chain");
    expect(error.hint).to.contain(`'gridchain generate --new-chain -c ${join(dir, "c.yaml")}'`);
    expect(snapshot(out)).to.deep.equal(before);
  });

  it("refuses to replace a deleted node key", async () => {
    const { out, config } = await startedPilot();
    rmSync(join(out, "nodes", "grid-rpc-1", "key"));
    const error = await refusal(config, out);
    expect(error.message).to.contain(
      "node grid-rpc-1: its key changes (nodes/grid-rpc-1/key missing, replaced or rotated)",
    );
    expect(existsSync(join(out, "nodes", "grid-rpc-1", "key"))).to.equal(false);
  });

  it("refuses removing a validator: the genesis's validator set changes", async () => {
    const { dir, out } = await startedPilot();
    writeFileSync(
      join(dir, "c.yaml"),
      pilot.replace("    validators: 1\naccounts:", "    validators: 0\naccounts:"),
    );
    const error = await refusal(join(dir, "c.yaml"), out);
    expect(error.message).to.contain(
      "the validator set in the genesis validator contract (validators added, removed or re-keyed): on a started chain that is a members' vote",
    );
  });

  it("a chain started with block-header validators keeps them, and moves to the contract only by an appended transition", async () => {
    const headerMode = pilot.replace(
      "  epochLength: 30000\n",
      "  epochLength: 30000\n  validatorSelection: blockheader\n",
    );
    const { out, config } = await startedPilot(headerMode);
    const genesis = () => JSON.parse(readFileSync(join(out, "genesis.json"), "utf8"));
    const before = genesis();
    expect(before.config.qbft).to.not.have.property("validatorcontractaddress");
    // The YAML no longer says which mode (as before gridchain had contract mode): kept, not changed.
    writeFileSync(config, pilot);
    await generate({ config, out, rotate: false });
    expect(genesis()).to.deep.equal(before);
    const transition = (block: number) =>
      headerMode.replace(
        "  validatorSelection: blockheader\n",
        `  validatorSelection: blockheader\n  validatorContractTransition: { block: ${block}, address: "0x00000000000000000000000000000000000000aa" }\n`,
      );
    writeFileSync(config, transition(500));
    await generate({ config, out, rotate: false });
    const moved = genesis();
    expect(moved.config.transitions.qbft).to.deep.equal([
      {
        block: 500,
        validatorselectionmode: "contract",
        validatorcontractaddress: "0x00000000000000000000000000000000000000aa",
      },
    ]);
    expect({ ...moved, config: { ...moved.config, transitions: undefined } }).to.deep.equal({
      ...before,
      config: { ...before.config, transitions: undefined },
    });
    // A transition already taken is history: moving it is refused.
    writeFileSync(config, transition(600));
    const error = await refusal(config, out);
    expect(error.message).to.contain("genesis config.transitions");
  });

  it("allows what does not touch the genesis or node identities (market, ports, an RPC node more)", async () => {
    const { dir, out } = await startedPilot();
    const genesis = readFileSync(join(out, "genesis.json"), "utf8");
    const before = nodesOf(out);
    writeFileSync(
      join(dir, "c.yaml"),
      pilot
        .replace("maxKwhPerOrder: 100", "maxKwhPerOrder: 80")
        .replace("grafana: 3000", "grafana: 3300")
        .replace("rpcWs: 8546", "rpcWs: 8646")
        .replace("    rpcNodes: 1\n", "    rpcNodes: 2\n"),
    );
    await generate({ config: join(dir, "c.yaml"), out, rotate: false });
    expect(readFileSync(join(out, "genesis.json"), "utf8")).to.equal(genesis);
    const after = nodesOf(out);
    for (const [name, node] of before) expect(after.get(name)!.enode, name).to.equal(node.enode);
    expect(after.has("grid-rpc-2")).to.equal(true);
  });

  it("--new-chain archives the state, manifest and channel stores, then writes the new genesis", async () => {
    const { dir, out, manifest } = await startedPilot();
    writeFileSync(join(dir, "c.yaml"), pilot.replace("chainId: 2026", "chainId: 2027"));
    const lines = await generate({
      config: join(dir, "c.yaml"),
      out,
      rotate: false,
      newChain: true,
    });
    const archived = lines.find((line) => line.startsWith("  new chain: "));
    expect(archived).to.match(
      /^ {2}new chain: the old chain's state, manifest and channel stores moved to .*\/pilot\/archive\/\d{4}-/,
    );
    const archive = archived!.split(" moved to ")[1]!;
    for (const path of ["engine.json", "embedded/state.json", "channels/consumer-1.jsonl"]) {
      expect(existsSync(join(out, path)), path).to.equal(false);
      expect(existsSync(join(archive, path)), path).to.equal(true);
    }
    expect(existsSync(manifest)).to.equal(false);
    expect(existsSync(join(archive, "deployments", "pilot.json"))).to.equal(true);
    const genesis = JSON.parse(readFileSync(join(out, "genesis.json"), "utf8")) as {
      config: { chainId: number };
    };
    expect(genesis.config.chainId).to.equal(2027);
  });
});

describe("gridchain generate: stable layout", () => {
  it("keeps every other node's address (and enode) when a node is removed", async () => {
    const dir = tempDir();
    const out = join(dir, "pilot");
    const config = join(dir, "c.yaml");
    writeFileSync(config, pilot);
    await generate({ config, out, rotate: false });
    const before = nodesOf(out);
    writeFileSync(
      join(dir, "c.yaml"),
      pilot.replace(
        SOLAR_NORTH_VALIDATOR,
        SOLAR_NORTH_VALIDATOR.replace("validators: 1", "validators: 0"),
      ),
    );
    await generate({ config: join(dir, "c.yaml"), out, rotate: false });
    const after = nodesOf(out);
    expect([...after.keys()]).to.not.include("solar-north-validator-1");
    for (const [name, node] of after) expect(node.enode, name).to.equal(before.get(name)!.enode);
    // A node added later takes the lowest free address, the one left by the removed node.
    writeFileSync(config, pilot);
    await generate({ config, out, rotate: false });
    expect(nodesOf(out).get("solar-north-validator-1")!.ip).to.equal(
      before.get("solar-north-validator-1")!.ip,
    );
  });

  it("stamps the genesis with the first generation's time and keeps it on regeneration", async () => {
    const out = join(tempDir(), "pilot");
    const start = Math.floor(Date.now() / 1000);
    await generate({ config: PILOT, out, rotate: false });
    const first = readFileSync(join(out, "genesis.json"), "utf8");
    const timestamp = Number(BigInt((JSON.parse(first) as { timestamp: string }).timestamp));
    expect(timestamp).to.be.within(start, Math.ceil(Date.now() / 1000));
    await generate({ config: PILOT, out, rotate: false });
    expect(readFileSync(join(out, "genesis.json"), "utf8")).to.equal(first);
  });

  it("a folder stamped 0 by an older gridchain gets a time unless its chain has started", async () => {
    const stamp0 = (out: string) => {
      const path = join(out, "genesis.json");
      writeFileSync(
        path,
        readFileSync(path, "utf8").replace(/"timestamp": "0x[0-9a-f]+"/, '"timestamp": "0x0"'),
      );
    };
    const fresh = join(tempDir(), "pilot");
    await generate({ config: PILOT, out: fresh, rotate: false });
    stamp0(fresh);
    await generate({ config: PILOT, out: fresh, rotate: false });
    expect(readFileSync(join(fresh, "genesis.json"), "utf8")).to.not.contain('"timestamp": "0x0"');

    const { out } = await startedPilot();
    stamp0(out);
    await generate({ config: PILOT, out, rotate: false });
    expect(readFileSync(join(out, "genesis.json"), "utf8")).to.contain('"timestamp": "0x0"');
  });

  it("takes the genesis time from the YAML when it is given", async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, "c.yaml"),
      pilot.replace(
        "  gasLimit: 1000000000\n",
        "  gasLimit: 1000000000\n  timestamp: 1767225600\n",
      ),
    );
    await generate({ config: join(dir, "c.yaml"), out: join(dir, "out"), rotate: false });
    const genesis = JSON.parse(readFileSync(join(dir, "out", "genesis.json"), "utf8")) as {
      timestamp: string;
    };
    expect(genesis.timestamp).to.equal(`0x${(1767225600).toString(16)}`);
  });
});
