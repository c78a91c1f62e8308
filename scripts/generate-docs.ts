// Regenerates openapi.yaml from the running code (`npm run docs:generate`); test/docs.test.ts fails
// when the committed file drifts from what /docs/json serves.
import { writeFile } from 'node:fs/promises'
import Fastify from 'fastify'
import app from '../src/app.js'
import { loadConfig } from '../src/config.js'

const config = loadConfig({ DATA_DIR: 'memory://', LOG_LEVEL: 'silent', TOKENLEDGER_ADMIN_TOKEN: 'docs-generation-token' })
const server = Fastify({ logger: false, pluginTimeout: 120_000 })
await server.register(app, { config })
await server.ready()
const yaml = await server.inject('/docs/yaml')
await server.close()
// Never commit an error page as the API description: a route whose schema cannot be rendered fails here.
if (yaml.statusCode !== 200) throw new Error(`/docs/yaml answered ${yaml.statusCode}: ${yaml.body.slice(0, 500)}`)
await writeFile(new URL('../openapi.yaml', import.meta.url), yaml.body)
