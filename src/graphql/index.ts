import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { FastifyPluginAsync } from 'fastify'
import { prefers } from '../http/accept.js'
import { disconnectSignal } from '../http/disconnect-signal.js'
import mercurius from 'mercurius'
import { ProblemError } from '../errors.js'
import { sendProblem } from '../plugins/errors.js'
import { depthLimit } from './depth-limit.js'
import { noNulStrings } from './no-nul-strings.js'
import { formatExecution, handleRequestError, type GraphqlErrorOptions } from './errors.js'
import type { TenantGate } from '../usage/tenant-gate.js'
import { costLimit, rootFieldLimit } from './cost-limit.js'
import { resolvers } from './resolvers.js'
import { DOCUMENT_CACHE_SIZE, PARSE_OPTIONS } from './parse-limits.js'
import { selectionLimit } from './selection-limit.js'
import { textDocuments } from './text-documents.js'
import { variablesLimit } from './variables-limit.js'

const GRAPHQL_RESPONSE = 'application/graphql-response+json'

/** Fields an operation may select with its fragments expanded (GraphiQL's introspection query: 220). */
const MAX_SELECTIONS = 1000

const SCHEMA_DIR = fileURLToPath(new URL('../../schema/', import.meta.url))

/** The SDL the server runs: the committed schema/*.graphql files, loaded as they are. */
export function loadSchema(dir = SCHEMA_DIR): string {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.graphql'))
    .sort()
    .map((f) => readFileSync(`${dir}${f}`, 'utf8'))
    .join('\n')
}

export interface GraphqlOptions extends GraphqlErrorOptions {
  maxGroups: number
  maxDepth: number
  maxRootFields: number
  gate: TenantGate
}

const graphqlPlugin: FastifyPluginAsync<GraphqlOptions> = async (app, opts) => {
  // 401/403 (and 503) are answered as HTTP problem+json before any GraphQL execution. mercurius owns
  // this context's error handler, so the hook answers itself instead of throwing.
  const authenticate = app.auth.tenant('read')
  app.addHook('onRequest', async (req, reply) => {
    try {
      await authenticate(req, reply)
    } catch (err) {
      if (!(err instanceof ProblemError)) throw err
      return sendProblem(reply, req, err)
    }
  })

  // GraphQL over HTTP: a client that asks for application/graphql-response+json (GraphiQL does) gets it;
  // the status codes are already that type's (a request error is a 4xx, an executed one a 200). Problems
  // (401/403/413/415/503) stay application/problem+json.
  app.addHook('onSend', async (req, reply, payload) => {
    if (String(reply.getHeader('content-type')).startsWith('application/json') && prefers(req.headers.accept, GRAPHQL_RESPONSE, 'application/json'))
      reply.type(`${GRAPHQL_RESPONSE}; charset=utf-8`)
    return payload
  })

  // `variables`/`extensions` that are not objects are refused by GET as by POST, and huge list variables
  // before graphql-js coerces them value by value (variables-limit.ts).
  app.addHook('preValidation', variablesLimit)

  await app.register(mercurius, {
    schema: loadSchema(),
    resolvers,
    graphiql: false,
    // Compile a query to JS (graphql-jit) from its second request on: a page of 1,000 usage rows spent
    // more in graphql-js's per-field execution than in everything else (docs/performance.md).
    jit: 1,
    // Bounded parsing and a bounded document cache (src/graphql/parse-limits.ts).
    graphql: { parseOptions: PARSE_OPTIONS },
    cache: DOCUMENT_CACHE_SIZE,
    path: '/graphql',
    // Not mercurius's queryDepth: it refuses GraphiQL's introspection query (see depth-limit.ts).
    validationRules: [depthLimit(opts.maxDepth), selectionLimit(MAX_SELECTIONS), rootFieldLimit(opts.maxRootFields), noNulStrings],
    context: (req, reply) => ({
      tenantId: req.tenantId,
      db: app.db,
      maxGroups: opts.maxGroups,
      gate: opts.gate,
      signal: disconnectSignal(reply),
    }),
    // One error pipeline (src/graphql/errors.ts): request errors answer their 4xx, never "internal".
    errorFormatter: formatExecution(opts),
    errorHandler: handleRequestError(opts),
  })
  // A query mercurius could not parse is not tried as a JSON document AST (a 500 for `{"query":"{}"}`).
  const text = textDocuments()
  app.graphql.addHook('preParsing', text.preParsing)
  app.graphql.addHook('preValidation', text.preValidation)
  // Bounds a request's cost from its arguments before any resolver runs (aliases, root fields, cells).
  app.graphql.addHook('preExecution', costLimit({ maxCells: opts.maxGroups }))
}

export default graphqlPlugin
