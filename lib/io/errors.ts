/**
 * Errors meant for the user: one line naming the file (and line or field) and the fix. Task entry
 * points print `error: <message>` for these and exit with status 2, without a stack trace.
 *
 * @module
 */

/** An error caused by the user's input (a file, a flag, a config) rather than by a bug. */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UserError";
  }
}
