import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { OperatorError } from "../errors.js";

export type MemberInitOptions = {
  network: string;
  chainId: string;
  organisation: string;
  role: string;
  name?: string;
  zone?: string;
  node: string[];
  account: string[];
  out?: string;
};
export type MemberAssembleOptions = { config: string; out?: string };
export type MemberRenderOptions = {
  manifest: string;
  memberDir: string;
  organisation?: string;
  out?: string;
  expectHash?: string;
  rpc?: string;
};

const collect = (value: string, previous: string[]) => [...previous, value];

/** `gridchain member init|assemble|render`: a network whose members keep their own keys. */
export function register(program: Command): void {
  const member = program
    .command("member")
    .description(
      "a network across members' hosts: each member keeps its keys, only public member files travel",
    );
  member
    .command("init")
    .description("create this member's node and account keys and its signed public member file")
    .requiredOption("--network <name>", "the network's name (as in the coordinator's YAML)")
    .requiredOption("--chain-id <id>", "the network's chain id")
    .requiredOption("--organisation <id>", "this member's organisation id")
    .requiredOption("--role <role>", "grid-operator or producer")
    .option("--name <text>", "the organisation's display name")
    .option("--zone <id>", "the organisation's grid zone")
    .option(
      "--node <kind=host[:port]>",
      "a node (validator, rpc, bootnode) and where peers reach its P2P port; repeat",
      collect,
      [],
    )
    .option(
      "--account <role[=count]>",
      "accounts to create (deployer, grid-operator, meter, producer, consumer); repeat",
      collect,
      [],
    )
    .option("--out <dir>", "the member's folder (default: member-<organisation>)")
    .addHelpText(
      "after",
      "\nExample:\n  gridchain member init --network gridchain-hosts --chain-id 2026 --organisation solar-north \\\n    --role producer --node validator=solar-north.example.net --account producer=2",
    )
    .action(async (options: MemberInitOptions) => {
      console.log((await memberInit(options)).join("\n"));
    });
  member
    .command("assemble")
    .description("verify the member files and write the genesis and the public network manifest")
    .option(
      "-c, --config <file>",
      "the consortium YAML (network settings, organisations)",
      "network/consortium.yaml",
    )
    .option("--out <dir>", "output folder (default: network/<name>-manifest)")
    .argument("<memberFiles...>", "the members' member.json files")
    .action(async (files: string[], options: MemberAssembleOptions) => {
      console.log((await memberAssemble(files, options)).join("\n"));
    });
  member
    .command("render")
    .description(
      "render this member's own nodes (configs, compose per host, Kubernetes) from the manifest",
    )
    .requiredOption("--manifest <file>", "the network manifest the coordinator published")
    .option("--member-dir <dir>", "this member's folder (from 'member init')", ".")
    .option("--organisation <id>", "the member (default: the one in <member-dir>/member.json)")
    .option("--out <dir>", "output folder (default: <member-dir>/bundle)")
    .option("--expect-hash <sha256>", "refuse unless the manifest has this SHA-256")
    .option(
      "--rpc <url>",
      "a running node's RPC: static nodes and allowlists follow the members on chain (needed by a member that joined by vote)",
    )
    .action(async (options: MemberRenderOptions) => {
      console.log((await memberRender(options)).join("\n"));
    });
}

/** Parses `kind=host[:port]`. */
function parseNode(text: string): {
  kind: "validator" | "rpc" | "bootnode";
  host: string;
  p2pPort: number;
} {
  const match = /^(validator|rpc|bootnode)=([^:=\s]+)(?::(\d{1,5}))?$/.exec(text);
  const port = match?.[3] === undefined ? 30303 : Number(match[3]);
  if (match === null || port < 1 || port > 65535) {
    throw new OperatorError(`--node ${text}: expected kind=host[:port]`, {
      hint: "kind is validator, rpc or bootnode; host a DNS name or IPv4 address; e.g. validator=solar.example.net:30303",
    });
  }
  return { kind: match[1] as "validator", host: match[2]!.toLowerCase(), p2pPort: port };
}

