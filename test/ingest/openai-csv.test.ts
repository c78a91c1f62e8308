import { Readable } from 'node:stream'
import t from 'tap'
import type { NormalisedBucket } from '../../src/ingest/bucket.js'
import { readUsageCsv } from '../../src/ingest/openai-csv.js'
import { ProblemError } from '../../src/errors.js'

const HEADER = 'start_time,end_time,start_time_iso,end_time_iso,project_id,num_model_requests,model,batch,service_tier,input_tokens,output_tokens'

async function read(text: string, defaults = {}) {
  const rows: { line: number; bucket: NormalisedBucket }[] = []
  const summary = await readUsageCsv(Readable.from([text]), defaults, (bucket, line) => {
    rows.push({ line, bucket })
  })
  return { rows, ...summary }
}

t.test('reads rows with their 1-based lines (header = 1), skipping rows with no usage', async (t) => {
  const csv = [
    HEADER,
    '1759622400,1759708800,,,proj_1,10.0,gpt-4o,FALSE,default,59200.0,10646.0',
    '1759881600,1759968000,,,,,,,,,',
    '1759708800,1759795200,,,proj_1,1.0,gpt-5,TRUE,,5783.0,16000.0',
  ].join('\r\n')
  const r = await read(csv)
  t.equal(r.received, 3)
  t.equal(r.skipped, 1)
  t.same(r.problems.items, [])
  t.same(r.rows.map((x) => x.line), [2, 4])
  t.match(r.rows[0]!.bucket, { projectId: 'proj_1', model: 'gpt-4o', batch: false, serviceTier: 'default', classes: { requests: 10, inputTokens: 59200, inText: 59200 } })
  t.match(r.rows[1]!.bucket, { batch: true, serviceTier: 'default', startMs: 1759708800000 })
})

t.test('uses the _iso columns when the unix ones are absent, and applies defaults only where a row names none', async (t) => {
  const csv = 'start_time_iso,end_time_iso,model,account_id,input_tokens\n' +
    '2025-10-05T00:00:00+00:00,2025-10-06T00:00:00+00:00,m,,5\n' +
    '2025-10-05T00:00:00+00:00,2025-10-06T00:00:00+00:00,m,own,5\n'
  const r = await read(csv, { accountId: 'org-x', provider: 'azure' })
  t.same(r.rows.map((x) => [x.bucket.startMs, x.bucket.accountId, x.bucket.provider]), [
    [1759622400000, 'org-x', 'azure'],
    [1759622400000, 'own', 'azure'],
  ])
})

t.test('start_time and start_time_iso must name the same instant when both are given', async (t) => {
  const csv = [
    HEADER,
    // Agree, in another notation of the same instant.
    '1759622400,1759708800,2025-10-05T02:00:00+02:00,2025-10-06T00:00:00Z,p,1,m,FALSE,,1,1',
    // start_time says Oct 5, start_time_iso Oct 6: one of them is wrong.
    '1759622400,1759708800,2025-10-06T00:00:00+00:00,2025-10-06T00:00:00+00:00,p,1,m,FALSE,,1,1',
    // A valid unix time beside an unreadable _iso: refused too, not ignored.
    '1759622400,1759708800,2025-10-05T00:00:00+00:00,2025-10-06T25:00:00+00:00,p,1,m,FALSE,,1,1',
    // Only the _iso of the end: used.
    '1759622400,,2025-10-05T00:00:00+00:00,2025-10-06T00:00:00+00:00,p,1,m,FALSE,,1,1',
  ].join('\n')
  const r = await read(csv)
  t.same(r.problems.items.map((p) => [p.line, p.path]), [[3, 'start_time'], [4, 'end_time_iso']], JSON.stringify(r.problems.items))
  t.match(r.problems.items[0]!.message, /^start_time and start_time_iso are different instants \(1759622400 is 2025-10-05T00:00:00\.000Z; "2025-10-06T00:00:00\+00:00" is 2025-10-06T00:00:00\.000Z\)/)
  t.same(r.rows.map((x) => [x.line, x.bucket.startMs, x.bucket.endMs]), [[2, 1759622400000, 1759708800000], [5, 1759622400000, 1759708800000]])
})

