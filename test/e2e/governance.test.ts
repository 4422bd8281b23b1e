import { expect } from "chai";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { JsonRpcProvider, Wallet, ZeroHash, type Signer } from "ethers";
import { loadConsortium } from "../../ops/consortium/index.js";
import { ROLE_IDS } from "../../ops/contracts/roles.js";
import { execute, propose, proposalCalls, readMembers } from "../../ops/governance/client.js";
import { governanceRecordPath, readGovernanceRecord } from "../../ops/governance/deploy.js";
import { readChainMembers } from "../../ops/governance/roster.js";
import { memberId, memberInputFromFile, readMemberFile } from "../../ops/governance/members.js";
import {
  ConsortiumGovernance__factory,
  EnergyMarket__factory,
  GridAccessManager__factory,
  GridCredit__factory,
  ValidatorSet__factory,
} from "../../types/ethers-contracts/index.js";
import { Registry } from "prom-client";
import { GovernanceReader } from "../../ops/metrics/governance.js";
import { writeFilesAtomic } from "../../ops/fs.js";
import { accountKeyFile, initMember, memberFileText, nodeKeyFile } from "../../ops/members/init.js";
import { gridchain } from "../support/cli.js";
import { foundersManifest, readBundle } from "../helpers/member-bundle.js";
import { freePort } from "../support/net.js";
import { tempDir } from "../ops/helpers.js";

/** Four organisations with one validator each (the rails need 4), 1 s blocks, short votes. */
const yaml = (port: number) => `name: govtest
chainId: 4711
consensus: { blockPeriodSeconds: 1 }
organisations:
  - { id: grid, role: grid-operator, zone: north, validators: 1 }
  - { id: solar, role: producer, zone: north, validators: 1 }
  - { id: wind, role: producer, zone: south, validators: 1 }
  - { id: storage, role: producer, zone: south, validators: 1 }
accounts: { producers: 3, consumers: 1 }
market:
  zones:
    - { id: north, importKw: 1000, exportKw: 1000 }
    - { id: south, importKw: 1000, exportKw: 1000 }
governance: { votingPeriodSeconds: 600, executionDelaySeconds: 60, executionWindowSeconds: 600 }
engine: { embedded: { port: ${port} } }
`;

/**
 * The same consortium as the members would assemble it (`gridchain member assemble`): fixed genesis
 * time, accounts from the member files; written beside the test's and its path returned.
 */
function writeManifestYaml(dir: string, port: number): string {
  const file = join(dir, "members.yaml");
  const text = yaml(port)
    .split("\n")
    .filter((line) => !line.startsWith("accounts:") && !line.startsWith("engine:"))
    .join("\n");
  writeFileSync(file, `${text}genesis: { timestamp: 1798761600 }\n`);
  return file;
}

/** The revert of a promise as the contract error's name (empty when it did not fail). */
async function refused(promise: Promise<unknown>): Promise<string> {
  const errors = ConsortiumGovernance__factory.createInterface();
  return promise.then(
    () => "",
    (error: { data?: string; message?: string; revert?: { name?: string } }) =>
      error.revert?.name ??
      (typeof error.data === "string" ? errors.parseError(error.data)?.name : undefined) ??
      error.message ??
      "?",
  );
}

