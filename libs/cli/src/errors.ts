/**
 * Thrown when a command cannot run as asked — a missing spec file, a store the embedded cluster refuses to open:
 * the command prints the message (no stack) and exits 2, like a usage error, having done nothing.
 */
export class CliUsageError extends Error {
  override readonly name = 'CliUsageError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
