import t from 'tap'
import { bearer, build, eachEngine, graphqlData, postCreatedEvents, tenantWithKey } from '../helpers.js'

/**
 * A provider-reported cost (events' `reported_cost`) is one figure for a whole call, not split by
 * modality. Under MODALITY it is on the text row — as the 1-hour cache writes are — so the rows and the
 * totals still carry it, equal to the same query without MODALITY, instead of null on every row. A group
 * whose calls had no text tokens keeps its text row for it.
 */

const base = { timestamp: '2026-03-01T10:15:00Z', provider: 'openai' }
const EVENTS = [
  { ...base, id: 'text', model: 'gpt-4o', input_tokens: 1000, output_tokens: 100, reported_cost: '0.0123' },
  {
    ...base, id: 'mixed', model: 'gpt-4o', input_tokens: 1000, input_audio_tokens: 400, output_tokens: 100, output_audio_tokens: 60,
    reported_cost: '0.000000000000000001',
  },
  { ...base, id: 'unreported', model: 'gpt-4o', input_tokens: 10, output_tokens: 1 },
  {
    ...base, id: 'audio-only', model: 'gpt-realtime', input_tokens: 300, input_audio_tokens: 300, output_tokens: 50, output_audio_tokens: 50,
    reported_cost: '0.5',
  },
]
const usage = (groupBy: string) => `{ usage(from: "2026-03-01T00:00:00Z", to: "2026-03-02T00:00:00Z", window: TOTAL, groupBy: ${groupBy},
  filter: { sources: ["events"] }) { rows { model modality inputTokens reportedCost } totals { reportedCost } } }`

interface Row { model: string | null; modality: string | null; inputTokens: number; reportedCost: string | null }
interface Page { rows: Row[]; totals: { reportedCost: string | null } }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key } = await tenantWithKey(app, ['ingest', 'read'])
  await postCreatedEvents(t, app, bearer(key), EVENTS)
  const gql = async (query: string) => (await graphqlData<{ usage: Page } | undefined>(t, app, bearer(key), query))?.usage

  const plain = await gql(usage('[]'))
  t.equal(plain?.totals.reportedCost, '0.512300000000000001', 'without MODALITY the reported costs add up exactly')

  const byModality = await gql(usage('[MODALITY]'))
  t.same(byModality?.rows.map((r) => [r.modality, r.reportedCost]), [['audio', null], ['text', '0.512300000000000001']],
    'under MODALITY the reported cost is on the text row, null on the others')
  t.equal(byModality?.totals.reportedCost, plain?.totals.reportedCost, 'the totals under MODALITY keep it')

  const byModel = await gql(usage('[MODEL, MODALITY]'))
  t.same(byModel?.rows.map((r) => [r.model, r.modality, r.inputTokens, r.reportedCost]), [
    ['gpt-4o', 'audio', 400, null],
    ['gpt-4o', 'text', 1610, '0.012300000000000001'],
    ['gpt-realtime', 'audio', 300, null],
    ['gpt-realtime', 'text', 0, '0.5'],
  ], 'a group without text tokens keeps a text row for its reported cost')

  const textOnly = await gql(`{ usage(from: "2026-03-01T00:00:00Z", to: "2026-03-02T00:00:00Z", window: TOTAL, groupBy: [MODEL],
    filter: { sources: ["events"], modalities: ["text"] }) { rows { model modality inputTokens reportedCost } totals { reportedCost } } }`)
  t.same(textOnly?.rows.map((r) => [r.model, r.reportedCost]), [['gpt-4o', '0.012300000000000001'], ['gpt-realtime', '0.5']],
    'a text filter keeps the reported cost')
})
