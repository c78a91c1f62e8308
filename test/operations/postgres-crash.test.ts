import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chown, mkdtemp, readdir, readFile, readlink, realpath, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t, { type Test } from 'tap'
import { createPostgresDb } from '../../src/db/client.js'
import { track, trackPid } from '../setup/children.js'
import { procStat } from '../setup/proc-stat.js'

// The fault test for "PostgreSQL dies during ingest": a private PostgreSQL 15 cluster (its own data
// directory, port and socket) under the real server process, loaded with CSV uploads, JSON buckets
// and events, and killed with SIGKILL several times. The process must live (it used to die with
// postgres.js's `Cannot read properties of null (reading 'write')`), answer 503 problem+json with
// Retry-After while the database is down, recover by itself, keep every acknowledged row and store
// nothing twice.

const BIN = '/usr/lib/postgresql/15/bin'
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const ADMIN = 'crash-test-admin-token-0123456789'
const KILLS = 4
const run = promisify(execFile)

const unavailable = !existsSync(join(BIN, 'initdb'))
  ? `needs PostgreSQL 15 binaries in ${BIN}`
  : process.getuid?.() !== 0
    ? 'needs root (runuser -u postgres) to start a private cluster'
    : false

async function freePort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r))
  const { port } = probe.address() as { port: number }
  await new Promise<void>((r) => probe.close(() => r()))
  return port
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** A private cluster: initdb once, then start and SIGKILL at will. Only its own processes are touched. */
async function privateCluster(t: Test) {
  const dir = await mkdtemp(join(tmpdir(), 'tl-pgcrash-'))
  const { stdout } = await run('id', ['-u', 'postgres'])
  const uid = Number(stdout.trim())
  await chown(dir, uid, uid)
  const data = join(dir, 'data')
  const port = await freePort()
  const asPostgres = (cmd: string, args: string[]) => run('runuser', ['-u', 'postgres', '--', join(BIN, cmd), ...args])
  await asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync'])
  const dataPath = await realpath(data)
  const postmasterFile = join(data, 'postmaster.pid')
  /** The pid postmaster.pid names (its first line), whoever runs under it now. */
  const namedPid = async () => Number((await readFile(postmasterFile, 'utf8').catch(() => '')).split('\n')[0])
  /**
   * The cluster's running postmaster: the pid postmaster.pid names, if that process's working directory is
   * this data directory (a postmaster runs in its own). A SIGKILLed cluster leaves its postmaster.pid behind,
   * and the pid it names may since belong to any process: trusted alone, `kill()` SIGKILLed that process.
   */
  const postmasterPid = async (): Promise<number | undefined> => {
    const pid = await namedPid()
    if (!Number.isInteger(pid) || pid <= 0) return undefined
    return (await readlink(`/proc/${pid}/cwd`).catch(() => undefined)) === dataPath ? pid : undefined
  }
  let forget = () => {}
  const cluster = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async start() {
      // fsync off: a SIGKILLed server loses nothing the kernel already has; only a machine crash would.
      const args = ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '30', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']
      // pg_ctl daemonizes the postmaster: not this file's child, so tracked by pid (its backends exit with it),
      // from as soon as it is up — while pg_ctl waits through recovery too — and even when pg_ctl gives up.
      // A SIGKILLed cluster's postmaster.pid names its dead postmaster until the new one writes its own.
      const started = asPostgres('pg_ctl', args)
      let done = false
      void started.then(() => (done = true), () => (done = true))
      let tracked = false
      for (;;) {
        // Read before the file is: one more look after pg_ctl has returned, whenever it returns.
        const finished = done
        const pid = await postmasterPid()
        if (pid !== undefined) {
          forget = trackPid(pid)
          tracked = true
          break
        }
        if (finished) break
        await new Promise((r) => setTimeout(r, 50))
      }
      const log = async () => (await readFile(join(dir, 'log'), 'utf8').catch(() => '')).slice(-2000)
      await started.catch(async (err: unknown) => {
        throw new Error(`pg_ctl start failed: ${String(err)}\n${await log()}`)
      })
      // Started but not found: kill() and the teardown would leave it running.
      if (!tracked) throw new Error(`pg_ctl started, but no postmaster runs in ${dataPath}\n${await log()}`)
    },
    /** SIGKILL the postmaster and every process it started, as a crash would. */
    async kill() {
      const pid = await postmasterPid()
      if (pid === undefined) throw new Error('no postmaster of this cluster is running')
      // Stopped first, so that it forks no backend between the scan and the kill.
      process.kill(pid, 'SIGSTOP')
      const children: number[] = []
      for (const entry of await readdir('/proc')) {
        if (/^\d+$/.test(entry) && procStat(Number(entry))?.ppid === pid) children.push(Number(entry))
      }
      for (const p of [pid, ...children]) {
        try {
          process.kill(p, 'SIGKILL')
        } catch {
          // already gone
        }
      }
      while ([pid, ...children].some(running)) await new Promise((r) => setTimeout(r, 20))
      // Forgotten only now: a file killed during the scan above still has it SIGKILLed.
      forget()
    },
  }
  t.teardown(async () => {
    await cluster.kill().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })
  return Object.assign(cluster, { postmasterFile, namedPid })
}

