import { expect } from "chai";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generate } from "../../ops/commands/generate.js";
import { OperatorError } from "../../ops/errors.js";
import { loadConsortium, parseConsortium } from "../../ops/consortium/load.js";
import { tempDir } from "./helpers.js";

const VALID = `name: trial
chainId: 7
consensus:
  protocol: qbft
  blockPeriodSeconds: 2
organisations:
  - id: grid
    role: grid-operator
    validators: 2
    rpcNodes: 1
  - id: solar
    role: producer
    validators: 2
accounts:
  producers: 2
  consumers: 2
`;

/** Runs `generate` on YAML text; returns the error line and whether the output folder exists. */
async function generateFails(
  yaml: string,
  extraFiles: Record<string, string> = {},
): Promise<{ line: string; wrote: boolean }> {
  const dir = tempDir();
  const file = join(dir, "consortium.yaml");
  writeFileSync(file, yaml);
  for (const [name, content] of Object.entries(extraFiles)) writeFileSync(join(dir, name), content);
  const out = join(dir, "out");
  try {
    await generate({ config: file, out, rotate: false });
  } catch (error) {
    expect(error).to.be.instanceOf(OperatorError);
    return {
      line: (error as OperatorError).oneLine().replace(dir, "<dir>"),
      wrote: existsSync(out),
    };
  }
  throw new Error("generate accepted a bad file");
}

