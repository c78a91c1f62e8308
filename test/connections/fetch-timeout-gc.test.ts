import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t, { type Test } from 'tap'
import { fetchPage, RunInterrupted } from '../../src/connections/fetch-page.js'

// A garbage collection during the request is what broke the timeout: fetch follows the signal it is
// given through a weak reference, and `AbortSignal.any([run, AbortSignal.timeout(ms)])` was collected
// while the provider kept quiet. The test collects every 20 ms while a provider never answers.
setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const POLICY = { timeoutMs: 400, maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1, maxBodyBytes: 1_000_000, allowPrivate: true }

async function silentProvider(t: Test): Promise<URL> {
  const server: Server = createServer(() => {}) // never answers
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/organization/usage/completions`)
}

/** The outcome of `p`, or a 'still waiting' error after `ms`: the bug was a request that never ended. */
function within<T>(p: Promise<T>, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise((resolve) => (timer = setTimeout(() => resolve(new Error(`still waiting after ${ms} ms`)), ms)))
  return Promise.race([p.catch((e: unknown) => e), late]).finally(() => clearTimeout(timer))
}

function collecting(t: Test) {
  const timer = setInterval(gc, 20)
  t.teardown(() => clearInterval(timer))
}

void t.test('a provider that never answers times out every attempt, however often the garbage is collected', async (t) => {
  const provider = await silentProvider(t)
  collecting(t)
  const started = Date.now()
  const err = await within(fetchPage({ url: provider, headers: {}, signal: new AbortController().signal, secret: 'sk-secret' }, POLICY), 10_000)
  t.match((err as Error).message, /failed after 2 attempts; last: no answer within 400 ms/)
  t.ok(Date.now() - started < 5000, `gave up after ${Date.now() - started} ms, not when the socket died`)
})

void t.test('stopping the run aborts the request in flight, however often the garbage is collected', async (t) => {
  const provider = await silentProvider(t)
  collecting(t)
  const run = new AbortController()
  setTimeout(() => run.abort(), 300)
  const err = await within(fetchPage({ url: provider, headers: {}, signal: run.signal, secret: 'sk-secret' }, { ...POLICY, timeoutMs: 60_000 }), 10_000)
  t.type(err, RunInterrupted, 'the run stops at once')
})
