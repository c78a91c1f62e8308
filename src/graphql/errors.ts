import type { FastifyReply, FastifyRequest } from 'fastify'
import { GraphQLError } from 'graphql'
import type { ExecutionResult } from 'graphql'
import type { MercuriusContext } from 'mercurius'
import { ProblemError, UsageInputError } from '../errors.js'
import { isFault, logProblem, requestProblem, toProblem } from '../plugins/errors.js'

/**
 * GraphQL's face of the one error pipeline (src/plugins/errors.ts): every error becomes a ProblemError
 * there, and is rendered here as a GraphQL error with `extensions.code`. Request errors (not JSON, no
 * query, a batch, too large, a GET mutation, a parse or validation failure) answer their 4xx status;
 * errors raised while executing answer 200 with `data`, as GraphQL-over-HTTP says.
 */

export interface GraphqlErrorOptions {
  retryAfterSeconds: number
  bodyLimit: number
}

/** Codes by HTTP status, for problems that are not about an argument (those are BAD_USER_INPUT). */
const CODE_BY_STATUS: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
  503: 'SERVICE_UNAVAILABLE',
}

function graphqlCode(problem: ProblemError): string {
  // An argument or variable a person got wrong; a malformed request is BAD_REQUEST.
  if (problem instanceof UsageInputError || (problem.statusCode === 400 && problem.type.endsWith('/validation'))) return 'BAD_USER_INPUT'
  if (problem.type.endsWith('/query-timeout')) return 'QUERY_TIMEOUT'
  if (problem.type.endsWith('/count-out-of-range')) return 'COUNT_OUT_OF_RANGE'
  return CODE_BY_STATUS[problem.statusCode] ?? (problem.statusCode < 500 ? 'BAD_REQUEST' : 'INTERNAL_SERVER_ERROR')
}

function extensionsOf(problem: ProblemError): Record<string, unknown> {
  const ext: Record<string, unknown> = { code: graphqlCode(problem) }
  // Every argument found wrong is in `errors`; `argument` names the first, for clients that read one.
  if (problem instanceof UsageInputError) ext.argument = problem.field
  if (problem.errors?.length) ext.errors = problem.errors.slice(0, 100)
  const retry = problem.headers['retry-after']
  if (retry) ext.retryAfter = Number(retry)
  return ext
}

interface Classified {
  error: GraphQLError
  problem?: ProblemError
  cause?: unknown
}

/** One GraphQL error → what the client sees (and, for errors from our code, the problem behind it). */
function classify(err: GraphQLError, opts: GraphqlErrorOptions): Classified {
  const original = err.originalError
  const at = { nodes: err.nodes, path: err.path } as const
  if (!original) {
    // graphql-js's own parse and validation errors (and our validation rules, which set a code).
    if (err.extensions?.code) return { error: err }
    const code = err.message.startsWith('Syntax Error') ? 'GRAPHQL_PARSE_FAILED' : 'GRAPHQL_VALIDATION_FAILED'
    return { error: new GraphQLError(err.message, { ...at, extensions: { code } }) }
  }
  if (original instanceof GraphQLError)
    // Our scalars' input errors (also when coercing variables) carry their code; keep graphql-js's message.
    return { error: new GraphQLError(err.message, { ...at, extensions: { ...original.extensions, code: original.extensions?.code ?? 'BAD_USER_INPUT' } }) }
  const problem = toProblem(original, opts.retryAfterSeconds, opts.bodyLimit)
  const message = isFault(problem) ? 'internal error' : problem.message
  return { error: new GraphQLError(message, { ...at, extensions: extensionsOf(problem) }), problem, cause: original }
}

/** mercurius wraps request-level failures (parse, validation, depth) in one error listing them all. */
function expand(err: GraphQLError): GraphQLError[] {
  const inner = (err.originalError as { errors?: unknown } | undefined)?.errors
  if (!Array.isArray(inner) || !inner.every((e) => e instanceof GraphQLError)) return [err]
  return inner as GraphQLError[]
}

function logAll(request: FastifyRequest | undefined, log: FastifyRequest['log'], items: Classified[]): void {
  for (const c of items) {
    if (c.problem && request) logProblem(request, c.problem, c.cause)
    else if (c.problem && isFault(c.problem)) log.error({ err: c.cause }, 'graphql request failed')
    else log.info({ code: c.error.extensions.code, message: c.error.message }, 'graphql request rejected')
  }
}

/**
 * The GraphQL error as sent, with the request's id as `extensions.requestId` (the `x-request-id` header's,
 * REST's `request_id`): parse, validation and execution errors carried it only in the header, unlike the
 * HTTP-level ones, so a client logging the body alone could not find the request in the server's logs.
 */
function sent(error: GraphQLError, requestId: string | undefined) {
  const json = error.toJSON()
  return requestId === undefined ? json : { ...json, extensions: { ...json.extensions, requestId } }
}

/** mercurius `errorFormatter`: execution results that carry errors. */
export function formatExecution(opts: GraphqlErrorOptions) {
  return (execution: ExecutionResult & { statusCode?: number }, ctx: MercuriusContext) => {
    const items = (execution.errors ?? []).flatMap((e) => expand(e as GraphQLError)).map((e) => classify(e, opts))
    const request = ctx.reply?.request
    logAll(request, ctx.reply?.log ?? ctx.app.log, items)
    // Without data, the request failed before execution (parse, validation, variables): its 4xx applies.
    const requestError = !execution.data && items.some((c) => !c.problem)
    const statusCode = requestError ? 400 : 200
    return { statusCode, response: { data: execution.data ?? null, errors: items.map((c) => sent(c.error, request?.id)) } }
  }
}

/** mercurius `errorHandler`: errors thrown outside execution (body, method, hooks) — answered with their status. */
export function handleRequestError(opts: GraphqlErrorOptions) {
  return async (err: Error, request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    // Parse and validation failures arrive here wrapped by mercurius: they are GraphQL errors to format.
    const inner = (err as { errors?: unknown }).errors
    if (Array.isArray(inner) && inner.length && inner.every((e) => e instanceof GraphQLError)) {
      const items = (inner as GraphQLError[]).map((e) => classify(e, opts))
      logAll(request, request.log, items)
      await reply.code(400).send({ data: null, errors: items.map((c) => sent(c.error, request.id)) })
      return
    }
    const problem = requestProblem(err, request, opts.retryAfterSeconds, opts.bodyLimit)
    logProblem(request, problem, err)
    const message = isFault(problem) ? 'internal error' : problem.message
    await reply
      .code(problem.statusCode)
      .headers(problem.headers)
      .send({ data: null, errors: [{ message, extensions: { ...extensionsOf(problem), requestId: request.id } }] })
  }
}