describe("consortium YAML: bad input is refused with file, path and what is allowed", () => {
  it("unknown key", async () => {
    const result = await generateFails(
      VALID.replace("    rpcNodes: 1\n", "    rpcNodes: 1\n    rpcNode: 2\n"),
    );
    expect(result).to.deep.equal({
      line: '<dir>/consortium.yaml: organisations[0].rpcNode: unknown key "rpcNode" (did you mean rpcNodes?); allowed here: id, name, role, zone, validators, rpcNodes, bootnodes, importedKeys; line 11',
      wrote: false,
    });
  });

  it("wrong type", async () => {
    const result = await generateFails(VALID.replace("chainId: 7", "chainId: seven"));
    expect(result).to.deep.equal({
      line: '<dir>/consortium.yaml: chainId: must be a number, got "seven"; line 2',
      wrote: false,
    });
  });

  it("duplicate organisation id", async () => {
    const result = await generateFails(VALID.replace("id: solar", "id: grid"));
    expect(result).to.deep.equal({
      line: '<dir>/consortium.yaml: organisations[1].id: duplicate organisation id "grid"; line 11; hint: each organisation id must be unique',
      wrote: false,
    });
  });

  it("clique on Besu 26.8.0", async () => {
    const result = await generateFails(VALID.replace("protocol: qbft", "protocol: clique"));
    expect(result).to.deep.equal({
      line: "<dir>/consortium.yaml: consensus.protocol: clique needs Besu <= 26.2.0 (Besu removed Clique in 26.4.0), the file pins 26.8.0; line 4; hint: set besu.version: 26.2.0, or use protocol: qbft",
      wrote: false,
    });
  });

  it("0 validators", async () => {
    const result = await generateFails(VALID.replaceAll("validators: 2", "validators: 0"));
    expect(result).to.deep.equal({
      line: "<dir>/consortium.yaml: organisations: the network has 0 validators; at least one organisation needs validators >= 1; line 7",
      wrote: false,
    });
  });

  it("block period 0", async () => {
    const result = await generateFails(
      VALID.replace("blockPeriodSeconds: 2", "blockPeriodSeconds: 0"),
    );
    expect(result).to.deep.equal({
      line: "<dir>/consortium.yaml: consensus.blockPeriodSeconds: must be greater than 0, got 0; line 5",
      wrote: false,
    });
  });

  it("empty-block period below the block period", async () => {
    const result = await generateFails(
      VALID.replace("blockPeriodSeconds: 2", "blockPeriodSeconds: 5\n  emptyBlockPeriodSeconds: 3"),
    );
    expect(result).to.deep.equal({
      line: "<dir>/consortium.yaml: consensus.emptyBlockPeriodSeconds: must be at least blockPeriodSeconds (5), got 3; line 6",
      wrote: false,
    });
  });

  it("malformed imported key file", async () => {
    const yaml = VALID.replace(
      "    rpcNodes: 1\n",
      "    rpcNodes: 1\n    importedKeys:\n      grid-validator-1: { keyFile: v1.key }\n",
    );
    const result = await generateFails(yaml, { "v1.key": "0x12345" });
    result.line = result.line.replace(/\/tmp\/gridchain-test-\w+/, "<dir>");
    expect(result).to.deep.equal({
      line: "<dir>/consortium.yaml: organisations[0].importedKeys.grid-validator-1.keyFile: malformed key in <dir>/v1.key: a private key is 32 bytes: 64 hex digits, 0x optional; line 12",
      wrote: false,
    });
  });

  it("malformed imported public key", async () => {
    const yaml = VALID.replace(
      "    rpcNodes: 1\n",
      `    rpcNodes: 1\n    importedKeys:\n      grid-validator-2: { publicKey: "0x${"ab".repeat(63)}", ip: 10.0.0.5 }\n`,
    );
    const result = await generateFails(yaml);
    expect(result.line).to.equal(
      "<dir>/consortium.yaml: organisations[0].importedKeys.grid-validator-2.publicKey: malformed public key: a node public key is 64 bytes: 128 hex digits (uncompressed, without the 04 prefix); line 12",
    );
    expect(result.wrote).to.equal(false);
  });

  it("subnet too small for the node count", async () => {
    const result = await generateFails(`${VALID}docker:\n  subnet: 10.9.0.0/29\n`);
    expect(result).to.deep.equal({
      line: "<dir>/consortium.yaml: docker.subnet: 10.9.0.0/29 has room for 0 nodes (addresses .1-.9 are kept for the gateway and monitoring), the network has 5; line 18; hint: use a larger subnet, e.g. a /23",
      wrote: false,
    });
  });

  it("port clash", async () => {
    const result = await generateFails(`${VALID}docker:\n  hostPorts:\n    grafana: 8546\n`);
    expect(result).to.deep.equal({
      line: "<dir>/consortium.yaml: docker.hostPorts: port clash: grid-rpc-1 WebSocket RPC and Grafana both use host port 8546; line 19; hint: give each a distinct port",
      wrote: false,
    });
  });

  it("YAML that does not parse", async () => {
    const result = await generateFails(VALID.replace("chainId: 7", "chainId: [7"));
    expect(result.wrote).to.equal(false);
    expect(result.line).to.match(
      /^<dir>\/consortium\.yaml: not valid YAML; .+ at line \d+, column \d+$/,
    );
  });

  it("a missing file names the file and how to create it", async () => {
    let line = "";
    try {
      loadConsortium("/nonexistent/my.yaml");
    } catch (error) {
      line = (error as OperatorError).oneLine();
    }
    expect(line).to.equal(
      "/nonexistent/my.yaml: cannot read the consortium file; no such file; hint: create it with 'gridchain init -c /nonexistent/my.yaml', or name another file with -c",
    );
  });

  it("a misspelt top-level key is reported as unknown, with its line and the key meant", async () => {
    const result = await generateFails(VALID.replace("chainId: 7", "chainID: 7"));
    expect(result).to.deep.equal({
      line: '<dir>/consortium.yaml: chainID: unknown key "chainID" (did you mean chainId?); allowed here: name, chainId, allowPublicChainId, besu, consensus, genesis, organisations, accounts, docker, market, governance, engine; line 2',
      wrote: false,
    });
  });

  it("a missing required key says so, in the project's words", async () => {
    const result = await generateFails(VALID.replace("chainId: 7\n", ""));
    expect(result.line).to.equal("<dir>/consortium.yaml: chainId: missing: required, a number");
  });

  it("says what a fixed value must be, not the library's text", async () => {
    const result = await generateFails(`${VALID}engine:\n  embedded:\n    host: 0.0.0.0\n`);
    expect(result.line).to.equal(
      '<dir>/consortium.yaml: engine.embedded.host: must be "127.0.0.1", got "0.0.0.0"; line 19',
    );
  });

  it("says what an address field must be, with the value given", async () => {
    const result = await generateFails(`${VALID}docker:\n  publishHost: localhost\n`);
    expect(result.line).to.equal(
      '<dir>/consortium.yaml: docker.publishHost: must be an IPv4 address such as 127.0.0.1, got "localhost"; line 18',
    );
  });

  it("reports an unclosed quote on the line it opens", async () => {
    const result = await generateFails(VALID.replace("name: trial", 'name: "trial'));
    expect(result).to.deep.equal({
      line: '<dir>/consortium.yaml: not valid YAML; the quote " opened at line 1, column 7 is never closed on its line; hint: close the quote: "..."',
      wrote: false,
    });
  });
});

