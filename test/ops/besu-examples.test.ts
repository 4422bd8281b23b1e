import { expect } from "chai";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { load as loadYaml } from "js-yaml";
import { generate } from "../../ops/commands/generate.js";
import { deploy } from "../../ops/commands/deploy.js";
import { loadConsortium } from "../../ops/consortium/load.js";
import { OperatorError } from "../../ops/errors.js";
import { BESU_DATA, parseFlatToml, readJson, tempDir } from "./helpers.js";

/**
 * Every example network, generated as an operator would, checked file by file against the rules of
 * the Besu version it pins (option lists and genesis keys from ../shared/besu, the rest from Besu's
 * source at the tag, named where used).
 */
const EXAMPLES = [
  { file: "network/consortium.yaml", version: "26.8.0", protocol: "qbft" },
  { file: "network/examples/clique-26.2.yaml", version: "26.2.0", protocol: "clique" },
  { file: "network/examples/loadtest-3000.yaml", version: "26.8.0", protocol: "qbft" },
] as const;

/** config/src/main/resources/profiles/enterprise-private.toml at 26.8.0 (same at 26.2.0). */
const ENTERPRISE_PROFILE: Record<string, unknown> = {
  "sync-mode": "FULL",
  "data-storage-format": "FOREST",
  "sync-min-peers": 1,
  "remote-connections-limit-enabled": false,
  "tx-pool": "SEQUENCED",
  "tx-pool-no-local-priority": true,
  "tx-pool-limit-by-account-percentage": 0.15,
  "rpc-http-max-active-connections": 300,
  "min-gas-price": 0,
};
/** The one profile value the kit changes, on purpose (see config-toml.ts). */
const PROFILE_OVERRIDES = new Set(["tx-pool-limit-by-account-percentage"]);

function optionNames(version: string): Set<string> {
  const names = new Set<string>();
  for (const file of [`${version}.txt`, `${version}.hidden.txt`]) {
    for (const line of readFileSync(`${BESU_DATA}/options/${file}`, "utf8").split("\n")) {
      if (line.startsWith("--")) names.add(line.slice(2).trim());
    }
  }
  return names;
}

const apiGroups = (version: string): string[] => {
  const groups = readJson<{ rpcApiGroupsByVersion: Record<string, string> }>(
    `${BESU_DATA}/vectors/network-files.json`,
  ).rpcApiGroupsByVersion;
  let line = groups[version]!;
  const same = /^same as (\S+)/.exec(line);
  if (same !== null) line = groups[same[1]!]!;
  return line
    .replace(/\(.*\)/, "")
    .trim()
    .split(/\s+/);
};

type Compose = {
  services: Record<
    string,
    {
      image: string;
      user?: string;
      entrypoint?: string[];
      command?: string[];
      volumes: string[];
      healthcheck?: { test: string[] };
    }
  >;
};

