import { createRequire } from "node:module";
import {
  Signature,
  getAddress,
  getBytes,
  hexlify,
  keccak256,
  recoverAddress,
  type SigningKey,
} from "ethers";
import type { Address, Hash } from "./proofs.js";

/**
 * secp256k1 signing and recovery over a 32-byte digest, as the contract's ECDSA checks them:
 * 65-byte r,s,v signatures (v 27/28), low-s only, RFC 6979 deterministic nonces.
 */
export type Ecdsa = {
  readonly name: string;
  sign(key: SigningKey, digest: Hash): string;
  /** The signer's address, or undefined for a malformed or non-canonical signature. */
  recover(digest: Hash, signature: string): Address | undefined;
};

/** ethers' pure-JavaScript secp256k1: always available. */
export const ethersEcdsa: Ecdsa = {
  name: "ethers (JavaScript)",
  sign: (key, digest) => key.sign(digest).serialized,
  recover(digest, signature) {
    try {
      return recoverAddress(digest, Signature.from(signature));
    } catch {
      return undefined;
    }
  },
};

/** The subset of the `secp256k1` package (libsecp256k1 bindings) used here. */
type Libsecp256k1 = {
  ecdsaSign(message: Uint8Array, privateKey: Uint8Array): { signature: Uint8Array; recid: number };
  ecdsaRecover(
    signature: Uint8Array,
    recid: number,
    message: Uint8Array,
    compressed: boolean,
  ): Uint8Array;
};

const HALF_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

function loadLibsecp256k1(): Libsecp256k1 | undefined {
  try {
    return createRequire(import.meta.url)("secp256k1/bindings") as Libsecp256k1;
  } catch {
    return undefined;
  }
}

function bytesOf(hex: string): Buffer {
  return Buffer.from(hex.startsWith("0x") ? hex.slice(2) : hex, "hex");
}

function nativeEcdsa(lib: Libsecp256k1): Ecdsa {
  const keys = new WeakMap<SigningKey, Uint8Array>();
  // A channel client recovers its few partners' keys over and over: remember their addresses.
  const addresses = new Map<string, Address>();
  return {
    name: "libsecp256k1 (native)",
    sign(key, digest) {
      let secret = keys.get(key);
      if (!secret) {
        secret = bytesOf(key.privateKey);
        keys.set(key, secret);
      }
      const { signature, recid } = lib.ecdsaSign(bytesOf(digest), secret);
      const out = Buffer.alloc(65);
      out.set(signature, 0);
      out[64] = 27 + recid;
      return `0x${out.toString("hex")}`;
    },
    recover(digest, signature) {
      if (signature.length !== 132 || !/^0x[0-9a-fA-F]*$/.test(signature)) return undefined;
      const bytes = bytesOf(signature);
      const v = bytes[64]!;
      if (v !== 27 && v !== 28) return undefined;
      const s = BigInt(`0x${signature.slice(66, 130)}`);
      if (s === 0n || s > HALF_ORDER) return undefined;
      try {
        const publicKey = lib.ecdsaRecover(bytes.subarray(0, 64), v - 27, bytesOf(digest), false);
        const id = Buffer.from(publicKey).toString("hex");
        let address = addresses.get(id);
        if (address === undefined) {
          address = getAddress(`0x${keccak256(publicKey.subarray(1)).slice(26)}`);
          if (addresses.size >= 10_000) addresses.clear();
          addresses.set(id, address);
        }
        return address;
      } catch {
        return undefined;
      }
    },
  };
}

const lib = loadLibsecp256k1();

/** The native implementation, when its binding is installed (about 30 times faster than ethers). */
export const libsecp256k1Ecdsa: Ecdsa | undefined = lib ? nativeEcdsa(lib) : undefined;

/** libsecp256k1 when its native binding is installed, otherwise ethers. */
export const defaultEcdsa: Ecdsa = libsecp256k1Ecdsa ?? ethersEcdsa;