describe("consortium YAML: warnings and defaults", () => {
  it("warns (but generates) when QBFT has fewer than 4 validators", async () => {
    const dir = tempDir();
    const file = join(dir, "c.yaml");
    writeFileSync(
      file,
      VALID.replace("validators: 2\naccounts", "validators: 1\naccounts").replace(
        "blockPeriodSeconds: 2\n",
        "blockPeriodSeconds: 2\n  allowValidatorMajority: true\n",
      ),
    );
    const lines = await generate({ config: file, out: join(dir, "out"), rotate: false });
    expect(lines).to.include(
      "  warning: 3 QBFT validators: the network cannot tolerate a faulty validator (that needs at least 4)",
    );
    expect(existsSync(join(dir, "out", "genesis.json"))).to.equal(true);
  });

  it("fills every default and converts credits to 6-decimal units", () => {
    const spec = parseConsortium(VALID, "v.yaml");
    expect(spec.besu.version).to.equal("26.8.0");
    expect(spec.consensus).to.deep.equal({
      protocol: "qbft",
      blockPeriodSeconds: 2,
      epochLength: 30000,
      allowValidatorMajority: false,
    });
    expect(spec.genesis).to.deep.equal({ gasLimit: 1_000_000_000, contractSizeLimit: 24576 });
    expect(spec.market.slotSeconds).to.equal(900);
    expect(spec.market.upgradeDelaySeconds).to.equal(0);
    expect(spec.market.startingCredits).to.deep.equal({
      producer: 0n,
      consumer: 1_000_000_000n,
      gridOperator: 0n,
    });
    expect(spec.engine).to.deep.equal({
      embedded: { host: "127.0.0.1", port: 8545, saveIntervalSeconds: 2 },
    });
    expect(spec.organisations.map((org) => org.zone)).to.deep.equal(["zone-1", "zone-1"]);
    expect(spec.warnings.filter((line) => !line.includes("halt"))).to.deep.equal([]);
  });

  it("parses startingCredits decimals exactly and rejects a seventh decimal", () => {
    const spec = parseConsortium(
      `${VALID}market:\n  startingCredits: { consumer: "12.5" }\n`,
      "v.yaml",
    );
    expect(spec.market.startingCredits.consumer).to.equal(12_500_000n);
    expect(() =>
      parseConsortium(`${VALID}market:\n  startingCredits: { consumer: "1.0000001" }\n`, "v.yaml"),
    ).to.throw(
      "v.yaml: market.startingCredits.consumer: a GridCredit amount: a decimal string with at most 6 decimals",
    );
  });

  it("reads the hub's mediation fee in credits per kWh (default 0) and refuses one above 1 credit", () => {
    expect(parseConsortium(VALID, "v.yaml").market.hubMediationFeePerKwh).to.equal(0n);
    const spec = parseConsortium(`${VALID}market:\n  hubMediationFeePerKwh: "0.01"\n`, "v.yaml");
    expect(spec.market.hubMediationFeePerKwh).to.equal(10_000n);
    expect(() =>
      parseConsortium(`${VALID}market:\n  hubMediationFeePerKwh: "1.5"\n`, "v.yaml"),
    ).to.throw("v.yaml: market.hubMediationFeePerKwh: at most 1 credit per kWh");
  });

  it("charges for booking by default, and bounds the charges and the settle timeout", () => {
    const spec = parseConsortium(VALID, "v.yaml");
    expect(spec.market.capacityFeePerKwh).to.equal(10_000n);
    expect(spec.market.minDefaultPerKwh).to.equal(50_000n);
    const custom = parseConsortium(
      `${VALID}market:\n  capacityFeePerKwh: "0.5"\n  minDefaultPerKwh: "4294.967295"\n`,
      "v.yaml",
    );
    expect(custom.market.capacityFeePerKwh).to.equal(500_000n);
    expect(custom.market.minDefaultPerKwh).to.equal(4_294_967_295n);
    expect(() =>
      parseConsortium(`${VALID}market:\n  minDefaultPerKwh: "4294.967296"\n`, "v.yaml"),
    ).to.throw(
      "v.yaml: market.minDefaultPerKwh: at most 4294.967295 GridCredit per kWh (GridReview stores base units as a uint32)",
    );
    expect(() => parseConsortium(`${VALID}market:\n  capacityFeePerKwh: -1\n`, "v.yaml")).to.throw(
      "v.yaml: market.capacityFeePerKwh:",
    );
    expect(() =>
      parseConsortium(`${VALID}market:\n  channelSettleTimeoutSeconds: 2592001\n`, "v.yaml"),
    ).to.throw("v.yaml: market.channelSettleTimeoutSeconds: must be at most 2592000, got 2592001");
    expect(() =>
      parseConsortium(`${VALID}market:\n  channelSettleTimeoutSeconds: 59\n`, "v.yaml"),
    ).to.throw("v.yaml: market.channelSettleTimeoutSeconds: must be at least 60, got 59");
  });

  it("refuses an organisation zone that market.zones does not define", () => {
    expect(() =>
      parseConsortium(
        VALID.replace("    role: producer\n", "    role: producer\n    zone: west\n"),
        "v.yaml",
      ),
    ).to.throw('v.yaml: organisations[1].zone: unknown zone "west"; allowed: zone-1');
  });

  it("warns when the ports are published beyond loopback", () => {
    const spec = parseConsortium(`${VALID}docker:\n  publishHost: 0.0.0.0\n`, "v.yaml");
    expect(spec.warnings.filter((line) => !line.includes("halt"))).to.deep.equal([
      "RPC, Prometheus and Grafana are published on 0.0.0.0: reachable from beyond this host",
    ]);
  });
});