t.test('names each bad row by line and keeps going', async (t) => {
  const csv = [HEADER, '1759622400,1759708800,,,p,1,m,FALSE,,10.5,1', '1759622400,1759708800,,,p,1', '1759708800,1759622400,,,p,1,m,,,1,1'].join('\n')
  const r = await read(csv)
  t.same(r.problems.items.map((p) => [p.line, p.path]), [[2, 'input_tokens'], [3, ''], [4, 'end_time']])
  t.same(r.rows, [])
})

t.test('a BOM and a trailing blank line are tolerated; a quoted field may hold commas', async (t) => {
  const r = await read(`\uFEFF${HEADER}\n1759622400,1759708800,,,"p,1",1,m,false,,1,1\n\n`)
  t.same(r.problems.items, [])
  t.equal(r.rows[0]!.bucket.projectId, 'p,1')
})

t.test('a header without usage columns, and an unclosed quote, are 400 problems', async (t) => {
  const header = await read('start_time,end_time,model\n1,2,m\n').catch((e: unknown) => e)
  t.ok(header instanceof ProblemError && header.statusCode === 400)
  const err = await read(`${HEADER}\n1759622400,1759708800,,,"p,1,m,false,,1,1\n`).catch((e: unknown) => e)
  t.ok(err instanceof ProblemError && err.statusCode === 400)
})

t.test('streams: a large generated file is read row by row without collecting it', async (t) => {
  const total = 20_000
  function* lines() {
    yield `${HEADER}\n`
    for (let i = 0; i < total; i++) yield `${1759622400 + i * 60},${1759622460 + i * 60},,,p,1.0,m,FALSE,,${i}.0,1.0\n`
  }
  let n = 0
  let sum = 0
  const summary = await readUsageCsv(Readable.from(lines()), {}, (b) => {
    n++
    sum += b.classes.inputTokens
  })
  t.equal(summary.received, total)
  t.equal(n, total)
  t.equal(sum, (total * (total - 1)) / 2)
})

t.test('line numbers stay right across blank lines and newlines inside quoted fields', async (t) => {
  const csv = [HEADER, '1759622400,1759708800,,,"multi\nline",1,m,false,,1,1', '', '1759622400,1759708800,,,p,1,m,false,,-1,1'].join('\n')
  const r = await read(csv)
  t.same(r.problems.items.map((p) => p.line), [5], 'header 1, a two-line row 2–3, a blank line 4, the bad row 5')
  t.equal(r.received, 2)
})

t.test('a counter with surrounding space is a problem on its line, and a row of spaces is not taken for "no usage"', async (t) => {
  const csv = [
    HEADER,
    '1759622400,1759708800,,,p,1,m,FALSE,, 12,3',
    '1759622400,1759708800,,,p,1,m2,FALSE,,  ,  ',
    '1759622400,1759708800,,,p,1,m3,FALSE,,12,3',
  ].join('\n')
  const r = await read(csv)
  t.same(r.problems.items.map((p) => [p.line, p.path]), [[2, 'input_tokens'], [3, 'input_tokens'], [3, 'output_tokens']], JSON.stringify(r.problems.items))
  t.match(r.problems.items[0]!.message, /surrounding space.*" 12"/)
  t.equal(r.skipped, 0)
  t.same(r.rows.map((x) => x.line), [4])
})

t.test('a file whose lines end with a lone CR is refused naming it, not read as a header with no rows (a 200 that stored nothing)', async (t) => {
  const csv = ['start_time,end_time,model,input_tokens,output_tokens', '1759622400,1759708800,m,12,3', ''].join('\r')
  const err = await read(csv).then(
    () => undefined,
    (e: unknown) => e,
  )
  t.ok(err instanceof ProblemError, String(err))
  t.match(err, { statusCode: 400, errors: [{ line: 1, path: '', message: /carriage return \(CR\) not followed by a line feed/ }] })
  // CRLF is a line end, not this problem.
  const crlf = await read([HEADER, '1759622400,1759708800,,,p,1,m,FALSE,,12,3', ''].join('\r\n'))
  t.same(crlf.problems.items, [])
  t.equal(crlf.rows.length, 1)
})
