import { lookup } from 'node:dns/promises'
import { hostname } from 'node:os'
import t from 'tap'
import { fetchPage, ProviderRefused } from '../../src/connections/fetch-page.js'
import { isPrivateAddress } from '../../src/http/private-addresses.js'
import { eachEngine, freshDb, isProblem } from '../helpers.js'
import { buildWith, createConnection, OPENAI_KEY, startStub, syncAndWait, tenant } from './support/harness.js'

/**
 * A connection's base_url is tenant input the server calls with the provider's admin key, and the
 * outcome (status, the start of an error body) comes back in the run's error: without a check, a tenant
 * key could make the server probe its own network (the database port, cloud metadata). Like budget
 * webhooks (test/budgets/webhook-addresses.test.ts), private and reserved addresses are refused unless
 * OUTBOUND_PRIVATE_ADDRESSES=allow: a literal one when the connection is written, any at each request.
 */
const DENY = { OUTBOUND_PRIVATE_ADDRESSES: 'deny' }
const POLICY = { timeoutMs: 5_000, maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1, maxBodyBytes: 1_000_000 }

void eachEngine(t, async (t, engine) => {
  const db = await freshDb(t, engine)
  const denying = await buildWith(t, engine, { db, config: DENY })
  const allowing = await buildWith(t, engine, { db })
  const { headers } = await tenant(denying)
  const start = new Date(Date.now() - 3 * 3_600_000).toISOString()
  const body = (baseUrl: string) => ({ name: 'inside', provider: 'openai', admin_key: OPENAI_KEY, base_url: baseUrl, start_date: start, lag_hours: 0, endpoints: ['completions'] })

  t.test('a connection naming a private host is refused with 400, beside its other problems, and nothing is stored', async (t) => {
    for (const url of ['http://127.0.0.1:5432', 'http://169.254.169.254', 'http://[::1]:8080', 'http://localhost:9000', 'http://10.0.0.7']) {
      const res = await denying.inject({ method: 'POST', url: '/v1/connections', headers, payload: { ...body(url), interval_minutes: 0 } })
      t.equal(res.statusCode, 400, url)
      t.ok(isProblem(res))
      const errors = (res.json() as { errors: { path: string; message: string }[] }).errors
      t.same(errors.map((e) => e.path).sort(), ['body.base_url', 'body.interval_minutes'], `${url}: both problems named`)
      t.match(errors.find((e) => e.path === 'body.base_url')?.message, /private or reserved address.*OUTBOUND_PRIVATE_ADDRESSES=allow/)
    }
    const listed = await denying.inject({ method: 'GET', url: '/v1/connections', headers })
    t.same(listed.json(), [], 'nothing stored')
  })

  t.test('PATCH to a private base_url is refused too', async (t) => {
    const conn = await createConnection(allowing, headers, body('https://api.openai.com'))
    const res = await denying.inject({ method: 'PATCH', url: `/v1/connections/${conn.id}`, headers, payload: { base_url: 'http://127.0.0.1:5432' } })
    t.equal(res.statusCode, 400)
    t.match(res.json(), { errors: [{ path: 'body.base_url', message: /private or reserved/ }] })
    const kept = await denying.inject({ method: 'GET', url: `/v1/connections/${conn.id}`, headers })
    t.equal((kept.json() as { base_url: string }).base_url, 'https://api.openai.com', 'unchanged')
    await denying.inject({ method: 'DELETE', url: `/v1/connections/${conn.id}`, headers })
  })

  t.test('a stored connection on a private address is refused when it runs: the stub hears nothing', async (t) => {
    const stub = await startStub(t, 4)
    // Stored while allowed (or before the check): the instance that runs it denies.
    const conn = await createConnection(allowing, headers, body(stub.url))
    const state = await syncAndWait(denying, headers, conn.id, 15_000)
    t.equal(state.last_run?.status, 'failed')
    t.match(state.last_run?.error, /refused: 127\.0\.0\.1 is a private or reserved address \(OUTBOUND_PRIVATE_ADDRESSES=allow permits it\)/)
    t.equal(stub.requests.length, 0, 'no request reached the address')
    const allowed = await syncAndWait(allowing, headers, conn.id, 30_000)
    t.equal(allowed.last_run?.status, 'succeeded', 'the same connection runs where allowed')
    t.ok(stub.requests.length > 0)
  })
})

// A host name (not a literal) that resolves to loopback: this machine's own name, where it does.
const name = hostname()
const resolved = await lookup(name).catch(() => undefined)
const resolvesPrivate = resolved !== undefined && isPrivateAddress(resolved.address)

t.test('fetchPage refuses a host name that resolves to a private address, on connect, and does not retry', { skip: !resolvesPrivate && `${name} does not resolve to a private address here` }, async (t) => {
  const stub = await startStub(t, 4)
  const url = new URL(`${stub.url.replace('127.0.0.1', name)}/v1/organization/usage/completions`)
  const refused: unknown = await fetchPage({ url, headers: {}, signal: new AbortController().signal, secret: OPENAI_KEY }, { ...POLICY, allowPrivate: false }).catch((e: unknown) => e)
  t.ok(refused instanceof ProviderRefused, 'refused for good: not retried')
  t.match((refused as Error).message, new RegExp(`refused: ${name} resolves to a private or reserved address`))
  t.notOk((refused as Error).message.includes(resolved!.address), 'the address it resolved to is not told')
  t.equal(stub.requests.length, 0, 'nothing was sent')
})
