import t from 'tap'
import { build, eachEngine } from '../helpers.js'

void eachEngine(t, async (t, engine) => {
  const app = await build(t, engine)

  t.test('healthz and readyz answer 200 without auth', async (t) => {
    t.equal((await app.inject('/healthz')).statusCode, 200)
    const ready = await app.inject('/readyz')
    t.equal(ready.statusCode, 200)
    t.same(ready.json(), { status: 'ok' })
  })

  t.test('unknown routes are problem+json 404', async (t) => {
    const res = await app.inject('/nope')
    t.equal(res.statusCode, 404)
    t.match(res.headers['content-type'], /application\/problem\+json/)
  })
})
