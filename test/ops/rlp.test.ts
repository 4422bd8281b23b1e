import { expect } from "chai";
import fc from "fast-check";
import { decodeRlp as ethersDecode, encodeRlp as ethersEncode, hexlify } from "ethers";
import { decodeRlp, encodeRlp, type Rlp } from "../../ops/besu/rlp.js";

const bytes = fc.uint8Array({ maxLength: 80 }).map((b) => hexlify(b));
const item: fc.Arbitrary<Rlp> = fc.letrec<{ item: Rlp }>((tie) => ({
  item: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    bytes,
    fc.array(tie("item"), { maxLength: 5 }),
  ),
})).item;

describe("RLP (extraData without ethers)", () => {
  it("encodes and decodes exactly as ethers does, for any nesting and length", () => {
    fc.assert(
      fc.property(item, (value) => {
        const encoded = encodeRlp(value);
        expect(encoded).to.equal(ethersEncode(value));
        expect(decodeRlp(encoded)).to.deep.equal(ethersDecode(encoded));
      }),
      { numRuns: 300 },
    );
  });

  it("refuses trailing bytes and items that run past their end", () => {
    expect(() => decodeRlp("0xc0c0")).to.throw("RLP data has bytes after its item");
    expect(() => decodeRlp("0x83aabb")).to.throw("RLP data ends early");
    expect(() => decodeRlp("0xc283aabb")).to.throw();
  });
});