describe("consortium YAML: besu.image", () => {
  const withImage = (image: string) =>
    parseConsortium(`${VALID}besu:\n  image: "${image}"\n`, "v.yaml").besu;

  it("defaults to hyperledger/besu and takes a private registry's repository", () => {
    expect(parseConsortium(VALID, "v.yaml").besu).to.deep.equal({
      version: "26.8.0",
      image: "hyperledger/besu",
    });
    expect(withImage("registry.example:5000/mirror/besu").image).to.equal(
      "registry.example:5000/mirror/besu",
    );
  });

  it("refuses a tag in the repository: the tag is always besu.version", () => {
    expect(() => withImage("hyperledger/besu:26.8.0")).to.throw(
      "v.yaml: besu.image: an image repository without tag, e.g. hyperledger/besu or registry.example:5000/besu",
    );
  });
});

describe("consortium YAML: validators spread over organisations", () => {
  const spread = (grid: number, solar: number, wind: number, extra = "") =>
    `name: spread\nchainId: 7\nconsensus: { protocol: qbft${extra} }\norganisations:\n` +
    `  - { id: grid, role: grid-operator, validators: ${grid} }\n` +
    `  - { id: solar, role: producer, validators: ${solar} }\n` +
    `  - { id: wind, role: producer, validators: ${wind} }\n`;

  it("says nothing when no organisation can halt QBFT (quorum ceil(2n/3), BftHelpers)", () => {
    // 6 validators, quorum 4: any two left out still leave four.
    expect(parseConsortium(spread(2, 2, 2), "v.yaml").warnings).to.deep.equal([]);
  });

  it("warns when one organisation alone can halt the chain", () => {
    // 4 validators, quorum 3: without grid's 2 the other two cannot make blocks.
    expect(parseConsortium(spread(2, 1, 1), "v.yaml").warnings).to.deep.equal([
      "grid holds 2 of the 4 validators: without it the others (2) are below the quorum of 3, so it alone can halt the chain",
    ]);
  });

  it("refuses one organisation that reaches the quorum alone, unless allowValidatorMajority", () => {
    expect(() => parseConsortium(spread(3, 1, 0), "v.yaml")).to.throw(
      "v.yaml: organisations[0].validators: grid holds 3 of the 4 validators, a quorum (3) on its own: it could make blocks without any other organisation",
    );
    const allowed = parseConsortium(spread(3, 1, 0, ", allowValidatorMajority: true"), "v.yaml");
    expect(allowed.warnings).to.include(
      "grid holds 3 of the 4 validators: without it the others (1) are below the quorum of 3, so it alone can halt the chain",
    );
  });

  it("Clique counts more than half of the signers as its quorum", () => {
    const clique = (grid: number, solar: number) =>
      `name: cq\nchainId: 7\nbesu: { version: "26.2.0" }\nconsensus: { protocol: clique }\norganisations:\n  - { id: grid, role: grid-operator, validators: ${grid} }\n  - { id: solar, role: producer, validators: ${solar} }\n`;
    expect(() => parseConsortium(clique(2, 1), "v.yaml")).to.throw(
      "grid holds 2 of the 3 validators, a quorum (2) on its own",
    );
  });

  it("the pilot and the examples spread their validators so that no organisation can halt the chain", () => {
    for (const file of [
      "network/consortium.yaml",
      "network/consortium.template.yaml",
      "network/examples/clique-26.2.yaml",
      "network/examples/loadtest-3000.yaml",
    ]) {
      const halting = loadConsortium(file).warnings.filter((line) => line.includes("halt"));
      expect(halting, file).to.deep.equal([]);
    }
  });

  it("refuses threshold review without manualAboveKwh", () => {
    expect(() => parseConsortium(`${VALID}market:\n  reviewMode: threshold\n`, "v.yaml")).to.throw(
      "v.yaml: market.manualAboveKwh: reviewMode threshold needs manualAboveKwh",
    );
  });
});

