import type { IncomingHttpHeaders } from 'node:http'
import { eq, isNull, or, type SQL } from 'drizzle-orm'
import { rateCards } from '../db/schema.js'
import { problems } from '../errors.js'

/**
 * Who may do what, decided here and nowhere else: scopes, the tenant a request acts for (X-Tenant-Id),
 * and which rate cards a tenant sees. The Fastify hooks (src/plugins/auth.ts) and therefore every REST
 * route and GraphQL, the rate-card routes, and every card lookup (pricing, budgets, the reports) call
 * these functions; the verdicts are checked entry point by entry point in test/auth/access.test.ts.
 */

/** The scopes a tenant key can hold. */
export const SCOPES = ['ingest', 'read'] as const
export type Scope = (typeof SCOPES)[number]
/** What a route needs: a tenant scope, or the admin token. */
export type Need = Scope | 'admin'

export type Principal =
  | { kind: 'admin' }
  | { kind: 'tenant'; tenantId: string; keyId: string; scopes: string[] }

/** Answers whether a tenant id exists (the admin token naming an unknown tenant gets a 404). */
export type TenantExists = (tenantId: string) => Promise<boolean>

/** The scopes a principal holds, as `GET /v1/me` reports them: the admin token holds `admin`. */
export function scopesOf(p: Principal): string[] {
  return p.kind === 'admin' ? ['admin'] : p.scopes
}

/** The headers that say who a request is and for whom it acts: each must be sent at most once. */
const SINGLE_HEADERS = ['authorization', 'x-tenant-id'] as const

/**
 * 400 when Authorization or X-Tenant-Id is sent more than once. Node keeps the first Authorization and
 * drops the rest, and joins repeated X-Tenant-Id values with ", ": two credentials were answered as the
 * first (a proxy or log that reads the last one names someone else), two tenants as a 404 for a tenant
 * "a, b" (a key: a 403 for acting for another tenant). `rawHeaders` is the request's headers as sent.
 */
export function refuseRepeatedHeaders(rawHeaders: string[]): void {
  const counts = new Map<string, number>()
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase()
    counts.set(name, (counts.get(name) ?? 0) + 1)
  }
  const items = SINGLE_HEADERS.filter((name) => (counts.get(name) ?? 0) > 1).map((name) => ({
    path: `headers.${name}`,
    message: `is sent ${counts.get(name)} times; send it once`,
  }))
  if (items.length) throw problems.invalidParameters(items, 'headers')
}

/** What a tenant id is, for `POST /v1/tenants` and X-Tenant-Id alike. */
export const TENANT_ID = /^[a-z0-9][a-z0-9_-]{0,62}$/
export const TENANT_ID_RULE = 'lowercase letters, digits, "-" or "_", 1–63 characters'

/**
 * X-Tenant-Id: a non-empty header names a tenant; absent or empty names none. A value no tenant can have
 * is a 400 naming the header, not a tenant that does not exist (404) or another tenant (403): `ACME` for
 * `acme`, or `acmé` — header bytes are read as Latin-1, so UTF-8 came back as "acmÃ©". The value is not
 * echoed (it may be anything, of any length).
 */
export function tenantHeader(headers: IncomingHttpHeaders): string | undefined {
  const v = headers['x-tenant-id']
  if (typeof v !== 'string' || v.length === 0) return undefined
  if (!TENANT_ID.test(v))
    throw problems.invalidParameters([{ path: 'headers.x-tenant-id', message: `is not a tenant id (${TENANT_ID_RULE}), so it names no tenant` }], 'headers')
  return v
}

/** Whether the principal holds a tenant scope (the admin token holds every one). */
export const holdsScope = (p: Principal | undefined, scope: Scope): boolean => p !== undefined && (p.kind === 'admin' || p.scopes.includes(scope))

/** 403 unless the principal holds `need` (the admin token holds every tenant scope). */
export function requireScope(p: Principal, need: Need): void {
  if (need === 'admin') {
    if (p.kind !== 'admin') throw problems.forbidden('this route needs the admin token')
    return
  }
  if (!holdsScope(p, need)) throw problems.forbidden(`this key lacks the "${need}" scope`)
}

