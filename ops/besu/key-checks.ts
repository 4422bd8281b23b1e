/**
 * Key checks that need no elliptic-curve library, so that reading a consortium file (every
 * command does) does not load ethers.
 */
const SECP256K1_P = 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2fn;
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** Why a text is not a usable key, or undefined when it is one. */
export function privateKeyProblem(text: string): string | undefined {
  const hex = text.trim().replace(/^0x/i, "");
  if (!/^[0-9a-fA-F]{64}$/.test(hex))
    return "a private key is 32 bytes: 64 hex digits, 0x optional";
  const value = BigInt(`0x${hex}`);
  if (value === 0n || value >= SECP256K1_N) return "the value is outside the secp256k1 key range";
  return undefined;
}

/** Why a text is not a node public key, or undefined when it is one. */
export function publicKeyProblem(text: string): string | undefined {
  const hex = text.trim().replace(/^0x/i, "");
  if (!/^[0-9a-fA-F]{128}$/.test(hex)) {
    return "a node public key is 64 bytes: 128 hex digits (uncompressed, without the 04 prefix)";
  }
  const x = BigInt(`0x${hex.slice(0, 64)}`);
  const y = BigInt(`0x${hex.slice(64)}`);
  if (x >= SECP256K1_P || y >= SECP256K1_P || (y * y - (x * x * x + 7n)) % SECP256K1_P !== 0n) {
    return "the value is not a point on the secp256k1 curve";
  }
  return undefined;
}
