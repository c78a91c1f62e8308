/**
 * Counts a CSV's data rows as its bytes stream past: record ends (LF) outside quoted fields, less the
 * header, plus a last record without a final newline. A newline inside a quoted field (`"a\nb"`) is data,
 * not a record end; `""` inside quotes toggles twice and so changes nothing. Bytes are enough: `"` and LF
 * never occur inside a multi-byte UTF-8 character.
 */
export function csvRowCounter() {
  let recordEnds = 0
  let quoted = false
  let lastByte = 0x0a
  return {
    push(chunk: Buffer) {
      if (!chunk.length) return
      // Outside quotes with no quote in the chunk, the native search counts it.
      if (!quoted && chunk.indexOf(0x22) === -1) {
        for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) recordEnds++
      } else {
        for (const byte of chunk) {
          if (byte === 0x22) quoted = !quoted
          else if (byte === 0x0a && !quoted) recordEnds++
        }
      }
      lastByte = chunk[chunk.length - 1]!
    },
    rows(): number {
      return Math.max(0, recordEnds - 1 + (lastByte === 0x0a ? 0 : 1))
    },
  }
}
