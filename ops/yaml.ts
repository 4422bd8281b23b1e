import { load as loadYaml, parseEvents, YAMLException, type Event } from "js-yaml";
import type { z } from "zod/v4";
import { OperatorError } from "./errors.js";

/**
 * Parses YAML text and validates it against a zod schema. Every problem becomes one OperatorError
 * naming the file, the path inside it, its line and what is allowed; `describe` may say more for
 * a particular issue than zod does.
 */
export function parseYamlWith<T>(
  text: string,
  file: string,
  schema: z.ZodType<T>,
  describe: (issue: z.core.$ZodIssue) => { path: string; what: string } = describeIssue,
): { data: T; fail: (path: string, what: string, hint?: string) => never } {
  let document: unknown;
  try {
    document = loadYaml(text, { filename: file });
  } catch (error) {
    if (error instanceof YAMLException) {
      const at =
        error.mark === undefined
          ? ""
          : ` at line ${error.mark.line + 1}, column ${error.mark.column + 1}`;
      throw new OperatorError(`${file}: not valid YAML`, { details: `${error.reason}${at}` });
    }
    throw error;
  }
  const lines = lineIndex(text);
  const fail = (path: string, what: string, hint?: string): never => {
    const line = lines.get(path);
    throw new OperatorError(`${file}: ${path || "(top level)"}: ${what}`, {
      details: line === undefined ? undefined : `line ${line}`,
      hint,
    });
  };
  const parsed = schema.safeParse(document);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const { path, what } = describe(issue);
    const more = parsed.error.issues.length - 1;
    fail(path, more > 0 ? `${what} (and ${more} more problem${more > 1 ? "s" : ""})` : what);
  }
  return { data: parsed.data as T, fail };
}

/** The YAML path of a zod issue ("organisations[1].id") and what went wrong, with what is allowed. */
export function describeIssue(issue: z.core.$ZodIssue): { path: string; what: string } {
  let path = formatPath(issue.path);
  let what = issue.message;
  if (issue.code === "unrecognized_keys") {
    path = formatPath([...issue.path, issue.keys[0]!]);
    what = `unknown key "${issue.keys[0]}"`;
  } else if (issue.code === "invalid_type") {
    what = issue.message.replace(/^Invalid input: /, "");
  }
  return { path, what };
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((part, index) =>
      typeof part === "number" ? `[${part}]` : `${index === 0 ? "" : "."}${String(part)}`,
    )
    .join("");
}

/** Maps every YAML path ("organisations[1].id") to the 1-based line its value starts on. */
export function lineIndex(text: string): Map<string, number> {
  const index = new Map<string, number>();
  let events: Event[];
  try {
    events = parseEvents(text, {});
  } catch {
    return index;
  }
  const newlines: number[] = [];
  for (let at = text.indexOf("\n"); at !== -1; at = text.indexOf("\n", at + 1)) newlines.push(at);
  const lineOf = (offset: number): number => {
    let low = 0;
    let high = newlines.length;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (newlines[mid]! < offset) low = mid + 1;
      else high = mid;
    }
    return low + 1;
  };
  type Frame = { kind: "map" | "seq"; path: string; key: string | undefined; item: number };
  const stack: Frame[] = [];
  const childPath = (frame: Frame): string =>
    frame.kind === "seq"
      ? `${frame.path}[${frame.item}]`
      : frame.path
        ? `${frame.path}.${frame.key}`
        : `${frame.key}`;
  const consumeValue = (offset: number): string | undefined => {
    const frame = stack.at(-1);
    if (frame === undefined) return "";
    const path = childPath(frame);
    index.set(path, lineOf(offset));
    if (frame.kind === "seq") frame.item += 1;
    else frame.key = undefined;
    return path;
  };
  for (const event of events) {
    switch (event.type) {
      case 2:
      case 3: {
        const frame = stack.at(-1);
        const expectingKey = frame?.kind === "map" && frame.key === undefined;
        if (expectingKey) {
          frame.key = "?";
          stack.push({
            kind: event.type === 2 ? "seq" : "map",
            path: "\u0000",
            key: undefined,
            item: 0,
          });
          break;
        }
        const path = consumeValue(event.start) ?? "";
        stack.push({ kind: event.type === 2 ? "seq" : "map", path, key: undefined, item: 0 });
        break;
      }
      case 4: {
        const frame = stack.at(-1);
        if (frame?.kind === "map" && frame.key === undefined) {
          frame.key = text.slice(event.valueStart, event.valueEnd).replace(/^["']|["']$/g, "");
        } else {
          consumeValue(event.valueStart);
        }
        break;
      }
      case 5:
        consumeValue(event.anchorStart);
        break;
      case 6:
        stack.pop();
        break;
      default:
        break;
    }
  }
  return index;
}
