import { expect } from "chai";
import { readFileSync } from "node:fs";
import { enodeUrl, keyFromPrivate, keyFromPublic, type KeyPair } from "../../ops/besu/keys.js";
import { permissionsFile } from "../../ops/besu/config-toml.js";
import { ROLE_IDS } from "../../ops/contracts/roles.js";
import { OperatorError } from "../../ops/errors.js";
import { assembleNetwork, MANIFEST_FILE } from "../../ops/members/assemble.js";
import { renderMemberBundle } from "../../ops/members/bundle.js";
import { initMember, memberFileText, nodeKeyFile } from "../../ops/members/init.js";
import type { MemberFile } from "../../ops/members/member-file.js";
import type { ChainMember } from "../../ops/members/roster.js";
import { parseFlatToml } from "./helpers.js";

const CONSORTIUM = "network/examples/hosts.yaml";
const NETWORK = { name: "hosts", chainId: 2027 };

type Init = Parameters<typeof initMember>[0];
const made = (params: Omit<Init, "network">) => initMember({ network: NETWORK, ...params });

/** The founders of network/examples/hosts.yaml, and hydro-east, which joins later by vote. */
const grid = made({
  organisation: { id: "grid", role: "grid-operator", zone: "north" },
  nodes: [
    { kind: "validator", host: "grid-v1.example.net", p2pPort: 30303 },
    { kind: "rpc", host: "grid-rpc1.example.net", p2pPort: 30303 },
  ],
  accounts: [{ role: "deployer" }, { role: "grid-operator" }],
});
const solar = made({
  organisation: { id: "solar-north", role: "producer", zone: "north" },
  nodes: [{ kind: "validator", host: "203.0.113.20", p2pPort: 30303 }],
  accounts: [{ role: "producer" }],
});
const wind = made({
  organisation: { id: "wind-south", role: "producer", zone: "south" },
  nodes: [{ kind: "validator", host: "wind.example.org", p2pPort: 30310 }],
  accounts: [{ role: "producer" }],
});
const hydro = made({
  organisation: { id: "hydro-east", role: "producer", zone: "north" },
  nodes: [{ kind: "validator", host: "203.0.113.7", p2pPort: 30303 }],
  accounts: [{ role: "producer" }, { role: "consumer" }],
});

const assembled = assembleNetwork(
  { text: readFileSync(CONSORTIUM, "utf8"), file: CONSORTIUM },
  [grid, solar, wind].map(({ member }) => ({ text: memberFileText(member), file: "member.json" })),
);

const enodesOf = (member: MemberFile) =>
  member.nodes.map((node) => enodeUrl(keyFromPublic(node.publicKey), node.host, node.p2pPort));
const accountsOf = (member: MemberFile) => member.accounts.map((account) => account.address);

/** A member as the governance contract holds it after the deploy or an executed proposal. */
function onChain(member: MemberFile, active = true): ChainMember {
  const accounts = member.accounts.filter((account) => account.role !== "deployer");
  return {
    organisation: member.organisation.id,
    active,
    gridOperator: member.organisation.role === "grid-operator",
    voter: accounts[0]!.address,
    enodes: enodesOf(member),
    validators: member.nodes.filter((n) => n.kind === "validator").map((n) => n.address),
    accounts: accounts.map((account) => account.address),
    roles: accounts.map(() => ROLE_IDS.PRODUCER),
  };
}

function keysOf(made: ReturnType<typeof initMember>): Map<string, KeyPair> {
  return new Map(
    made.member.nodes.map((node) => [
      node.name,
      keyFromPrivate(made.files.get(nodeKeyFile(node.name))!.content),
    ]),
  );
}

/** One member's bundle from the manifest, and from the chain when given. */
const bundle = (
  who: ReturnType<typeof initMember>,
  chain?: Parameters<typeof renderMemberBundle>[5],
) =>
  renderMemberBundle(
    assembled.manifest,
    assembled.manifestText,
    MANIFEST_FILE,
    who.member.organisation.id,
    keysOf(who),
    chain,
  );

/** Static nodes and the allowlists of one rendered node. */
function rendered(files: ReturnType<typeof renderMemberBundle>, node: string) {
  const permissions = parseFlatToml(files.get(permissionsFile(node))!.content);
  return {
    staticNodes: JSON.parse(files.get("static-nodes.json")!.content) as string[],
    nodesAllowlist: permissions["nodes-allowlist"] as string[],
    accountsAllowlist: permissions["accounts-allowlist"] as string[],
  };
}

describe("a member that joined by vote renders its nodes from the members on chain", () => {
  // wind-south has left by vote; hydro-east has joined.
  const chain = [onChain(grid.member), onChain(solar.member), onChain(wind.member, false)];
  chain.push(onChain(hydro.member));

  it("the joining member's node gets static nodes and allowlists with every current member, none of a removed one", () => {
    const files = bundle(hydro, { members: chain, member: hydro.member });
    const { staticNodes, nodesAllowlist, accountsAllowlist } = rendered(
      files,
      "hydro-east-validator-1",
    );
    const everyone = [grid, solar, hydro].flatMap(({ member }) => enodesOf(member));
    expect(staticNodes).to.have.members(everyone);
    expect(nodesAllowlist).to.have.members(everyone);
    // Every account of the current members, the grid's deployer included; none of wind-south's.
    expect(accountsAllowlist).to.have.members(
      [grid, solar, hydro].flatMap(({ member }) => accountsOf(member)),
    );
    for (const gone of [...enodesOf(wind.member), ...accountsOf(wind.member)]) {
      expect(files.get("static-nodes.json")!.content).to.not.contain(gone);
      expect(files.get(permissionsFile("hydro-east-validator-1"))!.content).to.not.contain(gone);
    }
    // Its own node runs here, with its key; the genesis is the manifest's, unchanged.
    expect(files.get("nodes/hydro-east-validator-1/key")!.content).to.equal(
      keysOf(hydro).get("hydro-east-validator-1")!.privateKey,
    );
    expect(files.get("genesis.json")!.content).to.equal(assembled.genesis);
    expect([...files.keys()].filter((path) => path.endsWith("/key"))).to.deep.equal([
      "nodes/hydro-east-validator-1/key",
    ]);
  });

  it("a founding member re-rendering from the chain gets the newcomer's node and accounts and loses the removed one's", () => {
    const files = bundle(solar, { members: chain });
    const { staticNodes, accountsAllowlist } = rendered(files, "solar-north-validator-1");
    expect(staticNodes).to.include.members(enodesOf(hydro.member));
    expect(staticNodes).to.not.include.members(enodesOf(wind.member));
    expect(accountsAllowlist).to.include.members(accountsOf(hydro.member));
    expect(files.get("genesis.json")!.content).to.equal(assembled.genesis);
  });

  it("refuses to render a member the chain does not hold as active, or whose enodes on chain differ", () => {
    const render = (members: ChainMember[]) => () =>
      bundle(hydro, { members, member: hydro.member });
    expect(render(chain.slice(0, 3))).to.throw(
      OperatorError,
      "hydro-east is not an active member on chain",
    );
    const moved = { ...onChain(hydro.member), enodes: [`enode://${"ab".repeat(64)}@1.2.3.4:1`] };
    expect(render([...chain.slice(0, 3), moved])).to.throw(
      OperatorError,
      "the chain holds other enodes for hydro-east than its member file",
    );
  });

  it("without the chain, the manifest alone cannot render a member that joined after it", () => {
    expect(() => bundle(hydro)).to.throw(
      OperatorError,
      "hydro-east is not in the manifest: it joined after the network was assembled",
    );
  });
});
