import { randomUUID } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import type { FastifyRouteSchemaDef, FastifyValidationResult } from 'fastify/types/schema.js'
import { validatorCompiler, type FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { z, type ZodType } from 'zod'
import { toBudget } from '../../budgets/budget-model.js'
import { budgetStatus } from '../../budgets/status.js'
import { databaseNow, deleteBudget, getBudget, listAlerts, listBudgets, MAX_BUDGETS_PER_TENANT, upsertBudget, type BudgetRow } from '../../db/queries/budgets.js'
import { problems, type ProblemItem } from '../../errors.js'
import { privateUrlProblem } from '../../http/private-addresses.js'
import { cardNotVisible, holdsScope } from '../../auth/access.js'
import { findVisibleCard } from '../../pricing/card-lookup.js'
import type { TenantGate } from '../../usage/tenant-gate.js'
import { isKnownTimeZone, isValidTimeZone, unknownZoneMessage } from '../../usage/windows.js'
import { byCodePoint, problemResponses } from '../shared-schemas.js'
import {
  AlertSchema,
  AlertsQuerySchema,
  AtQuerySchema,
  BudgetInputSchema,
  BudgetNameSchema,
  BudgetSchema,
  alertOut,
  budgetOut,
  filterIn,
} from './schemas.js'

// The body and the name are checked in the handler, together with the rate card (which needs the
// database), so that one 400 lists every problem.
function documentOnlyBody<S>(route: FastifyRouteSchemaDef<S>): FastifyValidationResult {
  if (route.httpPart === 'body' || route.httpPart === 'params') return (data: unknown) => ({ value: data })
  return validatorCompiler(route as unknown as FastifyRouteSchemaDef<ZodType>)
}

const NameParams = z.object({ name: BudgetNameSchema })

/**
 * The stored webhook_url whose secret a PUT without `webhook_secret` keeps, or a problem: the secret is
 * kept for the same origin only. Moved to another receiver, it signed for one it was never given to —
 * one the writer chose, unaware a secret was kept, with real signatures to test guesses of it against.
 */
function keptSecret(stored: BudgetRow | undefined, url: string): { keepSecretOf: string | null; problem?: ProblemItem } {
  if (!stored?.webhook_url) return { keepSecretOf: null }
  if (stored.webhook_secret_sealed && new URL(stored.webhook_url).origin !== new URL(url).origin)
    return { keepSecretOf: null, problem: { path: 'body.webhook_secret', message: 'the webhook_url moves to another origin: send webhook_secret, or null to send unsigned' } }
  return { keepSecretOf: stored.webhook_url }
}

interface BudgetRouteOptions {
  maxGroups: number
  allowPrivateWebhooks: boolean
  /** The tenant's share of expensive queries: a budget's spend is a usage query and holds a slot like one. */
  gate?: TenantGate | undefined
}

const budgetRoutes: FastifyPluginAsyncZod<BudgetRouteOptions> = async (app, opts) => {
  // `at` defaults to the database's clock, which records crossings and leases: an instance behind it hid a
  // crossing recorded in the last moments from `crossed`, one ahead showed a period not yet begun.
  const instant = async (at?: Date) => at ?? databaseNow(app.db)
  const view = async (req: FastifyRequest, row: BudgetRow, at: Date) => {
    const status = await budgetStatus(app.db, toBudget(row), at, { maxGroups: opts.maxGroups, gate: opts.gate })
    return budgetOut(row, status, holdsScope(req.principal, 'ingest'))
  }

  app.put(
    '/budgets/:name',
    {
      onRequest: app.auth.tenant('ingest'),
      validatorCompiler: documentOnlyBody,
      schema: {
        tags: ['budgets'],
        operationId: 'putBudget',
        summary: 'Create (201) or update (200) a budget: a usage filter, an amount per period, thresholds and a webhook',
        params: NameParams,
        body: BudgetInputSchema,
        response: { 200: BudgetSchema, 201: BudgetSchema, ...problemResponses(400, 401, 403, 404, 409, 503) },
      },
    },
    async (req, reply) => {
      const parsed = BudgetInputSchema.safeParse(req.body)
      const name = NameParams.safeParse(req.params)
      const errors: ProblemItem[] = [
        ...(name.success ? [] : name.error.issues.map((i) => ({ path: ['params', ...i.path.map(String)].join('.'), message: i.message }))),
        ...(parsed.success ? [] : parsed.error.issues.map((i) => ({ path: ['body', ...i.path.map(String)].join('.'), message: i.message }))),
      ]
      const card = parsed.success ? parsed.data.rate_card : typeof (req.body as { rate_card?: unknown } | null)?.rate_card === 'string' ? (req.body as { rate_card: string }).rate_card : 'default'
      // A name the schema refused is named once, by the schema: looked up as well, "does not exist" repeated
      // it whole (a 100,000-character name twice in the answer).
      const cardRefused = !parsed.success && parsed.error.issues.some((i) => i.path[0] === 'rate_card')
      if (!cardRefused && !(await findVisibleCard(app.db, req.tenantId, card)))
        errors.push({ path: 'body.rate_card', message: cardNotVisible(card) })
      // The name passed the schema's check (Intl's, case-insensitive); the database must know it too, or
      // every evaluation of the stored budget fails ("asia/kolkata" was stored, then answered 400). Checked
      // whenever the schema took the zone, from the raw body like the rate card, so that it is named beside
      // any other problem rather than only once the rest of the body is valid.
      const zone = (req.body as { time_zone?: unknown } | null)?.time_zone ?? 'UTC'
      if (typeof zone === 'string' && isValidTimeZone(zone) && !(await isKnownTimeZone(app.db, zone)))
        errors.push({ path: 'body.time_zone', message: unknownZoneMessage(zone) })
      // Names that resolve to a private address are refused at delivery; a literal one is refused here, at once.
      const privateUrl = privateUrlProblem((req.body as { webhook_url?: unknown } | null)?.webhook_url, opts.allowPrivateWebhooks)
      if (privateUrl && !errors.some((e) => e.path === 'body.webhook_url')) errors.push({ path: 'body.webhook_url', message: privateUrl })
      // From the raw body, like the private address: the problem is named beside any other.
      const { webhook_url: url, webhook_secret: sent } = (req.body ?? {}) as { webhook_url?: unknown; webhook_secret?: unknown }
      const keep = name.success && sent === undefined && typeof url === 'string' && URL.canParse(url)
        ? keptSecret(await getBudget(app.db, req.tenantId, name.data.name), url)
        : { keepSecretOf: null }
      if (keep.problem) errors.push(keep.problem)
      if (!parsed.success || !name.success || errors.length > 0) throw problems.validation(errors)
      const b = parsed.data
      const secret = b.webhook_secret ? app.requireSecretBox().seal(b.webhook_secret) : null
      const saved = await upsertBudget(app.db, {
        tenantId: req.tenantId,
        id: randomUUID(),
        name: name.data.name,
        amount: b.amount,
        period: b.period,
        timeZone: b.time_zone,
        filter: filterIn(b.filter) as Record<string, unknown>,
        rateCard: b.rate_card,
        thresholds: [...new Set(b.thresholds)].sort((x, y) => x - y),
        webhookUrl: b.webhook_url ?? null,
        webhookSecretSealed: b.webhook_url ? secret : null,
        keepSecretOf: keep.keepSecretOf,
      })
      if (!saved)
        throw problems.conflict(
          `the tenant holds ${MAX_BUDGETS_PER_TENANT.toLocaleString('en-US')} budgets, the most it may; delete one or update an existing one (nothing was written)`,
        )
      return reply.status(saved.created ? 201 : 200).send(await view(req, saved.budget, await instant()))
    },
  )

  app.get(
    '/budgets',
    {
      onRequest: app.auth.tenant('read'),
      schema: {
        tags: ['budgets'],
        operationId: 'listBudgets',
        summary: 'Every budget of the tenant with its current spend, forecast and crossed thresholds',
        description: `Ordered ${byCodePoint('name')}.`,
        querystring: AtQuerySchema,
        response: { 200: z.object({ data: z.array(BudgetSchema) }), ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (req) => {
      const rows = await listBudgets(app.db, req.tenantId)
      const at = await instant(req.query.at)
      const data = []
      for (const row of rows) data.push(await view(req, row, at))
      return { data }
    },
  )

  app.get(
    '/budgets/:name',
    {
      onRequest: app.auth.tenant('read'),
      schema: {
        tags: ['budgets'],
        operationId: 'getBudget',
        summary: 'One budget with its spend in the period containing `at` (default now)',
        params: NameParams,
        querystring: AtQuerySchema,
        response: { 200: BudgetSchema, ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (req) => {
      const row = await getBudget(app.db, req.tenantId, req.params.name)
      if (!row) throw problems.notFound(`budget "${req.params.name}" does not exist`)
      return view(req, row, await instant(req.query.at))
    },
  )

  app.delete(
    '/budgets/:name',
    {
      onRequest: app.auth.tenant('ingest'),
      schema: {
        tags: ['budgets'],
        operationId: 'deleteBudget',
        summary: 'Delete a budget and its alerts',
        params: NameParams,
        response: { 204: z.null().describe('deleted'), ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (req, reply) => {
      if (!(await deleteBudget(app.db, req.tenantId, req.params.name))) throw problems.notFound(`budget "${req.params.name}" does not exist`)
      return reply.status(204).send(null)
    },
  )

  app.get(
    '/budgets/:name/alerts',
    {
      onRequest: app.auth.tenant('read'),
      schema: {
        tags: ['budgets'],
        operationId: 'listBudgetAlerts',
        summary: 'The budget’s alerts (one per period and threshold crossed), newest first, with every webhook delivery attempt',
        params: NameParams,
        querystring: AlertsQuerySchema,
        response: { 200: z.object({ data: z.array(AlertSchema) }), ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (req) => {
      const row = await getBudget(app.db, req.tenantId, req.params.name)
      if (!row) throw problems.notFound(`budget "${req.params.name}" does not exist`)
      return { data: (await listAlerts(app.db, req.tenantId, row.id, req.query.limit)).map(alertOut) }
    },
  )
}

export default budgetRoutes
