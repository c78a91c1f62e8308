import t from 'tap'
import { bearer, build, eachEngine, graphqlData, tenantWithKey } from '../helpers.js'

/**
 * Unpriced usage is never a bare $0 (docs/reconciliation.md). Tokens without a price show in
 * `unpricedTokens`; resource quantities without one (an image whose price depends on its quality, a
 * resource the card does not know) showed nowhere on a group nothing was billed for: `computed: "0"`,
 * COMPUTED_ONLY, `unpricedTokens: 0`, totals `"0"` — the same day `usage` answers with `complete: false`.
 * Rows and totals now carry `complete`, as `Cost` does: false when any usage of the group (or of the
 * query) has no price.
 */

const DAY = 1754006400 // 2025-08-01T00:00:00Z
const iso = (s: number) => new Date(s * 1000).toISOString()
const day = { start_time: DAY, end_time: DAY + 86_400 }
const RESOURCES = [
  // The default card prices images by size, never by quality (which the usage does not carry): unpriced.
  { ...day, model: 'gpt-image-1', resource: 'images', quantity: '3', attributes: { size: '1024x1024', quality: 'high' } },
  { ...day, model: null, resource: 'widgets', quantity: '7' },
  // Priced: $2.50 per 1,000 file searches on the default card's `*` rate.
  { ...day, model: null, resource: 'file_search_calls', quantity: '1000' },
]
type Row = { model: string | null; line_item: string | null; computed: string | null; status: string; unpriced_tokens: number; complete: boolean }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  const h = bearer(key)
  const posted = await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: h, payload: { resources: RESOURCES } })
  t.equal(posted.statusCode, 200, posted.body)
  const rest = async (groupBy: string) => {
    const res = await app.inject({ url: `/v1/reconciliation?from=${DAY}&to=${DAY + 86_400}&group_by=${groupBy}`, headers: h })
    t.equal(res.statusCode, 200, res.body)
    return res.json() as { data: Row[]; totals: { computed: string; unpriced_tokens: number; complete: boolean } }
  }

  const byProvider = await rest('provider')
  t.same(byProvider.data.map((r) => [r.computed, r.status, r.complete]), [['2.5', 'COMPUTED_ONLY', false]], 'the day is a lower bound')
  t.same(byProvider.totals, { computed: '2.5', billed: '0', difference: '2.5', unpriced_tokens: 0, complete: false }, 'and so are the totals')

  const byItem = await rest('line_item')
  t.same(
    byItem.data.map((r) => [r.line_item, r.computed, r.complete]),
    [['gpt-image-1, images', '0', false], ['file_search_calls', '2.5', true], ['widgets', '0', false]],
    'each item says whether it is priced',
  )

  const csv = await app.inject({ url: `/v1/reconciliation?from=${DAY}&to=${DAY + 86_400}&group_by=line_item`, headers: { ...h, accept: 'text/csv' } })
  const [header, ...lines] = csv.body.trimEnd().split('\n')
  t.equal(header!.split(',').at(-1), 'complete')
  t.same(lines.map((l) => l.split(',').at(-1)), ['false', 'true', 'false'], 'CSV too')

  const data = await graphqlData<{ reconciliation: { rows: { lineItem: string; complete: boolean }[]; totals: { complete: boolean } } }>(
    t, app, h,
    `{ reconciliation(from: "${iso(DAY)}", to: "${iso(DAY + 86_400)}", groupBy: [LINE_ITEM]) { rows { lineItem complete } totals { complete } } }`,
  )
  t.same(data.reconciliation, { rows: byItem.data.map((r) => ({ lineItem: r.line_item, complete: r.complete })), totals: { complete: false } }, 'GraphQL: the same')

  // A day with priced usage only is complete.
  const next = { start_time: DAY + 86_400, end_time: DAY + 2 * 86_400, model: null, resource: 'file_search_calls', quantity: '4' }
  t.equal((await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: h, payload: { resources: [next] } })).statusCode, 200)
  const res = await app.inject({ url: `/v1/reconciliation?from=${DAY + 86_400}&to=${DAY + 2 * 86_400}`, headers: h })
  t.same((res.json() as { data: Row[]; totals: { complete: boolean } }).totals.complete, true)
  t.same((res.json() as { data: Row[] }).data.map((r) => r.complete), [true])
})