export async function memberInit(options: MemberInitOptions): Promise<string[]> {
  const { initMember, MEMBER_FILE } = await import("../members/init.js");
  const { memberFileSchema } = await import("../members/member-file.js");
  const { writeFilesAtomic } = await import("../fs.js");
  const out = options.out ?? `member-${options.organisation}`;
  if (existsSync(join(out, MEMBER_FILE)) || existsSync(join(out, "keys"))) {
    throw new OperatorError(`${out} already holds a member's keys`, {
      hint: "keys are made once and never overwritten: use another --out, or keep the keys you have",
    });
  }
  const nodes = options.node.map(parseNode);
  const accounts = options.account.flatMap((text) => {
    const match = /^(deployer|grid-operator|meter|producer|consumer)(?:=(\d{1,4}))?$/.exec(text);
    if (match === null) {
      throw new OperatorError(`--account ${text}: expected role[=count]`, {
        hint: "roles: deployer, grid-operator, meter, producer, consumer",
      });
    }
    return Array.from({ length: Number(match[2] ?? "1") }, () => ({
      role: match[1] as "producer",
    }));
  });
  const chainId = Number(options.chainId);
  const { member, files } = initMember({
    network: { name: options.network, chainId },
    organisation: {
      id: options.organisation,
      role: options.role as "producer",
      ...(options.name === undefined ? {} : { name: options.name }),
      ...(options.zone === undefined ? {} : { zone: options.zone }),
    },
    nodes,
    accounts,
  });
  // The same schema a coordinator reads with: a bad flag fails here, before any key is written.
  const checked = memberFileSchema.safeParse(member);
  if (!checked.success) {
    const issue = checked.error.issues[0]!;
    throw new OperatorError(`member file: ${issue.path.join(".")}: ${issue.message}`, {
      hint: "check --network, --chain-id, --organisation, --role and --node",
    });
  }
  await writeFilesAtomic(out, files);
  return [
    `member ${member.organisation.id} (${member.organisation.role}) of "${member.network.name}" (chain id ${chainId}) in ${out}`,
    ...member.nodes.map(
      (node) =>
        `  node ${node.name}: enode://${node.publicKey.slice(2, 14)}...@${node.host}:${node.p2pPort}`,
    ),
    `  accounts: ${member.accounts.map((account) => `${account.id} ${account.address}`).join(", ") || "none"}`,
    `  private keys: ${out}/keys (0600, never leave this machine)`,
    `  send to the coordinator: ${join(out, MEMBER_FILE)}`,
  ];
}

export async function memberAssemble(
  memberFiles: readonly string[],
  options: MemberAssembleOptions,
): Promise<string[]> {
  const { assembleNetwork, MANIFEST_FILE, sha256 } = await import("../members/assemble.js");
  const { writeFilesAtomic } = await import("../fs.js");
  const read = (file: string) => {
    try {
      return { file, text: readFileSync(file, "utf8") };
    } catch (error) {
      throw new OperatorError(`${file}: cannot read`, { details: (error as Error).message });
    }
  };
  const { manifest, manifestText, manifestHash, genesis, warnings } = assembleNetwork(
    read(options.config),
    memberFiles.map(read),
  );
  const name = manifest.members[0]!.network.name;
  const out = options.out ?? join("network", `${name}-manifest`);
  await writeFilesAtomic(
    out,
    new Map([
      [MANIFEST_FILE, { content: manifestText, mode: 0o644 }],
      ["genesis.json", { content: genesis, mode: 0o644 }],
    ]),
  );
  const nodes = manifest.members.reduce((sum, member) => sum + member.nodes.length, 0);
  return [
    `assembled "${name}" from ${manifest.members.length} member files (${nodes} nodes) in ${out}`,
    `  manifest sha256 ${manifestHash}  ${join(out, MANIFEST_FILE)}`,
    `  genesis  sha256 ${sha256(genesis)}  ${join(out, "genesis.json")}`,
    "  every member compares the manifest hash before rendering (member render --expect-hash)",
    ...warnings.map((warning) => `  warning: ${warning}`),
  ];
}

