import type { Command } from "commander";
import { OperatorError } from "../errors.js";
import { chainContext, chainOptions, type ChainOptions } from "./context.js";

type SignerOptions = ChainOptions & { as?: string; keyFile?: string };
type ProposeOptions = SignerOptions & {
  memberFile?: string;
  allow?: string;
  description?: string;
};
type SyncOptions = ChainOptions & { rpc?: string[] };

const RAILS = { "few-validators": 1, concentration: 2, "no-grid-operator": 4 } as const;

/** `gridchain members list | propose | vote | execute | status | sync`: the members' governance. */
export function register(program: Command): void {
  const members = program
    .command("members")
    .description(
      "the consortium's members: list them, propose and vote on changes, sync allowlists",
    );
  const signer = (command: Command) =>
    chainOptions(command)
      .option(
        "--as <account>",
        "the voter's account id in accounts.json (default: the grid operator)",
      )
      .option(
        "--key-file <file>",
        "the voter's private key file, for a member whose keys live elsewhere",
      );
  chainOptions(
    members.command("list").description("members on chain, their voters, validators, accounts"),
  ).action(async (options: ChainOptions) => console.log((await membersList(options)).join("\n")));
  signer(
    members
      .command("propose")
      .description("propose a change; the members vote on it")
      .argument("<kind>", "add | remove | rotate | grant | revoke | limits | parameters | upgrade")
      .argument(
        "[args...]",
        "remove <org> | rotate <org> <old validator> <new validator> | grant|revoke <ROLE> <account> | limits <max kWh per order> <max kWh per participant and slot> | upgrade <proxy> <implementation>",
      )
      .option(
        "--member-file <file>",
        "add: the joining organisation's signed member.json (gridchain member init)",
      )
      .option(
        "--allow <rails>",
        `override safety rails, comma-separated: ${Object.keys(RAILS).join(", ")}`,
      )
      .option("--description <text>", "what the members vote on, in words"),
  )
    .addHelpText(
      "after",
      "\nExamples:\n  gridchain members propose add --member-file hydro-east.member.json\n  gridchain members propose remove hydro-east --as producer-1",
    )
    .action(async (kind: string, args: string[], options: ProposeOptions) =>
      console.log(await membersPropose(kind, args, options)),
    );
  signer(
    members
      .command("vote")
      .description("cast your organisation's one vote")
      .argument("<proposal>", "proposal id")
      .argument("<choice>", "yes | no"),
  ).action(async (id: string, choice: string, options: SignerOptions) =>
    console.log(await membersVote(id, choice, options)),
  );
  signer(
    members
      .command("execute")
      .description("run a passed proposal once its delay is over")
      .argument("<proposal>", "proposal id"),
  ).action(async (id: string, options: SignerOptions) =>
    console.log(await membersExecute(id, options)),
  );
  chainOptions(
    members.command("status").description("proposals, their votes and deadlines; validators"),
  ).action(async (options: ChainOptions) => console.log((await membersStatus(options)).join("\n")));
  chainOptions(
    members
      .command("migrate")
      .description(
        "block-header network: deploy the validator contract with today's validators, for a QBFT transition",
      )
      .argument("<block>", "the block from which Besu reads the validators from the contract"),
  ).action(async (block: string, options: ChainOptions) =>
    console.log((await membersMigrate(block, options)).join("\n")),
  );
  chainOptions(
    members
      .command("sync")
      .description("apply the members on chain to this node's allowlists (besu engine, perm_*)")
      .option("--rpc <url...>", "each of your nodes' RPC (default: the engine's RPC node)"),
  ).action(async (options: SyncOptions) => console.log((await membersSync(options)).join("\n")));
}

