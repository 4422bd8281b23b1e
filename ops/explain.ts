import { OperatorError } from "./errors.js";

/**
 * What the CLI prints for an error that ended a command: one line, the exit code, and whether it
 * is a bug (something gridchain did not expect) rather than something the operator can fix.
 */
export type Explained = { line: string; code: number; bug: boolean };

/** Exit code of an unexpected error (a bug): EX_SOFTWARE of sysexits.h. */
export const BUG_EXIT_CODE = 70;

/**
 * Classifies an error that reached the CLI's boundary. Operator errors say what to fix; errors the
 * environment raises in known shapes (a chain that does not answer, a contract that refused a
 * transaction, OpenZeppelin's upgrade checks, a missing file) are put in the same words; anything
 * else is a bug, reported in one line that points at the debug flag for the stack trace.
 */
export async function explainError(error: unknown): Promise<Explained> {
  if (error instanceof OperatorError) return operator(error.oneLine());
  const revert = revertData(error);
  if (revert !== undefined) {
    const { describeRevert } = await import("./contracts/revert.js");
    const described = await describeRevert(revert);
    if (described !== undefined) {
      return operator(
        [
          `a contract refused the transaction: ${described.text}`,
          described.hint && `hint: ${described.hint}`,
        ]
          .filter(Boolean)
          .join("; "),
      );
    }
  }
  const network = networkProblem(error);
  if (network !== undefined) {
    return operator(
      `cannot reach ${network}; hint: is the chain running? 'gridchain status' tells, 'gridchain up' starts it`,
    );
  }
  const refused = chainRefusal(error);
  if (refused !== undefined) return operator(refused);
  if (error instanceof Error) {
    const upgrade = upgradeProblem(error);
    if (upgrade !== undefined) return operator(upgrade);
    const file = fileProblem(error);
    if (file !== undefined) return operator(file);
    if (error.name === "HardhatError") return operator(oneLine(error.message));
  }
  const name = error instanceof Error ? error.name : typeof error;
  const message = error instanceof Error ? error.message : String(error);
  return {
    line: `unexpected error (a bug in gridchain): ${name}: ${oneLine(message)}; run again with --debug (or GRIDCHAIN_DEBUG=1) for the stack trace`,
    code: BUG_EXIT_CODE,
    bug: true,
  };
}

/** The stack of an error and of each of its causes, for --debug. */
export function debugTrace(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 8; depth += 1) {
    parts.push(current instanceof Error ? (current.stack ?? String(current)) : String(current));
    current = current instanceof Error ? current.cause : undefined;
    if (current !== undefined) parts.push("caused by:");
  }
  return parts.join("\n");
}

function operator(line: string): Explained {
  return { line, code: 1, bug: false };
}

/** Collapses a multi-line message into one line of bounded length. */
export function oneLine(text: string, max = 400): string {
  const line = text
    .split("\n")
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .join("; ")
    .replace(/\s+/g, " ");
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/** Every object reachable from an error through the fields libraries nest errors in. */
function* nested(error: unknown): Generator<Record<string, unknown>> {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length > 0 && seen.size < 50) {
    const item = queue.shift();
    if (item === null || typeof item !== "object" || seen.has(item)) continue;
    seen.add(item);
    const record = item as Record<string, unknown>;
    yield record;
    for (const key of ["cause", "error", "info", "data", "errors", "parent"]) {
      const value = record[key];
      if (Array.isArray(value)) queue.push(...(value as unknown[]));
      else queue.push(value);
    }
  }
}

/** ABI-encoded revert data (selector + words) carried anywhere in the error, if any. */
function revertData(error: unknown): string | undefined {
  for (const record of nested(error)) {
    const data = record.data;
    if (typeof data === "string" && /^0x[0-9a-fA-F]{8}(?:[0-9a-fA-F]{64})*$/.test(data)) {
      return data;
    }
  }
  return undefined;
}

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "ETIMEDOUT",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_SOCKET",
]);