describe("every example network against its pinned Besu version", function () {
  this.timeout(120_000);

  for (const example of EXAMPLES) {
    it(`${example.file}: Besu ${example.version} ${example.protocol}, every file`, async () => {
      const out = join(tempDir(), "net");
      await generate({ config: example.file, out, rotate: false });
      const spec = loadConsortium(example.file);
      const nodes = JSON.parse(readFileSync(join(out, "nodes.json"), "utf8")) as {
        name: string;
        kind: string;
        enode: string;
        runsHere: boolean;
      }[];
      const known = optionNames(example.version);
      const groups = apiGroups(example.version);
      const staticNodes = JSON.parse(readFileSync(join(out, "static-nodes.json"), "utf8"));
      const compose = loadYaml(readFileSync(join(out, "docker-compose.yml"), "utf8")) as Compose;

      // genesis.json: the fork set the protocol can seal, keys the version reads.
      const genesis = JSON.parse(readFileSync(join(out, "genesis.json"), "utf8"));
      expect(genesis.config.londonBlock).to.equal(0);
      if (example.protocol === "clique") {
        // Clique 26.2.0 seals no Shanghai block (no withdrawals list): stop at London.
        expect(genesis.config).to.not.have.any.keys("shanghaiTime", "cancunTime", "pragueTime");
        expect(Object.keys(genesis.config.clique).sort()).to.deep.equal(
          ["blockperiodseconds", "createemptyblocks", "epochlength"].sort(),
        );
      } else {
        expect(genesis.config.shanghaiTime).to.equal(0);
        expect(genesis.config.cancunTime).to.equal(0);
        const emptyKey =
          example.version === "26.8.0" ? "emptyblockperiodseconds" : "xemptyblockperiodseconds";
        if (spec.consensus.emptyBlockPeriodSeconds !== undefined) {
          expect(genesis.config.qbft[emptyKey]).to.equal(spec.consensus.emptyBlockPeriodSeconds);
        }
        expect(genesis.extraData.endsWith("c080c0")).to.equal(true);
      }
      expect(genesis.config.contractSizeLimit).to.be.at.most(49_152);

      for (const node of nodes.filter((candidate) => candidate.runsHere)) {
        const folder = join(out, "nodes", node.name);
        const config = parseFlatToml(readFileSync(join(folder, "config.toml"), "utf8"));
        for (const key of Object.keys(config)) {
          expect(known.has(key), `${node.name}: ${key} in Besu ${example.version}`).to.equal(true);
        }
        for (const [key, value] of Object.entries(ENTERPRISE_PROFILE)) {
          if (PROFILE_OVERRIDES.has(key)) continue;
          expect(config[key], `${node.name}: ${key} as the enterprise profile`).to.deep.equal(
            value,
          );
        }
        const apis = config["rpc-http-api"] as string[];
        for (const api of apis) expect(groups, `${node.name}: ${api}`).to.include(api);
        if (node.kind === "rpc") {
          for (const api of ["ADMIN", "DEBUG", "TRACE"]) expect(apis).to.not.include(api);
          expect(config["rpc-ws-api"]).to.deep.equal(apis);
          // Published on 127.0.0.1 in every example: no token needed there.
          expect(config["rpc-http-authentication-enabled"]).to.equal(undefined);
        }

        // The key Besu reads is the copy start.sh makes; the source stays 0600 on the host.
        expect(config["node-private-key-file"]).to.equal("/opt/besu/data/key");
        expect(statSync(join(folder, "key")).mode & 0o777).to.equal(0o600);
        const start = readFileSync(join(folder, "start.sh"), "utf8");
        expect(start).to.include("install -m 0600");
        expect(start).to.include("/config/node/key /opt/besu/data/key");
        expect(start).to.include("exec besu-entry.sh");

        // Allowlist, static nodes and bootnodes agree: Besu refuses to start on a static node or
        // bootnode that its nodes allowlist lacks (BesuCommand), and matches on IP and port.
        const permissions = parseFlatToml(
          readFileSync(join(folder, "permissions/permissions_config.toml"), "utf8"),
        ) as Record<string, string[]>;
        expect(config["permissions-nodes-config-file"]).to.equal(
          "/config/permissions/permissions_config.toml",
        );
        const allowed = permissions["nodes-allowlist"]!;
        for (const enode of staticNodes) expect(allowed).to.include(enode);
        for (const enode of config.bootnodes as string[]) expect(allowed).to.include(enode);
        expect((config.bootnodes as string[]).every((e) => staticNodes.includes(e))).to.equal(true);

        // The compose service: the image's own user, its permissions folder read-write.
        const service = compose.services[node.name]!;
        expect(service.image).to.equal(`hyperledger/besu:${example.version}`);
        expect(service.user).to.equal(undefined);
        expect(service.entrypoint).to.deep.equal(["/bin/bash", "/config/node/start.sh"]);
        expect(service.volumes).to.include(`./nodes/${node.name}/permissions:/config/permissions`);
        expect(service.volumes.filter((v) => v.includes("permissions_config"))).to.deep.equal([]);
        const probe = service.healthcheck!.test;
        expect(probe.slice(0, 3)).to.deep.equal(["CMD", "bash", "-c"]);
        expect(probe[3]).to.match(/GET \/readiness\?minPeers=1&maxBlocksBehind=2 /);
        expect(probe[3]).to.not.match(/curl|wget|\/dev\/tcp\/127\.0\.0\.1\/9545/);
      }

      // The stall alert allows for the chain's idle interval.
      const alerts = readFileSync(join(out, "prometheus/rules/alerts.yml"), "utf8");
      const window = Number(/gridchain_chain_head_height\[(\d+)s\]/.exec(alerts)![1]);
      const idle = spec.consensus.emptyBlockPeriodSeconds ?? spec.consensus.blockPeriodSeconds;
      expect(window).to.be.at.least(2 * idle);
      if (spec.consensus.protocol === "clique" && spec.consensus.createEmptyBlocks === false) {
        expect(alerts).to.include("besu_transaction_pool_number_of_transactions");
      }
    });
  }

  it("the pilot's stall alert waits out its 60 s empty-block period", async () => {
    const out = join(tempDir(), "net");
    await generate({ config: "network/consortium.yaml", out, rotate: false });
    const alerts = readFileSync(join(out, "prometheus/rules/alerts.yml"), "utf8");
    expect(alerts).to.include("changes(gridchain_chain_head_height[180s]) == 0");
  });
});

