import type { z } from "zod/v4";

/** A schema problem in the project's words: where it is, and what is wrong and allowed there. */
export type IssueWords = { path: string; what: string };

/** The YAML path of a zod issue ("organisations[1].id"). */
export function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((part, index) =>
      typeof part === "number" ? `[${part}]` : `${index === 0 ? "" : "."}${String(part)}`,
    )
    .join("");
}

/**
 * Puts a zod issue in the project's words, never zod's: what the value at `path` must be, what it
 * is, and for an unknown key the closest key the schema knows there. `document` is the parsed
 * YAML (to show the value given), `schema` the schema it was checked against (to list keys).
 */
export function describeIssue(
  issue: z.core.$ZodIssue,
  document: unknown,
  schema: z.ZodType,
): IssueWords {
  const path = formatPath(issue.path);
  const given = valueAt(document, issue.path);
  const got = given.present ? `, got ${show(given.value)}` : "";
  switch (issue.code) {
    case "unrecognized_keys": {
      const key = issue.keys[0]!;
      const known = keysAt(schema, issue.path);
      const close = closest(key, known);
      const suggestion = close === undefined ? "" : ` (did you mean ${close}?)`;
      const allowed = known.length === 0 ? "" : `; allowed here: ${known.join(", ")}`;
      return {
        path: formatPath([...issue.path, key]),
        what: `unknown key "${key}"${suggestion}${allowed}`,
      };
    }
    case "invalid_type": {
      const expected = TYPE_WORDS[issue.expected] ?? issue.expected;
      if (!given.present) return { path, what: `missing: required, ${expected}` };
      return { path, what: `must be ${expected}${got}` };
    }
    case "too_small":
    case "too_big": {
      const bound = String(issue.code === "too_small" ? issue.minimum : issue.maximum);
      const inclusive = issue.inclusive !== false;
      if (issue.origin === "array" || issue.origin === "set") {
        const items = `${bound} item${bound === "1" ? "" : "s"}`;
        return {
          path,
          what: `${issue.code === "too_small" ? "needs at least" : "takes at most"} ${items}`,
        };
      }
      if (issue.origin === "string") {
        return {
          path,
          what: `${issue.code === "too_small" ? "needs at least" : "takes at most"} ${bound} characters${got}`,
        };
      }
      const relation =
        issue.code === "too_small"
          ? inclusive
            ? `at least ${bound}`
            : `greater than ${bound}`
          : inclusive
            ? `at most ${bound}`
            : `less than ${bound}`;
      return { path, what: `must be ${relation}${got}` };
    }
    case "invalid_value": {
      const values = issue.values.map((value) => JSON.stringify(value));
      return {
        path,
        what:
          values.length === 1
            ? `must be ${values[0]}${got}`
            : `must be one of ${values.join(", ")}${got}`,
      };
    }
    case "invalid_format": {
      const format = FORMAT_WORDS[issue.format];
      // A regex check carries the schema's own description of the format.
      return { path, what: `${format ?? issue.message}${got}` };
    }
    case "not_multiple_of":
      return { path, what: `must be a multiple of ${String(issue.divisor)}${got}` };
    case "invalid_union":
      return { path, what: `is none of the forms allowed here${got}` };
    case "invalid_key":
      return { path, what: `has a key that is not allowed${got}` };
    default:
      // Custom refinements carry a message the schema wrote.
      return { path, what: issue.message };
  }
}

const TYPE_WORDS: Record<string, string> = {
  number: "a number",
  int: "a whole number",
  string: "text",
  boolean: "true or false",
  array: "a list",
  object: "a mapping (key: value lines)",
  record: "a mapping (key: value lines)",
  bigint: "a whole number",
};

const FORMAT_WORDS: Record<string, string> = {
  ipv4: "must be an IPv4 address such as 127.0.0.1",
  cidrv4: "must be an IPv4 subnet such as 172.16.240.0/24",
  url: "must be a URL",
};

function show(value: unknown): string {
  if (value === null) return "null (empty)";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return JSON.stringify(value) ?? String(value);
}

function valueAt(
  document: unknown,
  path: readonly PropertyKey[],
): { present: boolean; value?: unknown } {
  let current: unknown = document;
  for (const part of path) {
    if (current === null || typeof current !== "object") return { present: false };
    if (!Object.hasOwn(current, part)) return { present: false };
    current = (current as Record<PropertyKey, unknown>)[part];
  }
  return current === undefined ? { present: false } : { present: true, value: current };
}

type Def = {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  element?: z.ZodType;
  valueType?: z.ZodType;
  options?: z.ZodType[];
};

const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** The object schemas that `schema` stands for once wrappers (default, optional, pipe) are off. */
function objects(schema: z.ZodType | undefined, depth = 0): Def[] {
  if (schema === undefined || depth > 20) return [];
  const def = defOf(schema);
  if (def.type === "object") return [def];
  if (def.type === "union") return (def.options ?? []).flatMap((o) => objects(o, depth + 1));
  const inner = def.innerType ?? def.in;
  return inner === undefined ? [] : objects(inner, depth + 1);
}

/** Collections (array, record) under wrappers. */
function unwrap(schema: z.ZodType | undefined, depth = 0): Def | undefined {
  if (schema === undefined || depth > 20) return undefined;
  const def = defOf(schema);
  const inner = def.innerType ?? def.in;
  if (inner !== undefined && def.type !== "object") return unwrap(inner, depth + 1);
  return def;
}

/** The keys an object in the schema allows at `path`. */
export function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let current: z.ZodType[] = [schema];
  for (const part of path) {
    const next: z.ZodType[] = [];
    for (const candidate of current) {
      const def = unwrap(candidate);
      if (def === undefined) continue;
      if (typeof part === "number" && def.type === "array" && def.element) next.push(def.element);
      else if (def.type === "record" && def.valueType) next.push(def.valueType);
      else
        for (const object of objects(candidate)) {
          const child = object.shape?.[String(part)];
          if (child !== undefined) next.push(child);
        }
    }
    current = next;
  }
  return [
    ...new Set(
      current.flatMap((candidate) => objects(candidate)).flatMap((o) => Object.keys(o.shape ?? {})),
    ),
  ];
}

/** The known key closest to a misspelt one, when it is close enough to be meant. */
export function closest(key: string, known: readonly string[]): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance =
      candidate.toLowerCase() === key.toLowerCase()
        ? 0
        : editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (best === undefined || distance < best.distance) best = { key: candidate, distance };
  }
  if (best === undefined) return undefined;
  return best.distance <= Math.max(1, Math.floor(key.length / 3)) ? best.key : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i += 1) {
    const row = [i];
    for (let j = 1; j <= b.length; j += 1) {
      row[j] = Math.min(
        previous[j]! + 1,
        row[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = row;
  }
  return previous[b.length]!;
}
