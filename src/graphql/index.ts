import { readFileSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { FastifyPluginAsync } from 'fastify'
import { GraphQLError } from 'graphql'
import mercurius from 'mercurius'
import { isConnectionError, isStatementTimeout } from '../db/errors.js'
import { ProblemError } from '../errors.js'
import { sendProblem } from '../plugins/errors.js'
import { UsageInputError } from '../usage/usage-service.js'
import { depthLimit } from './depth-limit.js'
import { resolvers } from './resolvers.js'

export const SCHEMA_DIR = fileURLToPath(new URL('../../schema/', import.meta.url))

/** The SDL the server runs: the committed schema/*.graphql files, loaded as they are. */
export function loadSchema(dir = SCHEMA_DIR): string {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.graphql'))
    .sort()
    .map((f) => readFileSync(`${dir}${f}`, 'utf8'))
    .join('\n')
}

export interface GraphqlOptions {
  maxGroups: number
  maxDepth: number
}

/** Maps domain and database errors to GraphQL errors with `extensions.code`; hides internals. */
function formatError(err: GraphQLError): GraphQLError {
  const original = err.originalError
  const build = (message: string, extensions: Record<string, unknown>) =>
    new GraphQLError(message, { nodes: err.nodes, path: err.path, extensions })
  if (!original) {
    // Parse and validation errors from graphql-js: the message is for the person who wrote the query.
    return err.extensions?.code ? err : build(err.message, { code: 'GRAPHQL_VALIDATION_FAILED' })
  }
  if (original instanceof GraphQLError) {
    // Our scalars' input errors (and variable coercion) carry their code; keep graphql-js's message.
    return build(err.message, { ...original.extensions, code: original.extensions?.code ?? 'BAD_USER_INPUT' })
  }
  if (original instanceof UsageInputError) return build(original.message, { code: 'BAD_USER_INPUT', argument: original.field })
  if (isStatementTimeout(original))
    return build('the query exceeded the statement timeout; narrow the range or grouping', { code: 'QUERY_TIMEOUT' })
  if (isConnectionError(original))
    return build('the database is not reachable; try again shortly', { code: 'SERVICE_UNAVAILABLE' })
  return build('internal error', { code: 'INTERNAL_SERVER_ERROR' })
}

/** mercurius wraps request-level failures (parse, validation, depth) in one error listing them all. */
function expand(err: GraphQLError): GraphQLError[] {
  const inner = (err.originalError as { errors?: unknown } | undefined)?.errors
  if (!Array.isArray(inner)) return [err]
  return inner.map((e: unknown) =>
    e instanceof GraphQLError ? e : new GraphQLError((e as Error).message, { originalError: e as Error }),
  )
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

  await app.register(mercurius, {
    schema: loadSchema(),
    resolvers,
    graphiql: false,
    path: '/graphql',
    // Not mercurius's queryDepth: it refuses GraphiQL's introspection query (see depth-limit.ts).
    validationRules: [depthLimit(opts.maxDepth)],
    context: (req) => ({ tenantId: req.tenantId, db: app.db, maxGroups: opts.maxGroups }),
    errorFormatter: (execution, ctx) => {
      const errors = (execution.errors ?? []) as GraphQLError[]
      const status = (errors[0]?.originalError as { statusCode?: unknown } | undefined)?.statusCode
      const formatted = mercurius.defaultErrorFormatter(
        {
          ...execution,
          errors: errors.flatMap(expand).map(formatError),
          ...(typeof status === 'number' && !execution.data ? { statusCode: status } : {}),
        },
        ctx,
      )
      for (const e of execution.errors ?? []) {
        const original = (e as GraphQLError).originalError
        if (original && !(original instanceof GraphQLError) && !(original instanceof UsageInputError))
          app.log.error({ err: original }, 'graphql resolver failed')
      }
      return formatted
    },
  })
}

export default graphqlPlugin