describe("RPC published beyond 127.0.0.1", () => {
  it("requires RS256 JWTs on HTTP and WebSocket of RPC nodes; keeps validators and loopback as before", async () => {
    const dir = tempDir();
    const yaml = readFileSync("network/consortium.yaml", "utf8").replace(
      "publishHost: 127.0.0.1",
      "publishHost: 192.0.2.10",
    );
    writeFileSync(join(dir, "c.yaml"), yaml);
    const out = join(dir, "out");
    await generate({ config: join(dir, "c.yaml"), out, rotate: false });
    const known = optionNames("26.8.0");
    const rpc = parseFlatToml(readFileSync(join(out, "nodes/grid-rpc-1/config.toml"), "utf8"));
    for (const side of ["http", "ws"]) {
      expect(rpc[`rpc-${side}-authentication-enabled`]).to.equal(true);
      expect(rpc[`rpc-${side}-authentication-jwt-algorithm`]).to.equal("RS256");
      expect(rpc[`rpc-${side}-authentication-jwt-public-key-file`]).to.equal(
        "/config/node/rpc-jwt-public.pem",
      );
    }
    for (const key of Object.keys(rpc)) expect(known.has(key), key).to.equal(true);
    expect(readFileSync(join(out, "nodes/grid-rpc-1/rpc-jwt-public.pem"), "utf8")).to.match(
      /^-----BEGIN PUBLIC KEY-----/,
    );
    expect(statSync(join(out, "rpc-jwt.key")).mode & 0o777).to.equal(0o600);
    const validator = parseFlatToml(
      readFileSync(join(out, "nodes/grid-validator-1/config.toml"), "utf8"),
    );
    expect(validator["rpc-http-authentication-enabled"]).to.equal(undefined);
    // A second run keeps the token key: tokens already handed out stay valid.
    const key = readFileSync(join(out, "rpc-jwt.key"), "utf8");
    await generate({ config: join(dir, "c.yaml"), out, rotate: false });
    expect(readFileSync(join(out, "rpc-jwt.key"), "utf8")).to.equal(key);
  });
});

