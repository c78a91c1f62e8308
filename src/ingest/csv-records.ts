import type { Readable } from 'node:stream'
import { problems } from '../errors.js'

/**
 * RFC 4180 records from a stream, for the usage export: `,` separated, `"` quoted (`""` inside),
 * records end at LF or CRLF, a leading BOM is dropped, quoted fields may hold newlines. An empty line
 * is the record `['']`. csv-parse did the same at a third of the speed (it builds each field through
 * a byte buffer); an unquoted record — nearly every export line — is one `split` here.
 *
 * `onRecord` gets each record with its 1-based first line; a returned promise is awaited
 * (back-pressure). Malformed quoting and records over `maxRecordChars` are 400 problems by line.
 */
export async function readCsvRecords(
  input: Readable,
  onRecord: (record: string[], line: number) => void | Promise<void>,
  maxRecordChars = 1 << 20,
): Promise<void> {
  input.setEncoding('utf8')
  let carry = ''
  let line = 1
  let first = true
  const malformed = (at: number, message: string) =>
    problems.validation([{ line: at, path: '', message }], 'malformed CSV; nothing was written')

  /** Parses complete records from `text`; returns where the incomplete rest starts. */
  const parse = async (text: string, final: boolean): Promise<number> => {
    let i = 0
    const n = text.length
    // The next quote at or after i (-1: none left): found once per quote, not once per record.
    let quote = text.indexOf('"')
    while (i < n) {
      let nl = text.indexOf('\n', i)
      if (nl === -1) {
        if (!final) return i
        nl = n
      }
      if (quote !== -1 && quote < i) quote = text.indexOf('"', i)
      if (quote === -1 || quote >= nl) {
        const end = nl > i && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl
        const pending = onRecord(text.slice(i, end).split(','), line)
        if (pending) await pending
        line++
        i = nl + 1
        continue
      }
      // A record with quotes: field by field, possibly across lines.
      const record: string[] = []
      const startLine = line
      let j = i
      let lines = 0
      for (;;) {
        if (text.charCodeAt(j) === 34) {
          let value = ''
          let k = j + 1
          for (;;) {
            const q = text.indexOf('"', k)
            if (q === -1) {
              if (!final) return i
              throw malformed(startLine + lines + countLines(text, k, n), 'a quoted field is not closed')
            }
            value += text.slice(k, q)
            if (text.charCodeAt(q + 1) === 34) {
              value += '"'
              k = q + 2
              continue
            }
            lines += countLines(text, j, q)
            j = q + 1
            break
          }
          record.push(value)
          const c = text.charCodeAt(j)
          if (j >= n) {
            if (!final) return i
          } else if (c === 44) {
            j++
            continue
          } else if (c === 13 && j + 1 >= n && !final) return i
          else if (c === 13 && text.charCodeAt(j + 1) === 10) j++
          else if (c !== 10) throw malformed(startLine + lines, 'a closing quote must end its field')
          break
        }
        let end = j
        while (end < n) {
          const c = text.charCodeAt(end)
          if (c === 44 || c === 10) break
          if (c === 34) throw malformed(startLine + lines, 'a quote may only open a field')
          end++
        }
        if (end >= n && !final) return i
        const fieldEnd = text.charCodeAt(end) === 10 && end > j && text.charCodeAt(end - 1) === 13 ? end - 1 : end
        record.push(text.slice(j, fieldEnd))
        j = end
        if (j < n && text.charCodeAt(j) === 44) {
          j++
          if (j < n) continue
          if (!final) return i
          // A trailing comma at the very end of the input still closes one more (empty) field.
          record.push('')
        }
        break
      }
      const pending = onRecord(record, startLine)
      if (pending) await pending
      line = startLine + lines + 1
      i = j + 1
    }
    return n
  }

  for await (const chunk of input as AsyncIterable<string>) {
    let text = carry + chunk
    if (first) {
      first = false
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
    }
    const rest = await parse(text, false)
    carry = text.slice(rest)
    if (carry.length > maxRecordChars) throw malformed(line, `a record is longer than ${maxRecordChars} characters`)
  }
  if (first) return
  if (carry.length > 0) await parse(carry, true)
}

function countLines(text: string, from: number, to: number): number {
  let count = 0
  for (let p = text.indexOf('\n', from); p !== -1 && p < to; p = text.indexOf('\n', p + 1)) count++
  return count
}
