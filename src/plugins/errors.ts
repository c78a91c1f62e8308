import type { Duplex } from 'node:stream'
import type { IncomingMessage } from 'node:http'
import { randomUUID } from 'node:crypto'
import fp from 'fastify-plugin'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { isConnectionError, isNumericOutOfRange, isStatementTimeout } from '../db/errors.js'
import { ProblemError, problems, type ProblemItem } from '../errors.js'

/**
 * The one error pipeline: every error — ours, Fastify's, mercurius's, the driver's — becomes a
 * ProblemError here. REST sends it as application/problem+json; GraphQL renders the same problem with
 * an `extensions.code` (src/graphql/errors.ts). A 4xx is never "internal", and only a 5xx that is
 * not a known outage is logged at `error`, with its stack.
 */

function validationItems(err: FastifyError): ProblemItem[] {
  const where = err.validationContext ?? 'body'
  return (err.validation ?? []).flatMap((v) => {
    const segments = v.instancePath.split('/').filter(Boolean)
    // zod reports every key a strict object does not know in one issue on the object: each is named apart.
    const keys = v.keyword === 'unrecognized_keys' && Array.isArray(v.params.keys) ? v.params.keys : []
    const items: ProblemItem[] = keys.length
      ? keys.map((k) => ({ path: [where, ...segments, String(k)].join('.'), message: unknownKeyMessage(v.message, k) }))
      : [{ path: [where, ...segments].join('.'), message: v.message ?? 'is invalid' }]
    // For array bodies ({buckets: [...]}, {events: [...]}) the contract names the item by index.
    if (where === 'body' && segments.length >= 2 && /^\d+$/.test(segments[1]!)) for (const item of items) item.index = Number(segments[1])
    return items
  })
}

/** A schema's own message (strictQuery's names the route's parameters); zod's default lists every key, so one is said per key. */
function unknownKeyMessage(message: string | undefined, key: unknown): string {
  return !message || /^Unrecognized keys?:/.test(message) ? `unrecognized key ${JSON.stringify(String(key))}` : message
}

/** mercurius checks a /graphql body against its own JSON schema and wraps the failures (`errors`). */
function graphqlBodyProblem(err: FastifyError & { errors?: unknown[] }): ProblemError {
  const inner = (err.errors ?? []).filter((e): e is FastifyError => e instanceof Error)
  const items = inner.flatMap((e) => (e.validation ? validationItems(e) : [{ path: 'body', message: e.message }]))
  if (!items.length) items.push({ path: 'body', message: err.message })
  return problems.notGraphqlRequest(items)
}

const PARTS: Record<string, string> = { querystring: 'query parameters', params: 'path parameters', headers: 'headers' }

/** A failed validation's problem, after any problems held for the same request (holdProblems). */
function validationProblem(e: FastifyError, held: ProblemItem[] = []): ProblemError {
  const items = [...held, ...validationItems(e)]
  // "Nothing was written" is said of a body: a GET's query was never a write.
  return e.validationContext === 'body' ? problems.validation(items) : problems.invalidParameters(items, PARTS[e.validationContext ?? ''])
}

/** Maps every error to a ProblemError; 5xx bodies never carry driver messages or SQL. */
export function toProblem(err: FastifyError | Error, retryAfterSeconds: number, bodyLimit: number): ProblemError {
  if (err instanceof ProblemError) return err
  const e = err as FastifyError
  if (e.validation) return validationProblem(e)
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      // Fastify's error does not carry the limit; the route's own (or the server's) limit applies.
      return problems.payloadTooLarge(bodyLimit)
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      // Without its request; with it, requestProblem names the type sent and the route's types.
      return new ProblemError(415, 'unsupported-media-type', 'Unsupported media type', e.message)
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return problems.badRequest(`malformed JSON body: ${e.message}`)
    case 'MER_ERR_GQL_VALIDATION':
      return graphqlBodyProblem(e)
    case 'MER_ERR_GQL_PERSISTED_QUERY_NOT_FOUND':
      return new ProblemError(400, 'bad-request', 'Bad request', 'a GraphQL request needs a `query`', { errors: [{ path: 'body.query', message: 'is required' }] })
    case 'MER_ERR_METHOD_NOT_ALLOWED':
      return problems.methodNotAllowed('only queries may be sent with GET; send mutations with POST')
  }
  if ((e as { type?: string }).type === 'entity.parse.failed' || e instanceof SyntaxError)
    return problems.badRequest(`malformed JSON body: ${e.message}`)
  if (isConnectionError(err)) return problems.unavailable(retryAfterSeconds)
  if (isStatementTimeout(err)) return problems.timeout()
  // A write whose sums (a rollup's, a merged bucket's) would pass int8: the transaction wrote nothing.
  if (isNumericOutOfRange(err))
    return problems.countOutOfRange('the token or request counts this request adds up exceed the largest integer the ledger stores (2^63 − 1); nothing was written')
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500)
    return new ProblemError(e.statusCode, 'request', 'Bad request', e.message)
  return problems.internal()
}

