import type { LightMyRequestResponse } from 'fastify'
import t from 'tap'
import { admin, bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

/**
 * One table of (credential, X-Tenant-Id, rate card) cases, fed to every entry point that decides
 * access (src/auth/access.ts): each answers with the same verdict, rendered its own way — REST as a
 * problem type, GraphQL auth as the same HTTP problem and an invisible card as BAD_USER_INPUT.
 */

type Verdict = 'ok' | 'unauthorized' | 'forbidden' | 'no-tenant' | 'unknown-tenant' | 'bad-header' | 'card'
/**
 * What the entry point needs: a tenant scope, reading rate cards (any tenant's `read` or the admin), or any
 * valid token with its X-Tenant-Id checked (`GET /v1/me`).
 */
type Need = 'read' | 'ingest' | 'cards' | 'me'
type Credential = 'none' | 'bogus' | 'admin' | 'read' | 'ingest' | 'both'
/**
 * `upper` is the own tenant's id in capitals; `utf8` is what Node makes of "acmé" sent as UTF-8 (header bytes
 * are read as Latin-1): neither can be a tenant id, so neither is a tenant that does not exist or another one.
 */
type Header = 'A' | 'B' | 'ghost' | 'upper' | 'utf8' | undefined
type Card = 'default' | 'a-card' | 'b-card' | 'missing'

interface Case {
  credential: Credential
  header: Header
  card: Card
  expect: Record<Need, Verdict>
}

const all = (v: Verdict): Record<Need, Verdict> => ({ read: v, ingest: v, cards: v, me: v })

const CASES: Case[] = [
  { credential: 'none', header: undefined, card: 'default', expect: all('unauthorized') },
  { credential: 'bogus', header: undefined, card: 'default', expect: all('unauthorized') },
  { credential: 'none', header: 'A', card: 'b-card', expect: all('unauthorized') },
  { credential: 'read', header: undefined, card: 'default', expect: { read: 'ok', ingest: 'forbidden', cards: 'ok', me: 'ok' } },
  { credential: 'ingest', header: undefined, card: 'default', expect: { read: 'forbidden', ingest: 'ok', cards: 'forbidden', me: 'ok' } },
  { credential: 'ingest', header: undefined, card: 'b-card', expect: { read: 'forbidden', ingest: 'card', cards: 'forbidden', me: 'ok' } },
  { credential: 'both', header: undefined, card: 'a-card', expect: all('ok') },
  { credential: 'both', header: undefined, card: 'b-card', expect: all('card') },
  { credential: 'both', header: undefined, card: 'missing', expect: all('card') },
  { credential: 'both', header: 'A', card: 'default', expect: all('ok') },
  { credential: 'both', header: 'B', card: 'default', expect: all('forbidden') },
  { credential: 'read', header: 'B', card: 'default', expect: all('forbidden') },
  { credential: 'admin', header: undefined, card: 'default', expect: { read: 'no-tenant', ingest: 'no-tenant', cards: 'ok', me: 'ok' } },
  { credential: 'admin', header: undefined, card: 'b-card', expect: { read: 'no-tenant', ingest: 'no-tenant', cards: 'ok', me: 'ok' } },
  { credential: 'admin', header: 'A', card: 'a-card', expect: all('ok') },
  { credential: 'admin', header: 'A', card: 'b-card', expect: all('card') },
  { credential: 'admin', header: 'ghost', card: 'default', expect: all('unknown-tenant') },
  { credential: 'admin', header: 'upper', card: 'default', expect: all('bad-header') },
  { credential: 'admin', header: 'utf8', card: 'default', expect: all('bad-header') },
  { credential: 'both', header: 'upper', card: 'default', expect: all('bad-header') },
  { credential: 'read', header: 'utf8', card: 'default', expect: all('bad-header') },
  { credential: 'none', header: 'upper', card: 'default', expect: all('unauthorized') },
]

interface Entry {
  name: string
  need: Need
  /** Whether the entry point takes a rate card (otherwise a `card` verdict is `ok`). */
  usesCard: boolean
  request: (card: string) => { method: 'GET' | 'PUT' | 'POST' | 'DELETE'; url: string; payload?: object }
  /** How this entry point says "that card is not yours to use". */
  isCardRefusal: (res: LightMyRequestResponse) => boolean
}

const gql = (query: string) => ({ method: 'POST' as const, url: '/graphql', payload: { query } })
const hasItem = (path: string) => (res: LightMyRequestResponse) =>
  res.statusCode === 400 && ((res.json().errors ?? []) as { path: string }[]).some((e) => e.path === path)
const gqlCode = (code: string) => (res: LightMyRequestResponse) =>
  res.statusCode === 200 && res.json().errors?.[0]?.extensions?.code === code
const never = () => false

const ENTRIES: Entry[] = [
  {
    name: 'REST GET /v1/organization/costs',
    need: 'read',
    usesCard: true,
    request: (card) => ({ method: 'GET', url: `/v1/organization/costs?start_time=1759276800&rate_card=${card}` }),
    isCardRefusal: hasItem('querystring.rate_card'),
  },
  {
    name: 'REST GET /v1/reconciliation',
    need: 'read',
    usesCard: true,
    request: (card) => ({ method: 'GET', url: `/v1/reconciliation?from=2025-10-01T00:00:00Z&to=2025-10-02T00:00:00Z&rate_card=${card}` }),
    isCardRefusal: (res) => res.statusCode === 400 && res.json().type.endsWith('/validation'),
  },
  {
    name: 'GraphQL usage',
    need: 'read',
    usesCard: true,
    request: (card) => gql(`{ usage(from: "2025-10-01T00:00:00Z", to: "2025-10-02T00:00:00Z", rateCard: "${card}") { sources } }`),
    isCardRefusal: gqlCode('BAD_USER_INPUT'),
  },
  { name: 'GraphQL connections', need: 'read', usesCard: false, request: () => gql('{ connections { id } }'), isCardRefusal: never },
  { name: 'REST GET /v1/budgets', need: 'read', usesCard: false, request: () => ({ method: 'GET', url: '/v1/budgets' }), isCardRefusal: never },
  {
    name: 'REST PUT /v1/budgets/{name}',
    need: 'ingest',
    usesCard: true,
    request: (card) => ({ method: 'PUT', url: '/v1/budgets/access', payload: { amount: '5', period: 'month', rate_card: card } }),
    isCardRefusal: hasItem('body.rate_card'),
  },
  { name: 'REST GET /v1/connections', need: 'ingest', usesCard: false, request: () => ({ method: 'GET', url: '/v1/connections' }), isCardRefusal: never },
  {
    name: 'REST DELETE /v1/billing/costs',
    need: 'ingest',
    usesCard: false,
    request: () => ({ method: 'DELETE', url: '/v1/billing/costs?start_time=2025-10-01T00:00:00Z&end_time=2025-10-02T00:00:00Z' }),
    isCardRefusal: never,
  },
  {
    name: 'REST GET /v1/rate-cards/{card}/rates',
    need: 'cards',
    usesCard: true,
    request: (card) => ({ method: 'GET', url: `/v1/rate-cards/${card}/rates` }),
    isCardRefusal: (res) => res.statusCode === 404 && res.json().detail === `rate card "${card(res)}" does not exist`,
  },
  { name: 'REST GET /v1/rate-cards', need: 'cards', usesCard: false, request: () => ({ method: 'GET', url: '/v1/rate-cards' }), isCardRefusal: never },
  { name: 'REST GET /v1/me', need: 'me', usesCard: false, request: () => ({ method: 'GET', url: '/v1/me' }), isCardRefusal: never },
]

/** The card named in a rate-card route's URL. */
function card(res: LightMyRequestResponse): string {
  return decodeURIComponent(/\/rate-cards\/([^/]+)\//.exec(res.raw.req.url ?? '')?.[1] ?? '')
}

/** The 400 for an X-Tenant-Id no tenant can have: one item, on the header. */
function isBadHeader(res: LightMyRequestResponse): boolean {
  if (res.statusCode !== 400) return false
  const body = res.json() as { type?: string; errors?: { path: string; message: string }[] }
  const items = body.errors ?? []
  return body.type?.endsWith('/validation') === true && items.length === 1 && items[0]!.path === 'headers.x-tenant-id' && /not a tenant id/.test(items[0]!.message)
}

function observe(entry: Entry, res: LightMyRequestResponse): Verdict | string {
  if (isBadHeader(res)) return 'bad-header'
  if (entry.isCardRefusal(res)) return 'card'
  if (res.statusCode >= 200 && res.statusCode < 300) return res.json()?.errors ? `graphql errors ${res.body}` : 'ok'
  const body = res.json() as { type?: string; detail?: string }
  const type = body.type?.replace(/^.*\//, '')
  if (res.statusCode === 401 && type === 'unauthorized') return 'unauthorized'
  if (res.statusCode === 403 && type === 'forbidden') return 'forbidden'
  if (res.statusCode === 400 && type === 'bad-request' && /X-Tenant-Id/.test(body.detail ?? '')) return 'no-tenant'
  if (res.statusCode === 404 && type === 'not-found' && /^tenant "/.test(body.detail ?? '')) return 'unknown-tenant'
  return `${res.statusCode} ${res.body}`
}

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const a = await tenantWithKey(app, ['ingest', 'read'])
  const b = await tenantWithKey(app, ['read'])
  // The one-scope keys belong to tenants of their own that own no card: header "A" names each key's own tenant.
  const readOnly = await tenantWithKey(app, ['read'])
  const ingestOnly = await tenantWithKey(app, ['ingest'])
  const readKey = readOnly.key
  const ingestKey = ingestOnly.key
  const ownTenant: Record<Credential, string> = {
    none: a.tenantId, bogus: a.tenantId, admin: a.tenantId, both: a.tenantId, read: readOnly.tenantId, ingest: ingestOnly.tenantId,
  }

  const cardNames: Record<Card, string> = { default: 'default', 'a-card': `${a.tenantId}-card`, 'b-card': `${b.tenantId}-card`, missing: 'no-such-card' }
  for (const [tenant, name] of [[a.tenantId, cardNames['a-card']], [b.tenantId, cardNames['b-card']]]) {
    const res = await app.inject({ method: 'PUT', url: `/v1/rate-cards/${name}`, headers: { ...admin, 'x-tenant-id': tenant! }, payload: { currency: 'USD' } })
    t.equal(res.statusCode, 201)
  }

  const headersOf = (c: Case): Record<string, string> => {
    const auth: Record<Credential, Record<string, string>> = {
      none: {},
      bogus: bearer('tl_key_not-a-key'),
      admin,
      read: bearer(readKey),
      ingest: bearer(ingestKey),
      both: bearer(a.key),
    }
    const named: Record<NonNullable<Header>, string> = {
      A: ownTenant[c.credential],
      B: b.tenantId,
      ghost: 'ghost-tenant',
      upper: ownTenant[c.credential].toUpperCase(),
      utf8: Buffer.from('acmé').toString('latin1'),
    }
    const tenant = c.header && named[c.header]
    return { ...auth[c.credential], ...(tenant ? { 'x-tenant-id': tenant } : {}) }
  }

  for (const c of CASES) {
    const label = `${c.credential} key, X-Tenant-Id ${c.header ?? '(none)'}, card ${c.card}`
    t.test(label, async (t) => {
      for (const entry of ENTRIES) {
        const expected = c.expect[entry.need] === 'card' && !entry.usesCard ? 'ok' : c.expect[entry.need]
        const res = await app.inject({ ...entry.request(cardNames[c.card]), headers: headersOf(c) })
        t.equal(observe(entry, res), expected, entry.name)
      }
    })
  }
})
