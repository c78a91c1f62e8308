import fc from 'fast-check'
import t from 'tap'
import type { Db } from '../../src/db/client.js'
import { findBilledClash } from '../../src/db/queries/billed-costs.js'
import type { BucketShape } from '../../src/ingest/intervals.js'
import { eachEngine, freshDb } from '../helpers.js'

/**
 * findBilledClash (the stored side of the billed report-shape rule) against the rule written out plainly
 * — same provider account, overlapping in time, not the same (start, end, shape) — and a bound on the
 * rows it reads: a probe per shape, not a walk of the stored history (425,000 stored costs and a year
 * uploaded ran into the 30 s statement timeout).
 */

const H = 3_600_000
const T0 = Date.UTC(2025, 0, 1)

/** A stored window or an incoming shape; times in hours from T0. */
interface Window {
  provider: string
  account: string | null
  start: number
  end: number
  shape: string
}
const w = (start: number, end: number, over: Partial<Window> = {}): Window => ({ provider: 'openai', account: 'a', start, end, shape: 'x', ...over })

const clashes = (c: Window, s: Window) =>
  c.provider === s.provider && c.account === s.account && c.start < s.end && s.start < c.end && !(c.start === s.start && c.end === s.end && c.shape === s.shape)

/** The oracle: the first clashing shape (1-based) and the earliest-starting stored window it clashes with. */
function expected(stored: readonly Window[], incoming: readonly Window[]): { shapeNo: number; start: number } | undefined {
  for (const [i, s] of incoming.entries()) {
    const hits = stored.filter((c) => clashes(c, s))
    if (hits.length) return { shapeNo: i + 1, start: Math.min(...hits.map((c) => c.start)) }
  }
  return undefined
}

const shapeOf = (s: Window): BucketShape => ({ provider: s.provider, accountId: s.account, kind: 'costs', startMs: T0 + s.start * H, endMs: T0 + s.end * H, shape: s.shape, leads: true })

/** Stores `items` cost rows per window (distinct line items), as an import of that shape would. */
async function store(db: Db, tenantId: string, windows: readonly Window[], items = 2): Promise<void> {
  if (!windows.length) return
  await db.query(
    `insert into billed_costs (tenant_id, provider, account_id, start_time, end_time, line_item, amount, currency, shape, key_hash, source)
     select $1, w.provider, w.account_id, w.s, w.e, 'item ' || i, '1', 'USD', w.shape, sha256(convert_to(w.n || '/' || i, 'UTF8')), 'test'
     from unnest($2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::text[]) with ordinality as w(provider, account_id, s, e, shape, n),
       generate_series(1, $7::int) i`,
    [
      tenantId,
      windows.map((x) => x.provider),
      windows.map((x) => x.account),
      windows.map((x) => new Date(T0 + x.start * H).toISOString()),
      windows.map((x) => new Date(T0 + x.end * H).toISOString()),
      windows.map((x) => x.shape),
      items,
    ],
  )
}

/** What findBilledClash reports: the shape number and the start of the stored row it names. */
async function found(db: Db, tenantId: string, incoming: readonly Window[]): Promise<{ shapeNo: number; start: number } | undefined> {
  const clash = await db.transaction((tx) => findBilledClash(tx, tenantId, incoming.map(shapeOf)))
  return clash && { shapeNo: Number(clash.shape_no), start: (clash.start_time.getTime() - T0) / H }
}