/** A route path of Fastify's syntax as a regular expression over request paths (`:id` one segment, `*` the rest). */
function pathPattern(url: string): RegExp {
  const segment = (s: string) =>
    s.startsWith(':') ? '[^/]+' : s === '*' ? '.*' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return new RegExp(`^${url.split('/').map(segment).join('/')}$`)
}

/** The methods registered per route path, to tell a wrong method (405) from a missing path (404). */
function routeMethods() {
  const byUrl = new Map<string, { pattern: RegExp; methods: Set<string> }>()
  return {
    add(url: string, method: string | string[]) {
      const entry = byUrl.get(url) ?? { pattern: pathPattern(url), methods: new Set<string>() }
      for (const m of [method].flat()) entry.methods.add(m.toUpperCase())
      byUrl.set(url, entry)
    },
    /** The methods of every route whose path matches, sorted; empty when none does. */
    allowed(path: string): string[] {
      const out = new Set<string>()
      for (const { pattern, methods } of byUrl.values()) if (pattern.test(path)) for (const m of methods) out.add(m)
      return [...out].sort()
    },
  }
}

/** The body types a route may be sent: JSON everywhere, CSV or a GraphQL document where the route's context registered a parser for it. */
const BODY_TYPES = ['application/json', 'text/csv', 'application/graphql']

/**
 * The body types this request's route accepts, for its 415: Fastify's own said only "Unsupported Media
 * Type", neither the type it refused nor the ones it takes.
 */
function acceptedTypes(request: FastifyRequest): string[] {
  return BODY_TYPES.filter((type) => request.server.hasContentTypeParser(type))
}

/**
 * Problems a hook found before validation (a list parameter in a form no schema can read), held so that
 * the answer names them beside whatever validation then finds: thrown at once, they hid the request's
 * other bad parameters (a malformed `project_ids[x]` beside a `limit=0` named only the first).
 */
const heldProblems = new WeakMap<FastifyRequest, ProblemItem[]>()

/** Holds problems of a request found before validation; validation's problems join them, or they are thrown after it. */
export function holdProblems(request: FastifyRequest, items: ProblemItem[]): void {
  heldProblems.set(request, [...(heldProblems.get(request) ?? []), ...items])
}

/**
 * The problem a failed request answers with: the error handler's (REST) and mercurius's (src/graphql/errors.ts,
 * which renders it GraphQL's way) — one mapping, so a /graphql 415 names the type sent and the types taken
 * as REST's does (it said only Fastify's "Unsupported Media Type"), and a client that hung up mid-body is
 * not a database outage there either.
 */
