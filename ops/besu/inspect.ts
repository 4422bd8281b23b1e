import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { OperatorError } from "../errors.js";
import { decodeCliqueExtraData, decodeQbftExtraData } from "./extradata.js";

type NodeEntry = { name: string; organisation: string; address: string };

/**
 * Lines describing a genesis file: consensus, chain id, and each validator with its node name and
 * organisation when the generated nodes.json lies beside the genesis.
 */
export function inspectGenesis(file: string): string[] {
  let genesis: { config?: Record<string, unknown>; extraData?: string };
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