describe("RPC with TLS (docker.rpcTls)", () => {
  const withTls = (dir: string, tls: string) => {
    const yaml = readFileSync("network/consortium.yaml", "utf8").replace(
      "    grafana: 3000\n",
      `    grafana: 3000\n  rpcTls: ${tls}\n`,
    );
    writeFileSync(join(dir, "c.yaml"), yaml);
    return join(dir, "c.yaml");
  };

  it("serves HTTP and WebSocket RPC from the PKCS#12 keystore, with option names of the version", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "rpc.p12"), Buffer.from([0x30, 0x82, 0x00, 0xff, 0x00]));
    writeFileSync(join(dir, "rpc.pass"), "secret\n");
    const config = withTls(dir, "{ keystoreFile: rpc.p12, passwordFile: rpc.pass }");
    const out = join(dir, "out");
    await generate({ config, out, rotate: false });
    const rpc = parseFlatToml(readFileSync(join(out, "nodes/grid-rpc-1/config.toml"), "utf8"));
    const known = optionNames("26.8.0");
    for (const key of Object.keys(rpc)) expect(known.has(key), key).to.equal(true);
    expect(rpc["rpc-http-tls-enabled"]).to.equal(true);
    expect(rpc["rpc-http-tls-keystore-file"]).to.equal("/opt/besu/data/rpc-tls.p12");
    expect(rpc["rpc-ws-ssl-enabled"]).to.equal(true);
    expect(rpc["rpc-ws-ssl-keystore-type"]).to.equal("PKCS12");
    // The keystore's bytes as given, 0600, beside the node's other secrets; validators get none.
    const copy = join(out, "nodes/grid-rpc-1/rpc-tls.p12");
    expect(readFileSync(copy).equals(readFileSync(join(dir, "rpc.p12")))).to.equal(true);
    expect(statSync(copy).mode & 0o777).to.equal(0o600);
    expect(statSync(join(out, "nodes/grid-rpc-1/rpc-tls.pass")).mode & 0o777).to.equal(0o600);
    const validator = readFileSync(join(out, "nodes/grid-validator-1/config.toml"), "utf8");
    expect(validator).to.not.include("tls");
    // A second run writes nothing: binary files compare by their bytes.
    const again = await generate({ config, out, rotate: false });
    expect(again[4]).to.equal("  files: 0 written, 65 unchanged");
  });

  it("names the YAML field of a keystore it cannot read, and writes nothing", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "rpc.pass"), "secret\n");
    const config = withTls(dir, "{ keystoreFile: missing.p12, passwordFile: rpc.pass }");
    const error = await generate({ config, out: join(dir, "out"), rotate: false }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((error as Error).message).to.match(
      /c\.yaml: docker\.rpcTls\.keystoreFile: cannot read .*missing\.p12/,
    );
    expect(existsSync(join(dir, "out"))).to.equal(false);
  });
});

describe("limits and protocols the market depends on", () => {
  it("warns that contractSizeLimit above 49,152 bytes cannot help: Besu keeps the initcode limit", () => {
    const dir = tempDir();
    const yaml = readFileSync("network/consortium.yaml", "utf8").replace(
      "contractSizeLimit: 49152",
      "contractSizeLimit: 100000",
    );
    writeFileSync(join(dir, "c.yaml"), yaml);
    expect(loadConsortium(join(dir, "c.yaml")).warnings).to.include(
      "genesis.contractSizeLimit 100000 is above the initcode limit of 49152 bytes, which Besu keeps: a contract deployed by a transaction cannot be that large",
    );
    expect(loadConsortium("network/consortium.yaml").warnings).to.deep.equal([]);
  });

  it("deploy refuses a Clique network and says why, before touching any chain", async () => {
    const out = join(tempDir(), "net");
    const config = "network/examples/clique-26.2.yaml";
    await generate({ config, out, rotate: false });
    const error = await deploy({ config, network: out }, () => {}).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(OperatorError);
    expect((error as OperatorError).message).to.equal(
      `${config}: consensus.protocol: the market contracts cannot run on a Clique network`,
    );
    expect((error as OperatorError).details).to.include("Cancun");
  });
});