export function requestProblem(err: FastifyError | Error, request: FastifyRequest, retryAfterSeconds: number, bodyLimit: number): ProblemError {
  // A client that hangs up mid-body makes the body stream fail with ECONNRESET/"aborted", which
  // reads like the database's own connection errors: it was logged as a database outage (503).
  if (request.raw.readableAborted) return problems.clientClosed()
  if ((err as FastifyError).code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return problems.unsupportedMediaType(request.headers['content-type'], acceptedTypes(request))
  const held = heldProblems.get(request)
  if (held && (err as FastifyError).validation) return validationProblem(err as FastifyError, held)
  return toProblem(err, retryAfterSeconds, request.routeOptions.bodyLimit ?? bodyLimit)
}

/** Each routed request's id by its Node request, for the answers written on the raw socket (clientErrorHandler). */
const requestIds = new WeakMap<IncomingMessage, string>()

const CLIENT_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/**
 * Fastify `genReqId` (requestIdOptions): a client's own `x-request-id` is kept when it is a plain token, so its logs and
 * ours share the id; anything else (too long, spaces, control characters) gets a fresh one — it is
 * echoed in a header and logged, so it must be safe in both.
 */
function requestIdFrom(req: { headers: Record<string, string | string[] | undefined> }): string {
  const v = req.headers['x-request-id']
  return typeof v === 'string' && CLIENT_REQUEST_ID.test(v) ? v : randomUUID()
}

/**
 * The server's request-id options — read from x-request-id by requestIdFrom, never from Fastify's own
 * header setting — given to every Fastify instance that serves the app (src/server.ts and the tests').
 */
export const requestIdOptions = { requestIdHeader: false, genReqId: requestIdFrom } as const

/** A real fault: logged at `error` with its stack. Client errors and known outages are not faults. */
export function isFault(problem: ProblemError): boolean {
  return problem.statusCode >= 500 && problem.statusCode !== 503
}

/**
 * One log line per failed request: `error` with the stack for faults, `warn` for refusals (503), `info`
 * without a stack for the rest. A statement cancelled because its client left (src/db/client.ts cancels
 * it, or refuses to send it, on the request's disconnect signal) is query_canceled, which reads as a
 * statement timeout: logged at `warn` it was a false 503 for whoever alerts on them, and nobody gets
 * the answer.
 */
export function logProblem(request: FastifyRequest, problem: ProblemError, err: unknown): void {
  if (isStatementTimeout(err) && request.raw.socket?.destroyed) request.log.info({ status: problem.statusCode }, 'request abandoned: the client left and its statement was cancelled')
  else if (isFault(problem)) request.log.error({ err }, 'request failed')
  else if (problem.statusCode >= 500) request.log.warn({ status: problem.statusCode, detail: problem.message }, 'request refused')
  else request.log.info({ status: problem.statusCode, title: problem.title, detail: problem.message }, 'request rejected')
}

/**
 * Sends a problem, with the request's id in the body and in `x-request-id`: the errors plugin's hook sets
 * the header on every routed request, but the router's own errors and the shutdown 503 answer before it.
 */
export function sendProblem(reply: FastifyReply, request: FastifyRequest, problem: ProblemError) {
  return reply
    .status(problem.statusCode)
    .headers(problem.headers)
    .header('x-request-id', request.id)
    .type('application/problem+json')
    .send(problem.toBody(request.url, request.id))
}

/**
 * Server options for the errors Fastify's router raises before any hook or error handler runs (a
 * malformed percent-escape, an over-long path parameter): they become problems too. The parameter
 * limit is far above the 256-character rule, so that rule — not the router — answers for long ids
 * (256 four-byte characters percent-encoded are 3,072 bytes).
 *
 * The request line and headers may take 64 KiB (Node's default is 16 KiB): a cursor the server hands
 * out must fit in the URL that sends it back, and a reconciliation `next_page` over keys of long
 * emoji ids reached 12–17 kB (its `after` takes up to 32,768 characters) — page 2 was a 431.
 */
export const routerErrorOptions = {
  http: { maxHeaderSize: 65_536 },
  routerOptions: { maxParamLength: 4096 },
  frameworkErrors: (err: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const problem = err.code === 'FST_ERR_MAX_PARAM_LENGTH'
      ? problems.badRequest('a path parameter is longer than 4096 bytes')
      : problems.badRequest(`the path is not a valid URL (${err.code})`)
    logProblem(request, problem, err)
    return sendProblem(reply, request, problem)
  },
  /**
   * Errors Node's HTTP parser raises before Fastify sees a request (a request line or headers over the
   * size limit, a malformed request, a timeout): answered as problems on the raw socket — Fastify's
   * default wrote plain JSON.
   */
  clientErrorHandler: (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable || answeredAlready(socket)) return socket.destroy()
    const problem = err.code === 'HPE_HEADER_OVERFLOW'
      ? problems.headersTooLarge()
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? problems.requestTimeout()
        : problems.badRequest('the request is not valid HTTP')
    // A request whose headers were parsed (its body stalled past requestTimeout) has its id: the one
    // its x-request-id header and its log lines carry. Before that no id was read or made: one is made.
    const pending = (socket as Duplex & { _httpMessage?: { req?: IncomingMessage } | null })._httpMessage?.req
    const id = (pending && requestIds.get(pending)) ?? randomUUID()
    const body = JSON.stringify(problem.toBody(pending?.url, id))
    socket.end(
      `HTTP/1.1 ${problem.statusCode} ${problem.title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${id}\r\nConnection: close\r\n\r\n${body}`,
    )
  },
}

/**
 * Whether the request this socket is receiving was already answered: one refused by its Content-Length
 * is drained after the answer and may time out meanwhile, and a second answer on the connection would be
 * read as the next response. Node's own fields (its socketOnError checks `_httpMessage` the same way):
 * the response in progress, else the request whose headers were parsed — its response has finished.
 */
function answeredAlready(socket: Duplex): boolean {
  const s = socket as Duplex & { _httpMessage?: { headersSent: boolean } | null; parser?: { incoming?: object | null } | null }
  return s._httpMessage ? s._httpMessage.headersSent : Boolean(s.parser?.incoming)
}

export default fp(
  async (app, opts: { retryAfterSeconds: number; bodyLimit: number }) => {
    // Every response names its request, so a client can quote it and an operator find it in the logs.
    app.addHook('onRequest', async (request, reply) => {
      reply.header('x-request-id', request.id)
      requestIds.set(request.raw, request.id)
    })
    // Validation passed: the problems held before it are the answer.
    app.addHook('preHandler', async (request) => {
      const held = heldProblems.get(request)
      if (held) throw problems.invalidParameters(held)
    })
    app.setErrorHandler((err: FastifyError, request, reply) => {
      const problem = requestProblem(err, request, opts.retryAfterSeconds, opts.bodyLimit)
      logProblem(request, problem, err)
      return sendProblem(reply, request, problem)
    })
    // A path that exists under other methods is a 405 naming them (RFC 9110 §15.5.6), not a 404.
    const routes = routeMethods()
    app.addHook('onRoute', (route) => routes.add(route.url ?? route.path, route.method))
    app.setNotFoundHandler((request, reply) => {
      const path = request.url.split('?')[0]!
      const allowed = routes.allowed(path)
      // A route of this method that answered "not found" itself (a missing asset) is a 404.
      const problem = allowed.length && !allowed.includes(request.method)
        ? problems.methodNotAllowed(`${request.method} is not allowed on ${path}; allowed: ${allowed.join(', ')}`, allowed)
        : problems.notFound(`no route for ${request.method} ${path}`)
      return sendProblem(reply, request, problem)
    })
  },
  { name: 'errors' },
)
