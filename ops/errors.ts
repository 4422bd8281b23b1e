/**
 * An operator mistake or an environment problem the operator can fix: printed as one line by the
 * CLI (exit code 1), never with a stack trace. Shaped like viem's errors: a short message, the
 * facts (file, path inside it, what is allowed) and what to do next.
 */
export class OperatorError extends Error {
  override readonly name = "OperatorError";
  readonly details: string | undefined;
  readonly hint: string | undefined;

  constructor(message: string, options: { details?: string; hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.details = options.details;
    this.hint = options.hint;
  }

  /** One line for the terminal: message, details and hint joined. */
  oneLine(): string {
    return [this.message, this.details, this.hint && `hint: ${this.hint}`]
      .filter((part): part is string => Boolean(part))
      .join("; ");
  }
}