export async function memberRender(options: MemberRenderOptions): Promise<string[]> {
  const { parseManifest, sha256 } = await import("../members/assemble.js");
  const { readMemberKeys, renderMemberBundle, hostWarnings } = await import("../members/bundle.js");
  const { MEMBER_FILE } = await import("../members/init.js");
  const { writeFilesAtomic } = await import("../fs.js");
  // Which member renders is settled first: a wrong folder is the likelier mistake.
  const organisation =
    options.organisation ?? ownOrganisation(join(options.memberDir, MEMBER_FILE));
  let text: string;
  try {
    text = readFileSync(options.manifest, "utf8");
  } catch (error) {
    throw new OperatorError(`${options.manifest}: cannot read the manifest`, {
      details: (error as Error).message,
    });
  }
  const hash = sha256(text);
  if (options.expectHash !== undefined && options.expectHash.toLowerCase() !== hash) {
    throw new OperatorError(`${options.manifest}: sha256 ${hash}, expected ${options.expectHash}`, {
      hint: "the manifest differs from the one the coordinator announced: do not start from it",
    });
  }
  const manifest = parseManifest(text, options.manifest);
  const chain = options.rpc === undefined ? undefined : await membersOnChain(options, manifest);
  const keys = readMemberKeys(options.memberDir, manifest, organisation, chain?.member);
  const files = renderMemberBundle(manifest, text, options.manifest, organisation, keys, chain);
  const out = options.out ?? join(options.memberDir, "bundle");
  const { written, unchanged } = await writeFilesAtomic(out, files);
  const hosts = [...files.keys()]
    .filter((path) => path.startsWith("hosts/"))
    .map((path) => path.split("/")[1]);
  const lines = [
    `rendered ${organisation}'s ${keys.size} node${keys.size === 1 ? "" : "s"} of "${manifest.members[0]!.network.name}" in ${out} (manifest sha256 ${hash})`,
    `  compose files: ${hosts.map((host) => `hosts/${host}/docker-compose.yml`).join(", ")}`,
    `  kubernetes: ${[...files.keys()].filter((path) => path.startsWith("kubernetes/")).length} files in kubernetes/`,
    `  files: ${written} written, ${unchanged} unchanged`,
  ];
  if (chain !== undefined) {
    const active = chain.members.filter((member) => member.active);
    lines.push(
      `  static nodes and allowlists follow the ${active.length} members on chain: ${active.map((member) => member.organisation).join(", ")}`,
    );
  }
  for (const warning of hostWarnings(manifest, organisation)) lines.push(`  warning: ${warning}`);
  return lines;
}

/**
 * The members on chain, and this member's own signed file when it joined after the manifest (its
 * nodes are rendered from it); the file must be made for the manifest's network.
 */
async function membersOnChain(
  options: MemberRenderOptions,
  manifest: import("../members/assemble.js").NetworkManifest,
) {
  const { parseMemberFile } = await import("../members/assemble.js");
  const { readChainMembers } = await import("../governance/roster.js");
  const { MEMBER_FILE } = await import("../members/init.js");
  const network = manifest.members[0]!.network;
  const transition = (
    manifest.consortium.consensus as
      { validatorContractTransition?: { address?: string } } | undefined
  )?.validatorContractTransition?.address;
  const members = await readChainMembers(options.rpc!, {
    chainId: network.chainId,
    validatorContract: transition,
  });
  const path = join(options.memberDir, MEMBER_FILE);
  if (!existsSync(path)) return { members };
  const member = parseMemberFile(readFileSync(path, "utf8"), path);
  if (member.network.name !== network.name || member.network.chainId !== network.chainId) {
    throw new OperatorError(
      `${path}: network: made for ${member.network.name} (chain ${member.network.chainId}), not ${network.name} (chain ${network.chainId})`,
    );
  }
  return { members, member };
}

/** The organisation of the member file in a member's folder. */
function ownOrganisation(file: string): string {
  try {
    const id = (JSON.parse(readFileSync(file, "utf8")) as { organisation?: { id?: unknown } })
      .organisation?.id;
    if (typeof id === "string") return id;
  } catch {
    // Reported below.
  }
  throw new OperatorError(`${file}: no member file with an organisation id here`, {
    hint: "give the folder 'gridchain member init' wrote with --member-dir, or name the member with --organisation",
  });
}
