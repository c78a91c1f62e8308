import { z } from 'zod'
import { loadCliConfig, CliConfigSchema, type CliConfig } from '../config.js'
import { parseCommand, positionals } from './args.js'
import { IMPORT_HELP, parseKind, runImport } from './commands/import.js'
import { runSync, SYNC_HELP } from './commands/sync.js'
import { createKey, createTenant, KEYS_CREATE_HELP, TENANTS_CREATE_HELP } from './commands/tenants.js'
import { CliError, oneLine, usageError } from './errors.js'
import type { ServerTarget } from './http.js'
import { ownValue } from '../own-key.js'

const HELP = `Usage: tokenledger <command> [options]

Commands:
  import <file>                 stream a usage CSV export or JSON pages to the server
  sync <connection-id>          pull a provider connection's usage now
  tenants create <id>           create a tenant (admin)
  keys create <tenant>          create an API key and print it once (admin)
  migrate                       apply database migrations (DATABASE_URL / DATA_DIR)

Every command takes --help. Server commands take --url (TOKENLEDGER_URL) and --key (TOKENLEDGER_KEY);
admin commands take --admin-token (TOKENLEDGER_ADMIN_TOKEN). A request that sends no file gives up when
the server has not answered within TOKENLEDGER_TIMEOUT seconds (default 30). On failure the exit code is
not 0 and stderr has one line saying why.`

export interface Io {
  stdout: NodeJS.WriteStream
  stderr: NodeJS.WriteStream
}

/**
 * What an Authorization header can carry and the server can match (`Bearer <non-space>`), once the
 * leading and trailing whitespace that fetch strips anyway is gone. Anything else inside (two lines of
 * a key file) made fetch throw with the whole header, the secret included, in its message.
 */
const BearerTokenSchema = z
  .string()
  .transform((s) => s.replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, ''))
  .pipe(z.string().regex(/^[\x21-\x7e\xa1-\xff]+$/, 'contains whitespace or control characters, so it cannot be sent (it is not shown here)'))

/** Flags win over the environment; a missing token is a usage error naming both. Neither a URL nor a token is echoed (both may hold secrets). */
function server(env: CliConfig, url: string | undefined, token: { flag: string | undefined; env: string | undefined; name: string; variable: string }): ServerTarget {
  const checked = url === undefined ? { success: true as const, data: env.TOKENLEDGER_URL } : CliConfigSchema.shape.TOKENLEDGER_URL.safeParse(url)
  if (!checked.success) throw usageError(`--url ${checked.error.issues.map((i) => i.message).join('; ')}`)
  const given = token.flag ?? token.env
  if (!given) throw usageError(`no ${token.name}: pass --${token.name} or set ${token.variable}`)
  const secret = BearerTokenSchema.safeParse(given)
  if (!secret.success) throw usageError(`${token.flag !== undefined ? `--${token.name}` : token.variable} ${secret.error.issues[0]!.message}`)
  return { url: checked.data, token: secret.data, timeoutS: env.TOKENLEDGER_TIMEOUT }
}

/** The groups whose verb is the next word, with their verbs. */
const GROUP_VERBS: Record<string, readonly string[]> = { tenants: ['create'], keys: ['create'] }

const KEY_OPTION = { key: { type: 'string' }, url: { type: 'string' } } as const
const ADMIN_OPTION = { 'admin-token': { type: 'string' }, url: { type: 'string' } } as const

