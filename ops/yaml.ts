import { load as loadYaml, parseEvents, YAMLException, type Event } from "js-yaml";
import type { z } from "zod/v4";
import { OperatorError } from "./errors.js";
import { describeIssue, formatPath, type IssueWords } from "./yaml-issues.js";

/**
 * Parses YAML text and validates it against a zod schema. Every problem becomes one OperatorError
 * naming the file, the path inside it, its line and what is allowed, in the project's words
 * (ops/yaml-issues.ts); `describe` may say more for a particular issue.
 */
export function parseYamlWith<T>(
  text: string,
  file: string,
  schema: z.ZodType<T>,
  describe: (issue: z.core.$ZodIssue) => IssueWords | undefined = () => undefined,
): { data: T; fail: (path: string, what: string, hint?: string) => never } {
  let document: unknown;
  try {
    document = loadYaml(text, { filename: file });
  } catch (error) {
    if (error instanceof YAMLException) {
      const line = error.mark === undefined ? undefined : error.mark.line + 1;
      const quote = unclosedQuote(text, line ?? Number.POSITIVE_INFINITY);
      if (quote !== undefined) {
        throw new OperatorError(`${file}: not valid YAML`, {
          details: `the quote ${quote.quote} opened at line ${quote.line}, column ${quote.column} is never closed on its line`,
          hint: `close the quote: ${quote.quote}...${quote.quote}`,
        });
      }
      const at =
        error.mark === undefined ? "" : ` at line ${line}, column ${error.mark.column + 1}`;
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
    const issues = ordered(parsed.error.issues, document, schema);
    const issue = issues[0]!;
    const { path, what } = describe(issue) ?? describeIssue(issue, document, schema);
    const more = issues.length - 1;
    fail(path, more > 0 ? `${what} (and ${more} more problem${more > 1 ? "s" : ""})` : what);
  }
  return { data: parsed.data as T, fail };
}

/**
 * Unknown keys first: a misspelt key also makes the key it was meant to be "missing", and the
 * misspelling is the problem to report; that "missing" is then left out.
 */
function ordered(
  issues: readonly z.core.$ZodIssue[],
  document: unknown,
  schema: z.ZodType,
): z.core.$ZodIssue[] {
  const meant = new Set<string>();
  for (const issue of issues) {
    if (issue.code !== "unrecognized_keys") continue;
    const { what } = describeIssue(issue, document, schema);
    const match = /did you mean ([^?]+)\?/.exec(what);
    if (match) meant.add(formatPath([...issue.path, match[1]!]));
  }
  const rest = issues.filter(
    (issue) => !(issue.code === "invalid_type" && meant.has(formatPath(issue.path))),
  );
  return [
    ...rest.filter((issue) => issue.code === "unrecognized_keys"),
    ...rest.filter((issue) => issue.code !== "unrecognized_keys"),
  ];
}

/**
 * A quoted scalar opened but not closed on its line, at or before the line the parser stopped at:
 * the parser only notices it on a later line, so its own position points past the mistake.
 */
function unclosedQuote(
  text: string,
  uptoLine: number,
): { quote: string; line: number; column: number } | undefined {
  const lines = text.split("\n");
  for (let index = 0; index < lines.length && index < uptoLine; index += 1) {
    const line = lines[index]!;
    const opening = /^(\s*(?:- +)?(?:[^#"'\s][^:#]*:\s+|- +)?)(["'])/.exec(line);
    if (opening === null) continue;
    const quote = opening[2]!;
    const start = opening[1]!.length;
    const rest = line.slice(start + 1);
    const closed =
      quote === '"' ? /(^|[^\\])(\\\\)*"/.test(rest) : /'/.test(rest.replace(/''/g, ""));
    if (!closed) return { quote, line: index + 1, column: start + 1 };
  }
  return undefined;
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
