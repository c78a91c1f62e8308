import { SingleBar } from 'cli-progress'

export interface Progress {
  /** Bytes read so far and data rows counted so far (undefined when the format has no cheap row count). */
  update(bytes: number, rows: number | undefined): void
  /** The file is sent; the server is still working. */
  sent(): void
  stop(): void
}

const PLAIN_EVERY_MS = 1000

function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB']
  let i = 0
  for (; n >= 1024 && i < units.length - 1; i++) n /= 1024
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`
}

/**
 * A bar (cli-progress: rows, rows/s, ETA) on a terminal; elsewhere (CI logs, pipes) plain lines at
 * most once a second, which a log keeps readable. The bar's value is bytes, because the file size is
 * the only total known before the rows are counted; rows and rows/s ride along as payload.
 */
export function createProgress(out: NodeJS.WriteStream, totalBytes: number): Progress {
  const started = Date.now()
  let bytes = 0
  let rows: number | undefined
  const rate = () => {
    const seconds = (Date.now() - started) / 1000
    return rows === undefined || seconds <= 0 ? '-' : String(Math.round(rows / seconds))
  }
  const payload = () => ({ rows: rows ?? '-', rate: rate(), size: formatBytes(totalBytes), read: formatBytes(bytes) })

  if (out.isTTY) {
    const bar = new SingleBar({
      stream: out,
      format: 'import [{bar}] {percentage}% | {rows} rows | {rate} rows/s | ETA {eta_formatted} | {read}/{size}',
      hideCursor: true,
      etaBuffer: 50,
    })
    bar.start(Math.max(totalBytes, 1), 0, payload())
    return {
      update(b, r) {
        bytes = b
        rows = r
        bar.update(b, payload())
      },
      sent() {
        bar.update(Math.max(totalBytes, 1), payload())
        bar.stop()
        out.write('import: sent; waiting for the server to finish\n')
      },
      stop: () => bar.stop(),
    }
  }

  let last = 0
  /** What the last line showed: the end of the file repeats the last chunk's count (one chunk: its only one), and printing it again doubled the last line. */
  let shown: string | undefined
  const line = (final: boolean) => {
    shown = `${bytes}/${rows}`
    const pct = totalBytes > 0 ? Math.floor((bytes / totalBytes) * 100) : 100
    const seconds = (Date.now() - started) / 1000
    const eta = bytes > 0 && !final ? Math.round((seconds / bytes) * (totalBytes - bytes)) : 0
    const p = payload()
    out.write(`import: ${p.rows} rows, ${p.read} of ${p.size} (${pct}%), ${p.rate} rows/s, ETA ${eta}s\n`)
  }
  return {
    update(b, r) {
      bytes = b
      rows = r
      if (Date.now() - last >= PLAIN_EVERY_MS) {
        last = Date.now()
        line(false)
      }
    },
    sent() {
      if (shown !== `${bytes}/${rows}`) line(true)
      out.write('import: sent; waiting for the server to finish\n')
    },
    stop() {},
  }
}
