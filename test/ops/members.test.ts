import { expect } from "chai";
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  readFileSync,
  readdirSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { load as loadYaml } from "js-yaml";
import { memberAssemble, memberInit, memberRender } from "../../ops/commands/member.js";
import { decodeQbftExtraData } from "../../ops/besu/extradata.js";
import { keyFromPrivate } from "../../ops/besu/keys.js";
import {
  VALIDATOR_CONTRACT_ADDRESS,
  validatorsFromStorage,
} from "../../ops/besu/validator-contract.js";
import { assembleNetwork, MANIFEST_FILE } from "../../ops/members/assemble.js";
import { MEMBER_FILE } from "../../ops/members/init.js";
import { canonicalJson } from "../../ops/members/member-file.js";
import { OperatorError } from "../../ops/errors.js";
import { BESU_DATA, composeValidator, parseFlatToml, tempDir } from "./helpers.js";

const CONSORTIUM = "network/examples/hosts.yaml";

/** The three members of network/examples/hosts.yaml, as each runs `member init` on its machine. */
const MEMBERS = [
  {
    organisation: "grid",
    role: "grid-operator",
    node: ["validator=grid-v1.example.net", "rpc=grid-rpc1.example.net"],
    account: ["deployer", "grid-operator", "meter", "consumer=2"],
  },
  {
    organisation: "solar-north",
    role: "producer",
    node: ["validator=203.0.113.20:30303"],
    account: ["producer"],
  },
  {
    organisation: "wind-south",
    role: "producer",
    node: ["validator=wind.example.org:30310"],
    account: ["producer=2"],
  },
];

/** Expects one OperatorError whose one-line text matches. */
async function expectOperatorError(run: Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await run;
  } catch (error) {
    expect(error).to.be.instanceOf(OperatorError);
    expect((error as OperatorError).oneLine()).to.match(pattern);
    return;
  }
  expect.fail(`expected an OperatorError matching ${pattern}`);
}

/** Every file under a folder, with its path. */
function filesUnder(root: string): string[] {
  return readdirSync(root, { recursive: true, encoding: "utf8" })
    .map((entry) => join(root, entry))
    .filter((path) => statSync(path).isFile());
}

/** Every private key under a folder's keys/ (node and account), as bare lower-case hex. */
function privateKeysOf(memberDir: string): string[] {
  return filesUnder(join(memberDir, "keys")).map((file) =>
    keyFromPrivate(readFileSync(file, "utf8")).privateKey!.slice(2),
  );
}

/** Three member folders in three temp folders, a manifest, and each member's bundle. */
async function ceremony() {
  const dirs = new Map<string, string>();
  for (const member of MEMBERS) {
    const out = join(tempDir(`member-${member.organisation}-`), member.organisation);
    await memberInit({ ...member, network: "hosts", chainId: "2027", out });
    dirs.set(member.organisation, out);
  }
  const manifestDir = tempDir("coordinator-");
  const assembled = await memberAssemble(
    [...dirs.values()].map((dir) => join(dir, MEMBER_FILE)),
    { config: CONSORTIUM, out: manifestDir },
  );
  const hash = /manifest sha256 ([0-9a-f]{64})/.exec(assembled[1]!)![1]!;
  for (const dir of dirs.values()) {
    await memberRender({
      manifest: join(manifestDir, MANIFEST_FILE),
      memberDir: dir,
      expectHash: hash,
    });
  }
  return { dirs, manifestDir, hash };
}

