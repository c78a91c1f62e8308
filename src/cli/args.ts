import { parseArgs, type ParseArgsConfig } from 'node:util'
import { usageError } from './errors.js'

type Options = NonNullable<ParseArgsConfig['options']>

/**
 * node:util parseArgs, strict, with `--help` on every command; a parse error is a usage error (exit 2)
 * that names the command's help.
 */
export function parseCommand<O extends Options>(argv: string[], options: O, command: string) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true })
  } catch (err) {
    throw usageError(`${(err as Error).message} (see: tokenledger ${command} --help)`)
  }
}

/** The positional arguments, exactly `names.length` of them. */
export function positionals(given: string[], names: string[], command: string): string[] {
  if (given.length !== names.length) {
    const expected = names.map((n) => `<${n}>`).join(' ')
    throw usageError(`${command} takes ${expected}; got ${given.length} argument${given.length === 1 ? '' : 's'} (see: tokenledger ${command} --help)`)
  }
  return given
}