/** The governance contract of the running chain, with a signer when one is asked for. */
async function governanceSession(options: SignerOptions, withSigner: boolean) {
  const context = await chainContext(options);
  const { accountId, openSession, readAccounts, requireRunning } = await import("./hardhat.js");
  const { governanceRecordPath, readGovernanceRecord } = await import("../governance/deploy.js");
  await requireRunning(context);
  const recordPath = governanceRecordPath(context.manifestPath);
  const record = readGovernanceRecord(recordPath);
  if (record === undefined) {
    throw new OperatorError(`no members' governance deployed (${recordPath} is missing)`, {
      hint: "run 'gridchain deploy'",
    });
  }
  const accounts = readAccounts(context.networkDir);
  const id =
    withSigner && options.keyFile === undefined
      ? (options.as ?? accountId(accounts, "grid-operator"))
      : undefined;
  const session = await openSession(context, id === undefined ? [] : [id]);
  const { ethers } = session.connection;
  let signer;
  if (withSigner) {
    if (options.keyFile !== undefined) {
      const { readFileSync } = await import("node:fs");
      const { Wallet } = await import("ethers");
      const key = readFileSync(options.keyFile, "utf8").trim();
      signer = new Wallet(key.startsWith("0x") ? key : `0x${key}`, ethers.provider);
    } else {
      signer = session.signers.get(id!)!;
    }
  }
  const governance = await ethers.getContractAt("ConsortiumGovernance", record.governance);
  return { context, session, record, governance, signer };
}

export async function membersList(options: ChainOptions): Promise<string[]> {
  const { session, record, governance } = await governanceSession(options, false);
  try {
    const { readMembers } = await import("../governance/client.js");
    const set = await session.connection.ethers.getContractAt("ValidatorSet", record.validatorSet);
    const validators = await set.getValidators();
    const lines = [
      `governance ${record.governance}; validator contract ${record.validatorSet}: ${validators.length} validators`,
    ];
    for (const m of await readMembers(governance)) {
      lines.push(
        `  ${m.organisation.padEnd(14)} ${(m.active ? (m.gridOperator ? "grid operator" : "producer") : "removed").padEnd(13)}  voter ${m.voter}  validators ${m.validators.length}  accounts ${m.accounts.length}  nodes ${m.enodes.length}`,
      );
    }
    return lines;
  } finally {
    await session.connection.close();
  }
}

