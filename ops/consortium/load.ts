import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { z } from "zod/v4";
import { OperatorError } from "../errors.js";
import { describeIssue, formatPath, parseYamlWith } from "../yaml.js";
import { privateKeyProblem, publicKeyProblem } from "../besu/keys.js";
import { inSubnet, nodeNames, publishedPorts, subnetCapacity } from "./layout.js";
import {
  BESU_VERSIONS,
  LAST_CLIQUE_VERSION,
  PUBLIC_CHAIN_IDS,
  consortiumSchema,
  type ConsortiumSpec,
} from "./spec.js";

/** Reads, parses and validates a consortium YAML file; throws one OperatorError on the first problem. */
export function loadConsortium(file: string): ConsortiumSpec {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new OperatorError(`${file}: cannot read the consortium file`, {
      details: (error as Error).message,
      hint: "pass the file with -c, e.g. -c network/consortium.yaml",
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

  if (!spec.docker.publishHost.startsWith("127.")) {
    warnings.push(
      `RPC, Prometheus and Grafana are published on ${spec.docker.publishHost}: reachable from beyond this host`,
    );
  }

  return { ...spec, file, warnings };
}

function describeConsortiumIssue(issue: z.core.$ZodIssue): { path: string; what: string } {
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
  return describeIssue(issue);
}
