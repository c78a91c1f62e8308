import type { FastifyRequest } from 'fastify'
import { problems, type ProblemItem } from '../errors.js'
import { refuseUnstorable } from '../plugins/input-guard.js'

/**
 * Values a request's `variables` may hold, counted over every nesting level. graphql-js coerces each value
 * of a list variable before any resolver can refuse the list for its length (`filter.*` takes at most
 * MAX_FILTER_VALUES): 5,000,000 strings in a 20 MB body held the event loop for 5.6 s and 770 MB, every
 * other request waiting, only to be refused. No argument of the schema takes a tenth of this.
 */
export const MAX_VARIABLE_VALUES = 100_000

/** How many values `value` holds (itself included), counting no further than `limit`. */
function countValues(value: unknown, limit: number): number {
  let count = 0
  const stack: unknown[] = [value]
  while (stack.length && count <= limit) {
    const v = stack.pop()
    count++
    if (Array.isArray(v)) for (let i = 0; i < v.length && stack.length <= limit; i++) stack.push(v[i])
    else if (v !== null && typeof v === 'object') for (const member of Object.values(v)) stack.push(member)
  }
  return count
}

/**
 * A request's `variables` or `extensions` and where they were sent, or undefined when not sent: a POST
 * body's member as sent (this runs before the body schema, which coerces), or a GET's query parameter read
 * as the JSON text it is (mercurius parses it only in its handler). A GET's text that is not JSON is
 * `notJson`: left to mercurius, it was one problem naming `body` (a GET has none) and only the first of
 * the two parameters, in the JSON parser's words.
 */
function requestMember(req: FastifyRequest, name: 'variables' | 'extensions'): { value?: unknown; notJson?: true; path: string } | undefined {
  if (req.method !== 'GET') {
    const value = (req.body as Record<string, unknown> | null | undefined)?.[name]
    return value === undefined ? undefined : { value, path: `body.${name}` }
  }
  const text = (req.query as Record<string, unknown> | null | undefined)?.[name]
  if (typeof text !== 'string') return undefined
  const path = `querystring.${name}`
  try {
    return { value: JSON.parse(text) as unknown, path }
  } catch {
    return { notJson: true, path }
  }
}

/** The JSON types mercurius's POST body schema allows for each envelope member, as its (ajv's) message names them. */
const ENVELOPE_TYPES = { variables: 'object,null', extensions: 'object' } as const

/** A parsed JSON value's type in JSON schema's words. */
const jsonType = (value: unknown): string => (value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value)

/**
 * A Fastify `preValidation` hook for the GraphQL route, before graphql-js reads the variables:
 * - The envelope's `variables` (an object or null) and `extensions` (an object) are refused alike by POST
 *   and GET, in the words of mercurius's POST body schema (ajv's), naming each that is wrong (a GET's that
 *   is not JSON text at all too). Its GET
 *   handler ran the query with whatever the text parsed to (`[1]`, `"x"`, `1`, `true`, and for
 *   `extensions` `null`); and Fastify's ajv coerces before it checks a POST body, so `variables` of `""`,
 *   `0` and `false` became null and were served (`extensions` is not coerced: no null in its type).
 * - A GET's variables are checked for text that cannot be stored as sent (NUL, a lone surrogate, nesting
 *   past MAX_JSON_DEPTH), as input-guard checks a POST's JSON body: a `\u0000` escaped in the query
 *   parameter reached PostgreSQL inside a filter and came back as an internal error.
 * - Variables beyond MAX_VARIABLE_VALUES → 400.
 */
export async function variablesLimit(req: FastifyRequest): Promise<void> {
  const sent = requestMember(req, 'variables')
  const wrong: ProblemItem[] = []
  for (const [member, types] of [[sent, ENVELOPE_TYPES.variables], [requestMember(req, 'extensions'), ENVELOPE_TYPES.extensions]] as const) {
    if (member?.notJson) wrong.push({ path: member.path, message: `is not JSON text; must be ${types}` })
    else if (member && !types.split(',').includes(jsonType(member.value))) wrong.push({ path: member.path, message: `must be ${types}` })
  }
  if (wrong.length) throw problems.notGraphqlRequest(wrong)
  if (!sent) return
  const variables = sent.value
  if (variables === null) return
  if (req.method === 'GET') refuseUnstorable(variables, ['querystring', 'variables'])
  const found = countValues(variables, MAX_VARIABLE_VALUES)
  if (found > MAX_VARIABLE_VALUES)
    throw problems.validation(
      [{ path: 'variables', message: `hold more than ${MAX_VARIABLE_VALUES.toLocaleString('en-US')} values; no argument takes that many` }],
      `variables hold more than ${MAX_VARIABLE_VALUES.toLocaleString('en-US')} values; no argument takes that many`,
    )
}
