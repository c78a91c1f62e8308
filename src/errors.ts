export interface ProblemItem {
  index?: number
  line?: number
  path: string
  message: string
}

export interface ProblemBody {
  type: string
  title: string
  status: number
  detail: string
  instance?: string
  errors?: ProblemItem[]
  error_count?: number
  truncated?: boolean
  /** The request's id, equal to its `x-request-id` response header, so a report can be found in the logs. */
  request_id?: string
}

/** At most this many problems are listed; `error_count` and `truncated` say how many there were. */
export const MAX_LISTED_ERRORS = 1000

/**
 * The problems of one request as they are found: the first MAX_LISTED_ERRORS are kept (all a response
 * lists), every one is counted. Parsers collect into one, so a body of bad rows holds a thousand
 * problems, not one per row — 3 MB of `{}` buckets held three million (0.9 GB), 14 MB ended the process.
 */
export class ProblemList {
  readonly items: ProblemItem[] = []
  private count = 0

  push(...found: ProblemItem[]): void {
    for (const item of found) if (this.count++ < MAX_LISTED_ERRORS) this.items.push(item)
  }

  /** Adds another list's problems, its count included. */
  append(other: ProblemList): void {
    this.push(...other.items)
    this.count += other.count - other.items.length
  }

  /** How many problems were found (more than `items` holds past MAX_LISTED_ERRORS). */
  get length(): number {
    return this.count
  }

  static of(...lists: ProblemList[]): ProblemList {
    const all = new ProblemList()
    for (const list of lists) all.append(list)
    return all
  }
}

/** An error that becomes an RFC 9457 problem+json response. */
export class ProblemError extends Error {
  readonly statusCode: number
  readonly type: string
  readonly title: string
  readonly errors: ProblemItem[] | undefined
  /** How many problems there were; `errors` holds at most MAX_LISTED_ERRORS of them. */
  readonly errorCount: number
  readonly headers: Record<string, string>

  constructor(
    status: number,
    code: string,
    title: string,
    detail: string,
    opts: { errors?: ProblemItem[] | ProblemList; headers?: Record<string, string> } = {},
  ) {
    super(detail)
    this.statusCode = status
    this.type = `https://tokenledger.dev/problems/${code}`
    this.title = title
    const listed = opts.errors instanceof ProblemList ? opts.errors.items : opts.errors
    this.errors = listed?.slice(0, MAX_LISTED_ERRORS)
    this.errorCount = opts.errors?.length ?? 0
    this.headers = opts.headers ?? {}
  }

  toBody(instance?: string, requestId?: string): ProblemBody {
    const body: ProblemBody = { type: this.type, title: this.title, status: this.statusCode, detail: this.message }
    if (instance) body.instance = instance
    if (requestId) body.request_id = requestId
    if (this.errors) {
      body.errors = this.errors
      body.error_count = this.errorCount
      body.truncated = this.errorCount > this.errors.length
    }
    return body
  }
}

/** One argument a person got wrong, by GraphQL's argument name (`from`, `filter.sources`, `rateCard`…). */
export interface ArgProblem {
  field: string
  message: string
}

/**
 * The query arguments a person got wrong (range, time zone, cursor, page size, rate card…), every one
 * of them: a 400 problem listing each field in REST, BAD_USER_INPUT with `argument` (the first) and
 * `errors` (all) in GraphQL — one class, one mapping (src/plugins/errors.ts → src/graphql/errors.ts).
 * Fields use GraphQL's argument names; `inQuery` renames them to a REST route's parameters.
 */
export class UsageInputError extends ProblemError {
  /** The first field named, for callers that report one. */
  readonly field: string
  readonly problems: readonly ArgProblem[]
  constructor(field: string, message: string)
  constructor(problems: readonly [ArgProblem, ...ArgProblem[]])
  constructor(first: string | readonly [ArgProblem, ...ArgProblem[]], message = '') {
    const list = typeof first === 'string' ? [{ field: first, message }] : first
    super(400, 'validation', 'Invalid request', list.map((p) => p.message).join('; '), {
      errors: list.map((p) => ({ path: p.field, message: p.message })),
    })
    this.field = list[0]!.field
    this.problems = list
  }

  /** The same problems as a REST route's 400, each named by its query parameter (`names`: argument → parameter). */
  inQuery(names: Readonly<Record<string, string>>): ProblemError {
    return problems.validation(this.problems.map((p) => ({ path: `querystring.${names[p.field] ?? p.field}`, message: p.message })))
  }
}