export async function membersPropose(
  kind: string,
  args: string[],
  options: ProposeOptions,
): Promise<string> {
  const { context, session, record, governance, signer } = await governanceSession(options, true);
  try {
    const { proposalCalls, propose } = await import("../governance/client.js");
    const { memberId, memberInputFromFile, readMemberFile } =
      await import("../governance/members.js");
    const { readManifest } = await import("../contracts/manifest.js");
    const address = record.governance;
    const need = (count: number, usage: string) => {
      if (args.length !== count)
        throw new OperatorError(`members propose ${kind}: expected ${usage}`);
    };
    let calls;
    let what: string;
    if (kind === "add") {
      need(0, "--member-file <file> and no other argument");
      if (options.memberFile === undefined) {
        throw new OperatorError("members propose add: --member-file <file> is required", {
          hint: "the joining organisation's signed member.json, written by 'gridchain member init' (format gridchain-member/1)",
        });
      }
      const file = readMemberFile(options.memberFile);
      calls = proposalCalls.addMember(
        address,
        memberInputFromFile(file, context.spec, options.memberFile),
      );
      what = `${file.organisation.id} joins`;
    } else if (kind === "remove") {
      need(1, "remove <organisation>");
      calls = proposalCalls.removeMember(address, memberId(args[0]!));
      what = `${args[0]} leaves`;
    } else if (kind === "rotate") {
      need(3, "rotate <organisation> <old validator address> <new validator address>");
      calls = proposalCalls.rotateValidator(address, memberId(args[0]!), args[1]!, args[2]!);
      what = `${args[0]} rotates validator ${args[1]} to ${args[2]}`;
    } else if (kind === "parameters") {
      need(
        0,
        `parameters and no other argument (it proposes the voting rules of ${options.config})`,
      );
      const { votingRules } = await import("../governance/parameters.js");
      const rules = votingRules(context.spec);
      calls = proposalCalls.setParameters(address, rules);
      what = `voting rules: approval ${rules.approvalBps} bps, voting ${rules.votingPeriodSeconds} s, delay ${rules.executionDelaySeconds} s, window ${rules.executionWindowSeconds} s`;
    } else if (kind === "grant" || kind === "revoke") {
      need(2, `${kind} <role> <account>`);
      const { ROLE_IDS } = await import("../contracts/roles.js");
      const role = args[0]!.toUpperCase() as keyof typeof ROLE_IDS;
      if (!(role in ROLE_IDS)) {
        throw new OperatorError(`members propose ${kind}: unknown role "${args[0]}"`, {
          hint: `allowed: ${Object.keys(ROLE_IDS).join(", ")}`,
        });
      }
      if (!/^0x[0-9a-fA-F]{40}$/.test(args[1]!)) {
        throw new OperatorError(`members propose ${kind}: "${args[1]}" is not an address`, {
          hint: "an account: 0x and 40 hex digits",
        });
      }
      const manifest = await readManifest(context.manifestPath);
      const manager = manifest.contracts.GridAccessManager.proxy;
      calls = proposalCalls[kind === "grant" ? "grantRole" : "revokeRole"](
        manager,
        ROLE_IDS[role],
        args[1]!,
      );
      what = `${kind} ${role} ${kind === "grant" ? "to" : "from"} ${args[1]}`;
    } else if (kind === "limits") {
      need(2, "limits <max kWh per order> <max kWh per participant and slot>");
      const manifest = await readManifest(context.manifestPath);
      const [order, slot] = args.map((value) => BigInt(value) * 1000n) as [bigint, bigint];
      calls = proposalCalls.setLimits(manifest.contracts.GridReview.proxy, order, slot);
      what = `grid limits ${args[0]} kWh per order, ${args[1]} kWh per participant and slot`;
    } else if (kind === "upgrade") {
      need(2, "upgrade <proxy address> <implementation address>");
      calls = proposalCalls.upgrade(args[0]!, args[1]!);
      what = `upgrade ${args[0]} to ${args[1]}`;
    } else {
      throw new OperatorError(`members propose: unknown kind "${kind}"`, {
        hint: "use add, remove, rotate, grant, revoke, limits, parameters or upgrade",
      });
    }
    const allow = (options.allow ?? "")
      .split(",")
      .filter((rail) => rail !== "")
      .reduce((bits, rail) => {
        const bit = RAILS[rail as keyof typeof RAILS];
        if (bit === undefined) {
          throw new OperatorError(`--allow: unknown rail "${rail}"`, {
            hint: `allowed: ${Object.keys(RAILS).join(", ")}`,
          });
        }
        return bits | bit;
      }, 0);
    const description = options.description ?? what;
    const id = await propose(governance, signer!, calls, allow, description).catch(
      async (error: unknown) => {
        throw await refusal(governance.interface, error);
      },
    );
    const p = await governance.proposal(id);
    const at = (seconds: bigint) => new Date(Number(seconds) * 1000).toISOString();
    return `proposal ${id}: "${description}"; voting until ${at(p.votingEndsAt)}, executable from ${at(p.executableAt)} until ${at(p.expiresAt)}`;
  } finally {
    await session.connection.close();
  }
}

export async function membersVote(
  id: string,
  choice: string,
  options: SignerOptions,
): Promise<string> {
  if (choice !== "yes" && choice !== "no")
    throw new OperatorError(`vote: choice must be yes or no, got "${choice}"`);
  const { session, governance, signer } = await governanceSession(options, true);
  try {
    const { organisationOf } = await import("../governance/members.js");
    await (
      await governance
        .connect(signer!)
        .castVote(BigInt(id), choice === "yes")
        .catch(async (error: unknown) => {
          throw await refusal(governance.interface, error);
        })
    ).wait();
    const member = organisationOf(await governance.memberOfVoter(await signer!.getAddress()));
    const p = await governance.proposal(BigInt(id));
    return `${member} voted ${choice} on proposal ${id}: ${p.forVotes} for, ${p.againstVotes} against, of ${p.memberCount} members`;
  } finally {
    await session.connection.close();
  }
}

