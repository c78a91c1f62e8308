import t from 'tap'
import { bearer, build, eachEngine, tenantWithKey } from '../helpers.js'

// reconciliation(groupBy: [LINE_ITEM]) reads the per-class breakdown, which the query layer cannot split
// by modality too: a `modalities` filter was an internal error. It now keeps the line items of the
// listed modalities, the usage `usage(filter: {modalities})` counts.

const DAY = 1759276800 // 2025-10-01T00:00:00Z
const FROM = '2025-10-01T00:00:00Z'
const TO = '2025-10-02T00:00:00Z'
const bucket = {
  start_time: DAY, end_time: DAY + 3600, model: 'gpt-4o-audio-preview-2025-06-03', num_model_requests: 2,
  input_tokens: 3000, input_audio_tokens: 1000, output_tokens: 700, output_audio_tokens: 200,
}

interface Gql<T> { data: T | null; errors?: unknown }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app)
  const h = bearer(key)
  t.equal((await app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: h, payload: { buckets: [bucket] } })).statusCode, 200)
  const gql = async <T>(query: string) => (await app.inject({ method: 'POST', url: '/graphql', headers: h, payload: { query } })).json() as Gql<T>

  for (const modality of ['audio', 'text']) {
    t.test(`LINE_ITEM with modalities: ["${modality}"] lists that modality's items, costing what usage counts`, async (t) => {
      const recon = await gql<{ reconciliation: { rows: { lineItem: string; computed: string; status: string }[]; totals: { computed: string } } }>(
        `{ reconciliation(from: "${FROM}", to: "${TO}", groupBy: [LINE_ITEM], filter: { modalities: ["${modality}"] }) {
          rows { lineItem computed status } totals { computed } } }`)
      t.equal(recon.errors, undefined, JSON.stringify(recon.errors))
      const usage = await gql<{ usage: { totals: { cost: { total: string } } } }>(
        `{ usage(from: "${FROM}", to: "${TO}", filter: { modalities: ["${modality}"] }) { totals { cost { total } } } }`)
      t.equal(usage.errors, undefined, JSON.stringify(usage.errors))
      const rows = recon.data!.reconciliation.rows
      const items = rows.map((r) => r.lineItem).sort()
      t.same(items, modality === 'audio'
        ? ['gpt-4o-audio-preview-2025-06-03, input audio', 'gpt-4o-audio-preview-2025-06-03, output audio']
        : ['gpt-4o-audio-preview-2025-06-03, input', 'gpt-4o-audio-preview-2025-06-03, output'])
      t.ok(rows.every((r) => r.status === 'COMPUTED_ONLY'))
      t.equal(recon.data!.reconciliation.totals.computed, usage.data!.usage.totals.cost.total)
    })
  }
})
