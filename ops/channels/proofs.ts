import {
  AbiCoder,
  type SigningKey,
  TypedDataEncoder,
  computeAddress,
  getAddress,
  getBytes,
  keccak256,
  toUtf8Bytes,
  type TypedDataField,
} from "ethers";

/** A 20-byte account address, checksummed. */
export type Address = string;
/** An amount of GridCredit in base units (6 decimals). */
export type Credits = bigint;
/** A 32-byte hex string. */
export type Hash = string;

/** The EIP-712 domain every PaymentChannels signature is bound to (name and version are fixed). */
export type ChannelsDomain = { chainId: bigint; verifyingContract: Address };

export const DOMAIN_NAME = "PaymentChannels";
export const DOMAIN_VERSION = "1";

const PROOF_FIELDS: TypedDataField[] = [
  { name: "channelId", type: "uint256" },
  { name: "nonce", type: "uint256" },
  { name: "transferredAmount", type: "uint256" },
  { name: "additionalHash", type: "bytes32" },
];

/** One typed struct per intent: a signature for one is worthless for any other. */
export const INTENT_TYPES = {
  BalanceProof: { BalanceProof: PROOF_FIELDS },
  Close: { Close: PROOF_FIELDS },
  Update: { Update: PROOF_FIELDS },
  Withdraw: {
    Withdraw: [
      { name: "channelId", type: "uint256" },
      { name: "participant", type: "address" },
      { name: "totalWithdraw", type: "uint256" },
      { name: "expiry", type: "uint256" },
      { name: "nonce", type: "uint256" },
      { name: "transferredAmount", type: "uint256" },
      { name: "partnerNonce", type: "uint256" },
      { name: "partnerTransferredAmount", type: "uint256" },
    ],
  },
  CooperativeSettle: {
    CooperativeSettle: [
      { name: "channelId", type: "uint256" },
      { name: "participant1", type: "address" },
      { name: "amount1", type: "uint256" },
      { name: "nonce1", type: "uint256" },
      { name: "participant2", type: "address" },
      { name: "amount2", type: "uint256" },
      { name: "nonce2", type: "uint256" },
      { name: "expiry", type: "uint256" },
    ],
  },
} as const satisfies Record<string, Record<string, TypedDataField[]>>;

/** The intents whose struct is a balance proof's four fields. */
export type ProofIntent = "BalanceProof" | "Close" | "Update";

/** What a balance proof states: `transferredAmount` is cumulative, `nonce` strictly increasing. */
export type BalanceProofFields = {
  channelId: bigint;
  nonce: bigint;
  transferredAmount: Credits;
  additionalHash: Hash;
};

/** A balance proof with its sender's EIP-712 signature (65 bytes, hex). */
export type SignedBalanceProof = BalanceProofFields & { sender: Address; signature: string };

/**
 * A withdrawal both sides sign: `participant` may withdraw up to `totalWithdraw` in total until
 * `expiry` (unix seconds, block time), in the state where `participant` has paid `transferredAmount`
 * (its proof `nonce`) and its partner `partnerTransferredAmount` (its proof `partnerNonce`).
 */
export type WithdrawFields = {
  channelId: bigint;
  participant: Address;
  totalWithdraw: Credits;
  expiry: bigint;
  nonce: bigint;
  transferredAmount: Credits;
  partnerNonce: bigint;
  partnerTransferredAmount: Credits;
};

/** A cooperative settlement: the final split, each side's latest proof nonce, and when it lapses. */
export type CooperativeSettleFields = {
  channelId: bigint;
  participant1: Address;
  amount1: Credits;
  nonce1: bigint;
  participant2: Address;
  amount2: Credits;
  nonce2: bigint;
  expiry: bigint;
};

export const ZERO_HASH: Hash = `0x${"00".repeat(32)}`;

