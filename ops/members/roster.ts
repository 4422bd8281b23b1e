import { keyFromPublic, toAddress, type KeyPair } from "../besu/keys.js";
import type { NetworkPlan, PlannedAccount, PlannedNode } from "../consortium/plan.js";
import type { AccountRole } from "../consortium/spec.js";
import { ROLE_IDS } from "../contracts/roles.js";
import { OperatorError } from "../errors.js";
import { manifestPlan, type NetworkManifest } from "./assemble.js";
import type { MemberFile } from "./member-file.js";

/** A member as the governance contract holds it (ops/governance/client.ts readMembers). */
export type ChainMember = {
  organisation: string;
  active: boolean;
  gridOperator: boolean;
  voter: string;
  enodes: readonly string[];
  validators: readonly string[];
  accounts: readonly string[];
  roles: readonly bigint[];
};

const ROLE_NAMES = new Map<bigint, AccountRole>([
  [ROLE_IDS.GRID_OPERATOR, "grid-operator"],
  [ROLE_IDS.METER, "meter"],
  [ROLE_IDS.PRODUCER, "producer"],
  [ROLE_IDS.CONSUMER, "consumer"],
]);

/**
 * The plan a member renders its nodes from once membership has changed by vote: the manifest's
 * network (its genesis never changes), but the nodes and accounts of the members active on chain
 * now. A member removed by vote drops out; a member added by vote is in, from its own signed member
 * file when it is the one rendering (its keys are here), else from what the chain holds: its enodes
 * and its voter and accounts. So a joining member's static nodes and allowlists name everyone, and
 * an existing member re-rendering gets the newcomer, exactly what `members sync` adds at run time.
 */
export function followChain(
  manifest: NetworkManifest,
  file: string,
  members: readonly ChainMember[],
  own: { organisation: string; nodeKeys: ReadonlyMap<string, KeyPair>; member?: MemberFile },
): NetworkPlan {
  const active = new Map(members.filter((m) => m.active).map((m) => [m.organisation, m]));
  const mine = active.get(own.organisation);
  if (mine === undefined) {
    throw new OperatorError(`${own.organisation} is not an active member on chain`, {
      hint: "its joining proposal must pass and be executed first: see 'gridchain members status'",
    });
  }
  const founder = manifest.members.some((m) => m.organisation.id === own.organisation);
  if (!founder && own.member === undefined) {
    throw new OperatorError(`${own.organisation} has no member file to render its nodes from`, {
      hint: "render in the folder 'gridchain member init' wrote for it (its member.json and keys)",
    });
  }
  const listed = [
    ...manifest.members.filter((m) => active.has(m.organisation.id)),
    ...(founder ? [] : [own.member!]),
  ];
  const plan = manifestPlan({ ...manifest, members: listed }, file, own);
  const ownEnodes = plan.nodes.filter((n) => n.organisation === own.organisation);
  const onChain = new Set(mine.enodes.map(enodeKey));
  if (ownEnodes.some((n) => !onChain.has(enodeKey(n.enode)))) {
    throw new OperatorError(
      `the chain holds other enodes for ${own.organisation} than its member file: ${mine.enodes.join(", ") || "none"}`,
      { hint: "the member file voted on is the one to render from" },
    );
  }
  const known = new Set(listed.map((m) => m.organisation.id));
  const joined = [...active.values()].filter((m) => !known.has(m.organisation));
  const nodes: PlannedNode[] = joined.flatMap((m) =>
    m.enodes.map((enode, index) => nodeOf(m, enode, index)),
  );
  const seen = new Set(plan.accounts.map((a) => a.address.toLowerCase()));
  const accounts: PlannedAccount[] = [];
  for (const m of joined) {
    const roleOf = new Map(m.accounts.map((a, i) => [a.toLowerCase(), m.roles[i]]));
    for (const address of [m.voter, ...m.accounts].map((a) => toAddress(a))) {
      if (seen.has(address)) continue;
      seen.add(address);
      accounts.push({
        id: `${m.organisation}-account-${accounts.length + 1}`,
        address,
        role:
          ROLE_NAMES.get(roleOf.get(address) ?? -1n) ??
          (m.gridOperator ? "grid-operator" : "producer"),
        organisation: m.organisation,
        zone: "",
        key: undefined,
      });
    }
  }
  return { ...plan, nodes: [...plan.nodes, ...nodes], accounts: [...plan.accounts, ...accounts] };
}

/** A node known from the chain only: its enode, a validator when its address is the member's. */
function nodeOf(member: ChainMember, enode: string, index: number): PlannedNode {
  const match = /^enode:\/\/([0-9a-fA-F]{128})@([^:/?]+):(\d+)/.exec(enode);
  if (match === null) {
    throw new OperatorError(
      `${member.organisation}'s enode on chain is not an enode URL: ${enode}`,
    );
  }
  const key = keyFromPublic(`0x${match[1]!.toLowerCase()}`);
  const validators = new Set(member.validators.map((v) => v.toLowerCase()));
  return {
    name: `${member.organisation}-node-${index + 1}`,
    organisation: member.organisation,
    kind: validators.has(key.address.toLowerCase()) ? "validator" : "rpc",
    key,
    ip: match[2]!,
    p2pPort: Number(match[3]),
    enode: `enode://${match[1]!.toLowerCase()}@${match[2]}:${match[3]}`,
    inCompose: false,
    published: undefined,
  };
}

function enodeKey(enode: string): string {
  return enode.toLowerCase().replace(/\?.*$/, "");
}