describe("consortium YAML: imported keys", () => {
  const withImport = (entry: string) =>
    VALID.replace(
      "    rpcNodes: 1\n",
      `    rpcNodes: 1\n    importedKeys:\n      grid-validator-2: ${entry}\n`,
    );
  const publicKey = `0x${"ab".repeat(64)}`;

  it("says which two forms an imported key may take", () => {
    expect(() =>
      parseConsortium(withImport(`{ keyFile: a.key, ip: 10.0.0.1 }`), "v.yaml"),
    ).to.throw(
      "v.yaml: organisations[0].importedKeys.grid-validator-2: an imported key is either { keyFile } or { publicKey, ip, p2pPort? }",
    );
  });

  it("refuses a remote node address inside the compose subnet", () => {
    // A real secp256k1 point (Besu's operator test key), so the IP check is what fails.
    const key =
      "0x9481ee2b34196827e8c4807ae29c2675c15d3641e482ab81cc0bc3ef535755b426b9f5c474213df28a563fab0bf0830b455ee8955b3faac93075422a6abf160d";
    expect(() =>
      parseConsortium(withImport(`{ publicKey: "${key}", ip: 172.16.240.50 }`), "v.yaml"),
    ).to.throw(
      "v.yaml: organisations[0].importedKeys.grid-validator-2.ip: 172.16.240.50 is inside the compose subnet 172.16.240.0/24; a node run elsewhere needs an address outside it",
    );
  });

  it("refuses an imported key for a node the organisation does not have", () => {
    expect(() =>
      parseConsortium(
        VALID.replace(
          "    rpcNodes: 1\n",
          "    rpcNodes: 1\n    importedKeys:\n      grid-validator-3: { keyFile: a.key }\n",
        ),
        "v.yaml",
      ),
    ).to.throw(
      'v.yaml: organisations[0].importedKeys.grid-validator-3: no node "grid-validator-3" in organisation grid; its nodes are grid-validator-1, grid-validator-2, grid-rpc-1',
    );
  });

  it("refuses an RPC node imported by public key only", () => {
    expect(() =>
      parseConsortium(
        VALID.replace(
          "    rpcNodes: 1\n",
          `    rpcNodes: 1\n    importedKeys:\n      grid-rpc-1: { publicKey: "${publicKey}", ip: 10.0.0.1 }\n`,
        ),
        "v.yaml",
      ),
    ).to.throw(
      "v.yaml: organisations[0].importedKeys.grid-rpc-1: only a validator can be imported by public key (a node run elsewhere)",
    );
  });
});
