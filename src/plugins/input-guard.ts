import { isUtf8 } from 'node:buffer'
import { Readable } from 'node:stream'
import fp from 'fastify-plugin'
import { problems, type ProblemItem } from '../errors.js'
import { bodyProtoKeys, protoKeysRefusal } from '../ingest/events/proto-keys.js'
import { MAX_JSON_DEPTH, TOO_DEEP, unstorableText } from '../ingest/values.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route refuses NUL in its body itself, per item (events stand alone; buckets name the row). */
    nulCheckedPerItem?: boolean
    /**
     * The route's JSON body is parsed keeping `__proto__` and `constructor.prototype` keys (as own data
     * properties), and the route refuses the item holding one itself (events stand alone).
     */
    protoKeysPerItem?: boolean
  }
}

const MAX_LISTED = 100

/**
 * Every path in `value` whose string (or object key) cannot be stored as sent (`unstorableText`), up to
 * MAX_LISTED; and where it nests deeper than MAX_JSON_DEPTH, which is not walked (the recursion would overflow).
 * `path` is one stack, pushed and popped, joined only for a problem: a copy per value was most of the
 * walk's time and garbage (a 100,000-bucket body: ~90 ms → ~30 ms, in one turn of the event loop).
 */
function nulPaths(value: unknown, path: string[], out: ProblemItem[], depth = 0): void {
  if (out.length >= MAX_LISTED) return
  if (depth >= MAX_JSON_DEPTH && typeof value === 'object' && value !== null) {
    out.push({ path: path.join('.'), message: TOO_DEEP })
    return
  }
  if (typeof value === 'string') {
    const problem = unstorableText(value)
    if (problem) out.push({ path: path.join('.'), message: problem })
  } else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      path.push(String(i))
      nulPaths(value[i], path, out, depth + 1)
      path.pop()
    }
  } else if (value !== null && typeof value === 'object' && !(value instanceof Readable) && !Buffer.isBuffer(value)) {
    for (const [k, v] of Object.entries(value)) {
      const problem = unstorableText(k)
      if (problem) out.push({ path: [...path, JSON.stringify(k)].join('.'), message: `has a key that ${problem}` })
      path.push(k)
      nulPaths(v, path, out, depth + 1)
      path.pop()
    }
  }
}

function refuse(items: ProblemItem[]): never {
  throw problems.validation(
    items,
    `${items.length} value${items.length === 1 ? '' : 's'} cannot be stored as sent (text holding the NUL character or a lone UTF-16 surrogate, or JSON nested deeper than ${MAX_JSON_DEPTH} levels); nothing was written`,
  )
}

/**
 * Refuses `value`, found at `path`, as a JSON body is refused when it holds text that cannot be stored as
 * sent: for JSON that arrives as text inside a query parameter (GraphQL's `GET /graphql?variables=…`).
 */
export function refuseUnstorable(value: unknown, path: string[]): void {
  const found: ProblemItem[] = []
  nulPaths(value, path, found)
  if (found.length) refuse(found)
}

/**
 * PostgreSQL text cannot hold NUL: a NUL anywhere in a header, a parameter or a JSON body used to reach
 * the driver and come back as a 500. A lone UTF-16 surrogate (`"\ud800"` in JSON) is no character and was
 * stored as U+FFFD: not what was sent, so refused alike. Refused here, once, for every route: headers, query and path
 * parameters before authentication (X-Tenant-Id is looked up), JSON bodies once parsed. Bodies of
 * routes that reject items one by one (`nulCheckedPerItem`) and streamed bodies (CSV) are left to them.
 */
export default fp(
  async (app) => {
    // Fastify's JSON parser decodes the body leniently: bytes that are not UTF-8 (a Latin-1 "é") became
    // U+FFFD and were stored, not what was sent. The same parser, on a body checked to be UTF-8.
    const parseJson = app.getDefaultJsonParser('error', 'error')
    // Proto-poisoning keys are refused for the whole body, naming each, except where the route refuses the
    // one item holding them (JSON.parse defines such a key as an own data property: no prototype changes).
    const parseJsonKeepingProtoKeys = app.getDefaultJsonParser('ignore', 'ignore')
    // Fastify's text/plain parser handed every JSON route a string, refused as "expected object, received
    // string" (GraphQL: "must be object"): no route takes text, so it is a 415 naming what the route takes.
    app.removeContentTypeParser(['application/json', 'text/plain'])
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body: Buffer, done) => {
      if (!isUtf8(body)) return done(problems.badRequest('the JSON body is not valid UTF-8 (RFC 8259 §8.1); nothing was written'), undefined)
      const text = body.toString('utf8')
      if (req.routeOptions.config?.protoKeysPerItem) return parseJsonKeepingProtoKeys(req, text, done)
      parseJson(req, text, (err, parsed) => {
        if (!err) return done(null, parsed)
        // The refusing parser says "Body is not valid JSON" of valid JSON holding such a key: parsed again
        // keeping them (only on this path, so valid bodies pay nothing), the 400 names each key and where it is.
        parseJsonKeepingProtoKeys(req, text, (again, kept) => {
          const found = again ? [] : bodyProtoKeys(kept, MAX_LISTED)
          done(found.length ? protoKeysRefusal(found, MAX_LISTED) : err, undefined)
        })
      })
    })
    app.addHook('onRequest', async (req) => {
      const found: ProblemItem[] = []
      for (const [name, value] of Object.entries(req.headers)) nulPaths(value, ['headers', name], found)
      nulPaths(req.query, ['querystring'], found)
      nulPaths(req.params, ['params'], found)
      if (found.length) refuse(found)
    })
    app.addHook('preValidation', async (req) => {
      if (req.routeOptions.config?.nulCheckedPerItem) return
      const found: ProblemItem[] = []
      nulPaths(req.body, ['body'], found)
      // The contract names array items by index ({buckets: [...]}).
      for (const item of found) {
        const m = /^body\.[^.]+\.(\d+)(\.|$)/.exec(item.path)
        if (m) item.index = Number(m[1])
      }
      if (found.length) refuse(found)
    })
  },
  { name: 'input-guard' },
)
