import t from 'tap'
import { ADMIN_TOKEN, build, eachEngine, tenantWithKey } from '../helpers.js'
import { runCli as cli } from './run-cli.js'

void t.test('an id of "." or ".." is refused: a URL would drop it and call another path', (t) =>
  eachEngine(t, async (t, engine) => {
    const app = await build(t, engine)
    const url = await app.listen({ port: 0, host: '127.0.0.1' })
    const { key } = await tenantWithKey(app)
    for (const id of ['.', '..']) {
      const sync = await cli(['sync', id, '--url', url, '--key', key])
      t.equal(sync.code, 2, `sync ${id}: a usage error`)
      t.match(sync.stderr, `"${id}" is not an id`, `sync ${id}: says why (not "this server has no provider connections yet")`)
      const keys = await cli(['keys', 'create', id, '--scopes', 'read', '--url', url, '--admin-token', ADMIN_TOKEN])
      t.equal(keys.code, 2, `keys create ${id}: a usage error`)
      t.match(keys.stderr, `"${id}" is not an id`)
    }
    const missing = await cli(['sync', 'conn_nope', '--url', url, '--key', key])
    t.match(missing.stderr, /404 .*connection conn_nope does not exist/, 'an ordinary id still reaches the server')
  }),
)
