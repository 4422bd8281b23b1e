import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { load as loadYaml } from "js-yaml";
import { generate } from "../../ops/commands/generate.js";
import { renderCompose } from "../../ops/compose/render.js";
import { inspectGenesis } from "../../ops/besu/inspect.js";
import { keyFromPrivate } from "../../ops/besu/keys.js";
import {
  loadConsortium,
  planNetwork,
  renderNetwork,
  resolveKeys,
} from "../../ops/consortium/index.js";
import { writeFileAtomic } from "../../ops/fs.js";
import { composeValidator, seededKeys, snapshot, tempDir } from "./helpers.js";

const PILOT = "network/consortium.yaml";
function modeOf(path: string): number {
  return statSync(path).mode & 0o777;
}

describe("gridchain generate", () => {
  it("writes every file, keys 0600, and a second run reuses the keys and gives identical bytes", async () => {
    const out = join(tempDir(), "pilot");
    const first = await generate({ config: PILOT, out, rotate: false });
    expect(first[1]).to.equal("  nodes: 5 (4 validators, 1 RPC, 0 bootnodes)");
    expect(first[2]).to.equal("  node keys: 5 generated, 0 reused, 0 imported");
    expect(first[3]).to.equal("  accounts: 15 (keys: 15 generated, 0 reused)");
    expect(first[4]).to.equal("  files: 63 written, 0 unchanged");
    const before = snapshot(out);
    for (const node of [
      "grid-validator-1",
      "grid-rpc-1",
      "solar-north-validator-1",
      "solar-south-validator-1",
      "wind-south-validator-1",
    ]) {
      expect(modeOf(join(out, "nodes", node, "key")), node).to.equal(0o600);
      expect(modeOf(join(out, "nodes", node, "config.toml"))).to.equal(0o644);
      const key = keyFromPrivate(before.get(`nodes/${node}/key`)!);
      expect(before.get(`nodes/${node}/address`)).to.equal(key.address);
      expect(before.get(`nodes/${node}/key.pub`)).to.equal(key.publicKey);
    }
    for (const file of readdirSync(join(out, "accounts")))
      expect(modeOf(join(out, "accounts", file))).to.equal(0o600);
    expect(modeOf(join(out, "accounts"))).to.equal(0o700);
    expect(readdirSync(out).filter((name) => name.endsWith(".tmp"))).to.deep.equal([]);

    const second = await generate({ config: PILOT, out, rotate: false });
    expect(second[2]).to.equal("  node keys: 0 generated, 5 reused, 0 imported");
    expect(second[3]).to.equal("  accounts: 15 (keys: 0 generated, 15 reused)");
    expect(second[4]).to.equal("  files: 0 written, 63 unchanged");
    expect(snapshot(out)).to.deep.equal(before);
  });

  it("reports node folders the YAML no longer has and leaves them in place", async () => {
    const dir = tempDir();
    const out = join(dir, "out");
    // The operator edits the file that generated the folder (another file may not take it over).
    writeFileSync(join(dir, "c.yaml"), readFileSync(PILOT, "utf8"));
    await generate({ config: join(dir, "c.yaml"), out, rotate: false });
    const smaller = readFileSync(PILOT, "utf8").replace(
      "    validators: 1\n    rpcNodes: 1\n",
      "    validators: 1\n",
    );
    writeFileSync(join(dir, "c.yaml"), smaller);
    const lines = await generate({ config: join(dir, "c.yaml"), out, rotate: false });
    expect(lines[1]).to.equal("  nodes: 4 (4 validators, 0 RPC, 0 bootnodes)");
    expect(lines).to.include(
      "  not in the YAML any more (left in place, delete by hand): nodes/grid-rpc-1",
    );
    expect(existsSync(join(out, "nodes/grid-rpc-1/key"))).to.equal(true);
  });

  it("--rotate replaces node keys (and so the genesis) but keeps account keys", async () => {
    const out = join(tempDir(), "pilot");
    await generate({ config: PILOT, out, rotate: false });
    const before = snapshot(out);
    const lines = await generate({ config: PILOT, out, rotate: true });
    expect(lines[2]).to.equal("  node keys: 5 generated, 0 reused, 0 imported");
    expect(lines).to.include("  rotated 5 node keys: the genesis changed, start the chain afresh");
    const after = snapshot(out);
    expect(after.get("nodes/grid-validator-1/key")).to.not.equal(
      before.get("nodes/grid-validator-1/key"),
    );
    expect(after.get("genesis.json")).to.not.equal(before.get("genesis.json"));
    expect(after.get("accounts/consumer-1.key")).to.equal(before.get("accounts/consumer-1.key"));
    expect(after.get("accounts.json")).to.equal(before.get("accounts.json"));
  });

  it("uses an imported key file and leaves a node imported by public key out of compose", async () => {
    const dir = tempDir();
    const imported = keyFromPrivate(`0x${"11".repeat(32)}`);
    writeFileSync(join(dir, "v1.key"), imported.privateKey!);
    const remote = keyFromPrivate(`0x${"22".repeat(32)}`);
    const yaml = readFileSync(PILOT, "utf8").replace(
      "    validators: 1\n    rpcNodes: 1\n",
      `    validators: 2\n    rpcNodes: 1\n    importedKeys:\n      grid-validator-1: { keyFile: v1.key }\n      grid-validator-2: { publicKey: "${remote.publicKey}", ip: 10.20.0.7 }\n`,
    );
    writeFileSync(join(dir, "c.yaml"), yaml);
    const out = join(dir, "out");
    const lines = await generate({ config: join(dir, "c.yaml"), out, rotate: true });
    expect(lines[2]).to.equal("  node keys: 4 generated, 0 reused, 2 imported");
    expect(lines.filter((line) => line.includes("rotated"))).to.deep.equal([]);
    expect(readFileSync(join(out, "nodes/grid-validator-1/key"), "utf8")).to.equal(
      imported.privateKey,
    );
    expect(existsSync(join(out, "nodes/grid-validator-2"))).to.equal(false);
    const compose = loadYaml(readFileSync(join(out, "docker-compose.yml"), "utf8")) as {
      services: object;
    };
    expect(Object.keys(compose.services)).to.deep.equal([
      "grid-validator-1",
      "grid-rpc-1",
      "solar-north-validator-1",
      "solar-south-validator-1",
      "wind-south-validator-1",
      "prometheus",
      "grafana",
    ]);
    const staticNodes = JSON.parse(
      readFileSync(join(out, "static-nodes.json"), "utf8"),
    ) as string[];
    expect(staticNodes[1]).to.equal(`enode://${remote.publicKey.slice(2)}@10.20.0.7:30303`);
    expect(inspectGenesis(join(out, "genesis.json")).slice(3, 5)).to.deep.equal([
      `  ${imported.address}  grid-validator-1  (grid)`,
      `  ${remote.address}  grid-validator-2  (grid)`,
    ]);
  });

  it("lists explicit accounts (address only) with their role, organisation and zone, without a key", async () => {
    const dir = tempDir();
    const explicit = "0x627306090abaB3A6e1400e9345bC60c78a8BEf57";
    const yaml = readFileSync(PILOT, "utf8").replace(
      "  consumers: 8\n",
      `  consumers: 8\n  explicit:\n    - { address: "${explicit}", role: producer, organisation: solar-south }\n`,
    );
    writeFileSync(join(dir, "c.yaml"), yaml);
    const out = join(dir, "out");
    await generate({ config: join(dir, "c.yaml"), out, rotate: false });
    const accounts = JSON.parse(readFileSync(join(out, "accounts.json"), "utf8")) as {
      id: string;
    }[];
    expect(accounts).to.have.length(16);
    expect(accounts[15]).to.deep.equal({
      id: explicit.toLowerCase(),
      address: explicit.toLowerCase(),
      role: "producer",
      organisation: "solar-south",
      zone: "south",
    });
    expect(accounts.slice(3, 7)).to.deep.include({
      id: "producer-2",
      address: keyFromPrivate(readFileSync(join(out, "accounts/producer-2.key"), "utf8")).address,
      role: "producer",
      organisation: "solar-south",
      zone: "south",
    });
    expect(readdirSync(join(out, "accounts"))).to.have.length(15);
    const permissions = join(out, "nodes/grid-rpc-1/permissions/permissions_config.toml");
    expect(readFileSync(permissions, "utf8")).to.include(`"${explicit.toLowerCase()}"`);
  });

  it("refuses a malformed key already in the network folder, naming the file, and writes nothing", async () => {
    const out = join(tempDir(), "pilot");
    await generate({ config: PILOT, out, rotate: false });
    writeFileAtomic(join(out, "accounts", "consumer-2.key"), "garbage", 0o600);
    const before = snapshot(out);
    let message = "";
    try {
      await generate({ config: PILOT, out, rotate: false });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).to.equal(`${join(out, "accounts", "consumer-2.key")}: malformed private key`);
    expect(snapshot(out)).to.deep.equal(before);
  });

  it("inspect prints consensus, chain id and each validator with node name and organisation", async () => {
    const out = join(tempDir(), "pilot");
    await generate({ config: PILOT, out, rotate: false });
    const nodes = JSON.parse(readFileSync(join(out, "nodes.json"), "utf8")) as {
      name: string;
      address: string;
      kind: string;
    }[];
    const validators = nodes.filter((node) => node.kind === "validator");
    expect(inspectGenesis(join(out, "genesis.json"))).to.deep.equal([
      "consensus: QBFT",
      "chain id: 2026",
      "validators: 4",
      `  ${validators[0]!.address}  grid-validator-1  (grid)`,
      `  ${validators[1]!.address}  solar-north-validator-1  (solar-north)`,
      `  ${validators[2]!.address}  solar-south-validator-1  (solar-south)`,
      `  ${validators[3]!.address}  wind-south-validator-1  (wind-south)`,
    ]);
  });

  it("generates the Clique example for Besu 26.2.0 and inspect decodes its signers", async () => {
    const out = join(tempDir(), "clique");
    await generate({ config: "network/examples/clique-26.2.yaml", out, rotate: false });
    const genesis = JSON.parse(readFileSync(join(out, "genesis.json"), "utf8"));
    expect(genesis.config.clique).to.deep.equal({
      blockperiodseconds: 5,
      epochlength: 30000,
      createemptyblocks: false,
    });
    const lines = inspectGenesis(join(out, "genesis.json"));
    expect(lines.slice(0, 3)).to.deep.equal([
      "consensus: Clique",
      "chain id: 2027",
      "validators: 3",
    ]);
    expect(lines[5]).to.match(/^ {2}0x[0-9a-f]{40} {2}solar-south-validator-1 {2}\(solar-south\)$/);
    expect(readFileSync(join(out, "docker-compose.yml"), "utf8")).to.include(
      "image: hyperledger/besu:26.2.0",
    );
  });
});

