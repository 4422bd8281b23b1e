import { expect } from "chai";
import { readFileSync } from "node:fs";
import {
  nodeConfigEntries,
  renderPermissions,
  renderStaticNodes,
} from "../../ops/besu/config-toml.js";
import {
  ACCOUNT_GENESIS_BALANCE_WEI,
  GENESIS_EVM_VERSION,
  renderGenesis,
} from "../../ops/besu/genesis.js";
import { VALIDATOR_CONTRACT_ADDRESS } from "../../ops/besu/validator-contract.js";
import { BESU_FACTS } from "../../ops/besu/versions.js";
import { parseConsortium } from "../../ops/consortium/load.js";
import { planNetwork, type NetworkPlan } from "../../ops/consortium/plan.js";
import { resolveKeys } from "../../ops/consortium/keystore.js";
import { BESU_VERSIONS, type BesuVersion } from "../../ops/consortium/spec.js";
import { BESU_DATA, parseFlatToml, readJson, seededKeys, tempDir } from "./helpers.js";

function optionNames(version: string): Set<string> {
  const names = new Set<string>();
  for (const file of [`${version}.txt`, `${version}.hidden.txt`]) {
    for (const line of readFileSync(`${BESU_DATA}/options/${file}`, "utf8").split("\n")) {
      if (line.startsWith("--")) names.add(line.slice(2).trim());
    }
  }
  return names;
}

/** A small network with every node kind (validators, an RPC node, a bootnode) on one version. */
function planFor(version: BesuVersion, protocol: "qbft" | "clique", extra = ""): NetworkPlan {
  const yaml = `name: files
chainId: 99
besu: { version: "${version}" }
consensus: { protocol: ${protocol}, blockPeriodSeconds: 2${protocol === "qbft" ? ", emptyBlockPeriodSeconds: 30" : ""} }
organisations:
  - { id: grid, role: grid-operator, validators: 2, rpcNodes: 1, bootnodes: 1 }
  - { id: solar, role: producer, validators: 2 }
accounts: { producers: 3, consumers: 5 }
${extra}`;
  const spec = parseConsortium(yaml, "files.yaml");
  const { keys } = resolveKeys(spec, tempDir(), {
    rotate: false,
    generate: seededKeys(`${version}${protocol}`),
  });
  return planNetwork(spec, keys);
}

const rpcGroups = readJson<{ rpcApiGroupsByVersion: Record<string, string> }>(
  `${BESU_DATA}/vectors/network-files.json`,
).rpcApiGroupsByVersion;
const compatibility = readJson<{
  configTomlCompatibility: { templates: { unknownKeysByBesuVersion: Record<string, string[]> }[] };
}>(`${BESU_DATA}/vectors/network-files.json`).configTomlCompatibility;

/** API groups of a version; "same as X" entries point at an earlier version's list. */
function apiGroups(version: string): Set<string> {
  const line = rpcGroups[version]!;
  const same = /^same as (\S+)/.exec(line);
  if (same !== null) return apiGroups(same[1]!);
  return new Set(
    line
      .replace(/\(.*\)/, "")
      .trim()
      .split(/\s+/),
  );
}

const cases: [BesuVersion, "qbft" | "clique"][] = [
  ["26.8.0", "qbft"],
  ["26.2.0", "qbft"],
  ["26.2.0", "clique"],
];

