import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { OperatorError } from "../errors.js";
import { generateKey, keyFromPrivate, keyFromPublic, type KeyPair } from "../besu/keys.js";
import { generatedAccountSlots, nodeKeySources, type NetworkKeys, type RpcJwtKey } from "./plan.js";
import type { ConsortiumSpec } from "./spec.js";

/** Where keys came from in this run: the CLI reports counts, never key material. */
export type KeyOrigins = {
  nodesGenerated: string[];
  /** Generated in place of an existing key because of `rotate`. */
  nodesRotated: string[];
  nodesReused: string[];
  nodesImported: string[];
  accountsGenerated: string[];
  accountsReused: string[];
};

/** Path of a node's private key inside the network folder. */
export const nodeKeyPath = (node: string) => `nodes/${node}/key`;
/** Path of an account's private key inside the network folder. */
export const accountKeyPath = (id: string) => `accounts/${id}.key`;

/**
 * The keys of a network: those already in `outDir` are reused, imported ones come from the YAML,
 * the rest are generated. `rotate` regenerates node keys that were generated before (never
 * imported ones, never account keys: accounts hold credits and roles on chain). Nothing is written.
 */
export function resolveKeys(
  spec: ConsortiumSpec,
  outDir: string,
  options: { rotate: boolean; generate?: () => KeyPair } = { rotate: false },
): { keys: NetworkKeys; origins: KeyOrigins } {
  const generate = options.generate ?? generateKey;
  const origins: KeyOrigins = {
    nodesGenerated: [],
    nodesRotated: [],
    nodesReused: [],
    nodesImported: [],
    accountsGenerated: [],
    accountsReused: [],
  };
  const nodes = new Map<string, KeyPair>();
  for (const source of nodeKeySources(spec)) {
    if (source.source === "keyFile") {
      nodes.set(source.node, readKey(source.keyFile));
      origins.nodesImported.push(source.node);
    } else if (source.source === "publicKey") {
      nodes.set(source.node, keyFromPublic(source.publicKey));
      origins.nodesImported.push(source.node);
    } else {
      const file = join(outDir, nodeKeyPath(source.node));
      if (!options.rotate && existsSync(file)) {
        nodes.set(source.node, readKey(file));
        origins.nodesReused.push(source.node);
      } else {
        nodes.set(source.node, generate());
        origins.nodesGenerated.push(source.node);
        if (existsSync(file)) origins.nodesRotated.push(source.node);
      }
    }
  }
  const accounts = new Map<string, KeyPair>();
  for (const slot of generatedAccountSlots(spec)) {
    const file = join(outDir, accountKeyPath(slot.id));
    if (existsSync(file)) {
      accounts.set(slot.id, readKey(file));
      origins.accountsReused.push(slot.id);
    } else {
      accounts.set(slot.id, generate());
      origins.accountsGenerated.push(slot.id);
    }
  }
  const keys: NetworkKeys = { nodes, accounts };
  // RPC beyond 127.0.0.1 takes only tokens signed with this key (see rpcAuthRequired).
  if (!spec.docker.publishHost.startsWith("127."))
    keys.rpcJwt = rpcJwtKey(join(outDir, "rpc-jwt.key"));
  return { keys, origins };
}

/** The RPC token key in `file`, or a new RSA 2048 key (RS256, Besu's default JWT algorithm). */
function rpcJwtKey(file: string): RpcJwtKey {
  if (existsSync(file)) {
    try {
      const privateKey = createPrivateKey(readFileSync(file, "utf8"));
      return {
        privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
        publicKeyPem: createPublicKey(privateKey)
          .export({ type: "spki", format: "pem" })
          .toString(),
      };
    } catch (error) {
      throw new OperatorError(`${file}: malformed RPC token key`, {
        details: (error as Error).message,
        hint: "delete it to generate a new one (tokens signed with the old key stop working)",
      });
    }
  }
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
}

function readKey(file: string): KeyPair {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new OperatorError(`${file}: cannot read key file`, { details: (error as Error).message });
  }
  try {
    return keyFromPrivate(text);
  } catch (error) {
    throw new OperatorError(`${file}: malformed private key`, {
      details: (error as Error).message,
      hint: "restore the file from a backup, or delete it to generate a new key",
    });
  }
}
