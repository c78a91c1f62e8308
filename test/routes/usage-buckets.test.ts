import { readFile } from 'node:fs/promises'
import t from 'tap'
import { bearer, build, eachEngine, fixturePath, tenantWithKey } from '../helpers.js'
import { csvRows, expectedClasses, pick, postBuckets, rowCount, storedRows, sumClasses, type StoredClasses } from '../factories/buckets.js'

interface Page {
  data: { start_time: number; end_time: number; results: Record<string, number | string | null>[] }[]
}

const PAGE_FIXTURES = [
  'openai/openai_usage_completions_example.json',
  'openai/openai_usage_completions_example_pre2026-07_spec.json',
  'openai/openai_usage_completions_real_output_cookbook_excerpt.json',
] as const

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)

  for (const name of PAGE_FIXTURES) {
    t.test(`ingests ${name} with the token classes its fields imply, and a re-post changes nothing`, async (t) => {
      const path = fixturePath(t, name)
      if (!path) return
      const text = await readFile(path, 'utf8')
      const page = JSON.parse(text) as Page
      const expected = page.data.flatMap((b) => b.results.map((r) => ({ start: b.start_time, classes: expectedClasses(r) })))
      const { key, tenantId } = await tenantWithKey(app, ['ingest'])
      const res = await postBuckets(app, key, text)
      t.equal(res.statusCode, 200, res.body)
      t.same(res.json(), { received: expected.length, skipped: 0, created: expected.length, replaced: 0, unchanged: 0 })
      const rows = await storedRows(app, tenantId)
      t.same(rows.map((r) => [(r.start_time as Date).getTime() / 1000, pick(r)]), expected.map((e) => [e.start, e.classes]))
      t.ok(rows.every((r) => r.source === 'openai_api' && r.service_tier === 'default' && r.model === null))

      const before = await storedRows(app, tenantId)
      const again = await postBuckets(app, key, text)
      t.same(again.json(), { received: expected.length, skipped: 0, created: 0, replaced: 0, unchanged: expected.length })
      const after = await storedRows(app, tenantId)
      t.same(after.map((r) => r.updated_at), before.map((r) => r.updated_at), 'updated_at untouched')
    })
  }

  t.test('ingests the real 2025-10 result wrapped in a page', async (t) => {
    const path = fixturePath(t, 'openai/openai_usage_completions_real_2025-10_api_result.json')
    if (!path) return
    const result = JSON.parse(await readFile(path, 'utf8')) as Record<string, number | null>
    const { key, tenantId } = await tenantWithKey(app, ['ingest'])
    const page = { data: [{ start_time: 1759881600, end_time: 1759881660, results: [result] }] }
    const res = await postBuckets(app, key, page)
    t.equal(res.statusCode, 200, res.body)
    const rows = await storedRows(app, tenantId)
    t.same(rows.map(pick), [expectedClasses(result)])
  })

  for (const kind of ['embeddings', 'moderations']) {
    t.test(`ingests the ${kind} example as input-only usage`, async (t) => {
      const path = fixturePath(t, `openai/openai_usage_${kind}_example.json`)
      if (!path) return
      const page = JSON.parse(await readFile(path, 'utf8')) as Page
      const r = page.data[0]!.results[0]!
      const { key, tenantId } = await tenantWithKey(app, ['ingest'])
      const res = await postBuckets(app, key, page)
      t.equal(res.statusCode, 200, res.body)
      const [row] = await storedRows(app, tenantId)
      t.same(pick(row!), { ...expectedClasses({ input_tokens: r.input_tokens, num_model_requests: r.num_model_requests }) })
      t.equal(row!.output_tokens, 0)
    })
  }

  t.test('an unknown result object is refused, naming it, and writes nothing', async (t) => {
    const { key, tenantId } = await tenantWithKey(app, ['ingest'])
    const page = { object: 'page', data: [{ start_time: 1730419200, end_time: 1730505600, results: [{ object: 'organization.usage.teleports.result', teleports: 2 }] }] }
    const res = await postBuckets(app, key, page)
    t.equal(res.statusCode, 400)
    t.match(res.json().errors, [{ index: 0, path: 'object', message: /unknown usage result object "organization\.usage\.teleports\.result"/ }])
    t.equal(await rowCount(app, tenantId), 0)
  })

  t.test('ingests the CSV export: skips the empty day, sums the two gpt-5 rows, re-post is unchanged', async (t) => {
    const path = fixturePath(t, 'openai/completions_usage_2025-10-05_2025-10-12.sample.csv')
    if (!path) return
    const text = await readFile(path, 'utf8')
    const rows = csvRows(text)
    const used = rows.filter(({ row }) => row.input_tokens !== '')
    // Expected: rows grouped by (start, model, project, …) and summed, from the file itself.
    const byKey = new Map<string, { start: number; model: string; classes: StoredClasses }>()
    for (const { row } of used) {
      const k = [row.start_time, row.end_time, row.project_id, row.user_id, row.api_key_id, row.model, row.batch, row.service_tier].join('|')
      const c = expectedClasses(row)
      const prev = byKey.get(k)
      byKey.set(k, { start: Number(row.start_time), model: row.model!, classes: prev ? sumClasses(prev.classes, c) : c })
    }
    const { key, tenantId } = await tenantWithKey(app, ['ingest'])
    const res = await postBuckets(app, key, text, 'text/csv; charset=utf-8')
    t.equal(res.statusCode, 200, res.body)
    t.same(res.json(), { received: rows.length, skipped: rows.length - used.length, created: byKey.size, replaced: 0, unchanged: 0 })
    t.equal(byKey.size, used.length - 1, 'exactly one pair of rows shares a key (the gpt-5 rows of 2025-10-06)')
    const stored = await storedRows(app, tenantId)
    const want = [...byKey.values()].sort((a, b) => a.start - b.start)
    t.same(stored.map((r) => [(r.start_time as Date).getTime() / 1000, r.model, pick(r)]), want.map((w) => [w.start, w.model, w.classes]))
    t.ok(stored.every((r) => r.source === 'openai_csv' && r.batch === false && r.service_tier === 'default'))
    const gpt5 = stored.find((r) => r.model === 'gpt-5-2025-08-07')!
    t.equal(gpt5.input_tokens, 46264 + 5783)

    const again = await postBuckets(app, key, text, 'text/csv')
    t.same(again.json(), { received: rows.length, skipped: 1, created: 0, replaced: 0, unchanged: byKey.size })
  })

  t.test('a later report replaces the stored bucket; the same data is unchanged', async (t) => {
    const { key, tenantId } = await tenantWithKey(app, ['ingest'])
    const bucket = { start_time: '2025-01-01T00:00:00Z', end_time: '2025-01-02T00:00:00Z', model: 'gpt-4o', input_tokens: 100, output_tokens: 10 }
    t.same((await postBuckets(app, key, { buckets: [bucket] })).json(), { received: 1, skipped: 0, created: 1, replaced: 0, unchanged: 0 })
    const later = await postBuckets(app, key, { buckets: [{ ...bucket, input_tokens: 150 }] })
    t.same(later.json(), { received: 1, skipped: 0, created: 0, replaced: 1, unchanged: 0 })
    const rows = await storedRows(app, tenantId)
    t.same(rows.map((r) => [r.input_tokens, r.in_text, r.source]), [[150, 150, 'api']])
  })

  t.test('normalises tiers: null/standard/auto → default, batch tier → batch: true', async (t) => {
    const { key, tenantId } = await tenantWithKey(app, ['ingest'])
    const base = { start_time: 1735689600, end_time: 1735776000, input_tokens: 1 }
    const res = await postBuckets(app, key, {
      buckets: [
        { ...base, model: 'a', service_tier: 'standard', batch: false },
        { ...base, model: 'b', service_tier: 'auto', batch: false },
        { ...base, model: 'c', service_tier: 'batch' },
        { ...base, model: 'e', service_tier: null, batch: false },
        { ...base, model: 'd', service_tier: 'flex', batch: false },
      ],
    })
    t.equal(res.statusCode, 200, res.body)
    const rows = await storedRows(app, tenantId)
    t.same(rows.map((r) => [r.model, r.service_tier, r.batch]), [
      ['a', 'default', false],
      ['b', 'default', false],
      ['c', 'default', true],
      ['d', 'flex', false],
      ['e', 'default', false],
    ])
  })

  t.test('?provider=&account_id= apply to page rows, so two accounts do not overwrite each other', async (t) => {
    const { key, tenantId } = await tenantWithKey(app, ['ingest'])
    const page = { data: [{ start_time: 1735689600, end_time: 1735776000, results: [{ model: 'm', input_tokens: 5 }] }] }
    t.equal((await postBuckets(app, key, page, 'application/json', '?account_id=org-a')).statusCode, 200)
    t.equal((await postBuckets(app, key, page, 'application/json', '?account_id=org-b&provider=azure')).statusCode, 200)
    const rows = await storedRows(app, tenantId)
    t.same(rows.map((r) => [r.provider, r.account_id]).sort(), [['azure', 'org-b'], ['openai', 'org-a']])
  })

  t.test("tenant B's identical post creates its own rows and leaves A's untouched", async (t) => {
    const a = await tenantWithKey(app, ['ingest'])
    const b = await tenantWithKey(app, ['ingest'])
    const bucket = { start_time: 1735689600, end_time: 1735776000, model: 'gpt-4o', input_tokens: 7 }
    await postBuckets(app, a.key, { buckets: [bucket] })
    const before = await storedRows(app, a.tenantId)
    const res = await postBuckets(app, b.key, { buckets: [{ ...bucket, input_tokens: 9 }] })
    t.same(res.json(), { received: 1, skipped: 0, created: 1, replaced: 0, unchanged: 0 })
    t.same(await storedRows(app, a.tenantId), before)
    t.equal(await rowCount(app, b.tenantId), 1)
  })

  t.test('rows of one range in one request are one report shape, whatever their nulls (v2); another shape later is refused', async (t) => {
    const { key, tenantId } = await tenantWithKey(app, ['ingest'])
    const base = { start_time: 1735689600, end_time: 1735776000, input_tokens: 1 }
    const res = await postBuckets(app, key, { buckets: [{ ...base, model: 'a' }, { ...base, model: 'b', project_id: 'p' }] })
    t.equal(res.statusCode, 200, res.body)
    t.equal(await rowCount(app, tenantId), 2)
    const again = await postBuckets(app, key, { buckets: [{ ...base, model: 'a' }] })
    t.equal(again.statusCode, 409, 'a report not grouped by project would double count')
    t.match(again.json(), { detail: /shape=8\b.* overlaps stored bucket \d+ .*shape=9/ })
    const declared = await app.inject({
      method: 'POST',
      url: '/v1/usage/buckets?group_by=model&group_by[]=project_id',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      payload: { buckets: [{ ...base, model: 'a' }] },
    })
    t.match(declared.json(), { unchanged: 1 }, 'declaring the shape it was stored with')
  })

  t.test('overlapping granularities are refused with 409 naming the stored bucket; DELETE clears the range', async (t) => {
    const { key, tenantId } = await tenantWithKey(app, ['ingest'])
    const day = { start_time: 1735689600, end_time: 1735776000, model: 'gpt-4o', input_tokens: 24 }
    await postBuckets(app, key, { buckets: [day] })
    const hour = { start_time: 1735689600, end_time: 1735693200, model: 'gpt-4o', input_tokens: 1 }
    const res = await postBuckets(app, key, { buckets: [hour] })
    t.equal(res.statusCode, 409)
    t.match(res.json(), { status: 409, detail: /stored bucket \d+/, errors: [{ index: 0 }] })
    const del = await app.inject({
      method: 'DELETE',
      url: '/v1/usage/buckets?start_time=2025-01-01T00:00:00Z&end_time=1735776000&source=api',
      headers: bearer(key),
    })
    t.same(del.json(), { deleted: 1 })
    t.equal((await postBuckets(app, key, { buckets: [hour] })).statusCode, 200)
    t.equal(await rowCount(app, tenantId), 1)
  })
})