describe("members' governance end to end (embedded engine)", function () {
  this.timeout(420_000);
  let chainArgs: string[] = [];
  after(async () => {
    if (chainArgs.length > 0) await gridchain("down", ...chainArgs);
  });

  it("a producer organisation joins by vote, trades, and leaves; a vote below the threshold and an expired proposal change nothing", async () => {
    const dir = tempDir();
    const port = await freePort();
    const config = join(dir, "consortium.yaml");
    writeFileSync(config, yaml(port));
    const network = join(dir, "net");
    const manifest = join(dir, "deployments", "govtest.json");
    chainArgs = ["-c", config, "--network", network, "--manifest", manifest];
    for (const step of [
      ["generate", "-c", config, "--out", network],
      ["up", ...chainArgs],
      ["deploy", ...chainArgs],
    ]) {
      const run = await gridchain(...step);
      expect(run.code, run.stderr).to.equal(0);
    }
    const rpc = new JsonRpcProvider(`http://127.0.0.1:${port}`, undefined, { staticNetwork: true });
    const key = (id: string) =>
      new Wallet(readFileSync(join(network, "accounts", `${id}.key`), "utf8").trim(), rpc);
    const [grid, solar, wind, storage] = [
      "grid-operator",
      "producer-1",
      "producer-2",
      "producer-3",
    ].map(key) as [Wallet, Wallet, Wallet, Wallet];
    const record = readGovernanceRecord(governanceRecordPath(manifest))!;
    const deployment = JSON.parse(readFileSync(manifest, "utf8"));
    const governance = ConsortiumGovernance__factory.connect(record.governance, rpc);
    const set = ValidatorSet__factory.connect(record.validatorSet, rpc);
    const manager = GridAccessManager__factory.connect(
      deployment.contracts.GridAccessManager.proxy,
      rpc,
    );
    const advance = async (seconds: number) => {
      await rpc.send("evm_increaseTime", [seconds]);
      await rpc.send("evm_mine", []);
    };
    const voteAll = async (id: bigint, voters: Signer[], support = true) => {
      for (const voter of voters)
        await (await governance.connect(voter).castVote(id, support)).wait();
    };
    const genesisValidators = await set.getValidators();
    expect(genesisValidators).to.have.length(4);

    // The deployer handed ADMIN to the governance: it cannot grant a role, a passed proposal can.
    const deployer = key("deployer");
    const meter = Wallet.createRandom().address;
    expect(
      await refused(manager.connect(deployer).grantRole.staticCall(ROLE_IDS.METER, meter, 0)),
    ).to.equal("AccessManagerUnauthorizedAccount");
    const grant = await propose(
      governance,
      grid,
      proposalCalls.grantRole(await manager.getAddress(), ROLE_IDS.METER, meter),
      0,
      "a second meter",
    );
    await voteAll(grant, [grid, solar, wind]);
    await advance(600 + 60);
    await execute(governance, grid, grant);
    expect((await manager.hasRole(ROLE_IDS.METER, meter))[0]).to.equal(true);

    // The joining organisation's signed member file, as 'gridchain member init' makes it (its keys
    // stay with it; the test holds them to sign for it).
    const joining = initMember({
      network: { name: "govtest", chainId: 4711 },
      organisation: { id: "hydro-east", role: "producer", zone: "north" },
      nodes: [{ kind: "validator", host: "203.0.113.7", p2pPort: 30303 }],
      accounts: [{ role: "producer" }],
    });
    const node = new Wallet(joining.files.get(nodeKeyFile("hydro-east-validator-1"))!.content);
    const hydro = new Wallet(
      joining.files.get(accountKeyFile("hydro-east-producer-1"))!.content,
      rpc,
    );
    const consumer = key("consumer-1");
    const memberFile = join(dir, "hydro-east.member.json");
    writeFileSync(memberFile, memberFileText(joining.member));
    const input = memberInputFromFile(
      readMemberFile(memberFile),
      loadConsortium(config),
      memberFile,
    );
    expect(input.validators).to.deep.equal([node.address]);
    const join_ = proposalCalls.addMember(record.governance, input);
    const joinId = await propose(governance, grid, join_, 0, "hydro-east joins");
    await voteAll(joinId, [grid, solar, wind]);
    await advance(600 + 60);
    await execute(governance, storage, joinId);
    expect(await set.getValidators()).to.deep.equal([...genesisValidators, node.address]);
    // What a joining member's render reads with --rpc: the members on chain, the newcomer in.
    const joined = (await readChainMembers(`http://127.0.0.1:${port}`, { chainId: 4711 })).find(
      (m) => m.organisation === "hydro-east",
    );
    expect(joined?.active).to.equal(true);
    expect(joined?.enodes).to.deep.equal(input.enodes);
    expect((await manager.hasRole(ROLE_IDS.PRODUCER, hydro.address))[0]).to.equal(true);

    // It renders its nodes with the CLI from its folder, the founders' manifest and the chain: its
    // node peers with and admits every current member, the genesis is the manifest's.
    const founders = await foundersManifest(network, writeManifestYaml(dir, port), dir);
    const hydroDir = join(dir, "member-hydro-east");
    await writeFilesAtomic(hydroDir, joining.files);
    const url = `http://127.0.0.1:${port}`;
    const render = async (memberDir: string) => {
      const run = await gridchain(
        "member",
        "render",
        "--manifest",
        founders.manifest,
        "--member-dir",
        memberDir,
        "--rpc",
        url,
      );
      expect(run.code, run.stderr).to.equal(0);
      return run.stdout;
    };
    const everyone = async () => {
      const active = (await readChainMembers(url, { chainId: 4711 })).filter((m) => m.active);
      const deployerAddress = deployer.address.toLowerCase();
      return {
        organisations: active.map((m) => m.organisation),
        enodes: active.flatMap((m) => m.enodes),
        accounts: [
          deployerAddress,
          ...new Set(active.flatMap((m) => [m.voter, ...m.accounts]).map((a) => a.toLowerCase())),
        ],
      };
    };
    const now5 = await everyone();
    expect(now5.organisations).to.have.length(5);
    expect(await render(hydroDir))
      .to.contain(`rendered hydro-east's 1 node of "govtest" in ${join(hydroDir, "bundle")}`)
      .and.to.contain(
        `  static nodes and allowlists follow the 5 members on chain: ${now5.organisations.join(", ")}\n`,
      );
    const hydroNode = "hydro-east-validator-1";
    const mine = readBundle(join(hydroDir, "bundle"), hydroNode);
    expect(mine.staticNodes).to.have.members(now5.enodes);
    expect(mine.nodesAllowlist).to.have.members(now5.enodes);
    expect(mine.accountsAllowlist).to.have.members(now5.accounts);
    expect(mine.files.get("genesis.json")!.content).to.equal(founders.genesis);
    expect(mine.files.get("genesis.json")!.content).to.equal(
      readFileSync(join(dirname(founders.manifest), "genesis.json"), "utf8"),
    );
    const secret = joining.files.get(nodeKeyFile(hydroNode))!.content;
    const holdingKey = [...mine.files].filter(([, file]) => file.content.includes(secret));
    expect(holdingKey.map(([path]) => path)).to.have.members([
      `nodes/${hydroNode}/key`,
      `kubernetes/secret-${hydroNode}.yaml`,
    ]);
    for (const [path, file] of holdingKey) expect(file.mode, path).to.equal(0o600);

    // Its account trades: an offer, a consumer's request, its confirm (auto review).
    await (await grid.sendTransaction({ to: hydro.address, value: 10n ** 18n })).wait();
    const market = EnergyMarket__factory.connect(deployment.contracts.EnergyMarket.proxy, rpc);
    const now = (await rpc.getBlock("latest"))!.timestamp;
    const start = (Math.floor((now + 7200) / 900) + 1) * 900;
    // A seller's bond covers its default (the grid's least default: 0.05 credit per kWh).
    const credit = GridCredit__factory.connect(deployment.contracts.GridCredit.proxy, rpc);
    const bond = 1_000_000n;
    await (await credit.connect(grid).mint(hydro.address, bond, ZeroHash)).wait();
    await (await credit.connect(hydro).approve(await market.getAddress(), bond)).wait();
    await (await market.connect(hydro).depositBond(bond)).wait();
    await (
      await market.connect(hydro).publish(0, 100_000, 50_000, 5_000, start, start + 900, start)
    ).wait();
    const offerId = await market.offerCount();
    await (await market.connect(consumer).request(offerId, 5_000)).wait();
    const orderId = await market.orderCount();
    await (await market.connect(hydro).confirm(orderId)).wait();
    expect((await market.getOrder(orderId)).status).to.equal(7n); // Established

    // Below the threshold: 3 of 5 members is not more than 2/3; nothing changes.
    const leave = proposalCalls.removeMember(record.governance, memberId("hydro-east"));
    const weak = await propose(governance, grid, leave, 0, "hydro-east leaves");
    await voteAll(weak, [grid, solar, wind]);
    // The exporter's governance gauges read the same state.
    const registry = new Registry();
    await new GovernanceReader(`http://127.0.0.1:${port}`, record, registry).poll();
    const metrics = await registry.metrics();
    for (const line of [
      "gridchain_governance_members 5",
      "gridchain_governance_contract_validators 5",
      'gridchain_governance_proposals{state="executed"} 2', // the grant and the join
      'gridchain_governance_proposals{state="active"} 1',
      'gridchain_governance_pending_votes{support="for"} 3',
    ]) {
      expect(metrics).to.contain(`${line}\n`);
    }
    await advance(600 + 60);
    expect(await refused(execute(governance, grid, weak))).to.contain("GovernanceWrongState");
    expect(await governance.state(weak)).to.equal(1n); // Defeated
    expect(await set.getValidators()).to.have.length(5);

    // Passed but past its execution window: expired, nothing changes.
    const late = await propose(governance, grid, leave, 0, "hydro-east leaves");
    await voteAll(late, [grid, solar, wind, hydro]);
    await advance(600 + 60 + 600);
    expect(await governance.state(late)).to.equal(4n); // Expired
    expect(await refused(execute(governance, grid, late))).to.contain("GovernanceWrongState");
    expect(await set.getValidators()).to.have.length(5);

    // It leaves: validator out, roles revoked, the member marked removed.
    const bye = await propose(governance, grid, leave, 0, "hydro-east leaves");
    await voteAll(bye, [grid, solar, wind, storage]);
    await advance(600 + 60);
    await execute(governance, grid, bye);
    expect(await set.getValidators()).to.have.members([...genesisValidators]);
    expect((await manager.hasRole(ROLE_IDS.PRODUCER, hydro.address))[0]).to.equal(false);
    const members = await readMembers(governance);
    expect(members.find((m) => m.organisation === "hydro-east")!.active).to.equal(false);
    expect(await governance.memberCount()).to.equal(4n);
    const left = (await readChainMembers(`http://127.0.0.1:${port}`, { chainId: 4711 })).find(
      (m) => m.organisation === "hydro-east",
    );
    expect(left?.active).to.equal(false);
    // A founder re-renders from the chain: hydro-east's node and accounts are gone from its files.
    const now4 = await everyone();
    expect(now4.organisations).to.have.length(4);
    expect(await render(founders.memberDir("solar"))).to.contain(
      `  static nodes and allowlists follow the 4 members on chain: ${now4.organisations.join(", ")}\n`,
    );
    const solarFiles = readBundle(join(founders.memberDir("solar"), "bundle"), "solar-validator-1");
    expect(solarFiles.staticNodes).to.have.members(now4.enodes);
    expect(solarFiles.nodesAllowlist).to.have.members(now4.enodes);
    expect(solarFiles.accountsAllowlist).to.have.members(now4.accounts);
    for (const gone of [...input.enodes, hydro.address.toLowerCase()]) {
      for (const [path, file] of solarFiles.files) {
        if (path !== "network-manifest.json") expect(file.content, path).to.not.contain(gone);
      }
    }
    rpc.destroy();

    // The CLI: status names who holds ADMIN; members status shows the YAML's voting rules where
    // they differ from the chain's, and says a proposal changes them.
    const status = await gridchain("status", ...chainArgs);
    expect(status.stdout).to.contain(
      `ADMIN held by the members' governance ${record.governance} only; the deployer ${deployer.address} renounced it`,
    );
    writeFileSync(
      config,
      yaml(port).replace("votingPeriodSeconds: 600", "votingPeriodSeconds: 900"),
    );
    const rules = await gridchain("members", "status", ...chainArgs);
    expect(rules.code, rules.stderr).to.equal(0);
    expect(rules.stdout).to.contain(
      `voting rules on chain: approval 6667 bps of members, voting 600 s, delay 60 s, window 600 s\n  ${config} governance differs: votingPeriodSeconds 900 (chain 600)\n  the chain's rules change only by a vote: 'gridchain members propose parameters' proposes the file's`,
    );
  });
});