export async function membersExecute(id: string, options: SignerOptions): Promise<string> {
  const { session, governance, signer } = await governanceSession(options, true);
  try {
    const { execute } = await import("../governance/client.js");
    const hash = await execute(governance, signer!, BigInt(id)).catch(async (error: unknown) => {
      throw await refusal(governance.interface, error);
    });
    return `proposal ${id} executed (transaction ${hash})`;
  } finally {
    await session.connection.close();
  }
}

export async function membersStatus(options: ChainOptions): Promise<string[]> {
  const { context, session, record, governance } = await governanceSession(options, false);
  try {
    const { readProposals } = await import("../governance/client.js");
    const set = await session.connection.ethers.getContractAt("ValidatorSet", record.validatorSet);
    const at = (seconds: number) => new Date(seconds * 1000).toISOString();
    const proposals = await readProposals(governance);
    const { describeVotingRules, votingRules } = await import("../governance/parameters.js");
    const lines = [
      `${await governance.memberCount()} members, ${(await set.getValidators()).length} validators; ${proposals.length} proposals`,
      ...describeVotingRules(
        votingRules(context.spec),
        await governance.parameters(),
        options.config,
      ),
    ];
    for (const p of proposals) {
      lines.push(
        `  ${String(p.id).padStart(3)} ${p.state.padEnd(10)} "${p.description}" by ${p.proposer}: ${p.forVotes} for, ${p.againstVotes} against, of ${p.memberCount}; votes until ${at(p.votingEndsAt)}, runs ${at(p.executableAt)} - ${at(p.expiresAt)}`,
      );
    }
    return lines;
  } finally {
    await session.connection.close();
  }
}

/**
 * Deploys a ValidatorSet holding the chain's current validators (Besu: qbft_getValidatorsByBlockNumber,
 * which answers them sorted; embedded engine: the plan's, since anvil has no consensus) and says
 * what to add to the YAML. The transition itself is a genesis config change every node must load
 * before `block`: `generate` accepts an appended transition on a started chain.
 */
export async function membersMigrate(block: string, options: ChainOptions): Promise<string[]> {
  const at = Number(block);
  if (!Number.isInteger(at) || at < 1)
    throw new OperatorError(`migrate: block must be a positive integer, got "${block}"`);
  const context = await chainContext(options);
  if (context.spec.consensus.protocol !== "qbft") {
    throw new OperatorError("migrate: only a QBFT network reads validators from a contract");
  }
  const { previousLayout } = await import("./chain-identity.js");
  if (previousLayout(context.networkDir).previousValidatorSelection === "contract") {
    throw new OperatorError(
      `migrate: ${context.networkDir} already reads its validators from the contract`,
      {
        hint: "change validators with 'gridchain members propose'",
      },
    );
  }
  const { accountId, openSession, readAccounts, requireRunning } = await import("./hardhat.js");
  const { deployValidatorSet } = await import("../governance/deploy.js");
  const { readNodes } = await import("../governance/setup.js");
  const { rpcCall } = await import("../engines/rpc.js");
  await requireRunning(context);
  const head = Number(
    BigInt(
      await rpcCall<string>(context.engine.rpcUrl(), "eth_blockNumber", [], 10_000, {
        token: context.engine.rpcHeaders().authorization?.replace(/^Bearer /, ""),
      }),
    ),
  );
  if (at <= head) {
    throw new OperatorError(`migrate: block ${at} is not ahead of the chain (head ${head})`, {
      hint: "pick a block far enough ahead to regenerate and restart every node before it",
    });
  }
  const validators =
    context.kind === "besu"
      ? await rpcCall<string[]>(
          context.engine.rpcUrl(),
          "qbft_getValidatorsByBlockNumber",
          ["latest"],
          10_000,
          {
            token: context.engine.rpcHeaders().authorization?.replace(/^Bearer /, ""),
          },
        )
      : readNodes(context.networkDir)
          .filter((node) => node.kind === "validator")
          .map((node) => node.address);
  const deployerId = accountId(readAccounts(context.networkDir), "deployer");
  const session = await openSession(context, [deployerId]);
  try {
    const { address } = await deployValidatorSet({
      connection: session.connection,
      deployer: session.signers.get(deployerId)!,
      validators,
    });
    return [
      `validator contract deployed at ${address} with ${validators.length} validators`,
      `add to ${options.config} under consensus:`,
      "  validatorSelection: blockheader",
      `  validatorContractTransition: { block: ${at}, address: "${address}" }`,
      `then 'gridchain generate', restart every node before block ${at}, and 'gridchain deploy' (the governance takes the contract over)`,
    ];
  } finally {
    await session.connection.close();
  }
}

