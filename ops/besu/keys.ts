import { randomBytes } from "node:crypto";
import { SigningKey, computeAddress, getAddress } from "ethers";
import { privateKeyProblem, publicKeyProblem } from "./key-checks.js";

export { privateKeyProblem, publicKeyProblem };

/** A 0x-prefixed, lower-case hex string. */
export type Hex = `0x${string}`;
/** A 20-byte address, 0x-prefixed and lower-case (the form Besu writes in its files). */
export type Address = Hex & { readonly __brand: "Address" };

/**
 * A secp256k1 node or account key. `privateKey` is absent for a node run elsewhere that was
 * imported by its public key only: it appears in the genesis and the allowlists, never in compose.
 */
export type KeyPair = {
  readonly privateKey: Hex | undefined;
  /** 64-byte uncompressed public key without the 0x04 prefix, as Besu prints it. */
  readonly publicKey: Hex;
  readonly address: Address;
};

/** The key pair of a private key (64 hex digits, 0x optional); throws on a malformed key. */
export function keyFromPrivate(text: string): KeyPair {
  const problem = privateKeyProblem(text);
  if (problem !== undefined) throw new Error(problem);
  const privateKey = `0x${text.trim().replace(/^0x/i, "").toLowerCase()}` as Hex;
  const uncompressed = new SigningKey(privateKey).publicKey;
  return {
    privateKey,
    publicKey: `0x${uncompressed.slice(4)}` as Hex,
    address: computeAddress(uncompressed).toLowerCase() as Address,
  };
}

/** The public half of a node key (128 hex digits, 0x optional); throws on a malformed key. */
export function keyFromPublic(text: string): KeyPair {
  const problem = publicKeyProblem(text);
  if (problem !== undefined) throw new Error(problem);
  const hex = text.trim().replace(/^0x/i, "").toLowerCase();
  return {
    privateKey: undefined,
    publicKey: `0x${hex}` as Hex,
    address: computeAddress(`0x04${hex}`).toLowerCase() as Address,
  };
}

/** A fresh key from the operating system's random source. */
export function generateKey(): KeyPair {
  for (;;) {
    const candidate = randomBytes(32).toString("hex");
    if (privateKeyProblem(candidate) === undefined) return keyFromPrivate(candidate);
  }
}

/** `enode://<public key>@<ip>:<port>`: the form static-nodes.json and the allowlist need. */
export function enodeUrl(key: KeyPair, ip: string, port: number): string {
  return `enode://${key.publicKey.slice(2)}@${ip}:${port}`;
}

/** Checks an address and returns it in the lower-case form used in generated files. */
export function toAddress(text: string): Address {
  return getAddress(text).toLowerCase() as Address;
}