/** The ethers domain object for `TypedDataEncoder` and `signTypedData`. */
export function typedDataDomain(domain: ChannelsDomain) {
  return {
    name: DOMAIN_NAME,
    version: DOMAIN_VERSION,
    chainId: domain.chainId,
    verifyingContract: domain.verifyingContract,
  };
}

/**
 * The additional hash that binds a payment to the market order it pays for and the delivery
 * interval of that order: keccak256(abi.encode(market, orderId, deliveryStart, deliveryEnd)).
 */
export function orderPaymentHash(order: {
  market: Address;
  orderId: bigint;
  deliveryStart: bigint;
  deliveryEnd: bigint;
}): Hash {
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(
      ["address", "uint256", "uint64", "uint64"],
      [order.market, order.orderId, order.deliveryStart, order.deliveryEnd],
    ),
  );
}

const WORD = 32;

const UINT256_LIMIT = 1n << 256n;

function writeWord(target: Buffer, offset: number, value: bigint): void {
  if (value < 0n || value >= UINT256_LIMIT)
    throw new RangeError(`${value} does not fit in uint256`);
  target.write(value.toString(16).padStart(64, "0"), offset, WORD, "hex");
}

/**
 * Digests of one contract's typed messages. The domain separator and type hashes are computed once;
 * a balance proof digest is then two keccak256 over fixed-size buffers, which keeps signing and
 * verifying off-chain payments cheap. Equal to `TypedDataEncoder.hash` (pinned by the tests).
 */
export class ChannelsTypedData {
  readonly domain: ChannelsDomain;
  private readonly separator: Uint8Array;
  private readonly proofTypeHash: Record<ProofIntent, Uint8Array>;

  constructor(domain: ChannelsDomain) {
    this.domain = {
      chainId: domain.chainId,
      verifyingContract: getAddress(domain.verifyingContract),
    };
    this.separator = getBytes(TypedDataEncoder.hashDomain(typedDataDomain(this.domain)));
    const typeHash = (name: ProofIntent) =>
      getBytes(
        keccak256(
          toUtf8Bytes(
            `${name}(uint256 channelId,uint256 nonce,uint256 transferredAmount,bytes32 additionalHash)`,
          ),
        ),
      );
    this.proofTypeHash = {
      BalanceProof: typeHash("BalanceProof"),
      Close: typeHash("Close"),
      Update: typeHash("Update"),
    };
  }

  /** The EIP-712 digest of a balance proof's fields under one intent. */
  proofDigest(intent: ProofIntent, fields: BalanceProofFields): Hash {
    const struct = Buffer.alloc(5 * WORD);
    struct.set(this.proofTypeHash[intent], 0);
    writeWord(struct, WORD, fields.channelId);
    writeWord(struct, 2 * WORD, fields.nonce);
    writeWord(struct, 3 * WORD, fields.transferredAmount);
    if (!/^0x[0-9a-fA-F]{64}$/.test(fields.additionalHash)) {
      throw new RangeError("additionalHash must be 32 bytes of hex");
    }
    struct.write(fields.additionalHash.slice(2), 4 * WORD, WORD, "hex");
    return this.wrap(keccak256(struct));
  }

  withdrawDigest(fields: WithdrawFields): Hash {
    return TypedDataEncoder.hash(typedDataDomain(this.domain), INTENT_TYPES.Withdraw, fields);
  }

  cooperativeSettleDigest(fields: CooperativeSettleFields): Hash {
    return TypedDataEncoder.hash(
      typedDataDomain(this.domain),
      INTENT_TYPES.CooperativeSettle,
      fields,
    );
  }

  private wrap(structHash: Hash): Hash {
    const message = Buffer.alloc(2 + 2 * WORD);
    message[0] = 0x19;
    message[1] = 0x01;
    message.set(this.separator, 2);
    message.write(structHash.slice(2), 2 + WORD, WORD, "hex");
    return keccak256(message);
  }
}

/** The address of a private key. */
export function addressOf(key: SigningKey): Address {
  return computeAddress(key.publicKey);
}
