import { Readable } from 'node:stream'
import t from 'tap'
import { eachEngine } from '../helpers.js'
import { OPENAI_KEY } from './support/harness.js'
import { bucket, HOUR, misbehaving, pull, usage } from './support/misbehaving.js'

void t.test('a provider that pages for ever (has_more, a new cursor, nothing new) is stopped after one page', (t) =>
  eachEngine(t, async (t, engine) => {
    for (const [what, data] of [
      ['empty pages', () => []],
      ['the same bucket again', (start: number) => [bucket(start, [usage])]],
    ] as const) {
      const provider = await misbehaving(t, (q) => ({ object: 'page', data: data(q.start), has_more: true, next_page: String(q.page + 1) }))
      const state = await pull(t, engine, provider.url)
      t.equal(state.last_run?.status, 'failed', what)
      t.match(state.last_run?.error, /has_more on a page with no new bucket inside the window; stopped to avoid a loop/, what)
      t.ok(provider.requests.length <= 2, `${what}: ${provider.requests.length} requests, not an endless stream`)
    }
  }),
)

void t.test('a garbled bucket fails the run; it is never taken for an empty one and skipped', (t) =>
  eachEngine(t, async (t, engine) => {
    for (const [what, garbled] of [
      ['results not an array', (start: number) => ({ ...bucket(start), results: 'x' })],
      ['no results', (start: number) => ({ object: 'bucket', start_time: start, end_time: start + HOUR })],
      ['not an object', () => 5],
    ] as const) {
      const provider = await misbehaving(t, (q) => ({ object: 'page', data: [bucket(q.start), garbled(q.start + HOUR)], has_more: false, next_page: null }))
      const state = await pull(t, engine, provider.url)
      t.equal(state.last_run?.status, 'failed', what)
      t.match(state.last_run?.error, /^400 .*data\.1: a bucket must be an object with a results array/, `${what}: the ingest's 400 names it`)
      t.equal(state.synced_until.completions, null, `${what}: synced_until stays`)
    }
  }),
)

