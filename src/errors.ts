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
}

/** At most this many problems are listed; `error_count` and `truncated` say how many there were. */
export const MAX_LISTED_ERRORS = 1000

/** An error that becomes an RFC 9457 problem+json response. */
export class ProblemError extends Error {
  readonly statusCode: number
  readonly type: string
  readonly title: string
  readonly errors: ProblemItem[] | undefined
  readonly headers: Record<string, string>

  constructor(
    status: number,
    code: string,
    title: string,
    detail: string,
    opts: { errors?: ProblemItem[]; headers?: Record<string, string> } = {},
  ) {
    super(detail)
    this.statusCode = status
    this.type = `https://tokenledger.dev/problems/${code}`
    this.title = title
    this.errors = opts.errors
    this.headers = opts.headers ?? {}
  }

  toBody(instance?: string): ProblemBody {
    const body: ProblemBody = { type: this.type, title: this.title, status: this.statusCode, detail: this.message }
    if (instance) body.instance = instance
    if (this.errors) {
      body.errors = this.errors.slice(0, MAX_LISTED_ERRORS)
      body.error_count = this.errors.length
      body.truncated = this.errors.length > MAX_LISTED_ERRORS
    }
    return body
  }
}

// The catalogue: every domain error the API can answer with.
export const problems = {
  validation: (errors: ProblemItem[], detail?: string) =>
    new ProblemError(
      400,
      'validation',
      'Invalid request',
      detail ?? `${errors.length} problem${errors.length === 1 ? '' : 's'} found; nothing was written`,
      { errors },
    ),
  badRequest: (detail: string) => new ProblemError(400, 'bad-request', 'Bad request', detail),
  unauthorized: (detail = 'a valid bearer token is required') =>
    new ProblemError(401, 'unauthorized', 'Unauthorized', detail, { headers: { 'www-authenticate': 'Bearer' } }),
  forbidden: (detail: string) => new ProblemError(403, 'forbidden', 'Forbidden', detail),
  notFound: (detail: string) => new ProblemError(404, 'not-found', 'Not found', detail),
  conflict: (detail: string, errors?: ProblemItem[]) =>
    new ProblemError(409, 'conflict', 'Conflict', detail, errors ? { errors } : {}),
  payloadTooLarge: (limit: number) =>
    new ProblemError(413, 'payload-too-large', 'Payload too large', `the request body exceeds the limit of ${limit} bytes`),
  unsupportedMediaType: (type: string | undefined, accepted: string[]) =>
    new ProblemError(
      415,
      'unsupported-media-type',
      'Unsupported media type',
      `content type ${type ? `"${type}"` : '(none)'} is not accepted here; send ${accepted.join(' or ')}`,
    ),
  unavailable: (retryAfterSeconds: number, detail = 'the database is not reachable; try again shortly') =>
    new ProblemError(503, 'unavailable', 'Service unavailable', detail, {
      headers: { 'retry-after': String(retryAfterSeconds) },
    }),
  rateLimited: (retryAfterSeconds: number, limit: number) =>
    new ProblemError(429, 'rate-limited', 'Too many requests', `more than ${limit} requests a minute; retry after ${retryAfterSeconds} s`, {
      headers: { 'retry-after': String(retryAfterSeconds) },
    }),
  overloaded: (retryAfterSeconds: number) =>
    new ProblemError(503, 'overloaded', 'Service unavailable', 'the server is overloaded; try again shortly', {
      headers: { 'retry-after': String(retryAfterSeconds) },
    }),
  timeout: () =>
    new ProblemError(503, 'query-timeout', 'Query timed out', 'the query exceeded the statement timeout; narrow the range or grouping', {
      headers: { 'retry-after': '1' },
    }),
}
