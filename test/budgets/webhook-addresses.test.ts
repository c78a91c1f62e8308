import { randomUUID } from 'node:crypto'
import { lookup } from 'node:dns/promises'
import { hostname } from 'node:os'
import t from 'tap'
import { postAlert } from '../../src/budgets/webhook.js'
import { upsertBudget } from '../../src/db/queries/budgets.js'
import { isPrivateAddress, privateHostOf, publicOnlyLookup } from '../../src/http/private-addresses.js'
import { bearer, build, eachEngine, isProblem, tenantWithKey, waitFor } from '../helpers.js'
import { alerts, bucket, createCard, postBuckets, startReceiver } from '../factories/budgets.js'

// Default configuration: OUTBOUND_PRIVATE_ADDRESSES=deny.
const CONFIG = { BUDGET_EVALUATION_INTERVAL_MS: 'off', BUDGET_WEBHOOK_RETRY_BASE_MS: '50', BUDGET_WEBHOOK_MAX_ATTEMPTS: '2' }
const JAN = new Date('2026-01-10T12:00:00Z')

t.test('private and reserved addresses, and only those, are private', async (t) => {
  const blocked = ['127.0.0.1', '127.9.9.9', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255', '::1', '::', '[::1]', '::ffff:127.0.0.1', '::ffff:10.0.0.1', 'fe80::1', 'fd00::1', 'ff02::1', '64:ff9b::7f00:1',
    // IPv6 forms that carry an IPv4 address to a translator or relay, and the rest of IANA's non-global ranges.
    '::ffff:0:7f00:1', '64:ff9b:1::a00:1', '2002:7f00:1::1', '2001:0:4136:e378:8000:63bf:80ff:fffe', '100::1', '2001:db8::1', '3fff::1', '5f00::1',
    '192.0.2.1', '198.51.100.7', '203.0.113.9', '192.88.99.1']
  for (const a of blocked) t.ok(isPrivateAddress(a), `${a} is private`)
  for (const a of ['8.8.8.8', '172.32.0.1', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '2001:4860:4860::8888', '2003::1', '2a00:1450::1', 'example.com']) t.notOk(isPrivateAddress(a), `${a} is not`)
  // Every spelling the URL parser turns into a loopback literal, and localhost.
  for (const u of ['http://127.0.0.1:5432/', 'http://0x7f.1/', 'http://2130706433/', 'http://[::ffff:127.0.0.1]/', 'http://[::1]:8080/x', 'http://[::7f00:1]/', 'http://[::a9fe:a9fe]/', 'http://LOCALHOST/', 'http://localhost./', 'http://a.localhost/', 'http://169.254.169.254/latest/meta-data'])
    t.ok(privateHostOf(u), `${u} names a private host`)
  t.equal(privateHostOf('https://hooks.example.com/x'), undefined)
})

t.test('the delivery lookup refuses a name that resolves to a private address, in both callback forms', async (t) => {
  const one = await new Promise<Error | null>((resolve) => publicOnlyLookup('localhost', {}, (err) => resolve(err)))
  t.match(one?.message, /localhost resolves to a private or reserved address/)
  t.notMatch(one?.message, /127\.0\.0\.1|::1/, 'the address it resolved to is not told (it is the server network\'s, not the tenant\'s)')
  const all = await new Promise<Error | null>((resolve) => publicOnlyLookup('localhost', { all: true }, (err) => resolve(err)))
  t.match(all?.message, /private or reserved/)
})

t.test('postAlert sends nothing to a private address unless allowed', async (t) => {
  const receiver = await startReceiver(t)
  const refused = await postAlert(receiver.url, '{}', null, 5_000, new Date(), false)
  t.match(refused, { ok: false, statusCode: null, error: /^refused: 127\.0\.0\.1 is a private or reserved address/ })
  // A host name (not a literal) that resolves to loopback is refused by the lookup on connect.
  const name = hostname()
  const resolved = await lookup(name).catch(() => undefined)
  if (resolved && isPrivateAddress(resolved.address)) {
    const viaDns = await postAlert(receiver.url.replace('127.0.0.1', name), '{}', null, 5_000, new Date(), false)
    t.match(viaDns, { ok: false, statusCode: null, error: /^refused: .* resolves to a private or reserved address/ })
    t.notMatch(viaDns.error, resolved.address, 'the resolved address is not in the delivery error')
  }
  t.equal(receiver.deliveries.length, 0, 'the receiver on loopback got nothing')
  const allowed = await postAlert(receiver.url, '{}', null, 5_000, new Date(), true)
  t.match(allowed, { ok: true, statusCode: 200, error: null })
  t.equal(receiver.deliveries.length, 1)
})

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine, CONFIG)

  t.test('PUT refuses a webhook_url on a private address with 400, beside the other problems, and stores nothing', async (t) => {
    const { key } = await tenantWithKey(app)
    for (const url of ['http://127.0.0.1:5432/', 'http://169.254.169.254/latest/meta-data/', 'http://[::1]/', 'http://localhost:8080/hook']) {
      const res = await app.inject({ method: 'PUT', url: '/v1/budgets/ssrf', headers: bearer(key), payload: { amount: '1', period: 'month', webhook_url: url, time_zone: 'Mars/Olympus' } })
      t.equal(res.statusCode, 400, url)
      t.ok(isProblem(res))
      const paths = (res.json() as { errors: { path: string; message: string }[] }).errors.map((e) => e.path)
      t.ok(paths.includes('body.webhook_url') && paths.includes('body.time_zone'), `both problems named: ${paths.join(', ')}`)
    }
    t.equal((await app.inject({ method: 'GET', url: '/v1/budgets/ssrf', headers: bearer(key) })).statusCode, 404, 'nothing stored')
  })

  t.test('an alert for a stored private webhook_url is refused at delivery, never sent', async (t) => {
    const { tenantId, key } = await tenantWithKey(app)
    const card = await createCard(app, tenantId, `card-${tenantId}`)
    const receiver = await startReceiver(t)
    // Stored while OUTBOUND_PRIVATE_ADDRESSES was allow (or before the check existed).
    await upsertBudget(app.testDb, {
      tenantId,
      id: randomUUID(),
      name: 'inside',
      amount: '1',
      period: 'month',
      timeZone: 'UTC',
      filter: {},
      rateCard: card,
      thresholds: [100],
      webhookUrl: receiver.url,
      webhookSecretSealed: null,
      keepSecretOf: null,
    })
    await postBuckets(app, key, [bucket(JAN, 10)])
    await waitFor('the attempts to give up', async () => (await alerts(app, key, 'inside'))[0]?.delivery_status === 'failed')
    const [alert] = await alerts(app, key, 'inside')
    t.equal(alert!.deliveries.length, 2)
    t.ok(alert!.deliveries.every((d) => d.status_code === null && /^refused: 127\.0\.0\.1/.test(d.error ?? '')), 'each attempt says why')
    t.equal(receiver.deliveries.length, 0, 'nothing reached the private receiver')
  })
})