async function dispatch(argv: string[], io: Io): Promise<void> {
  const [command, ...rest] = argv
  const help = (text: string) => io.stdout.write(`${text}\n`)
  // Subcommand groups (`tenants create`) take their verb as the next word — a word, not an option:
  // `tenants --help` was the unknown command "tenants --help" and never reached the group's help.
  const verb = rest[0]?.startsWith('-') ? undefined : rest[0]
  const verbs = command === undefined ? undefined : ownValue(GROUP_VERBS, command)
  if (verbs && verb !== undefined && !verbs.includes(verb))
    throw usageError(`unknown subcommand "${verb}" of ${command}: the subcommands are ${verbs.join(', ')} (see: tokenledger ${command} ${verbs[0]} --help)`)
  const group = verbs && verb !== undefined ? `${command} ${verb}` : command
  const args = group !== command ? rest.slice(1) : rest
  const env = () => {
    try {
      return loadCliConfig()
    } catch (e) {
      throw usageError((e as Error).message)
    }
  }

  switch (group) {
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      return void help(HELP)
    case 'import': {
      const { values, positionals: pos } = parseCommand(
        args,
        { ...KEY_OPTION, kind: { type: 'string' }, 'account-id': { type: 'string' }, provider: { type: 'string' }, json: { type: 'boolean' } },
        'import',
      )
      if (values.help) return void help(IMPORT_HELP)
      const [file] = positionals(pos, ['file'], 'import')
      const c = env()
      const target = server(c, values.url, { flag: values.key, env: c.TOKENLEDGER_KEY, name: 'key', variable: 'TOKENLEDGER_KEY' })
      const opts = { file: file!, kind: parseKind(values.kind), accountId: values['account-id'], provider: values.provider, json: values.json ?? false }
      return runImport(target, opts, io.stdout, io.stderr)
    }
    case 'sync': {
      const { values, positionals: pos } = parseCommand(args, { ...KEY_OPTION, json: { type: 'boolean' }, detach: { type: 'boolean' }, from: { type: 'string' } }, 'sync')
      if (values.help) return void help(SYNC_HELP)
      const [id] = positionals(pos, ['connection-id'], 'sync')
      const c = env()
      const target = server(c, values.url, { flag: values.key, env: c.TOKENLEDGER_KEY, name: 'key', variable: 'TOKENLEDGER_KEY' })
      return runSync(target, id!, { json: values.json ?? false, detach: values.detach ?? false, from: values.from }, io.stdout)
    }
    case 'tenants create': {
      const { values, positionals: pos } = parseCommand(args, { ...ADMIN_OPTION, name: { type: 'string' } }, 'tenants create')
      if (values.help) return void help(TENANTS_CREATE_HELP)
      const [id] = positionals(pos, ['id'], 'tenants create')
      const c = env()
      const target = server(c, values.url, { flag: values['admin-token'], env: c.TOKENLEDGER_ADMIN_TOKEN, name: 'admin-token', variable: 'TOKENLEDGER_ADMIN_TOKEN' })
      return createTenant(target, id!, values.name, io.stdout)
    }
    case 'keys create': {
      const { values, positionals: pos } = parseCommand(args, { ...ADMIN_OPTION, name: { type: 'string' }, scopes: { type: 'string' } }, 'keys create')
      if (values.help) return void help(KEYS_CREATE_HELP)
      const [tenant] = positionals(pos, ['tenant'], 'keys create')
      if (!values.scopes) throw usageError('keys create needs --scopes, e.g. --scopes ingest,read')
      const scopes = values.scopes.split(',').map((s) => s.trim()).filter(Boolean)
      const c = env()
      const target = server(c, values.url, { flag: values['admin-token'], env: c.TOKENLEDGER_ADMIN_TOKEN, name: 'admin-token', variable: 'TOKENLEDGER_ADMIN_TOKEN' })
      return createKey(target, tenant!, { scopes, name: values.name }, io.stdout, io.stderr)
    }
    case 'migrate': {
      const { values, positionals: pos } = parseCommand(args, {}, 'migrate')
      // Loaded on demand: the database drivers (PGlite's WASM among them) would slow every other command.
      const { MIGRATE_HELP, runMigrate } = await import('./commands/migrate.js')
      if (values.help) return void help(MIGRATE_HELP)
      positionals(pos, [], 'migrate')
      return runMigrate(io.stdout)
    }
    case 'tenants':
    case 'keys':
      if (rest.includes('--help') || rest.includes('-h'))
        return void help(command === 'tenants' ? TENANTS_CREATE_HELP : KEYS_CREATE_HELP)
      throw usageError(`${command} takes a subcommand: ${command} create (see: tokenledger ${command} create --help)`)
    default:
      throw usageError(`unknown command "${command}" (see: tokenledger --help)`)
  }
}

/** Runs one command; returns the process exit code. Failures are one line on stderr. */
export async function main(argv: string[], io: Io): Promise<number> {
  try {
    await dispatch(argv, io)
    return 0
  } catch (e) {
    const err = e instanceof CliError ? e : new CliError((e as Error).message ?? String(e))
    io.stderr.write(`tokenledger: ${oneLine(err.message)}\n`)
    return err.exitCode
  }
}
