// Row 6's baseline: PostGraphile 5 with @graphile/pg-aggregates (groupedAggregates) and the
// connection-filter plugin (time-range filters) over the same database, served by grafserv on Node's
// http server in its own process. Run with `--require ./bench/servers/with-resolvers.cjs` on Node 20.
//   DATABASE_URL=postgres://… PORT=5678 node --require ./bench/servers/with-resolvers.cjs --import tsx bench/servers/postgraphile.ts
import { createServer } from 'node:http'
import { PgAggregatesPreset } from '@graphile/pg-aggregates'
import { postgraphile } from 'postgraphile'
import { makePgService } from 'postgraphile/adaptors/pg'
import { grafserv } from 'postgraphile/grafserv/node'
import { PostGraphileAmberPreset } from 'postgraphile/presets/amber'
import { PostGraphileConnectionFilterPreset } from 'postgraphile-plugin-connection-filter'

const preset: GraphileConfig.Preset = {
  extends: [PostGraphileAmberPreset, PostGraphileConnectionFilterPreset, PgAggregatesPreset],
  // PostGraphile only exposes grouping and filters on indexed columns by default; since the natural key
  // became a hash, `model` is in no index, so the baseline could no longer group by it. Exposing every
  // column changes what the schema offers, not how a query runs.
  disablePlugins: ['PgIndexBehaviorsPlugin'],
  pgServices: [makePgService({ connectionString: process.env.DATABASE_URL!, schemas: ['public'] })],
  grafserv: { port: Number(process.env.PORT ?? 0), host: process.env.HOST ?? '127.0.0.1' },
}

const pgl = postgraphile(preset)
const serv = pgl.createServ(grafserv)
const server = createServer()
server.on('error', (err) => {
  process.stderr.write(`postgraphile: ${err.message}\n`)
})
serv.addTo(server).catch((err: unknown) => {
  process.stderr.write(`postgraphile: ${(err as Error).stack}\n`)
  server.close()
})
// The readiness check: builds the schema before answering, so the first measured query is not the first one.
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1')
process.on('SIGTERM', () => {
  server.close()
  void pgl.release()
})
