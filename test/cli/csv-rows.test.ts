import t from 'tap'
import { csvRowCounter } from '../../src/cli/csv-rows.js'

// The import's progress counts a CSV's data rows as the file streams past. It counted every newline, so a
// quoted field holding newlines (a description, a label) made each such row count as several.

const count = (text: string, cuts: number[] = []) => {
  const bytes = Buffer.from(text)
  const c = csvRowCounter()
  let at = 0
  for (const cut of [...cuts, bytes.length]) {
    c.push(bytes.subarray(at, cut))
    at = cut
  }
  return c.rows()
}

t.test('rows are records after the header', async (t) => {
  t.equal(count(''), 0)
  t.equal(count('a,b\n'), 0)
  t.equal(count('a,b\n1,2\n3,4\n'), 2)
  t.equal(count('a,b\n1,2\n3,4'), 2, 'a last record without a final newline')
  t.equal(count('a,b\r\n1,2\r\n3,4\r\n'), 2, 'CRLF')
})

t.test('a newline inside a quoted field is data, not a record end', async (t) => {
  const text = 'model,description\ngpt-5,"line one\nline two\nline three"\ngpt-5-mini,"say ""hi""\nthen go"\nx,plain\n'
  t.equal(count(text), 3)
  for (let cut = 0; cut <= Buffer.byteLength(text); cut++) t.equal(count(text, [cut]), 3, `split at byte ${cut}`)
  t.equal(count('a\n"é\n€"\n"😀\n"\n'), 2, 'multi-byte characters beside quotes')
})
