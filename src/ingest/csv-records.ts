import type { Readable } from 'node:stream'
import { problems } from '../errors.js'

/**
 * RFC 4180 records from a stream, for the usage export: `,` separated, `"` quoted (`""` inside),
 * records end at LF or CRLF (a lone CR is refused outside quotes), a leading BOM is dropped, quoted
 * fields may hold newlines and CRs. An empty line
 * is the record `['']`. csv-parse did the same at a third of the speed (it builds each field through
 * a byte buffer); an unquoted record — nearly every export line — is one `split` here.
 *
 * `onRecord` gets each record with its 1-based first line; a returned promise is awaited
 * (back-pressure). Malformed quoting, invalid UTF-8 and records over `maxRecordChars` are 400
 * problems by line.
 */
export async function readCsvRecords(
  input: Readable,
  onRecord: (record: string[], line: number) => void | Promise<void>,
  maxRecordChars = 1 << 20,
): Promise<void> {
  // Bytes are decoded here, strictly: a stream decoder would turn invalid UTF-8 into U+FFFD and store it.
  const utf8 = new Utf8Chunks()
  let carry = ''
  let line = 1
  let first = true
  const malformed = (at: number, message: string) =>
    problems.validation([{ line: at, path: '', message }], 'malformed CSV; nothing was written')
  // A CR not followed by LF outside quotes was kept inside its field (a model "gpt\r4o" stored as sent), and
  // a row split by one (a file saved with CR line ends) read as one row of twice the fields. RFC 4180 allows a
  // CR inside a quoted field only: kept there; refused elsewhere — except as the input's last character.
  const loneCr = (at: number) =>
    malformed(at, 'holds a carriage return (CR) not followed by a line feed outside quotes: records must end with LF or CRLF (convert a file saved with CR line ends), and a CR inside a value must be quoted (RFC 4180)')

  /** Parses complete records from `text`; returns where the incomplete rest starts. */
  const parse = async (text: string, final: boolean): Promise<number> => {
    let i = 0
    const n = text.length
    // The next quote at or after i (-1: none left): found once per quote, not once per record.
    let quote = text.indexOf('"')
    // Likewise the next CR: one search per CR (once per CRLF line), not a search to the end per line.
    let cr = text.indexOf('\r')
    while (i < n) {
      let nl = text.indexOf('\n', i)
      if (nl === -1) {
        if (!final) return i
        nl = n
      }
      if (quote !== -1 && quote < i) quote = text.indexOf('"', i)
      if (quote === -1 || quote >= nl) {
        const end = nl > i && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl
        if (cr !== -1 && cr < i) cr = text.indexOf('\r', i)
        if (cr !== -1 && cr < end) throw loneCr(line)
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
          else if (c === 13 && j + 1 < n) throw loneCr(startLine + lines)
          else if (c !== 10 && c !== 13) throw malformed(startLine + lines, 'a closing quote must end its field')
          break
        }
        let end = j
        while (end < n) {
          const c = text.charCodeAt(end)
          if (c === 44 || c === 10) break
          if (c === 34) throw malformed(startLine + lines, 'a quote may only open a field')
          if (c === 13 && end + 1 < n && text.charCodeAt(end + 1) !== 10) throw loneCr(startLine + lines)
          end++
        }
        if (end >= n && !final) return i
        const fieldEnd = (end >= n || text.charCodeAt(end) === 10) && end > j && text.charCodeAt(end - 1) === 13 ? end - 1 : end
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

  for await (const chunk of input as AsyncIterable<string | Uint8Array>) {
    const decoded = typeof chunk === 'string' ? chunk : utf8.decode(chunk)
    if (decoded === undefined) {
      // The invalid sequence is on the line `carry` starts on, plus the lines before it in this chunk.
      throw problems.validation(
        [{ line: line + countLines(carry, 0, carry.length) + utf8.linesBeforeError, path: '', message: 'is not valid UTF-8' }],
        'the CSV is not valid UTF-8; nothing was written',
      )
    }
    let text = carry + decoded
    if (first) {
      first = false
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
    }
    const rest = await parse(text, false)
    carry = text.slice(rest)
    if (carry.length > maxRecordChars) throw malformed(line, `a record is longer than ${maxRecordChars} characters`)
  }
  if (!utf8.end())
    throw problems.validation(
      [{ line: line + countLines(carry, 0, carry.length), path: '', message: 'ends inside a UTF-8 character' }],
      'the CSV is not valid UTF-8; nothing was written',
    )
  if (first) return
  if (carry.length > 0) await parse(carry, true)
}

/**
 * Strict UTF-8 decoding of a byte stream, chunk by chunk: a character split across chunks is held
 * back until its last byte arrives. Invalid input (bad bytes, overlong forms, surrogates) is refused
 * with the number of line feeds before the first invalid byte, so the caller can name its line.
 */
class Utf8Chunks {
  private readonly decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
  private pending: Uint8Array = new Uint8Array(0)
  /** After `decode` returned undefined: line feeds in this chunk before the invalid sequence. */
  linesBeforeError = 0

  decode(chunk: Uint8Array): string | undefined {
    const bytes = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk
    const cut = completeLength(bytes)
    this.pending = bytes.slice(cut)
    try {
      return this.decoder.decode(bytes.subarray(0, cut))
    } catch {
      const bad = firstInvalid(bytes.subarray(0, cut))
      this.linesBeforeError = 0
      for (let i = 0; i < bad; i++) if (bytes[i] === 10) this.linesBeforeError++
      return undefined
    }
  }

  /** False when the stream ended inside a character. */
  end(): boolean {
    return this.pending.length === 0
  }
}

/** The length of the longest prefix of `bytes` that does not end inside a multi-byte character. */
function completeLength(bytes: Uint8Array): number {
  const n = bytes.length
  // A character is at most 4 bytes: look back from the end for the lead byte of the last one.
  for (let back = 1; back <= Math.min(4, n); back++) {
    const b = bytes[n - back]!
    if (b < 0x80) return n
    if (b >= 0xc0) {
      const size = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2
      return size > back ? n - back : n
    }
  }
  // Only continuation bytes at the end: invalid anyway; let the decoder reject them.
  return n
}

/** The offset of the first byte that does not start a valid UTF-8 sequence (RFC 3629). */
function firstInvalid(bytes: Uint8Array): number {
  let i = 0
  while (i < bytes.length) {
    const b = bytes[i]!
    if (b < 0x80) {
      i++
      continue
    }
    const size = b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0
    if (size === 0 || i + size > bytes.length) return i
    const second = bytes[i + 1]!
    // The second byte's range excludes overlong forms, surrogates and code points above U+10FFFF.
    const lo = b === 0xe0 ? 0xa0 : b === 0xf0 ? 0x90 : 0x80
    const hi = b === 0xed ? 0x9f : b === 0xf4 ? 0x8f : 0xbf
    if (second < lo || second > hi) return i
    for (let k = 2; k < size; k++) if ((bytes[i + k]! & 0xc0) !== 0x80) return i
    i += size
  }
  return bytes.length
}

function countLines(text: string, from: number, to: number): number {
  let count = 0
  for (let p = text.indexOf('\n', from); p !== -1 && p < to; p = text.indexOf('\n', p + 1)) count++
  return count
}
