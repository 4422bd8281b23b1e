/**
 * Recursive-length prefix encoding (Ethereum yellow paper, appendix B) of byte strings and lists,
 * as 0x-hex: the little extraData needs, without loading ethers (so `gridchain inspect` starts
 * fast). Decoding is strict: one item, exact lengths, no trailing bytes.
 */
export type Rlp = string | Rlp[];

export function encodeRlp(item: Rlp): string {
  return `0x${encode(item)}`;
}

function encode(item: Rlp): string {
  if (typeof item === "string") {
    const hex = item.replace(/^0x/i, "").toLowerCase();
    if (hex.length % 2 !== 0 || !/^[0-9a-f]*$/.test(hex)) throw new Error(`not bytes: ${item}`);
    if (hex.length === 2 && parseInt(hex, 16) < 0x80) return hex;
    return header(hex.length / 2, 0x80) + hex;
  }
  const body = item.map(encode).join("");
  return header(body.length / 2, 0xc0) + body;
}

function header(length: number, offset: number): string {
  if (length < 56) return byte(offset + length);
  let lengthHex = length.toString(16);
  if (lengthHex.length % 2 !== 0) lengthHex = `0${lengthHex}`;
  return byte(offset + 55 + lengthHex.length / 2) + lengthHex;
}

function byte(value: number): string {
  return value.toString(16).padStart(2, "0");
}

export function decodeRlp(data: string): Rlp {
  const hex = data.replace(/^0x/i, "").toLowerCase();
  if (hex.length % 2 !== 0 || !/^[0-9a-f]*$/.test(hex))
    throw new Error("RLP data is not hex bytes");
  const bytes = Buffer.from(hex, "hex");
  const { item, end } = decodeAt(bytes, 0);
  if (end !== bytes.length) throw new Error("RLP data has bytes after its item");
  return item;
}

function decodeAt(bytes: Buffer, at: number): { item: Rlp; end: number } {
  if (at >= bytes.length) throw new Error("RLP data ends early");
  const first = bytes[at]!;
  if (first < 0x80) return { item: `0x${byte(first)}`, end: at + 1 };
  const isList = first >= 0xc0;
  const short = first - (isList ? 0xc0 : 0x80);
  let start = at + 1;
  let length = short;
  if (short > 55) {
    const size = short - 55;
    if (start + size > bytes.length) throw new Error("RLP data ends early");
    length = Number.parseInt(bytes.subarray(start, start + size).toString("hex"), 16);
    start += size;
  }
  const end = start + length;
  if (end > bytes.length) throw new Error("RLP data ends early");
  if (!isList) return { item: `0x${bytes.subarray(start, end).toString("hex")}`, end };
  const items: Rlp[] = [];
  for (let next = start; next < end;) {
    const decoded = decodeAt(bytes, next);
    if (decoded.end > end) throw new Error("an RLP list item runs past its list");
    items.push(decoded.item);
    next = decoded.end;
  }
  return { item: items, end };
}