describe("docker-compose.yml", () => {
  it("the committed top-level file is what the generator renders for network/consortium.yaml", () => {
    const spec = loadConsortium(PILOT);
    const { keys } = resolveKeys(spec, tempDir(), {
      rotate: false,
      generate: seededKeys("top-level"),
    });
    const rendered = renderCompose(planNetwork(spec, keys), `./network/${spec.name}`);
    expect(readFileSync("docker-compose.yml", "utf8")).to.equal(rendered);
  });

  for (const example of [
    "network/consortium.yaml",
    "network/examples/clique-26.2.yaml",
    "network/examples/loadtest-3000.yaml",
  ]) {
    it(`passes docker-compose config -q and the compose-spec schema (${example})`, async () => {
      const out = join(tempDir(), "net");
      const spec = loadConsortium(example);
      const { keys } = resolveKeys(spec, out, { rotate: false, generate: seededKeys(example) });
      const files = renderNetwork(planNetwork(spec, keys));
      const composeText = files.get("docker-compose.yml")!.content;
      writeFileAtomic(join(out, "docker-compose.yml"), composeText);
      execFileSync("docker-compose", ["-f", join(out, "docker-compose.yml"), "config", "-q"], {
        stdio: "pipe",
      });
      const validate = composeValidator();
      const compose = loadYaml(composeText);
      expect(validate(compose), JSON.stringify(validate.errors)).to.equal(true);
    });
  }

  it("the schema check catches a misspelt service key", () => {
    const validate = composeValidator();
    const compose = loadYaml(readFileSync("docker-compose.yml", "utf8")) as {
      services: Record<string, Record<string, unknown>>;
    };
    compose.services["grid-rpc-1"]!.mem_limt = "2g";
    expect(validate(compose)).to.equal(false);
    expect(validate.errors![0]!.params).to.deep.equal({ additionalProperty: "mem_limt" });
  });

  it("publishes only the RPC node's ports, on 127.0.0.1, plus Prometheus and Grafana", () => {
    const compose = loadYaml(readFileSync("docker-compose.yml", "utf8")) as {
      services: Record<
        string,
        { ports?: string[]; networks: Record<string, { ipv4_address: string }> }
      >;
    };
    const published = Object.fromEntries(
      Object.entries(compose.services).map(([name, service]) => [name, service.ports ?? []]),
    );
    expect(published).to.deep.equal({
      "grid-validator-1": [],
      "grid-rpc-1": ["127.0.0.1:8545:8545", "127.0.0.1:8546:8546"],
      "solar-north-validator-1": [],
      "solar-south-validator-1": [],
      "wind-south-validator-1": [],
      prometheus: ["127.0.0.1:9090:9090"],
      grafana: ["127.0.0.1:3000:3000"],
    });
    expect(compose.services["grid-validator-1"]!.networks["pilot-net"]!.ipv4_address).to.equal(
      "172.16.240.10",
    );
  });
});

