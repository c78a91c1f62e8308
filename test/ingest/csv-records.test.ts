import { Readable } from 'node:stream'
import { parse } from 'csv-parse/sync'
import fc from 'fast-check'
import t from 'tap'
import { readCsvRecords } from '../../src/ingest/csv-records.js'
import { ProblemError } from '../../src/errors.js'

async function records(text: string, chunkSize = 7) {
  const chunks: Buffer[] = []
  const bytes = Buffer.from(text)
  for (let i = 0; i < bytes.length; i += chunkSize) chunks.push(bytes.subarray(i, i + chunkSize))
  const out: { record: string[]; line: number }[] = []
  await readCsvRecords(Readable.from(chunks), (record, line) => void out.push({ record, line }))
  return out
}

const field = fc.oneof(
  fc.constantFrom('', 'a', 'gpt-4o', '10.0', 'é€😀'),
  fc.string({ unit: fc.constantFrom('a', ',', '"', '\n', '\r\n', ' ', 'ü') }),
)
const quoteIfNeeded = (f: string) => (/[",\n\r]/.test(f) || f === '' ? `"${f.replace(/"/g, '""')}"` : f)

t.test('agrees with csv-parse on random quoted records, any chunking, LF or CRLF', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(field, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 6 }),
      fc.constantFrom('\n', '\r\n'),
      fc.boolean(),
      fc.integer({ min: 1, max: 40 }),
      async (rows, eol, trailing, chunk) => {
        const text = rows.map((r) => r.map(quoteIfNeeded).join(',')).join(eol) + (trailing ? eol : '')
        const expected = parse(text, { relax_column_count: true, record_delimiter: eol === '\n' ? '\n' : '\r\n' }) as string[][]
        const got = await records(text, chunk)
        return JSON.stringify(got.map((g) => g.record)) === JSON.stringify(expected)
      },
    ),
    { numRuns: 400 },
  )
})

t.test('numbers each record by its first line, counting newlines inside quotes and empty lines', async (t) => {
  const got = await records('\uFEFFh1,h2\r\na,"x\ny"\n\n"p""q",\nlast,"z"')
  t.same(got, [
    { record: ['h1', 'h2'], line: 1 },
    { record: ['a', 'x\ny'], line: 2 },
    { record: [''], line: 4 },
    { record: ['p"q', ''], line: 5 },
    { record: ['last', 'z'], line: 6 },
  ])
})

t.test('malformed quoting and oversized records are 400 problems with a line', async (t) => {
  for (const text of ['a,b\n1,"open\n2,3\n', 'a,b\n1,"x"y\n', 'a,b\n1,x"y\n']) {
    const err = await records(text).catch((e: unknown) => e)
    t.ok(err instanceof ProblemError && err.statusCode === 400, JSON.stringify(text))
    t.match((err as ProblemError).errors, [{ line: Number }])
  }
  const long = await readCsvRecords(Readable.from(['a,"', 'x'.repeat(100)]), () => undefined, 50).catch((e: unknown) => e)
  t.ok(long instanceof ProblemError && long.statusCode === 400)
})

t.test('invalid UTF-8 is a 400 naming its line, whatever the chunking (never stored as U+FFFD)', async (t) => {
  const invalid = {
    'a lone continuation byte': [0x80],
    'a truncated 3-byte character': [0xe2, 0x82],
    'an overlong slash': [0xc0, 0xaf],
    'a UTF-16 surrogate': [0xed, 0xa0, 0x80],
    'above U+10FFFF': [0xf4, 0x90, 0x80, 0x80],
    'a byte never used in UTF-8': [0xff],
  }
  for (const [name, bad] of Object.entries(invalid))
    for (const line of [2, 4])
      for (const chunkSize of [1, 3, 7, 64]) {
        const lines = ['h1,h2', 'é€,😀', '"x\ny",z', 'a,b'].flatMap((l) => l.split('\n'))
        const parts = lines.map((l, i) => (i + 1 === line ? Buffer.concat([Buffer.from(l + ','), Buffer.from(bad), Buffer.from('q')]) : Buffer.from(l)))
        const bytes = Buffer.concat(parts.flatMap((p) => [p, Buffer.from('\n')]))
        const chunks: Buffer[] = []
        for (let i = 0; i < bytes.length; i += chunkSize) chunks.push(bytes.subarray(i, i + chunkSize))
        const err = await readCsvRecords(Readable.from(chunks), () => undefined).catch((e: unknown) => e)
        if (!(err instanceof ProblemError) || err.statusCode !== 400) {
          t.fail(`${name}, line ${line}, chunks of ${chunkSize}: not refused`)
          continue
        }
        t.same(err.errors, [{ line, path: '', message: 'is not valid UTF-8' }], `${name}, line ${line}, chunks of ${chunkSize}`)
      }
  const cut = await readCsvRecords(Readable.from([Buffer.from('a,b\n1,'), Buffer.from([0xf0, 0x9f, 0x98])]), () => undefined).catch((e: unknown) => e)
  t.match(cut, { statusCode: 400, errors: [{ line: 2, message: 'ends inside a UTF-8 character' }] })
  // A BOM inside the text (not at its start) is a character like any other, also at a chunk start.
  t.same(await records('a\n\uFEFFb\n', 2), [
    { record: ['a'], line: 1 },
    { record: ['\uFEFFb'], line: 2 },
  ])
})
