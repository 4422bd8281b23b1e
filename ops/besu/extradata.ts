import type { Address, Hex } from "./keys.js";
import { decodeRlp, encodeRlp } from "./rlp.js";

const ZERO_VANITY = `0x${"00".repeat(32)}` as Hex;

/** A pending validator vote carried in a QBFT header: add or drop `recipient`. */
export type QbftVote = { recipient: Address; type: "ADD" | "DROP" };

/** The parts of QBFT extraData: RLP([vanity, [validators], vote | [], round, [seals]]). */
export type QbftExtraData = {
  vanity: Hex;
  validators: Address[];
  vote: QbftVote | undefined;
  round: number;
  seals: Hex[];
};

/** The parts of Clique extraData: vanity(32) || signers(20 each) || proposer seal(65). */
export type CliqueExtraData = { vanity: Hex; signers: Address[]; seal: Hex };

const VOTE_ADD = "0xff";
const VOTE_DROP = "0x";

/**
 * QBFT extraData. A genesis passes only validators: no vote is the empty LIST (0xc0) and round 0
 * the empty string (0x80), hence the `c080c0` suffix; IBFT 2.0 writes 0x80 and a fixed 4-byte
 * round instead, and Besu rejects a QBFT genesis in that form. Validator order is kept as given.
 */
export function encodeQbftExtraData(parts: {
  validators: readonly Address[];
  vanity?: Hex;
  vote?: QbftVote | undefined;
  round?: number;
  seals?: readonly Hex[];
}): Hex {
  const vanity = parts.vanity ?? ZERO_VANITY;
  if (vanity.length !== 66) throw new Error(`vanity must be 32 bytes, got ${vanity}`);
  const vote =
    parts.vote === undefined
      ? []
      : [parts.vote.recipient, parts.vote.type === "ADD" ? VOTE_ADD : VOTE_DROP];
  const round = parts.round ?? 0;
  const roundHex = round.toString(16);
  const roundBytes = round === 0 ? "0x" : `0x${roundHex.length % 2 === 0 ? "" : "0"}${roundHex}`;
  return encodeRlp([
    vanity,
    [...parts.validators],
    vote,
    roundBytes,
    [...(parts.seals ?? [])],
  ]) as Hex;
}

/** Splits QBFT extraData into its parts; throws when the data is not QBFT's shape. */
export function decodeQbftExtraData(extraData: string): QbftExtraData {
  const decoded = decodeRlp(extraData);
  if (!Array.isArray(decoded) || decoded.length !== 5) {
    throw new Error("QBFT extraData is an RLP list of 5 items");
  }
  const [vanity, validators, vote, round, seals] = decoded;
  if (typeof vanity !== "string" || !Array.isArray(validators) || !Array.isArray(seals)) {
    throw new Error("QBFT extraData must hold vanity, a validator list and a seal list");
  }
  if (!Array.isArray(vote)) {
    throw new Error(
      "QBFT extraData carries its vote as a list (an empty string is IBFT 2.0's form)",
    );
  }
  if (typeof round !== "string") throw new Error("QBFT round must be a scalar");
  let parsedVote: QbftVote | undefined;
  if (vote.length === 2 && typeof vote[0] === "string") {
    parsedVote = { recipient: toAddress(vote[0]), type: vote[1] === VOTE_ADD ? "ADD" : "DROP" };
  } else if (vote.length !== 0) {
    throw new Error("QBFT vote must be empty or [recipient, type]");
  }
  return {
    vanity: vanity as Hex,
    validators: validators.map((entry) => toAddress(entry as string)),
    vote: parsedVote,
    round: round === "0x" ? 0 : Number(BigInt(round)),
    seals: seals.map((seal) => (seal as string).toLowerCase() as Hex),
  };
}

/** Clique extraData: the signers are the node-key addresses of the validators. */
export function encodeCliqueExtraData(parts: { signers: readonly Address[]; vanity?: Hex }): Hex {
  if (parts.signers.length === 0) throw new Error("a Clique genesis needs at least one signer");
  const vanity = parts.vanity ?? ZERO_VANITY;
  if (vanity.length !== 66) throw new Error(`vanity must be 32 bytes, got ${vanity}`);
  const signers = parts.signers.map((signer) => signer.slice(2).toLowerCase()).join("");
  return `${vanity.toLowerCase()}${signers}${"00".repeat(65)}` as Hex;
}

/** Splits Clique extraData into vanity, signers and seal. */
export function decodeCliqueExtraData(extraData: string): CliqueExtraData {
  const hex = extraData.replace(/^0x/i, "").toLowerCase();
  const signerHex = hex.length - 64 - 130;
  if (!/^[0-9a-f]*$/.test(hex) || signerHex < 0 || signerHex % 40 !== 0) {
    throw new Error("Clique extraData is 32 bytes vanity, 20 bytes per signer and a 65-byte seal");
  }
  const signers: Address[] = [];
  for (let at = 64; at < 64 + signerHex; at += 40) {
    signers.push(toAddress(`0x${hex.slice(at, at + 40)}`));
  }
  return {
    vanity: `0x${hex.slice(0, 64)}` as Hex,
    signers,
    seal: `0x${hex.slice(64 + signerHex)}` as Hex,
  };
}

/** A 20-byte address from decoded bytes, in the lower-case form of generated files. */
function toAddress(text: string): Address {
  if (!/^0x[0-9a-fA-F]{40}$/.test(text)) throw new Error(`not a 20-byte address: ${text}`);
  return text.toLowerCase() as Address;
}
