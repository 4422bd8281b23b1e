import type { Address, Hex } from "./keys.js";
import { VALIDATOR_SET_RUNTIME_CODE } from "./validator-set-code.js";

/**
 * Where the genesis puts the ValidatorSet contract. Any address without code would do; this one is
 * far from the precompiles (0x01-0x11, 0x100) and from every CREATE address, and easy to spot.
 */
export const VALIDATOR_CONTRACT_ADDRESS = "0x0000000000000000000000000000000000007a11" as Address;

/** The selector of `getValidators()`, the one call Besu makes (ValidatorContractController). */
export const GET_VALIDATORS_SELECTOR = "0xb7ab4db5";

/** How QBFT finds its validators: in the block headers (votes) or from the contract. */
export type ValidatorSelection =
  | { mode: "contract" }
  | {
      mode: "blockheader";
      /** A later switch to contract mode (Besu's `transitions.qbft`), when the YAML names one. */
      transition?: { block: number; address: Address };
    };

const word = (value: bigint): string => value.toString(16).padStart(64, "0");

/**
 * keccak256(uint256(0)): where the elements of the `address[]` at slot 0 start. A constant (the
 * array never moves), so `gridchain inspect` needs no hash library; the test recomputes it.
 */
const ARRAY_BASE = 0x290decd9548b62a8d60345a988386fc84ba6bc95484008f6362f93160ef3e563n;

/**
 * The genesis `storage` of a ValidatorSet holding `validators` and controlled by `controller`, by
 * Solidity's layout rules: `address[]` at slot 0 keeps its length at slot 0 and element i at
 * keccak256(uint256(0)) + i, each address right-aligned in its word; `address _controller` is slot 1.
 * Keys and values are 64 hex digits without 0x, as in Besu's own test genesis files.
 */
export function validatorContractStorage(
  validators: readonly Address[],
  controller: Address,
): Record<string, string> {
  const storage: Record<string, string> = {};
  storage[word(0n)] = word(BigInt(validators.length));
  const base = ARRAY_BASE;
  validators.forEach((validator, index) => {
    storage[word(base + BigInt(index))] = word(BigInt(validator));
  });
  storage[word(1n)] = word(BigInt(controller));
  return storage;
}

/** The alloc entry of the validator contract: code, storage, no balance. */
export function validatorContractAlloc(
  validators: readonly Address[],
  controller: Address,
): { balance: string; code: Hex; storage: Record<string, string> } {
  return {
    balance: "0x0",
    code: VALIDATOR_SET_RUNTIME_CODE as Hex,
    storage: validatorContractStorage(validators, controller),
  };
}

/**
 * The validators a ValidatorSet's genesis storage holds, read back by the same layout rules
 * (`gridchain inspect` of a contract-mode genesis, whose extraData lists none).
 */
export function validatorsFromStorage(storage: Record<string, string>): Address[] {
  const at = (slot: bigint) => {
    const key = word(slot);
    return storage[key] ?? storage[`0x${key}`];
  };
  const length = Number(BigInt(`0x${(at(0n) ?? "0").replace(/^0x/, "")}`));
  const base = ARRAY_BASE;
  return Array.from({ length }, (_, index) => {
    const value = (at(base + BigInt(index)) ?? "").replace(/^0x/, "");
    return `0x${value.slice(-40).padStart(40, "0")}` as Address;
  });
}
