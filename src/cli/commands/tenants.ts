import { z } from 'zod'
import { callServer, segment, type ServerTarget } from '../http.js'

/** What the server answers, checked: a 2xx of another shape is not a tenant or key created. */
const CreatedTenant = z.object({ id: z.string(), name: z.string() })
const CreatedKey = z.object({ id: z.string(), key: z.string().min(1), tenant_id: z.string(), scopes: z.array(z.string()) })

export const TENANTS_CREATE_HELP = `Usage: tokenledger tenants create <id> [options]

Creates a tenant (one organization).

Options:
  --name N              display name (default: the id)
  --url URL             server (env TOKENLEDGER_URL, default http://127.0.0.1:3000)
  --admin-token TOKEN   the admin token (env TOKENLEDGER_ADMIN_TOKEN)
  -h, --help            this help`

export const KEYS_CREATE_HELP = `Usage: tokenledger keys create <tenant> --scopes ingest,read [options]

Creates an API key for a tenant and prints its secret once on stdout (it is stored hashed), so
KEY=$(tokenledger keys create acme --scopes read) captures it.

Options:
  --scopes S            comma-separated: ingest, read (required)
  --name N              a label for the key (default: cli)
  --url URL             server (env TOKENLEDGER_URL, default http://127.0.0.1:3000)
  --admin-token TOKEN   the admin token (env TOKENLEDGER_ADMIN_TOKEN)
  -h, --help            this help`

export async function createTenant(target: ServerTarget, id: string, name: string | undefined, out: NodeJS.WriteStream) {
  const tenant = await callServer(target, 'POST', '/v1/tenants', {
    body: JSON.stringify({ id, name: name ?? id }),
    headers: { 'content-type': 'application/json' },
    expect: CreatedTenant,
  })
  out.write(`created tenant ${tenant.id} (${tenant.name})\n`)
}

export async function createKey(
  target: ServerTarget,
  tenant: string,
  opts: { scopes: string[]; name: string | undefined },
  out: NodeJS.WriteStream,
  err: NodeJS.WriteStream,
) {
  const key = await callServer(target, 'POST', `/v1/tenants/${segment(tenant)}/api-keys`, {
    body: JSON.stringify({ name: opts.name ?? 'cli', scopes: opts.scopes }),
    headers: { 'content-type': 'application/json' },
    expect: CreatedKey,
  })
  err.write(`created key ${key.id} for tenant ${key.tenant_id} (scopes: ${key.scopes.join(', ')}); the secret is shown once:\n`)
  out.write(`${key.key}\n`)
}
