import { randomBytes } from 'node:crypto'
import type { FastifyRouteSchemaDef, FastifyValidationResult } from 'fastify/types/schema.js'
import { validatorCompiler, type FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z, type ZodType } from 'zod'
import { deleteConnection, getConnection, insertConnection, listConnections, updateConnection } from '../../connections/connection-store.js'
import { endpointNames, PROVIDERS } from '../../connections/providers.js'
import { problems, type ProblemItem } from '../../errors.js'
import { privateUrlProblem } from '../../http/private-addresses.js'
import { byCodePoint, problemResponses } from '../shared-schemas.js'
import { ConnectionIdParams, ConnectionInputSchema, ConnectionPatchSchema, ConnectionSchema, connectionOut, foreignEndpoints, SyncBodySchema } from './schemas.js'

// Bodies are checked in the handler, so one 400 lists every problem, the provider's endpoint names included.
function documentOnlyBody<S>(route: FastifyRouteSchemaDef<S>): FastifyValidationResult {
  if (route.httpPart === 'body') return (data: unknown) => ({ value: data })
  return validatorCompiler(route as unknown as FastifyRouteSchemaDef<ZodType>)
}

/** Every issue at its body path; each unknown field apart (zod reports them all in one issue on the object). */
const issuesOf = (issues: readonly z.core.$ZodIssue[]): ProblemItem[] =>
  issues.flatMap((i) => {
    const at = ['body', ...i.path.map(String)]
    return i.code === 'unrecognized_keys' ? i.keys.map((k) => ({ path: [...at, k].join('.'), message: i.message })) : [{ path: at.join('.'), message: i.message }]
  })

/** The fields of a body as sent (before its schema), for checks that need two of them. */
const bodyFields = (body: unknown): { provider?: unknown; endpoints?: unknown; base_url?: unknown; admin_key?: unknown } => (typeof body === 'object' && body !== null ? body : {})

/** base_url naming a private host outright, unless allowed (a name resolving to one is refused per request). */
function privateBaseUrl(raw: { base_url?: unknown }, schemaErrors: ProblemItem[], allowPrivate: boolean): ProblemItem[] {
  const problem = privateUrlProblem(raw.base_url, allowPrivate)
  return problem && !schemaErrors.some((e) => e.path === 'body.base_url') ? [{ path: 'body.base_url', message: problem }] : []
}

/**
 * A PATCH moving the connection to another host without its admin key. The stored key goes to whatever
 * base_url says on the next run, so whoever may PATCH (an `ingest` key) could have it sent to a host of
 * their own — the key that is "never returned" handed out by the sync. A new host needs the key again.
 */
function keyLeftBehind(raw: { base_url?: unknown; admin_key?: unknown }, current: { base_url: string } | undefined, errors: ProblemItem[]): ProblemItem[] {
  if (!current || raw.base_url === undefined || raw.base_url === current.base_url || raw.admin_key !== undefined) return []
  if (errors.some((e) => e.path === 'body.base_url')) return []
  return [{ path: 'body.base_url', message: 'a new base_url needs admin_key in the same request: the stored key is only sent to the host it was given for' }]
}

const last4 = (key: string) => key.slice(-4)
const notFound = (id: string) => problems.notFound(`connection ${id} does not exist`)

