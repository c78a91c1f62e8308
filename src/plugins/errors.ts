import fp from 'fastify-plugin'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { isConnectionError, isStatementTimeout } from '../db/errors.js'
import { ProblemError, problems, type ProblemItem } from '../errors.js'

function validationItems(err: FastifyError): ProblemItem[] {
  const where = err.validationContext ?? 'body'
  return (err.validation ?? []).map((v) => {
    const segments = v.instancePath.split('/').filter(Boolean)
    const item: ProblemItem = { path: [where, ...segments].join('.'), message: v.message ?? 'is invalid' }
    // For array bodies ({buckets: [...]}, {events: [...]}) the contract names the item by index.
    if (where === 'body' && segments.length >= 2 && /^\d+$/.test(segments[1]!)) item.index = Number(segments[1])
    return item
  })
}

/** Maps every error to application/problem+json; 5xx bodies never carry driver messages or SQL. */
export function toProblem(err: FastifyError | Error, retryAfterSeconds: number, bodyLimit: number): ProblemError {
  if (err instanceof ProblemError) return err
  const e = err as FastifyError
  if (e.validation) return problems.validation(validationItems(e))
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      // Fastify's error does not carry the limit; the route's own (or the server's) limit applies.
      return problems.payloadTooLarge(bodyLimit)
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ProblemError(415, 'unsupported-media-type', 'Unsupported media type', e.message)
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return problems.badRequest(`malformed JSON body: ${e.message}`)
  }
  if ((e as { type?: string }).type === 'entity.parse.failed' || e instanceof SyntaxError)
    return problems.badRequest(`malformed JSON body: ${e.message}`)
  if (isConnectionError(err)) return problems.unavailable(retryAfterSeconds)
  if (isStatementTimeout(err)) return problems.timeout()
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500)
    return new ProblemError(e.statusCode, 'request', 'Bad request', e.message)
  return new ProblemError(500, 'internal', 'Internal server error', 'an unexpected error occurred; it has been logged')
}

export function sendProblem(reply: FastifyReply, request: FastifyRequest, problem: ProblemError) {
  return reply
    .status(problem.statusCode)
    .headers(problem.headers)
    .type('application/problem+json')
    .send(problem.toBody(request.url))
}

export default fp(
  async (app, opts: { retryAfterSeconds: number; bodyLimit: number }) => {
    app.setErrorHandler((err: FastifyError, request, reply) => {
      const problem = toProblem(err, opts.retryAfterSeconds, request.routeOptions.bodyLimit ?? opts.bodyLimit)
      if (problem.statusCode >= 500) request.log.error({ err }, 'request failed')
      else request.log.info({ status: problem.statusCode, title: problem.title }, 'request rejected')
      return sendProblem(reply, request, problem)
    })
    app.setNotFoundHandler((request, reply) =>
      sendProblem(reply, request, problems.notFound(`no route for ${request.method} ${request.url.split('?')[0]}`)),
    )
  },
  { name: 'errors' },
)