void t.test('a provider echoing the admin key where its error text is cut never leaves a piece of the key', (t) =>
  eachEngine(t, async (t, engine) => {
    // The error text is cut to 300 characters; the key starts 285 characters in, so a cut before
    // blanking it out would keep its first 15 characters.
    const provider = await misbehaving(t, (_q, reply) => reply.status(401).send({ error: { message: `${'x'.repeat(270)} key given: ${OPENAI_KEY}.` } }))
    const state = await pull(t, engine, provider.url)
    t.equal(state.last_run?.status, 'failed')
    t.match(state.last_run?.error, /answered 401 Unauthorized: x+ key given: \[admin/)
    t.notMatch(state.last_run?.error, OPENAI_KEY.slice(0, 10), 'no prefix of the key')
  }),
)

void t.test('a Retry-After written as a fraction of seconds is waited, not read as a date long past', (t) =>
  eachEngine(t, async (t, engine) => {
    const times: number[] = []
    const provider = await misbehaving(t, (_q, reply) => {
      times.push(Date.now())
      if (times.length === 1) return reply.status(429).header('retry-after', '1.5').send({ error: { message: 'Rate limit reached' } })
      return { object: 'page', data: [], has_more: false, next_page: null }
    })
    const state = await pull(t, engine, provider.url, { SYNC_RETRY_MAX_MS: '3000' })
    t.equal(state.last_run?.status, 'succeeded')
    const waited = times[1]! - times[0]!
    t.ok(waited >= 1480, `the retry waited the 1.5 s asked for (${waited} ms)`)
  }),
)

void t.test('a response body larger than SYNC_MAX_PAGE_BYTES fails the run, declared or streamed, and is not read on', (t) =>
  eachEngine(t, async (t, engine) => {
    const pad = 'x'.repeat(64 * 1024)
    for (const [what, streamed] of [['with a content-length', false], ['chunked, no length', true]] as const) {
      let written = 0
      const provider = await misbehaving(t, (_q, reply) => {
        const head = '{"object":"page","data":[],"has_more":false,"next_page":null,"pad":"'
        if (!streamed) return reply.type('application/json').send(`${head}${pad.repeat(32)}"}`)
        // 2 MiB and more, produced only as fast as it is read: the run must stop reading it.
        const body = Readable.from((function* () {
          yield head
          for (let i = 0; i < 4096; i++) {
            written += pad.length
            yield pad
          }
          yield '"}'
        })())
        return reply.type('application/json').send(body)
      })
      const state = await pull(t, engine, provider.url, { SYNC_MAX_PAGE_BYTES: '1000000', SYNC_MAX_ATTEMPTS: '3' })
      t.equal(state.last_run?.status, 'failed', what)
      t.match(state.last_run?.error, /answered a body larger than 1000000 bytes \(SYNC_MAX_PAGE_BYTES\)/, what)
      t.equal(provider.requests.length, 1, `${what}: refused for good, not retried`)
      if (streamed) t.ok(written < 64 * 1024 * 1024, `${what}: the provider was not read to its end (${written} bytes produced)`)
    }
  }),
)

void t.test('a page without has_more is never taken for the last one: the run fails and nothing is marked synced', (t) =>
  eachEngine(t, async (t, engine) => {
    for (const [what, hasMore] of [['absent', undefined], ['a string', 'true'], ['null', null]] as const) {
      // Two pages of one bucket each; the first names its successor but does not say has_more: true.
      const provider = await misbehaving(t, (q) => ({ object: 'page', data: [bucket(q.start + q.page * HOUR, [usage])], has_more: q.page === 0 ? hasMore : false, next_page: q.page === 0 ? '1' : null }))
      const state = await pull(t, engine, provider.url)
      t.equal(state.last_run?.status, 'failed', `has_more ${what}: the run fails`)
      t.match(state.last_run?.error, /completions: the provider's page says neither has_more: true nor false/, what)
      t.equal(state.synced_until.completions, null, `has_more ${what}: synced_until does not move past the pages never read`)
    }
  }),
)

void t.test('a Retry-After longer than SYNC_RETRY_MAX_MS is honoured: no earlier retry, the page is left for the next run', (t) =>
  eachEngine(t, async (t, engine) => {
    const provider = await misbehaving(t, (_q, reply) => reply.status(429).header('retry-after', '120').send({ error: { message: 'Rate limit reached' } }))
    const state = await pull(t, engine, provider.url, { SYNC_RETRY_MAX_MS: '200', SYNC_MAX_ATTEMPTS: '4' })
    t.equal(state.last_run?.status, 'failed')
    t.match(state.last_run?.error, /asked to wait 120 s before another request, longer than SYNC_RETRY_MAX_MS \(200 ms\)/)
    t.equal(provider.requests.length, 1, 'asked once: never again before the 120 s it asked for')
    t.equal(state.synced_until.completions, null)
  }),
)

void t.test('a cost bucket longer than 31 days from a pull fails the run and stores nothing (the bound ingest enforces)', (t) =>
  eachEngine(t, async (t, engine) => {
    const DAY = 24 * HOUR
    const cost = { object: 'organization.costs.result', amount: { value: 1.5, currency: 'usd' }, line_item: 'gpt-4o, input', project_id: 'p', api_key_id: null, quantity: null, quantity_unit: null }
    const provider = await misbehaving(t, (q) => ({
      object: 'page',
      data: [{ object: 'bucket', start_time: q.start, end_time: q.start + 40 * DAY, results: [cost] }],
      has_more: false,
      next_page: null,
    }), '/v1/organization/costs')
    // The window (from 50 days back) holds the bucket: it is refused for its length, not for its place.
    const state = await pull(t, engine, provider.url, {}, 'costs', 50 * 24)
    t.equal(state.last_run?.status, 'failed')
    t.match(state.last_run?.error, /^400 .*nothing was written \(data\.0\.end_time: .*a billed cost may cover at most 31 days .*\(40 days\)/, "the ingest's 400 names the bucket and the bound")
    t.same([state.last_run?.pages, state.last_run?.rows], [0, 0], 'no page counted as stored')
    t.equal(state.synced_until.costs, null, 'synced_until stays')
    const [stored] = await state.app.testDb.query<{ n: string }>('select count(*)::text as n from billed_costs')
    t.equal(stored?.n, '0', 'no billed cost stored')
  }),
)