function startServer(databaseUrl: string) {
  // node with tsx's loader, not the tsx CLI: one process, so a SIGKILL in teardown leaves no orphan.
  const child: ChildProcess = track(spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'info', DATABASE_URL: databaseUrl, TOKENLEDGER_ADMIN_TOKEN: ADMIN, DB_RETRY_MS: '500', DB_POOL_SIZE: '10',
      // The load here is one key far past 1,200 requests a minute on a quiet machine; rate limits are tested elsewhere.
      RATE_LIMIT_PER_MINUTE: 'off' },
    stdio: ['ignore', 'pipe', 'pipe'],
  }))
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
  return { child, exit, output: () => out }
}

interface Expected {
  accounts: Map<string, { rows: number; tokens: number }>
  events: { count: number; tokens: number }
}

t.test('SIGKILLed PostgreSQL under CSV, JSON and event load: the server lives, answers 503, loses and doubles nothing', { skip: unavailable }, async (t) => {
  const cluster = await privateCluster(t)
  await cluster.start()
  // Listen before the database: the server logs its address at info level; here it is found by /healthz.
  const server = startServer(cluster.url)
  t.teardown(() => server.child.kill('SIGKILL'))
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${server.output()}`)), 90_000)
    const probe = async () => {
      const m = /listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(server.output())
      if (m) return (clearTimeout(timer), resolve(m[1]!))
      setTimeout(probe, 100)
    }
    void probe()
  })
  let exited: number | null | undefined
  void server.exit.then((code) => (exited = code))
  /** fetch, failing with the server's own last words when it is gone. */
  const call = (path: string, init?: RequestInit) =>
    fetch(`${base}${path}`, init).catch((err: unknown) => {
      throw new Error(`server unreachable (${String(err)}; exit code ${exited}): ${server.output().slice(-3000)}`)
    })
  const admin = { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }
  const ready = async (within: number) => {
    const until = Date.now() + within
    while (Date.now() < until) {
      const res = await call('/readyz').catch(() => undefined)
      if (res?.status === 200) return true
      await new Promise((r) => setTimeout(r, 100))
    }
    return false
  }
  t.ok(await ready(60_000), 'ready')
  await call('/v1/tenants', { method: 'POST', headers: admin, body: JSON.stringify({ id: 'crash', name: 'Crash' }) })
  const keyRes = await call('/v1/tenants/crash/api-keys', { method: 'POST', headers: admin, body: JSON.stringify({ name: 'k', scopes: ['ingest'] }) })
  const { key } = (await keyRes.json()) as { key: string }

  const expected: Expected = { accounts: new Map(), events: { count: 0, tokens: 0 } }
  const seen = { ok: 0, unavailable: 0, other: [] as string[] }
  let loading = true

  let abandoned = false
  /** Sends one request until it is acknowledged, as a client that retries on 503 would. */
  const deliver = async (path: string, type: string, body: string) => {
    for (;;) {
      if (abandoned) throw new Error('load abandoned')
      const res = await call(path, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': type }, body })
      const text = await res.text()
      if (res.status === 200) return void seen.ok++
      if (res.status === 503 && /problem\+json/.test(res.headers.get('content-type') ?? '') && res.headers.get('retry-after')) seen.unavailable++
      else seen.other.push(`${res.status} ${text.slice(0, 200)}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  const hour = (i: number) => 1735689600 + i * 3600
  const workers = [
    async (w: number) => {
      // CSV uploads of 1,500 rows: long enough for a kill to land inside a COPY.
      // eslint-disable-next-line no-unmodified-loop-condition -- the kill step clears `loading` while workers await
      for (let n = 0; loading; n++) {
        const account = `csv-${w}-${n}`
        const rows = Array.from({ length: 1500 }, (_, i) => `${hour(i)},${hour(i + 1)},m,${n + i + 1}`)
        await deliver(`/v1/usage/buckets?account_id=${account}`, 'text/csv', ['start_time,end_time,model,input_tokens', ...rows].join('\n'))
        expected.accounts.set(account, { rows: rows.length, tokens: rows.reduce((s, _, i) => s + n + i + 1, 0) })
      }
    },
    async (w: number) => {
      // eslint-disable-next-line no-unmodified-loop-condition -- the kill step clears `loading` while workers await
      for (let n = 0; loading; n++) {
        const account = `json-${w}-${n}`
        const buckets = Array.from({ length: 50 }, (_, i) => ({
          start_time: new Date(hour(i) * 1000).toISOString(),
          end_time: new Date(hour(i + 1) * 1000).toISOString(),
          account_id: account,
          model: 'm',
          input_tokens: n + i + 1,
        }))
        await deliver('/v1/usage/buckets', 'application/json', JSON.stringify({ buckets }))
        expected.accounts.set(account, { rows: buckets.length, tokens: buckets.reduce((s, b) => s + b.input_tokens, 0) })
      }
    },
    async (w: number) => {
      // eslint-disable-next-line no-unmodified-loop-condition -- the kill step clears `loading` while workers await
      for (let n = 0; loading; n++) {
        const events = Array.from({ length: 20 }, (_, i) => ({
          id: `ev-${w}-${n}-${i}`,
          timestamp: new Date((hour(n % 48) + i) * 1000).toISOString(),
          model: 'm',
          usage: { prompt_tokens: i + 1, completion_tokens: 1 },
        }))
        await deliver('/v1/usage/events', 'application/json', JSON.stringify({ events }))
        expected.events.count += events.length
        expected.events.tokens += events.reduce((s, e) => s + e.usage.prompt_tokens, 0)
      }
    },
  ]
  const load = Promise.all([0, 1].flatMap((w) => workers.map((work) => work(w))))

  // A failed step must not leave the load retrying until tap's timeout.
  t.teardown(() => void (abandoned = true))
  for (let k = 0; k < KILLS; k++) {
    await new Promise((r) => setTimeout(r, 1500 + Math.random() * 1500))
    await cluster.kill()
    const started = Date.now()
    const down = await call('/readyz')
    t.equal(down.status, 503, `kill ${k + 1}: /readyz is 503 while the database is down`)
    // Promptly, not after a reconnect backoff; 5 s leaves a loaded 2-core machine room (2 s did not always).
    t.ok(Date.now() - started < 5000, `kill ${k + 1}: and answers promptly (${Date.now() - started} ms)`)
    t.match(down.headers.get('content-type'), /application\/problem\+json/)
    t.ok(down.headers.get('retry-after'), 'with Retry-After')
    await new Promise((r) => setTimeout(r, 500))
    t.equal(exited, undefined, `kill ${k + 1}: the server process lives`)
    await cluster.start().catch((err: unknown) => {
      abandoned = true
      throw err
    })
    t.ok(await ready(30_000), `kill ${k + 1}: ready again after the restart`)
  }
  loading = false
  await load
  t.equal(exited, undefined, 'the server process lived through every kill')
  t.notMatch(server.output(), /TypeError|uncaught|unhandled/i, 'no crash in its output')
  t.ok(seen.unavailable > 0, `requests during the outages got 503 problem+json with Retry-After (${seen.unavailable}; ${seen.ok} acknowledged)`)
  t.same(seen.other, [], 'and no other status (no 500)')

  // Every acknowledged upload is stored exactly: its rows once each, with its token sums; the events
  // once per id, retries after an unknown outcome included.
  const db = createPostgresDb({ url: cluster.url, poolSize: 1 })
  t.teardown(() => db.close())
  const stored = await db.query<{ account_id: string; rows: number; tokens: number }>(
    `select account_id, count(*)::int8 as rows, sum(input_tokens)::int8 as tokens from usage_buckets where tenant_id = 'crash' group by account_id`,
  )
  t.same(
    Object.fromEntries(stored.map((r) => [r.account_id, { rows: r.rows, tokens: r.tokens }])),
    Object.fromEntries(expected.accounts),
    `every acknowledged bucket upload (${expected.accounts.size}) is stored once, with its sums`,
  )
  const [events] = await db.query<{ count: number; ids: number; tokens: number }>(
    `select count(*)::int8 as count, count(distinct id)::int8 as ids, coalesce(sum(in_text), 0)::int8 as tokens from usage_events where tenant_id = 'crash'`,
  )
  t.same(events, { count: expected.events.count, ids: expected.events.count, tokens: expected.events.tokens }, `every acknowledged event (${expected.events.count}) is stored once`)

  server.child.kill('SIGTERM')
  t.equal(await server.exit, 0, 'and it still shuts down cleanly')
})

