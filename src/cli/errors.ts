/** A failure the CLI reports as one line on stderr, exiting with `exitCode` (2: usage, 1: anything else). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message)
  }
}

export const usageError = (message: string) => new CliError(message, 2)

/** One line, whatever the server or a library put in the message. */
export function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim()
}
