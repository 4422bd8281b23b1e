import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { OperatorError } from "../errors.js";
import { decodeCliqueExtraData, decodeQbftExtraData } from "./extradata.js";
import { validatorsFromStorage } from "./validator-contract.js";

type NodeEntry = { name: string; organisation: string; address: string };

/**
 * Lines describing a genesis file: consensus, chain id, and each validator with its node name and
 * organisation when the generated nodes.json lies beside the genesis.
 */
export function inspectGenesis(file: string): string[] {
  let genesis: {
    config?: Record<string, unknown>;
    extraData?: string;
    alloc?: Record<string, { storage?: Record<string, string> }>;
  };
  try {
    genesis = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new OperatorError(`${file}: cannot read the genesis file as JSON`, {
      details: (error as Error).message,
    });
  }
  const config = genesis.config ?? {};
  const keys = Object.keys(config).map((key) => key.toLowerCase());
  const extraData = genesis.extraData;
  if (typeof extraData !== "string") throw new OperatorError(`${file}: extraData: missing`);
  let consensus: string;
  let validators: string[];
  try {
    if (keys.includes("qbft")) {
      consensus = "QBFT";
      validators = decodeQbftExtraData(extraData).validators;
      // Contract mode: the header lists none; the genesis validator contract's storage holds them.
      const contract = (config.qbft as Record<string, unknown> | undefined)
        ?.validatorcontractaddress;
      if (typeof contract === "string") {
        const entry = Object.entries(genesis.alloc ?? {}).find(
          ([address]) => address.toLowerCase() === contract.toLowerCase(),
        )?.[1];
        validators = validatorsFromStorage(entry?.storage ?? {});
      }
    } else if (keys.includes("clique")) {
      consensus = "Clique";
      validators = decodeCliqueExtraData(extraData).signers;
    } else {
      throw new OperatorError(`${file}: config: neither qbft nor clique`, {
        hint: "gridchain inspects QBFT and Clique genesis files",
      });
    }
  } catch (error) {
    if (error instanceof OperatorError) throw error;
    throw new OperatorError(`${file}: extraData: not valid for the consensus it names`, {
      details: (error as Error).message,
    });
  }
  const nodesFile = join(dirname(file), "nodes.json");
  const byAddress = new Map<string, NodeEntry>();
  if (existsSync(nodesFile)) {
    for (const node of JSON.parse(readFileSync(nodesFile, "utf8")) as NodeEntry[]) {
      byAddress.set(node.address.toLowerCase(), node);
    }
  }
  const chainId = config.chainId ?? config.chainid;
  const lines = [
    `consensus: ${consensus}`,
    `chain id: ${String(chainId)}`,
    `validators: ${validators.length}`,
  ];
  for (const address of validators) {
    const node = byAddress.get(address);
    lines.push(
      node === undefined ? `  ${address}` : `  ${address}  ${node.name}  (${node.organisation})`,
    );
  }
  return lines;
}
