import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import t from 'tap'
import { engines, holdLocks } from '../helpers.js'
import { call, freshPostgres, startServer, tenantOver } from '../connections/support/server-process.js'

/**
 * SIGTERM while a client has stopped reading a CSV export (src/server.ts): the answer held close() for
 * the whole GRACE_MS and the process exited 1 ("killed by timeout"). Now answers being sent are broken
 * off after half the grace period, while an ingest whose handler is still running — held here behind a
 * lock past that point — completes and is answered: exit 0, before GRACE_MS, every row written.
 * PostgreSQL only: the held lock keeps the ingest in flight, and the export holds a cursor while it waits.
 */
const GRACE_MS = 10_000
const DAY = Date.parse('2026-03-05T00:00:00Z') / 1000
// One-minute buckets of long project ids: the export outruns the socket buffers, so its reader holds it.
const EXPORT = `/v1/organization/usage/completions?start_time=${DAY}&end_time=${DAY + 86_400}&bucket_width=1m&group_by=project_id`

const bucket = (m: number, p: number) => ({
  start_time: DAY + m * 60, end_time: DAY + m * 60 + 60, model: 'gpt-4o-mini', project_id: `${'😀'.repeat(250)}-${p}`,
  num_model_requests: 1, input_tokens: 1000 + m, output_tokens: 10,
})

/**
 * Asks for the export, reads its head, then stops reading (the socket is paused). `closed` is taken
 * before anything can close it: a 'close' listener added late misses one that came early.
 */
async function pausedReader(port: number, key: string): Promise<{ socket: Socket; head: string; closed: Promise<void> }> {
  const socket = connect(port, '127.0.0.1')
  socket.on('error', () => {})
  const closed = new Promise<void>((r) => socket.once('close', () => r()))
  await once(socket, 'connect')
  socket.write(`GET ${EXPORT} HTTP/1.1\r\nHost: x\r\nAccept: text/csv\r\nAuthorization: Bearer ${key}\r\n\r\n`)
  // One listener for the whole head: `once` in a loop drops a chunk emitted while no listener is attached.
  const head = await new Promise<string>((resolve) => {
    let text = ''
    const onData = (d: Buffer) => {
      text += d.toString('utf8')
      if (!text.includes('\r\n\r\n')) return
      socket.off('data', onData)
      socket.pause()
      resolve(text.split('\r\n\r\n')[0]!)
    }
    socket.on('data', onData)
  })
  return { socket, head, closed }
}

void t.test('SIGTERM with a paused export reader and an ingest in flight: the ingest completes, the export is broken off, exit 0', { skip: !engines().includes('postgres') && 'PostgreSQL only' }, async (t) => {
  const { url, db } = await freshPostgres(t)
  const server = startServer(t, { DATABASE_URL: url, GRACE_MS: String(GRACE_MS) })
  const base = await server.url
  const port = Number(new URL(base).port)
  const { tenantId, headers } = await tenantOver(base)
  const day = { buckets: Array.from({ length: 1440 * 8 }, (_, i) => bucket(Math.floor(i / 8), i % 8)) }
  t.equal((await call(base, 'POST', '/v1/usage/buckets', headers, day)).status, 200)

  /**
   * Resolves as `promise` does, or fails naming the step and what the server printed once `ms` have
   * passed: CI once saw this file run into tap's timeout with no word of the step it was waiting on.
   */
  const within = <T>(what: string, promise: Promise<T>, ms = 60_000): Promise<T> => {
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms. Server stdout (end): ${server.stdout().slice(-3000)} stderr: ${server.stderr().slice(-3000)}`)), ms)
    })
    return Promise.race([promise, late]).finally(() => clearTimeout(timer))
  }

  const reader = await within('the export starts', pausedReader(port, headers.authorization.slice('Bearer '.length)))
  t.teardown(() => reader.socket.destroy())
  t.match(reader.head, /^HTTP\/1\.1 200 /, 'the export starts')
  const cursors = async () =>
    (await db.query<{ n: number }>("select count(*)::int8 as n from pg_stat_activity where datname = current_database() and xact_start is not null and query like 'fetch % from usage_rows'"))[0]!.n
  for (let i = 0; (await cursors()) === 0; i++) {
    if (i > 200) throw new Error('the export never held its cursor')
    await new Promise((r) => setTimeout(r, 50))
  }

  // An ingest whose transaction waits behind a lock until after the answers have been broken off.
  const held = await holdLocks(t, db, 'lock table usage_buckets in exclusive mode')
  const later = { buckets: [{ ...bucket(0, 0), start_time: DAY + 86_400, end_time: DAY + 86_460, project_id: 'late' }] }
  const ingest = call(base, 'POST', '/v1/usage/buckets', headers, later)
  for (let i = 0; ; i++) {
    const waiting = await db.query("select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query ilike '%usage_buckets%' and pid <> pg_backend_pid()")
    if (waiting.length > 0) break
    if (i > 400) throw new Error('the ingest never reached the lock')
    await new Promise((r) => setTimeout(r, 50))
  }

  // An upload whose body is still arriving (it never ends) held the exit as well: cut at the same point.
  const upload = connect(port, '127.0.0.1')
  upload.on('error', () => {})
  t.teardown(() => upload.destroy())
  await once(upload, 'connect')
  upload.write(`POST /v1/usage/buckets HTTP/1.1\r\nHost: x\r\nAuthorization: ${headers.authorization}\r\nContent-Type: text/csv\r\nContent-Length: 100000\r\n\r\nstart_time,end_time,model,input_tokens\r\n`)
  const uploadClosed = new Promise<void>((r) => upload.once('close', () => r()))

  const sent = Date.now()
  server.child.kill('SIGTERM')
  await new Promise((r) => setTimeout(r, GRACE_MS / 2 + 1000))
  t.equal(await cursors(), 0, 'half the grace period on, the paused reader’s export is broken off: its cursor is closed')
  // The ingest is still in flight past that point: it is not broken off, it completes.
  await held.release()
  const answered = await within('the ingest in flight is answered', ingest)
  t.equal(answered.status, 200, 'the ingest in flight is answered')
  t.match(answered.json, { created: 1 })
  t.equal(await within('the server exits', server.exit), 0, 'exits 0 (held to GRACE_MS, close-with-grace exits 1)')
  t.ok(Date.now() - sent < GRACE_MS, `before the grace period ends (${Date.now() - sent} ms)`)
  await within('the unfinished upload’s connection closes', uploadClosed)
  t.pass('the unfinished upload’s connection is closed')
  reader.socket.resume()
  let body = ''
  reader.socket.on('data', (d: Buffer) => (body += d.toString('latin1')))
  await within('the export reader’s connection closes', reader.closed)
  t.notMatch(body, /\r\n0\r\n\r\n$/, 'the export’s body was cut short (no last chunk)')
  const [late] = await db.query<{ n: number }>("select count(*)::int8 as n from usage_buckets where tenant_id = $1 and project_id = 'late'", [tenantId])
  t.equal(late!.n, 1, 'the ingest was written whole')
  const [open] = await db.query<{ n: number }>('select count(*)::int8 as n from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and xact_start is not null')
  t.equal(open!.n, 0, 'no transaction of the server is left open')
})
