/**
 * JSON for machines (`--json` output): a count, id or height is a JSON number while it is exact
 * as one (up to 2^53 - 1), and a decimal string beyond; the same field never changes type
 * between a number and a string for values in the safe range.
 */
export function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v: unknown) =>
      typeof v === "bigint"
        ? v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)
          ? Number(v)
          : v.toString()
        : v,
    2,
  );
}