describe("the 3000-account load-test example", () => {
  it("plans 30 validators, 2 RPC nodes, a bootnode and 3003 accounts with zones round robin", () => {
    const spec = loadConsortium("network/examples/loadtest-3000.yaml");
    const { keys } = resolveKeys(spec, tempDir(), {
      rotate: false,
      generate: seededKeys("loadtest"),
    });
    const plan = planNetwork(spec, keys);
    expect(plan.validators).to.have.length(30);
    expect(
      plan.nodes.filter((node) => node.kind === "rpc").map((node) => node.published),
    ).to.deep.equal([
      { rpcHttp: 18545, rpcWs: 18547 },
      { rpcHttp: 18546, rpcWs: 18548 },
    ]);
    expect(plan.bootnodes.map((node) => node.name)).to.deep.equal(["grid-bootnode-1"]);
    expect(plan.accounts).to.have.length(3003);
    const producers = plan.accounts.filter((account) => account.role === "producer");
    expect(producers).to.have.length(600);
    expect(
      producers.slice(0, 6).map((account) => [account.organisation, account.zone]),
    ).to.deep.equal([
      ["solar-a", "zone-a"],
      ["solar-b", "zone-b"],
      ["wind-c", "zone-c"],
      ["wind-d", "zone-d"],
      ["hydro-e", "zone-e"],
      ["solar-a", "zone-a"],
    ]);
    const consumers = plan.accounts.filter((account) => account.role === "consumer");
    expect(consumers).to.have.length(2400);
    expect(consumers.filter((account) => account.zone === "zone-c")).to.have.length(480);
  });
});