// The catalogue: every domain error the API can answer with.
export const problems = {
  internal: () => new ProblemError(500, 'internal', 'Internal server error', 'an unexpected error occurred; it has been logged'),
  validation: (errors: ProblemItem[] | ProblemList, detail?: string) =>
    new ProblemError(
      400,
      'validation',
      'Invalid request',
      detail ?? `${errors.length} problem${errors.length === 1 ? '' : 's'} found; nothing was written`,
      { errors },
    ),
  /** Invalid query parameters (or path parameters, headers): a read writes nothing, so that is not said. */
  invalidParameters: (errors: ProblemItem[] | ProblemList, part = 'query parameters') =>
    new ProblemError(400, 'validation', 'Invalid request', `${errors.length} problem${errors.length === 1 ? '' : 's'} in the ${part}`, { errors }),
  badRequest: (detail: string) => new ProblemError(400, 'bad-request', 'Bad request', detail),
  /** A /graphql request whose envelope (query, variables, …) is not one GraphQL request, sent by POST or GET. */
  notGraphqlRequest: (errors: ProblemItem[]) =>
    new ProblemError(400, 'bad-request', 'Bad request', 'not a GraphQL request: send {"query": "…", "variables"?: {…}} (one operation per request)', { errors }),
  headersTooLarge: () =>
    new ProblemError(431, 'headers-too-large', 'Request header fields too large', 'the request line and headers exceed the server\'s limit; send long filters in fewer, shorter parameters'),
  requestTimeout: () => new ProblemError(408, 'request-timeout', 'Request timeout', 'the request was not received in time'),
  clientClosed: () =>
    new ProblemError(400, 'client-closed', 'Client closed the request', 'the client closed the connection before the request body was complete; nothing was written'),
  unauthorized: (detail = 'a valid bearer token is required') =>
    new ProblemError(401, 'unauthorized', 'Unauthorized', detail, { headers: { 'www-authenticate': 'Bearer' } }),
  forbidden: (detail: string) => new ProblemError(403, 'forbidden', 'Forbidden', detail),
  notFound: (detail: string) => new ProblemError(404, 'not-found', 'Not found', detail),
  conflict: (detail: string, errors?: ProblemItem[]) =>
    new ProblemError(409, 'conflict', 'Conflict', detail, errors ? { errors } : {}),
  payloadTooLarge: (limit: number, detail = `the request body exceeds the limit of ${limit} bytes`) =>
    new ProblemError(413, 'payload-too-large', 'Payload too large', detail),
  unsupportedMediaType: (type: string | undefined, accepted: string[]) =>
    new ProblemError(
      415,
      'unsupported-media-type',
      'Unsupported media type',
      `content type ${type ? `"${type}"` : '(none)'} is not accepted here; send ${accepted.join(' or ')}`,
    ),
  unsupportedEncoding: (detail: string, accepted: string[]) =>
    new ProblemError(415, 'unsupported-encoding', 'Unsupported content encoding', `${detail}; send the body with Content-Encoding ${accepted.join(', ')}`, {
      headers: { 'accept-encoding': accepted.join(', ') },
    }),
  unavailable: (retryAfterSeconds: number, detail = 'the database is not reachable; try again shortly') =>
    new ProblemError(503, 'unavailable', 'Service unavailable', detail, {
      headers: { 'retry-after': String(retryAfterSeconds) },
    }),
  overloaded: (retryAfterSeconds: number, detail = 'the server is overloaded; try again shortly') =>
    new ProblemError(503, 'overloaded', 'Service unavailable', detail, {
      headers: { 'retry-after': String(retryAfterSeconds) },
    }),
  methodNotAllowed: (detail: string, allowed?: string[]) =>
    new ProblemError(405, 'method-not-allowed', 'Method not allowed', detail, allowed ? { headers: { allow: allowed.join(', ') } } : {}),
  tooManyRequests: (retryAfterSeconds: number, detail: string) =>
    new ProblemError(429, 'too-many-requests', 'Too many requests', detail, { headers: { 'retry-after': String(retryAfterSeconds) } }),
  /** A count past what the ledger carries exactly; the default detail is a read's (see src/usage/exact-counts.ts). */
  countOutOfRange: (
    detail = 'a token or request count of this result exceeds 9007199254740991 (2^53 − 1), the largest integer a JSON client reads exactly; narrow the range or group by more dimensions',
  ) => new ProblemError(422, 'count-out-of-range', 'Count out of exact range', detail),
  timeout: () =>
    new ProblemError(503, 'query-timeout', 'Query timed out', 'the query exceeded the statement timeout; narrow the range or grouping', {
      headers: { 'retry-after': '1' },
    }),
}