/** "127.0.0.1:8545 (connection refused)" when the error is a failed connection. */
function networkProblem(error: unknown): string | undefined {
  for (const record of nested(error)) {
    const code = record.code;
    if (typeof code === "string" && NETWORK_CODES.has(code)) {
      const where =
        typeof record.address === "string"
          ? `${record.address}${typeof record.port === "number" ? `:${record.port}` : ""}`
          : typeof record.hostname === "string"
            ? record.hostname
            : "the chain's RPC";
      const what =
        code === "ECONNREFUSED"
          ? "connection refused"
          : code === "ENOTFOUND"
            ? "no such host"
            : code.toLowerCase().replace(/_/g, " ");
      return `${where} (${what})`;
    }
  }
  for (const record of nested(error)) {
    if (record instanceof TypeError && record.message === "fetch failed") {
      return "the chain's RPC (fetch failed)";
    }
  }
  return undefined;
}

/** ethers' codes for what a node answered (not a mistake in gridchain's own code). */
const CHAIN_CODES = new Set([
  "CALL_EXCEPTION",
  "INSUFFICIENT_FUNDS",
  "NONCE_EXPIRED",
  "REPLACEMENT_UNDERPRICED",
  "TRANSACTION_REPLACED",
  "SERVER_ERROR",
  "NETWORK_ERROR",
  "TIMEOUT",
]);

/** A node's refusal as ethers reports it (its short message), when the error is one. */
function chainRefusal(error: unknown): string | undefined {
  for (const record of nested(error)) {
    const { code, shortMessage } = record;
    if (typeof code === "string" && CHAIN_CODES.has(code) && typeof shortMessage === "string") {
      return `the chain refused: ${oneLine(shortMessage)}`;
    }
  }
  return undefined;
}

/** OpenZeppelin's upgrade checks (storage layout, unsafe code): their report in one line. */
function upgradeProblem(error: Error): string | undefined {
  let proto: unknown = Object.getPrototypeOf(error);
  let upgrades = false;
  for (let depth = 0; proto !== null && depth < 6; depth += 1) {
    const name = (proto as { constructor?: { name?: string } }).constructor?.name;
    if (name === "UpgradesError") upgrades = true;
    proto = Object.getPrototypeOf(proto);
  }
  if (!upgrades) return undefined;
  const [headline = "", ...details] = error.message
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  const facts = details.filter((line) => !line.startsWith(">"));
  const first = facts[0];
  const more = facts.length - 1;
  return [
    `upgrade refused by OpenZeppelin's safety check: ${headline.replace(/\.$/, "")}`,
    first && `${first.replace(/\s+/g, " ")}${more > 0 ? ` (and ${more} more)` : ""}`,
    "hint: keep the existing storage variables in place and add new ones at the end (see the ERC-7201 storage struct)",
  ]
    .filter(Boolean)
    .join("; ");
}

/** A file the operator named that cannot be read or written. */
function fileProblem(error: Error): string | undefined {
  const { code, path, syscall } = error as NodeJS.ErrnoException;
  if (path === undefined || code === undefined) return undefined;
  const what: Record<string, string> = {
    ENOENT: "no such file or folder",
    EACCES: "permission denied",
    EPERM: "operation not permitted",
    EISDIR: "is a folder, not a file",
    ENOTDIR: "a part of the path is not a folder",
    EEXIST: "already exists",
    ENOSPC: "no space left on the device",
    EROFS: "read-only file system",
  };
  const reason = what[code];
  if (reason === undefined) return undefined;
  const verbs: Record<string, string> = {
    open: "open",
    scandir: "list",
    mkdir: "create the folder",
    rename: "rename",
    unlink: "remove",
    stat: "find",
    lstat: "find",
    access: "access",
  };
  return `cannot ${verbs[syscall ?? ""] ?? "use"} ${path}: ${reason}`;
}