const connectionRoutes: FastifyPluginAsyncZod<{ allowPrivate: boolean }> = async (app, opts) => {
  const auth = app.auth.tenant('ingest')

  app.post(
    '/connections',
    {
      onRequest: auth,
      validatorCompiler: documentOnlyBody,
      schema: {
        tags: ['connections'],
        operationId: 'createConnection',
        summary: 'Connect a provider organization: tokenledger pulls its usage and billed costs with the admin key',
        body: ConnectionInputSchema,
        response: { 201: ConnectionSchema, ...problemResponses(400, 401, 403, 409, 503) },
      },
    },
    async (req, reply) => {
      const parsed = ConnectionInputSchema.safeParse(req.body)
      const raw = bodyFields(req.body)
      const schemaErrors = parsed.success ? [] : issuesOf(parsed.error.issues)
      const errors = [...schemaErrors, ...foreignEndpoints(raw.provider, raw.endpoints), ...privateBaseUrl(raw, schemaErrors, opts.allowPrivate)]
      if (!parsed.success || errors.length > 0) throw problems.validation(errors)
      const c = parsed.data
      const sealed = app.requireSecretBox().seal(c.admin_key)
      const row = await insertConnection(app.db, {
        tenant_id: req.tenantId,
        id: `conn_${randomBytes(9).toString('base64url')}`,
        name: c.name,
        provider: c.provider,
        admin_key_sealed: sealed,
        admin_key_last4: last4(c.admin_key),
        account_id: c.account_id ?? null,
        base_url: c.base_url ?? PROVIDERS[c.provider].defaultBaseUrl,
        start_date: c.start_date,
        interval_minutes: c.interval_minutes,
        lag_hours: c.lag_hours,
        bucket_width: c.bucket_width,
        endpoints: c.endpoints ? endpointNames(c.provider).filter((e) => c.endpoints!.includes(e)) : endpointNames(c.provider),
      })
      if (!row) throw problems.conflict(`this tenant already has a connection named "${c.name}"`)
      return reply.status(201).send(connectionOut(row))
    },
  )

  app.get(
    '/connections',
    {
      onRequest: auth,
      schema: {
        tags: ['connections'],
        operationId: 'listConnections',
        summary: 'The tenant’s connections with their sync state',
        description: `Oldest first; connections created at the same instant ${byCodePoint('id')}.`,
        response: { 200: ConnectionSchema.array(), ...problemResponses(401, 403, 503) },
      },
    },
    async (req) => (await listConnections(app.db, req.tenantId)).map(connectionOut),
  )

  app.get(
    '/connections/:id',
    {
      onRequest: auth,
      schema: {
        tags: ['connections'],
        operationId: 'getConnection',
        summary: 'One connection with its sync state (synced_until per endpoint, next_run_at, last_run)',
        params: ConnectionIdParams,
        response: { 200: ConnectionSchema, ...problemResponses(401, 403, 404, 503) },
      },
    },
    async (req) => {
      const row = await getConnection(app.db, req.tenantId, req.params.id)
      if (!row) throw notFound(req.params.id)
      return connectionOut(row)
    },
  )

  app.patch(
    '/connections/:id',
    {
      onRequest: auth,
      validatorCompiler: documentOnlyBody,
      schema: {
        tags: ['connections'],
        operationId: 'updateConnection',
        summary: 'Change a connection (name, admin_key, base_url, interval_minutes, lag_hours, endpoints, enabled)',
        params: ConnectionIdParams,
        body: ConnectionPatchSchema,
        response: { 200: ConnectionSchema, ...problemResponses(400, 401, 403, 404, 409, 503) },
      },
    },
    async (req) => {
      const parsed = ConnectionPatchSchema.safeParse(req.body)
      const current = await getConnection(app.db, req.tenantId, req.params.id)
      const raw = bodyFields(req.body)
      const schemaErrors = parsed.success ? [] : issuesOf(parsed.error.issues)
      const errors = [...schemaErrors, ...foreignEndpoints(current?.provider, raw.endpoints), ...privateBaseUrl(raw, schemaErrors, opts.allowPrivate)]
      errors.push(...keyLeftBehind(raw, current, errors))
      if (!parsed.success || errors.length > 0) throw problems.validation(errors)
      if (!current) throw notFound(req.params.id)
      const p = parsed.data
      const provider = current.provider as keyof typeof PROVIDERS
      const updated = await updateConnection(app.db, req.tenantId, req.params.id, {
        name: p.name,
        base_url: p.base_url,
        interval_minutes: p.interval_minutes,
        lag_hours: p.lag_hours,
        enabled: p.enabled,
        endpoints: p.endpoints && endpointNames(provider).filter((e) => p.endpoints!.includes(e)),
        ...(p.admin_key === undefined ? {} : { admin_key_sealed: app.requireSecretBox().seal(p.admin_key), admin_key_last4: last4(p.admin_key) }),
      })
      if (updated === 'duplicate') throw problems.conflict(`this tenant already has a connection named "${p.name ?? ''}"`)
      if (!updated) throw notFound(req.params.id)
      return connectionOut(updated)
    },
  )

  app.delete(
    '/connections/:id',
    {
      onRequest: auth,
      schema: {
        tags: ['connections'],
        operationId: 'deleteConnection',
        summary: 'Delete a connection (its pulled usage stays); a run in progress stops after its current page',
        params: ConnectionIdParams,
        response: { 204: z.null().describe('Deleted'), ...problemResponses(401, 403, 404, 503) },
      },
    },
    async (req, reply) => {
      if (!(await deleteConnection(app.db, req.tenantId, req.params.id))) throw notFound(req.params.id)
      return reply.status(204).send(null)
    },
  )

  app.post(
    '/connections/:id/sync',
    {
      onRequest: auth,
      validatorCompiler: documentOnlyBody,
      schema: {
        tags: ['connections'],
        operationId: 'syncConnection',
        summary: 'Start a run now (202), optionally re-pulling from `from`; 409 while a run of this connection is in progress on any instance, or when this instance has no TOKENLEDGER_SECRET_KEY',
        params: ConnectionIdParams,
        body: SyncBodySchema.optional(),
        response: { 202: ConnectionSchema, ...problemResponses(400, 401, 403, 404, 409, 503) },
      },
    },
    async (req, reply) => {
      const parsed = SyncBodySchema.optional().safeParse(req.body ?? undefined)
      if (!parsed.success) throw problems.validation(issuesOf(parsed.error.issues))
      // An instance that cannot open admin keys says what to set instead of claiming a run it cannot do.
      app.requireSecretBox()
      const started = await app.connections.runNow(req.tenantId, req.params.id, { repullFromMs: parsed.data?.from?.getTime() })
      if (started === 'missing') throw notFound(req.params.id)
      if (started === 'running') throw problems.conflict(`connection ${req.params.id} has a run in progress; see last_run in GET /v1/connections/${req.params.id}`)
      return reply.status(202).send(connectionOut(started))
    },
  )
}

export default connectionRoutes