describe("config.toml against the pinned Besu version", () => {
  for (const [version, protocol] of cases) {
    it(`uses only option names Besu ${version} knows (${protocol}, every node kind)`, () => {
      const plan = planFor(version, protocol);
      const known = optionNames(version);
      const kinds = new Set(plan.nodes.map((node) => node.kind));
      expect([...kinds].sort()).to.deep.equal(["bootnode", "rpc", "validator"]);
      for (const node of plan.nodes) {
        for (const [key] of nodeConfigEntries(plan, node)) {
          expect(known.has(key), `${key} (${node.name}) on ${version}`).to.equal(true);
        }
      }
    });

    it(`asks only for RPC API groups Besu ${version} accepts (${protocol})`, () => {
      const plan = planFor(version, protocol);
      const allowed = apiGroups(version);
      expect([...allowed].sort()).to.deep.equal([...BESU_FACTS[version].rpcApiGroups].sort());
      for (const node of plan.nodes) {
        for (const [key, value] of nodeConfigEntries(plan, node)) {
          if (key !== "rpc-http-api" && key !== "rpc-ws-api") continue;
          for (const group of value as string[])
            expect(allowed.has(group), `${group} on ${version}`).to.equal(true);
        }
      }
    });
  }

  it("emits no key that any Besu version rejects", () => {
    const rejected = new Set(
      compatibility.templates.flatMap((template) =>
        Object.values(template.unknownKeysByBesuVersion).flat(),
      ),
    );
    expect(rejected.has("host-whitelist")).to.equal(true);
    for (const [version, protocol] of cases) {
      const plan = planFor(version, protocol);
      for (const node of plan.nodes) {
        for (const [key] of nodeConfigEntries(plan, node))
          expect(rejected.has(key), key).to.equal(false);
      }
    }
  });

  it("publishes RPC only on RPC nodes and keeps metrics on 9545 everywhere", () => {
    const plan = planFor("26.8.0", "qbft");
    for (const node of plan.nodes) {
      const entries = new Map(nodeConfigEntries(plan, node));
      expect(entries.get("metrics-port")).to.equal(9545);
      expect(entries.get("min-gas-price")).to.equal(0);
      expect(entries.get("rpc-ws-enabled")).to.equal(node.kind === "rpc" ? true : undefined);
      expect(node.published === undefined).to.equal(node.kind !== "rpc");
    }
  });

  it("lets one member keep many pending transactions in the sequenced pool", () => {
    const plan = planFor("26.8.0", "qbft");
    const entries = new Map(nodeConfigEntries(plan, plan.nodes[0]!));
    expect(entries.get("tx-pool")).to.equal("SEQUENCED");
    // Besu's default (0.1 % of 4096) caps a sender at 4 pending transactions.
    expect(entries.get("tx-pool-limit-by-account-percentage")).to.equal(1);
    expect(entries.get("tx-pool-max-size")).to.equal(Math.max(4096, 10 * plan.accounts.length));
  });
});

