import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { z } from "zod/v4";
import { OperatorError } from "../errors.js";
import { parseYamlWith } from "../yaml.js";
import { formatPath, type IssueWords } from "../yaml-issues.js";
import { privateKeyProblem, publicKeyProblem } from "../besu/key-checks.js";
import { inSubnet, nodeNames, publishedPorts, subnetCapacity } from "./layout.js";
import {
  BESU_VERSIONS,
  LAST_CLIQUE_VERSION,
  PUBLIC_CHAIN_IDS,
  consortiumSchema,
  type ConsortiumSpec,
} from "./spec.js";

/** EIP-3860's initcode limit, which genesis.contractSizeLimit does not change in Besu. */
export const MAX_INITCODE_BYTES = 49_152;

/** Reads, parses and validates a consortium YAML file; throws one OperatorError on the first problem. */
export function loadConsortium(file: string): ConsortiumSpec {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new OperatorError(`${file}: cannot read the consortium file`, {
      details:
        (error as NodeJS.ErrnoException).code === "ENOENT"
          ? "no such file"
          : (error as Error).message,
      hint: `create it with 'gridchain init -c ${file}', or name another file with -c`,
    });
  }
  return parseConsortium(text, file);
}

/** Validates consortium YAML text; `file` names it in errors and anchors relative key files. */
export function parseConsortium(text: string, file: string): ConsortiumSpec {
  const { data: spec, fail } = parseYamlWith(text, file, consortiumSchema, describeConsortiumIssue);
  const warnings: string[] = [];

  const publicChain = PUBLIC_CHAIN_IDS.get(spec.chainId);
  if (publicChain !== undefined && !spec.allowPublicChainId) {
    fail(
      "chainId",
      `${spec.chainId} is the chain id of ${publicChain}: transactions signed for one chain would be valid on the other`,
      "pick an id no public network uses (e.g. 2026), or set allowPublicChainId: true for a deliberate replica",
    );
  }

  // Consensus against the pinned Besu version.
  const consensus = spec.consensus;
  if (consensus.protocol === "clique") {
    if (spec.besu.version !== LAST_CLIQUE_VERSION) {
      fail(
        "consensus.protocol",
        `clique needs Besu <= ${LAST_CLIQUE_VERSION} (Besu removed Clique in 26.4.0), the file pins ${spec.besu.version}`,
        `set besu.version: ${LAST_CLIQUE_VERSION}, or use protocol: qbft`,
      );
    }
    if (consensus.emptyBlockPeriodSeconds !== undefined) {
      fail(
        "consensus.emptyBlockPeriodSeconds",
        "Clique has no empty-block period",
        "use createEmptyBlocks: true|false",
      );
    }
    if (consensus.requestTimeoutSeconds !== undefined) {
      fail("consensus.requestTimeoutSeconds", "Clique has no round timeout; it is a QBFT setting");
    }
  } else if (consensus.createEmptyBlocks !== undefined) {
    fail(
      "consensus.createEmptyBlocks",
      "createEmptyBlocks is a Clique setting",
      "for QBFT use emptyBlockPeriodSeconds",
    );
  }
  if (
    consensus.emptyBlockPeriodSeconds !== undefined &&
    consensus.emptyBlockPeriodSeconds < consensus.blockPeriodSeconds
  ) {
    fail(
      "consensus.emptyBlockPeriodSeconds",
      `must be at least blockPeriodSeconds (${consensus.blockPeriodSeconds}), got ${consensus.emptyBlockPeriodSeconds}`,
    );
  }

  if (consensus.protocol === "clique" && consensus.validatorSelection === "contract") {
    fail(
      "consensus.validatorSelection",
      "Clique has no contract validator selection",
      "use blockheader",
    );
  }
  if (consensus.validatorContractTransition !== undefined) {
    if (consensus.protocol !== "qbft" || consensus.validatorSelection !== "blockheader") {
      fail(
        "consensus.validatorContractTransition",
        "a transition moves a QBFT network from block-header to contract validators",
        "set consensus.validatorSelection: blockheader (the mode the chain started in)",
      );
    }
  }

  // contractSizeLimit raises the code-size limit only: the initcode limit stays EIP-3860's 49,152
  // bytes (ethereum/core/.../mainnet/ProtocolScheduleBuilder.java passes no initcode override).
  if (spec.genesis.contractSizeLimit > MAX_INITCODE_BYTES) {
    warnings.push(
      `genesis.contractSizeLimit ${spec.genesis.contractSizeLimit} is above the initcode limit of ${MAX_INITCODE_BYTES} bytes, which Besu keeps: a contract deployed by a transaction cannot be that large`,
    );
  }

  // Market zones first: organisations and accounts refer to them.
  const zoneIds = new Set<string>();
  spec.market.zones.forEach((zone, index) => {
    if (zoneIds.has(zone.id)) fail(`market.zones[${index}].id`, `duplicate zone id "${zone.id}"`);
    zoneIds.add(zone.id);
  });
  const allowedZones = [...zoneIds].join(", ");
  if (spec.market.reviewMode === "threshold" && spec.market.manualAboveKwh === undefined) {
    fail(
      "market.manualAboveKwh",
      "reviewMode threshold needs manualAboveKwh (orders above it wait for the grid)",
    );
  }

  // Organisations.
  const orgIds = new Set<string>();
  let gridOperators = 0;
  let validators = 0;
  spec.organisations.forEach((org, index) => {
    const at = `organisations[${index}]`;
    if (orgIds.has(org.id))
      fail(
        `${at}.id`,
        `duplicate organisation id "${org.id}"`,
        "each organisation id must be unique",
      );
    orgIds.add(org.id);
    if (org.role === "grid-operator") gridOperators += 1;
    if (org.zone === undefined) org.zone = spec.market.zones[0]!.id;
    else if (!zoneIds.has(org.zone))
      fail(`${at}.zone`, `unknown zone "${org.zone}"; allowed: ${allowedZones}`);
    validators += org.validators;
    const names = nodeNames(org);
    for (const [node, key] of Object.entries(org.importedKeys)) {
      const keyPath = `${at}.importedKeys.${node}`;
      if (!names.all.includes(node)) {
        fail(
          keyPath,
          `no node "${node}" in organisation ${org.id}; its nodes are ${names.all.join(", ") || "none"}`,
        );
      }
      if ("keyFile" in key) {
        const keyFile = resolve(dirname(file), key.keyFile);
        let content: string;
        try {
          content = readFileSync(keyFile, "utf8");
        } catch {
          return fail(`${keyPath}.keyFile`, `cannot read ${keyFile}`);
        }
        const problem = privateKeyProblem(content);
        if (problem !== undefined)
          fail(`${keyPath}.keyFile`, `malformed key in ${keyFile}: ${problem}`);
        key.keyFile = keyFile;
      } else {
        if (!names.validators.includes(node)) {
          fail(keyPath, "only a validator can be imported by public key (a node run elsewhere)");
        }
        const problem = publicKeyProblem(key.publicKey);
        if (problem !== undefined) fail(`${keyPath}.publicKey`, `malformed public key: ${problem}`);
        if (inSubnet(spec.docker.subnet, key.ip)) {
          fail(
            `${keyPath}.ip`,
            `${key.ip} is inside the compose subnet ${spec.docker.subnet}; a node run elsewhere needs an address outside it`,
          );
        }
      }
    }
  });
  if (gridOperators !== 1) {
    fail(
      "organisations",
      `exactly one organisation must have role grid-operator, found ${gridOperators}`,
    );
  }
  if (validators === 0) {
    fail(
      "organisations",
      "the network has 0 validators; at least one organisation needs validators >= 1",
    );
  }
  checkValidatorSpread(spec, validators, warnings, fail);
  if (consensus.protocol === "qbft" && validators < 4) {
    warnings.push(
      `${validators} QBFT validator${validators === 1 ? "" : "s"}: the network cannot tolerate a faulty validator (that needs at least 4)`,
    );
  }

  // Accounts.
  const addresses = new Set<string>();
  spec.accounts.explicit.forEach((account, index) => {
    const at = `accounts.explicit[${index}]`;
    const address = account.address.toLowerCase();
    if (addresses.has(address)) fail(`${at}.address`, `duplicate account ${account.address}`);
    addresses.add(address);
    if (!orgIds.has(account.organisation)) {
      fail(
        `${at}.organisation`,
        `unknown organisation "${account.organisation}"; allowed: ${[...orgIds].join(", ")}`,
      );
    }
    if (account.zone !== undefined && !zoneIds.has(account.zone)) {
      fail(`${at}.zone`, `unknown zone "${account.zone}"; allowed: ${allowedZones}`);
    }
  });

  // Docker: room on the subnet and distinct host ports.
  const composeNodes = spec.organisations.reduce(
    (sum, org) =>
      sum +
      nodeNames(org).all.filter((node) => {
        const key = org.importedKeys[node];
        return key === undefined || "keyFile" in key;
      }).length,
    0,
  );
  const capacity = subnetCapacity(spec.docker.subnet);
  if (composeNodes > capacity) {
    fail(
      "docker.subnet",
      `${spec.docker.subnet} has room for ${capacity} nodes (addresses .1-.9 are kept for the gateway and monitoring), the network has ${composeNodes}`,
      "use a larger subnet, e.g. a /23",
    );
  }
  const ports = publishedPorts(spec);
  const seen = new Map<number, string>();
  for (const { port, what } of ports) {
    if (port > 65535) fail("docker.hostPorts", `${what} would need host port ${port}, above 65535`);
    const other = seen.get(port);
    if (other !== undefined) {
      fail(
        "docker.hostPorts",
        `port clash: ${other} and ${what} both use host port ${port}`,
        "give each a distinct port",
      );
    }
    seen.set(port, what);
  }

  const tls = spec.docker.rpcTls;
  if (tls !== undefined) {
    for (const field of ["keystoreFile", "passwordFile", "caFile"] as const) {
      const given = tls[field];
      if (given === undefined) continue;
      const path = resolve(dirname(file), given);
      try {
        readFileSync(path);
      } catch {
        fail(`docker.rpcTls.${field}`, `cannot read ${path}`);
      }
      tls[field] = path;
    }
  }
  if (!spec.docker.publishHost.startsWith("127.")) {
    warnings.push(
      `RPC, Prometheus and Grafana are published on ${spec.docker.publishHost}: reachable from beyond this host`,
    );
  }

  return { ...spec, file, warnings };
}