t.test('a stale postmaster.pid naming another process: the cluster kills nothing', { skip: unavailable }, async (t) => {
  const cluster = await privateCluster(t)
  await cluster.start()
  await cluster.kill()
  // The killed cluster's file stays; its pid now names a process of someone else (here: a sleep of ours).
  const other = track(spawn('sleep', ['60'], { stdio: 'ignore' }))
  t.teardown(() => void other.kill('SIGKILL'))
  const file = await readFile(cluster.postmasterFile, 'utf8')
  await writeFile(cluster.postmasterFile, file.replace(/^\d+/, String(other.pid)))
  await t.rejects(cluster.kill(), /no postmaster of this cluster is running/)
  await new Promise((r) => setTimeout(r, 200))
  t.ok(running(other.pid!), 'the process the stale file names is alive (neither stopped nor killed)')
  t.not(procStat(other.pid!)?.state, 'T', 'and not stopped')
  // Once that process is gone (PostgreSQL itself refuses to start while the file's pid is alive), the
  // cluster starts over the stale file and is tracked and killed by its real postmaster.
  const gone = new Promise((r) => other.once('exit', r))
  other.kill('SIGKILL')
  await gone
  await cluster.start()
  const again = await cluster.namedPid()
  t.not(again, other.pid, 'the new postmaster.pid names the new postmaster')
  await cluster.kill()
  t.notOk(running(again), 'which kill() ends')
})