describe("member key ceremony (three members, three folders)", () => {
  let world: Awaited<ReturnType<typeof ceremony>>;
  before(async () => {
    world = await ceremony();
  });

  it("no private key appears in any file outside its own member's folder, nor in a public file", () => {
    const keys = new Map([...world.dirs].map(([org, dir]) => [org, privateKeysOf(dir)]));
    expect([...keys.values()].flat()).to.have.length(2 + 1 + 1 + 5 + 1 + 2);
    const everyFile = [
      ...filesUnder(world.manifestDir).map((file) => ({ file, owner: "coordinator" })),
      ...[...world.dirs].flatMap(([org, dir]) =>
        filesUnder(dir).map((file) => ({ file, owner: org })),
      ),
    ];
    for (const { file, owner } of everyFile) {
      const text = readFileSync(file, "utf8").toLowerCase();
      for (const [org, list] of keys) {
        for (const key of list) {
          if (!text.includes(key)) continue;
          expect(owner, `${file} holds a key of ${org}`).to.equal(org);
          // Inside its own folder, a key sits in keys/ and in its node's 0600 key file alone.
          const where = file.slice(world.dirs.get(org)!.length + 1);
          const allowed =
            where.startsWith("keys/") ||
            /^bundle\/nodes\/[a-z0-9-]+\/key$/.test(where) ||
            /^bundle\/kubernetes\/secret-[a-z0-9-]+\.yaml$/.test(where);
          expect(allowed, `${file} holds a private key`).to.equal(true);
          expect(statSync(file).mode & 0o777, file).to.equal(0o600);
        }
      }
    }
  });

  it("each bundle holds only its own nodes' keys and its own nodes", () => {
    for (const [org, dir] of world.dirs) {
      const nodes = readdirSync(join(dir, "bundle", "nodes")).sort();
      const own = MEMBERS.find((member) => member.organisation === org)!.node.length;
      expect(nodes, org).to.have.length(own);
      for (const node of nodes) expect(node.startsWith(`${org}-`), node).to.equal(true);
      const secrets = filesUnder(join(dir, "bundle")).filter(
        (file) => (statSync(file).mode & 0o777) === 0o600,
      );
      expect(secrets.map((file) => file.slice(dir.length + 1)).sort()).to.deep.equal(
        [
          ...nodes.map((node) => `bundle/kubernetes/secret-${node}.yaml`),
          ...nodes.map((node) => `bundle/nodes/${node}/key`),
        ].sort(),
      );
    }
  });

  it("everyone gets the same genesis: any member file order, any assembler, any bundle", async () => {
    const files = [...world.dirs.values()].map((dir) => {
      const file = join(dir, MEMBER_FILE);
      return { file, text: readFileSync(file, "utf8") };
    });
    const consortium = { file: CONSORTIUM, text: readFileSync(CONSORTIUM, "utf8") };
    const first = assembleNetwork(consortium, files);
    // Another coordinator: other file names, reversed order, the YAML's keys in another order.
    const renamed = [...files].reverse().map(({ text }, i) => ({ file: `copy-${i}.json`, text }));
    const reordered = loadYaml(consortium.text) as Record<string, unknown>;
    const shuffled = Object.fromEntries(Object.entries(reordered).reverse());
    const second = assembleNetwork(
      { file: "elsewhere.yaml", text: JSON.stringify(shuffled) },
      renamed,
    );
    expect(second.genesis).to.equal(first.genesis);
    expect(second.manifestText).to.equal(first.manifestText);
    expect(second.manifestHash).to.equal(world.hash);
    const written = readFileSync(join(world.manifestDir, "genesis.json"), "utf8");
    expect(written).to.equal(first.genesis);
    for (const dir of world.dirs.values()) {
      expect(readFileSync(join(dir, "bundle", "genesis.json"), "utf8")).to.equal(written);
    }
    // The validators are the members' node keys, held by the genesis validator contract (a member
    // network is a new chain: contract mode, its extraData lists none).
    const genesis = JSON.parse(written);
    const validators = first.manifest.members.flatMap((member) =>
      member.nodes.filter((node) => node.kind === "validator").map((node) => node.address),
    );
    expect(genesis.config.qbft.validatorcontractaddress).to.equal(VALIDATOR_CONTRACT_ADDRESS);
    expect(decodeQbftExtraData(genesis.extraData).validators).to.deep.equal([]);
    const contract =
      genesis.alloc[VALIDATOR_CONTRACT_ADDRESS.slice(2).toLowerCase()] ??
      genesis.alloc[VALIDATOR_CONTRACT_ADDRESS];
    expect(validatorsFromStorage(contract.storage)).to.deep.equal(validators);
  });

  it("member render refuses a manifest whose hash differs from the announced one", async () => {
    const [dir] = [...world.dirs.values()];
    await expectOperatorError(
      memberRender({
        manifest: join(world.manifestDir, MANIFEST_FILE),
        memberDir: dir!,
        out: join(tempDir(), "bundle"),
        expectHash: "0".repeat(64),
      }),
      /sha256 [0-9a-f]{64}, expected 0{64}/,
    );
  });

  it("refuses a tampered member file: a changed host voids every proof in it", async () => {
    const dir = world.dirs.get("wind-south")!;
    const member = JSON.parse(readFileSync(join(dir, MEMBER_FILE), "utf8"));
    member.nodes[0].host = "attacker.example.com";
    const file = join(tempDir(), "wind-south.json");
    writeFileSync(file, canonicalJson(member));
    await expectOperatorError(
      memberAssemble(
        [
          join(world.dirs.get("grid")!, MEMBER_FILE),
          join(world.dirs.get("solar-north")!, MEMBER_FILE),
          file,
        ],
        { config: CONSORTIUM, out: tempDir() },
      ),
      /wind-south\.json: nodes\[0\]\.proof: not signed by wind-south-validator-1's key over this file for network hosts \(chain 2027\)/,
    );
  });

  it("refuses an unsigned member file and a key claimed with another key's proof", async () => {
    const dir = world.dirs.get("solar-north")!;
    const member = JSON.parse(readFileSync(join(dir, MEMBER_FILE), "utf8"));
    const unsigned = structuredClone(member);
    delete unsigned.nodes[0].proof;
    const file = join(tempDir(), "solar.json");
    writeFileSync(file, JSON.stringify(unsigned));
    await expectOperatorError(
      memberAssemble([file], { config: CONSORTIUM, out: tempDir() }),
      /solar\.json: nodes\[0\]\.proof: missing/,
    );
    // The grid's validator key, claimed by solar-north with solar-north's own proof.
    const grid = JSON.parse(readFileSync(join(world.dirs.get("grid")!, MEMBER_FILE), "utf8"));
    member.nodes[0].publicKey = grid.nodes[0].publicKey;
    member.nodes[0].address = grid.nodes[0].address;
    writeFileSync(file, JSON.stringify(member));
    await expectOperatorError(
      memberAssemble([file], { config: CONSORTIUM, out: tempDir() }),
      /solar\.json: nodes\[0\]\.proof: not signed by solar-north-validator-1's key/,
    );
  });

  it("refuses a member file made for another network (a replayed proof)", async () => {
    const out = join(tempDir(), "other");
    await memberInit({ ...MEMBERS[1]!, network: "hosts", chainId: "9999", out });
    const files = [...world.dirs.entries()]
      .filter(([org]) => org !== "solar-north")
      .map(([, dir]) => join(dir, MEMBER_FILE));
    await expectOperatorError(
      memberAssemble([...files, join(out, MEMBER_FILE)], { config: CONSORTIUM, out: tempDir() }),
      /other\/member\.json: network: made for hosts \(chain 9999\), not hosts \(chain 2027\)/,
    );
    // The same file with the chain id edited to match: its proofs were made for 9999.
    const member = JSON.parse(readFileSync(join(out, MEMBER_FILE), "utf8"));
    member.network.chainId = 2027;
    writeFileSync(join(out, MEMBER_FILE), JSON.stringify(member));
    await expectOperatorError(
      memberAssemble([...files, join(out, MEMBER_FILE)], { config: CONSORTIUM, out: tempDir() }),
      /nodes\[0\]\.proof: not signed by/,
    );
  });

  it("refuses to overwrite a member's keys", async () => {
    const dir = world.dirs.get("grid")!;
    await expectOperatorError(
      memberInit({ ...MEMBERS[0]!, network: "hosts", chainId: "2027", out: dir }),
      /already holds a member's keys/,
    );
  });

  it("static nodes, bootnodes and the allowlist use each node's own host and port, as Besu matches them", () => {
    const options = new Set(
      ["26.8.0.txt", "26.8.0.hidden.txt"].flatMap((file) =>
        readFileSync(join(BESU_DATA, "options", file), "utf8")
          .split("\n")
          .map((line) => line.trim().replace(/^--/, ""))
          .filter(Boolean),
      ),
    );
    const manifest = JSON.parse(readFileSync(join(world.manifestDir, MANIFEST_FILE), "utf8"));
    const expected = manifest.members.flatMap((member: any) =>
      member.nodes.map(
        (node: any) => `enode://${node.publicKey.slice(2)}@${node.host}:${node.p2pPort}`,
      ),
    );
    for (const [org, dir] of world.dirs) {
      const bundle = join(dir, "bundle");
      const staticNodes = JSON.parse(readFileSync(join(bundle, "static-nodes.json"), "utf8"));
      expect(staticNodes).to.deep.equal(expected);
      for (const node of readdirSync(join(bundle, "nodes"))) {
        const config = parseFlatToml(
          readFileSync(join(bundle, "nodes", node, "config.toml"), "utf8").replace(/^X/gm, "x"),
        );
        const raw = readFileSync(join(bundle, "nodes", node, "config.toml"), "utf8");
        for (const line of raw.split("\n").filter((text) => /^[A-Za-z]/.test(text))) {
          expect(options, `${node}: ${line}`).to.include(line.split("=")[0]);
        }
        const permissions = parseFlatToml(
          readFileSync(
            join(bundle, "nodes", node, "permissions", "permissions_config.toml"),
            "utf8",
          ),
        ) as Record<string, string[]>;
        // Besu refuses to start on a bootnode or static node its allowlist lacks (BesuCommand).
        expect(permissions["nodes-allowlist"]).to.deep.equal(expected);
        for (const boot of config.bootnodes as string[]) {
          expect(permissions["nodes-allowlist"]).to.include(boot);
        }
        const own = expected.find((enode: string) =>
          enode.startsWith(
            `enode://${readFileSync(join(bundle, "nodes", node, "key.pub"), "utf8").slice(2)}@`,
          ),
        )!;
        const [host, port] = own.split("@")[1]!.split(":");
        expect(config["p2p-port"], node).to.equal(Number(port));
        // Names need Besu's DNS options; p2p-host takes an IP only (start.sh resolves a name).
        expect(config["xdns-enabled"], node).to.equal(true);
        expect(config["xdns-update-enabled"], node).to.equal(true);
        expect(config["p2p-host"], node).to.equal(/^\d/.test(host!) ? host : undefined);
      }
      expect(org).to.be.a("string");
    }
  });

  it("a network of IP addresses only sets no DNS option and gives every node its p2p-host", async () => {
    const dirs: string[] = [];
    for (const [i, member] of MEMBERS.entries()) {
      const out = join(tempDir(), member.organisation);
      const node = member.node.map(
        (spec, k) => `${spec.split("=")[0]}=198.51.100.${10 * i + k + 1}`,
      );
      await memberInit({ ...member, node, network: "hosts", chainId: "2027", out });
      dirs.push(out);
    }
    const manifestDir = tempDir();
    await memberAssemble(
      dirs.map((dir) => join(dir, MEMBER_FILE)),
      { config: CONSORTIUM, out: manifestDir },
    );
    await memberRender({ manifest: join(manifestDir, MANIFEST_FILE), memberDir: dirs[0]! });
    const config = readFileSync(
      join(dirs[0]!, "bundle", "nodes", "grid-validator-1", "config.toml"),
      "utf8",
    );
    expect(config).to.not.include("Xdns");
    expect(config).to.include('p2p-host="198.51.100.1"');
  });

  it("each host's compose file passes docker-compose config and the compose-spec schema, P2P published TCP and UDP", () => {
    const validate = composeValidator();
    const grid = join(world.dirs.get("grid")!, "bundle", "hosts");
    const hosts = readdirSync(grid).sort();
    expect(hosts).to.deep.equal(["grid-rpc1.example.net", "grid-v1.example.net"]);
    for (const host of hosts) {
      const file = join(grid, host, "docker-compose.yml");
      execFileSync("docker-compose", ["-f", file, "config", "-q"], { stdio: "pipe" });
      const compose = loadYaml(readFileSync(file, "utf8")) as {
        services: Record<string, { ports: string[]; environment: Record<string, string> }>;
      };
      expect(validate(compose), JSON.stringify(validate.errors)).to.equal(true);
      const services = Object.values(compose.services);
      expect(services).to.have.length(1);
      expect(services[0]!.ports.slice(0, 2)).to.deep.equal(["30303:30303/tcp", "30303:30303/udp"]);
      expect(services[0]!.environment).to.deep.equal({ GRIDCHAIN_P2P_HOST_NAME: host });
    }
    const wind = readFileSync(
      join(
        world.dirs.get("wind-south")!,
        "bundle",
        "hosts",
        "wind.example.org",
        "docker-compose.yml",
      ),
      "utf8",
    );
    expect(wind).to.include("30310:30310/tcp").and.include("30310:30310/udp");
  });

  it("start.sh hands Besu the address its host name resolves to as --p2p-host", () => {
    const dir = tempDir();
    const script = join(world.dirs.get("grid")!, "bundle", "nodes", "grid-validator-1", "start.sh");
    // A stand-in for Besu's entrypoint that prints the arguments it was given.
    writeFileSync(join(dir, "besu-entry.sh"), '#!/bin/bash\nprintf "%s\\n" "$@"\n');
    chmodSync(join(dir, "besu-entry.sh"), 0o755);
    copyFileSync(script, join(dir, "start.sh"));
    chmodSync(dir, 0o755);
    const run = (env: Record<string, string>) =>
      execFileSync(
        "setpriv",
        [
          "--reuid=65534",
          "--regid=65534",
          "--clear-groups",
          "bash",
          join(dir, "start.sh"),
          "--config-file=x",
        ],
        { env: { PATH: `${dir}:/usr/bin:/bin`, ...env }, encoding: "utf8", stdio: "pipe" },
      );
    expect(run({ GRIDCHAIN_P2P_HOST_NAME: "localhost" }).trim().split("\n")).to.deep.equal([
      "--config-file=x",
      "--p2p-host=127.0.0.1",
    ]);
    expect(run({}).trim()).to.equal("--config-file=x");
    expect(() => run({ GRIDCHAIN_P2P_HOST_NAME: "no-such-host.invalid" })).to.throw(
      /start.sh: cannot resolve no-such-host.invalid to an IPv4 address/,
    );
  });
});
