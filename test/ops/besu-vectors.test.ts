import { expect } from "chai";
import fc from "fast-check";
import {
  decodeCliqueExtraData,
  decodeQbftExtraData,
  encodeCliqueExtraData,
  encodeQbftExtraData,
} from "../../ops/besu/extradata.js";
import {
  enodeUrl,
  keyFromPrivate,
  keyFromPublic,
  toAddress,
  type Hex,
} from "../../ops/besu/keys.js";
import { BESU_DATA, readJson } from "./helpers.js";

type QbftVector = {
  id: string;
  validators: string[];
  vanity?: Hex;
  vote?: { recipient: string; type: "ADD" | "DROP" };
  round?: number;
  seals?: Hex[];
  expectedExtraData: string;
};

const qbft = readJson<{ vectors: QbftVector[] }>(
  `${BESU_DATA}/vectors/qbft-extradata.json`,
).vectors;
const ibft2 = readJson<{ vectors: QbftVector[] }>(
  `${BESU_DATA}/vectors/ibft2-extradata.json`,
).vectors;
const clique = readJson<{
  vectors: { id: string; signers: string[]; vanity: Hex; expectedExtraData: string }[];
}>(`${BESU_DATA}/vectors/clique-extradata.json`).vectors;
const nodeKeys = readJson<{
  privateKeyVectors: {
    name: string;
    privateKey: string;
    publicKey: string;
    address: string;
    enode?: string;
  }[];
  publicKeyOnlyVectors: { publicKey: string; address: string }[];
}>(`${BESU_DATA}/vectors/node-keys.json`);

function encodeVector(vector: QbftVector): Hex {
  return encodeQbftExtraData({
    validators: vector.validators.map(toAddress),
    vanity: vector.vanity,
    vote: vector.vote && { recipient: toAddress(vector.vote.recipient), type: vector.vote.type },
    round: vector.round,
    seals: vector.seals,
  });
}

describe("Besu vectors: QBFT extraData", () => {
  it("has vectors to check", () => {
    expect(qbft.length).to.equal(6);
  });
  for (const vector of qbft) {
    it(`encodes ${vector.id} exactly as Besu does`, () => {
      expect(encodeVector(vector)).to.equal(vector.expectedExtraData.toLowerCase());
    });
  }

  it("ends every genesis encoding with c080c0 (empty vote list, round 0, no seals)", () => {
    for (const vector of qbft.filter((candidate) => candidate.seals === undefined)) {
      expect(encodeVector(vector).endsWith("c080c0"), vector.id).to.equal(true);
    }
  });

  for (const vector of ibft2) {
    it(`never produces the IBFT 2.0 encoding ${vector.id}`, () => {
      const ours = encodeVector(vector);
      expect(ours).to.not.equal(vector.expectedExtraData.toLowerCase());
      expect(ours.endsWith("808400000000c0")).to.equal(false);
    });
  }

  it("decodes the full vector into its vote, round and seals", () => {
    const full = qbft.find((vector) => vector.id === "besu-codec-full-nonempty")!;
    const parts = decodeQbftExtraData(full.expectedExtraData);
    expect(parts).to.deep.equal({
      vanity: "0x0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20",
      validators: [
        "0x0000000000000000000000000000000000000001",
        "0x0000000000000000000000000000000000000002",
      ],
      vote: { recipient: "0x0000000000000000000000000000000000000001", type: "ADD" },
      round: 16702650,
      seals: full.seals!.map((seal) => seal.toLowerCase()),
    });
  });

  it("decodes every genesis vector back to its validators", () => {
    for (const vector of qbft) {
      expect(decodeQbftExtraData(vector.expectedExtraData).validators, vector.id).to.deep.equal(
        vector.validators.map((address) => address.toLowerCase()),
      );
    }
  });

  it("refuses to decode IBFT 2.0 extraData as QBFT", () => {
    expect(() => decodeQbftExtraData(ibft2[0]!.expectedExtraData)).to.throw(/IBFT 2.0/);
  });

  it("encodes a DROP vote as [recipient, empty string]", () => {
    const recipient = toAddress("0x0000000000000000000000000000000000000001");
    const encoded = encodeQbftExtraData({ validators: [], vote: { recipient, type: "DROP" } });
    expect(encoded).to.equal(
      `0xf83ba0${"00".repeat(32)}c0d6940000000000000000000000000000000000000001 80 80c0`.replaceAll(
        " ",
        "",
      ),
    );
    expect(decodeQbftExtraData(encoded).vote).to.deep.equal({ recipient, type: "DROP" });
  });
});