/**
 * Blocks need a quorum of validators: QBFT ceil(2n/3) (consensus/common/.../bft/BftHelpers.java,
 * calculateRequiredValidatorQuorum), Clique more than half of the signers. An organisation whose
 * validators keep the others below it can halt the chain (warned); one that reaches it alone can
 * make blocks without anyone else (refused unless consensus.allowValidatorMajority says so).
 */
function checkValidatorSpread(
  spec: z.output<typeof consortiumSchema>,
  total: number,
  warnings: string[],
  fail: (path: string, what: string, hint?: string) => never,
): void {
  if (total === 0) return;
  const quorum =
    spec.consensus.protocol === "qbft" ? Math.ceil((2 * total) / 3) : Math.floor(total / 2) + 1;
  spec.organisations.forEach((org, index) => {
    const held = org.validators;
    if (held === 0) return;
    const share = `${held} of the ${total} validators`;
    if (held >= quorum && !spec.consensus.allowValidatorMajority) {
      fail(
        `organisations[${index}].validators`,
        `${org.id} holds ${share}, a quorum (${quorum}) on its own: it could make blocks without any other organisation`,
        "spread the validators over the organisations, or set consensus.allowValidatorMajority: true",
      );
    }
    if (total - held < quorum) {
      warnings.push(
        `${org.id} holds ${share}: without it the others (${total - held}) are below the quorum of ${quorum}, so it alone can halt the chain`,
      );
    }
  });
}

function describeConsortiumIssue(issue: z.core.$ZodIssue): IssueWords | undefined {
  if (issue.code === "invalid_value" && issue.path.join(".") === "besu.version") {
    return {
      path: "besu.version",
      what: `unsupported Besu version; allowed: ${BESU_VERSIONS.join(", ")}`,
    };
  }
  if (issue.code === "invalid_union" && issue.path.includes("importedKeys")) {
    return {
      path: formatPath(issue.path),
      what: "an imported key is either { keyFile } or { publicKey, ip, p2pPort? }",
    };
  }
  return undefined;
}