async function namedTenant(named: string, exists: TenantExists): Promise<string> {
  if (!(await exists(named))) throw problems.notFound(`tenant "${named}" does not exist`)
  return named
}

/**
 * The tenant a request names, before any scope: a tenant key's own (naming another tenant is a 403), the
 * admin token's X-Tenant-Id (an unknown tenant is a 404), or none — the admin token without the header.
 * `GET /v1/me` answers with it, so a client can check a credential and header before using them.
 */
export async function namedOrOwnTenant(p: Principal, header: string | undefined, exists: TenantExists): Promise<string | undefined> {
  if (p.kind === 'admin') return header ? namedTenant(header, exists) : undefined
  if (header && header !== p.tenantId) throw problems.forbidden('this key cannot act for another tenant')
  return p.tenantId
}

/**
 * The tenant a request acts for. A tenant key acts for its own tenant and needs `scope`; naming
 * another tenant is a 403 (checked before the scope). The admin token must name an existing tenant
 * with X-Tenant-Id: none is a 400, an unknown one a 404.
 */
export async function actingTenant(p: Principal, header: string | undefined, scope: Scope, exists: TenantExists): Promise<string> {
  if (p.kind === 'admin' && !header) throw problems.badRequest('the admin token must name a tenant with X-Tenant-Id on this route')
  const tenant = (await namedOrOwnTenant(p, header, exists))!
  requireScope(p, scope)
  return tenant
}

/** Whose rate cards a request sees: `all` (the admin without X-Tenant-Id) or one tenant's view. */
export type CardViewer = { kind: 'all' } | { kind: 'tenant'; tenantId: string }

/**
 * The card viewer of a rate-card request. Reading (`read`) is open to a tenant key with `read` (its own
 * view) and to the admin token; changing (`admin`) only to the admin token. The admin token sees every
 * card, or exactly one tenant's view when it names the tenant with X-Tenant-Id (unknown → 404).
 */
export async function cardViewer(p: Principal, header: string | undefined, need: 'read' | 'admin', exists: TenantExists): Promise<CardViewer> {
  if (p.kind === 'admin') return header ? { kind: 'tenant', tenantId: await namedTenant(header, exists) } : { kind: 'all' }
  if (need === 'admin') requireScope(p, 'admin')
  return { kind: 'tenant', tenantId: await actingTenant(p, header, 'read', exists) }
}

/**
 * 403 unless the viewer may change this (visible) card's rates: the admin token without X-Tenant-Id changes
 * any card; acting for a tenant it changes only that tenant's own cards — a global card holds every tenant's
 * prices, so a request acting for one tenant never changes it (as `PUT` acting for a tenant never takes
 * a global card's name).
 */
export function requireCardChangeable(viewer: CardViewer, card: { tenantId: string | null }): void {
  if (viewer.kind === 'tenant' && card.tenantId !== viewer.tenantId)
    throw problems.forbidden('a global rate card holds every tenant’s prices: change it with the admin token without X-Tenant-Id')
}

/** The viewer of a tenant's own requests (pricing, budgets, reports): global cards and its own. */
export const tenantViewer = (tenantId: string): CardViewer => ({ kind: 'tenant', tenantId })

/**
 * The rate_cards rows a viewer may use by name: a tenant sees the global cards and its own, never
 * another tenant's; `all` sees every card (undefined: no condition).
 */
export function cardVisibleTo(viewer: CardViewer): SQL | undefined {
  return viewer.kind === 'all' ? undefined : or(isNull(rateCards.tenantId), eq(rateCards.tenantId, viewer.tenantId))
}

/** The rows a viewer's card list shows: as `cardVisibleTo`, except that `all` lists the global catalogue. */
export function cardListedFor(viewer: CardViewer): SQL {
  return cardVisibleTo(viewer) ?? isNull(rateCards.tenantId)
}

/** The one wording for a card a tenant may not use (REST 400 item, GraphQL BAD_USER_INPUT). */
export function cardNotVisible(name: string): string {
  return `rate card "${name}" does not exist or is not visible to this tenant`
}