export async function membersSync(options: SyncOptions): Promise<string[]> {
  const context = await chainContext(options);
  if (context.kind === "embedded") {
    return [
      "the embedded engine (anvil) has no node or account allowlists: nothing to sync; on the besu engine, 'gridchain members sync' applies the members on chain to each node's allowlists through perm_*",
    ];
  }
  const { session, governance } = await governanceSession(options, false);
  try {
    const { readMembers } = await import("../governance/client.js");
    const { syncAllowlists, describeSync } = await import("../governance/sync.js");
    const { rpcCall } = await import("../engines/rpc.js");
    const members = await readMembers(governance);
    const token = context.engine.rpcHeaders().authorization?.replace(/^Bearer /, "");
    const lines: string[] = [];
    for (const url of options.rpc ?? [context.engine.rpcUrl()]) {
      const report = await syncAllowlists(
        (method, params) => rpcCall(url, method, params, 10_000, { token }),
        members,
      );
      lines.push(...describeSync(url, report));
    }
    return lines;
  } finally {
    await session.connection.close();
  }
}

/** A contract's refusal as one operator line: the custom error's name and arguments. */
async function refusal(iface: import("ethers").Interface, error: unknown): Promise<Error> {
  const { organisationOf } = await import("../governance/members.js");
  const { PROPOSAL_STATES } = await import("../governance/states.js");
  const data = (error as { data?: string }).data;
  const parsed = typeof data === "string" ? iface.parseError(data) : null;
  if (parsed === null) return error as Error;
  if (parsed.name === "GovernanceWrongState") {
    const state = PROPOSAL_STATES[Number(parsed.args[1])] ?? String(parsed.args[1]);
    return new OperatorError(`proposal ${parsed.args[0]} is ${state}`, {
      hint: "see 'gridchain members status' for its votes and deadlines",
    });
  }
  return new OperatorError(
    `the governance refused: ${describeError(iface, parsed, organisationOf)}`,
    {
      hint: "see README, 'How a consortium adds and removes a member', for what each refusal means",
    },
  );
}

/** An error with its arguments; a failed call shows the call's own error, a member id its name. */
function describeError(
  iface: import("ethers").Interface,
  parsed: import("ethers").ErrorDescription,
  organisationOf: (id: string) => string,
): string {
  if (parsed.name === "GovernanceCallFailed") {
    const inner = iface.parseError(String(parsed.args[2]));
    if (inner !== null)
      return `call ${parsed.args[1]} failed: ${describeError(iface, inner, organisationOf)}`;
  }
  const args = parsed.args.map((arg, index) =>
    parsed.fragment.inputs[index]?.type === "bytes32" ? organisationOf(String(arg)) : String(arg),
  );
  return `${parsed.name}(${args.join(", ")})`;
}