describe("genesis.json", () => {
  for (const version of BESU_VERSIONS) {
    it(`writes the empty-block key Besu ${version} reads`, () => {
      const genesis = JSON.parse(renderGenesis(planFor(version, "qbft")));
      const expected =
        version === "26.8.0" ? "emptyblockperiodseconds" : "xemptyblockperiodseconds";
      expect(genesis.config.qbft).to.deep.equal({
        blockperiodseconds: 2,
        epochlength: 30000,
        requesttimeoutseconds: 4,
        [expected]: 30,
        validatorcontractaddress: VALIDATOR_CONTRACT_ADDRESS,
      });
    });
  }

  it("carries the validators' node-key addresses in QBFT extraData with the BFT header constants (block-header mode)", () => {
    const plan = planFor("26.8.0", "qbft");
    plan.validatorSelection = { mode: "blockheader" };
    const genesis = JSON.parse(renderGenesis(plan));
    const addresses = plan.validators.map((node) => node.key.address.slice(2)).join("94");
    expect(genesis.extraData).to.equal(`0xf87aa0${"00".repeat(32)}f85494${addresses}c080c0`);
    expect(genesis.mixHash).to.equal(
      "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365",
    );
    expect(genesis.difficulty).to.equal("0x1");
    expect(genesis.nonce).to.equal("0x0");
    expect(genesis.config.zeroBaseFee).to.equal(true);
    expect(genesis.config.chainId).to.equal(99);
    expect(genesis.config.contractSizeLimit).to.equal(24576);
    expect(genesis.gasLimit).to.equal("0x3b9aca00");
  });

  it("funds every consortium account, and nothing else but the validator contract, in alloc", () => {
    const plan = planFor("26.8.0", "qbft");
    const genesis = JSON.parse(renderGenesis(plan));
    const expected = plan.accounts.map((account) => account.address.toLowerCase()).sort();
    expect(expected.length).to.be.greaterThan(0);
    expect(Object.keys(genesis.alloc)).to.deep.equal([...expected, VALIDATOR_CONTRACT_ADDRESS]);
    const { [VALIDATOR_CONTRACT_ADDRESS]: contract, ...accounts } = genesis.alloc;
    expect(contract).to.have.property("code");
    for (const entry of Object.values(accounts)) {
      expect(entry).to.deep.equal({ balance: `0x${ACCOUNT_GENESIS_BALANCE_WEI.toString(16)}` });
    }
  });

  it("writes Clique extraData and createemptyblocks for a Clique network on 26.2.0", () => {
    const plan = planFor("26.2.0", "clique");
    const genesis = JSON.parse(renderGenesis(plan));
    const signers = plan.validators.map((node) => node.key.address.slice(2)).join("");
    expect(genesis.extraData).to.equal(`0x${"00".repeat(32)}${signers}${"00".repeat(65)}`);
    expect(genesis.config.clique).to.deep.equal({
      blockperiodseconds: 2,
      epochlength: 30000,
      createemptyblocks: true,
    });
    expect(genesis.config.qbft).to.equal(undefined);
  });

  it("enables the forks of the contracts' evmVersion (hardhat.config.ts)", () => {
    const config = readFileSync("hardhat.config.ts", "utf8");
    expect(/EVM_VERSION = "(\w+)"/.exec(config)![1]).to.equal(GENESIS_EVM_VERSION);
    const genesis = JSON.parse(renderGenesis(planFor("26.8.0", "qbft")));
    expect(genesis.config.londonBlock).to.equal(0);
    expect(genesis.config.shanghaiTime).to.equal(0);
    expect(genesis.config.cancunTime).to.equal(0);
    expect(genesis.config.pragueTime).to.equal(undefined);
  });
});

describe("static-nodes.json and permissions_config.toml", () => {
  const ENODE = /^enode:\/\/([0-9a-f]{128})@(\d{1,3}(?:\.\d{1,3}){3}):(\d+)$/;

  it("lists every node as an enode with an IPv4 address and a non-zero port, never a host name", () => {
    const plan = planFor("26.8.0", "qbft");
    const staticNodes = JSON.parse(renderStaticNodes(plan)) as string[];
    expect(staticNodes).to.have.length(plan.nodes.length);
    staticNodes.forEach((enode, index) => {
      const match = ENODE.exec(enode);
      expect(match, enode).to.not.equal(null);
      expect(Number(match![3])).to.be.greaterThan(0);
      expect(match![1]).to.equal(plan.nodes[index]!.key.publicKey.slice(2));
      expect(match![2]).to.equal(`172.16.240.${10 + index}`);
    });
  });

  it("allows every node (bootnodes included) and exactly the consortium's accounts", () => {
    const plan = planFor("26.8.0", "qbft");
    const toml = renderPermissions(plan);
    const parsed = parseFlatToml(toml) as Record<string, string[]>;
    expect(Object.keys(parsed).sort()).to.deep.equal(["accounts-allowlist", "nodes-allowlist"]);
    expect(parsed["nodes-allowlist"]).to.deep.equal(plan.nodes.map((node) => node.enode));
    for (const boot of plan.bootnodes) expect(parsed["nodes-allowlist"]).to.include(boot.enode);
    const accounts = parsed["accounts-allowlist"]!;
    for (const account of accounts) expect(account).to.match(/^0x[0-9a-f]{40}$/);
    expect(accounts).to.deep.equal(plan.accounts.map((account) => account.address));
    expect(plan.accounts.map((account) => account.role)).to.deep.equal([
      "deployer",
      "grid-operator",
      "meter",
      ...Array(3).fill("producer"),
      ...Array(5).fill("consumer"),
    ]);
  });
});