void eachEngine(t, async (t, engine) => {
  const db = await freshDb(t, engine)
  let tenants = 0
  const tenant = () => `clash-${++tenants}`

  const cases: [string, Window[], Window[]][] = [
    ['the next day and the day before, same account', [w(24, 48)], [w(0, 24), w(48, 72)]],
    ['the same day, the same shape', [w(0, 24)], [w(0, 24)]],
    ['the same day, another shape', [w(0, 24)], [w(0, 24, { shape: 'y' })]],
    ['a week enclosing a stored day', [w(72, 96)], [w(0, 168)]],
    ['an hour inside a stored day (the stored day reaches across its start)', [w(0, 24)], [w(13, 14)]],
    ['a day a stored day reaches into from before', [w(12, 36)], [w(24, 48)]],
    ['a day that a stored hour starts inside, behind an adjacent stored day', [w(0, 24), w(30, 31)], [w(24, 48)]],
    ['a stored day of a null account beside an incoming day of account a', [w(0, 24, { account: null })], [w(12, 36)]],
    ['the same hours for a null account, another shape', [w(0, 24, { account: null })], [w(0, 24, { account: null, shape: 'y' })]],
    ['the same day of another provider', [w(0, 24, { provider: 'anthropic' })], [w(0, 24, { shape: 'y' })]],
    ['the second and third shapes clash: the second is named', [w(24, 48), w(48, 72)], [w(0, 24), w(30, 31), w(50, 51)]],
    ['two stored windows under one shape: the earlier is named', [w(0, 12), w(12, 24)], [w(6, 18)]],
  ]
  for (const [name, stored, incoming] of cases) {
    const id = tenant()
    await store(db, id, stored)
    t.same(await found(db, id, incoming), expected(stored, incoming), name)
  }

  // Stored windows obey the rule (each write passed this check): a random set is thinned to one that does.
  const window = fc.record({
    provider: fc.constantFrom('openai', 'anthropic'),
    account: fc.constantFrom('a', null),
    start: fc.integer({ min: 0, max: 47 }),
    len: fc.constantFrom(1, 2, 6, 24),
    shape: fc.constantFrom('x', 'y'),
  }).map(({ len, ...r }): Window => ({ ...r, end: r.start + len }))
  await t.test('agrees with the rule on random stored histories and uploads', async (t) => {
    await fc.assert(
      fc.asyncProperty(fc.array(window, { maxLength: 12 }), fc.array(window, { minLength: 1, maxLength: 6 }), async (candidates, incoming) => {
        const stored: Window[] = []
        for (const c of candidates) if (!stored.some((s) => clashes(s, c))) stored.push(c)
        const id = tenant()
        await store(db, id, stored)
        const [got, want] = [await found(db, id, incoming), expected(stored, incoming)]
        t.same(got, want)
        return JSON.stringify(got) === JSON.stringify(want)
      }),
      { numRuns: 50 },
    )
  })

  await t.test('reads a bounded number of stored rows per shape, not the stored history', async (t) => {
    const id = tenant()
    // 300 days × 8 line items for account a, and as much for a null account and another provider.
    const days = (over: Partial<Window>) => Array.from({ length: 300 }, (_, d) => w(d * 24, (d + 1) * 24, over))
    await store(db, id, [...days({}), ...days({ account: null }), ...days({ provider: 'anthropic' })], 8)
    await db.query('analyze billed_costs')
    // A month after the history, a month inside it (the same shape: no clash) and one for the null account.
    const incoming = [
      ...Array.from({ length: 30 }, (_, d) => w((310 + d) * 24, (311 + d) * 24)),
      ...Array.from({ length: 30 }, (_, d) => w((100 + d) * 24, (101 + d) * 24)),
      ...Array.from({ length: 30 }, (_, d) => w((200 + d) * 24, (201 + d) * 24, { account: null })),
    ]
    const read = await db.transaction(async (tx) => {
      t.equal(await findBilledClash(tx, id, incoming.map(shapeOf)), undefined)
      const [r] = await tx.query<{ read: number }>(
        `select (coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0))::int8 as read from pg_stat_xact_user_tables where relname = 'billed_costs'`,
      )
      return Number(r!.read)
    })
    // Two probes per shape, each stopping at its first row; the lateral search this replaced read the whole
    // table per shape (~695,000 rows here).
    t.ok(read <= 4 * incoming.length, `${read} rows read for ${incoming.length} shapes over 7,200 stored costs`)
  })
})
