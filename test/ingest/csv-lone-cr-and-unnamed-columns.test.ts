import { Readable } from 'node:stream'
import t from 'tap'
import { rowCount, storedRows } from '../factories/buckets.js'
import { bearer, build, eachEngine, isProblem, tenantWithKey } from '../helpers.js'

// A usage CSV with a carriage return not followed by a line feed in a data row: outside quotes it was kept
// inside its field (a model "gpt\r4o" stored, a 200) or, splitting two rows, read as one row "has 11
// fields; the header has 6". RFC 4180 allows a CR inside a quoted field only: there it is data; anywhere
// else the CSV is a 400 naming the line. A header ending in ",," was refused as 'column "" appears twice':
// the 400 now names the unnamed columns' positions.

const HEADER = 'start_time,end_time,model,project_id,input_tokens,output_tokens'
const ROW = '1759622400,1759708800,gpt-4o,p,12,3'
const LONE_CR = /carriage return \(CR\) not followed by a line feed outside quotes/

interface Problem { detail: string; errors: { line?: number; path: string; message: string }[] }

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)
  const { key, tenantId } = await tenantWithKey(app, ['ingest'])
  const csv = (body: string | Readable) => app.inject({ method: 'POST', url: '/v1/usage/buckets', headers: { ...bearer(key), 'content-type': 'text/csv' }, payload: body })

  t.test('a lone CR outside quotes is a 400 naming its line, nothing written', async (t) => {
    for (const [body, line] of [
      [`${HEADER}\n${ROW}\n1759622400,1759708800,gpt\r4o,p,12,3\n`, 3],
      [`${HEADER}\r\n${ROW}\r\n1759622400,1759708800,m,p,1\r2,3\r\n`, 3],
      [`${HEADER}\n${ROW}\r1759622400,1759708800,m2,p,12,3\n`, 2],
      [`${HEADER}\n1759622400,1759708800,"gpt-4o",p\rq,12,3\n`, 2],
      [`${HEADER}\n1759622400,1759708800,"gpt-4o"\r,p,12,3\n`, 2],
    ] as const) {
      const res = await csv(body)
      t.equal(res.statusCode, 400, JSON.stringify(body))
      t.ok(isProblem(res))
      t.match(res.json() as Problem, { errors: [{ line, path: '', message: LONE_CR }] }, JSON.stringify(body))
    }
    t.equal(await rowCount(app, tenantId), 0, 'nothing was written')
  })

  t.test('a CR inside quotes is data (RFC 4180); CRLF split across chunks and a CR ending the file are line ends', async (t) => {
    const res = await csv(`${HEADER}\r\n1759622400,1759708800,"gpt\r4o",p,12,3\r\n`)
    t.equal(res.statusCode, 200, res.body)
    t.same((await storedRows(app, tenantId)).map((r) => r.model), ['gpt\r4o'])
    const chunked = await csv(Readable.from([`${HEADER}\r`, `\n1759622400,1759708800,m2,p,1,1\r`, '\n1759622400,1759708800,m3,p,1,"1"\r', '\n1759622400,1759708800,m4,p,1,1\r']))
    t.equal(chunked.statusCode, 200, chunked.body)
    t.same((await storedRows(app, tenantId)).map((r) => r.model).sort(), ['gpt\r4o', 'm2', 'm3', 'm4'])
  })

  // A quoted column name with a CR was told "records must end with LF or CRLF" (the file's line ends were
  // right), and one ending in a CR or LF was trimmed into a real column.
  t.test('a quoted column name holding a CR or LF is a 400 naming the column, nothing written', async (t) => {
    const before = await rowCount(app, tenantId)
    for (const [name, column] of [['"model\rx"', 3], ['"input_tokens\r"', 5], ['"out\nput_tokens"', 6]] as const) {
      const header = HEADER.split(',').map((h, i) => (i + 1 === column ? name : h)).join(',')
      const res = await csv(`${header}\r\n${ROW}\r\n`)
      t.equal(res.statusCode, 400, res.body)
      t.ok(isProblem(res))
      const problem = res.json() as Problem
      t.equal(problem.errors.length, 1, JSON.stringify(problem.errors))
      t.match(problem.errors[0], { line: 1, path: '', message: new RegExp(`^column ${column} \\(counted from 1\\) is named ".*": a column name must not hold a line break`) })
      t.notMatch(problem.errors[0]!.message, LONE_CR)
    }
    t.equal(await rowCount(app, tenantId), before, 'nothing was written')
  })

  t.test('a header ending in ",," is a 400 naming the unnamed columns; one unnamed column is ignored', async (t) => {
    const res = await csv(`${HEADER},,\n${ROW},,\n`)
    t.equal(res.statusCode, 400, res.body)
    t.ok(isProblem(res))
    const problem = res.json() as Problem
    t.equal(problem.errors.length, 1)
    t.match(problem.errors[0], { line: 1, path: '', message: /^columns 7 and 8 \(counted from 1\) have no name.*ends with ",,"/ })
    const middle = await csv('start_time,,end_time,,model,input_tokens,\n1,,2,,m,3,\n')
    t.match(middle.json() as Problem, { errors: [{ line: 1, message: /^columns 2, 4 and 7 \(counted from 1\) have no name/ }] })
    const one = await csv(`${HEADER},\n1759622400,1759708800,one-unnamed,p,12,3,\n`)
    t.equal(one.statusCode, 200, one.body)
  })
})