describe("Besu vectors: Clique extraData", () => {
  for (const vector of clique) {
    it(`encodes ${vector.id} exactly as Besu does`, () => {
      const encoded = encodeCliqueExtraData({
        signers: vector.signers.map(toAddress),
        vanity: vector.vanity,
      });
      expect(encoded).to.equal(vector.expectedExtraData.toLowerCase());
      expect(decodeCliqueExtraData(encoded).signers).to.deep.equal(
        vector.signers.map((s) => s.toLowerCase()),
      );
    });
  }

  it("refuses a Clique genesis without signers", () => {
    expect(() => encodeCliqueExtraData({ signers: [] })).to.throw(
      "a Clique genesis needs at least one signer",
    );
  });
});

describe("Besu vectors: node keys", () => {
  for (const vector of nodeKeys.privateKeyVectors) {
    it(`derives public key, address and enode of ${vector.name}`, () => {
      const key = keyFromPrivate(vector.privateKey);
      expect(key.publicKey).to.equal(vector.publicKey.toLowerCase());
      expect(key.address).to.equal(vector.address.toLowerCase());
      if (vector.enode !== undefined) {
        const [, host, port] = /@([\d.]+):(\d+)$/.exec(vector.enode)!;
        expect(enodeUrl(key, host!, Number(port))).to.equal(vector.enode);
      }
    });
  }
  for (const vector of nodeKeys.publicKeyOnlyVectors) {
    it(`derives the address of imported public key ${vector.address}`, () => {
      expect(keyFromPublic(vector.publicKey).address).to.equal(vector.address.toLowerCase());
    });
  }

  it("rejects malformed keys with what is allowed", () => {
    expect(() => keyFromPrivate("0x1234")).to.throw(
      "a private key is 32 bytes: 64 hex digits, 0x optional",
    );
    expect(() => keyFromPrivate(`0x${"00".repeat(32)}`)).to.throw(
      "outside the secp256k1 key range",
    );
    expect(() => keyFromPublic(`0x${"11".repeat(64)}`)).to.throw(
      "not a point on the secp256k1 curve",
    );
  });
});

describe("extraData round trips (property)", () => {
  const address = fc
    .uint8Array({ minLength: 20, maxLength: 20 })
    .map((bytes) => toAddress(`0x${Buffer.from(bytes).toString("hex")}`));
  const bytesHex = (length: number) =>
    fc
      .uint8Array({ minLength: length, maxLength: length })
      .map((bytes) => `0x${Buffer.from(bytes).toString("hex")}` as Hex);

  it("QBFT: decode(encode(parts)) gives the parts back", () => {
    fc.assert(
      fc.property(
        fc.array(address, { maxLength: 40 }),
        bytesHex(32),
        fc.option(
          fc.record({ recipient: address, type: fc.constantFrom("ADD" as const, "DROP" as const) }),
          {
            nil: undefined,
          },
        ),
        fc.nat({ max: 2 ** 31 - 1 }),
        fc.array(bytesHex(65), { maxLength: 5 }),
        (validators, vanity, vote, round, seals) => {
          const encoded = encodeQbftExtraData({ validators, vanity, vote, round, seals });
          expect(decodeQbftExtraData(encoded)).to.deep.equal({
            vanity,
            validators,
            vote,
            round,
            seals,
          });
        },
      ),
    );
  });

  it("Clique: decode(encode(signers)) gives the signers back", () => {
    fc.assert(
      fc.property(
        fc.array(address, { minLength: 1, maxLength: 40 }),
        bytesHex(32),
        (signers, vanity) => {
          const decoded = decodeCliqueExtraData(encodeCliqueExtraData({ signers, vanity }));
          expect(decoded).to.deep.equal({ vanity, signers, seal: `0x${"00".repeat(65)}` });
        },
      ),
    );
  });
});
