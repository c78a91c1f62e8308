import { z } from 'zod'
import { TENANT_ID, TENANT_ID_RULE } from '../auth/access.js'

const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional(),
    errors: z
      .array(
        z.object({
          index: z.number().int().optional(),
          line: z.number().int().optional(),
          path: z.string(),
          message: z.string(),
        }),
      )
      .optional(),
    error_count: z.number().int().optional(),
    truncated: z.boolean().optional(),
    request_id: z.string().optional().describe('The request id, equal to the `x-request-id` response header'),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details (application/problem+json)' })

/** Documented error responses for a route; the bodies are sent by the root error handler. */
export function problemResponses(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((s) => [
      s,
      { description: describeStatus(s), content: { 'application/problem+json': { schema: ProblemSchema } } },
    ]),
  )
}

function describeStatus(status: number): string {
  return (
    {
      400: 'Invalid request: every problem is listed in `errors`; nothing was written',
      401: 'Missing or invalid bearer token',
      403: 'The token lacks the scope or the tenant',
      404: 'Not found',
      409: 'Conflict with stored data',
      413: 'Body larger than the configured limit',
      415: 'Unsupported content type',
      422: 'A token or request count of the result exceeds 2^53 − 1, which a JSON number cannot carry exactly: narrow the range or group by more dimensions',
      503: 'Database unavailable; retry after `Retry-After` seconds',
    }[status] ?? 'Error'
  )
}

/**
 * How a list ordered by inCodePointOrder (src/db/orm.ts) says so in its description: "by `key` in code-point
 * order…", whatever the database's collation.
 */
export const byCodePoint = (key: string): string =>
  `by ${key} in code-point (ASCII) order — \`-\` and \`.\` before digits, digits before upper case, upper case before \`_\`, \`_\` before lower case (\`B\` before \`a\`, \`a-x\` before \`a_x\`) — whatever the database’s collation`

export const TenantIdParam = z.string().regex(TENANT_ID, TENANT_ID_RULE)

/**
 * The query of a route that writes or deletes, or of one of tokenledger's own read routes: a parameter it
 * does not know is a 400 naming it. Only the OpenAI mirrors ignore unknown parameters, as OpenAI's API does
 * (docs/rest-mirrors.md); elsewhere a misspelled filter (`acount_id=` for `account_id=`) would widen a
 * delete to every account, file an import under no account, or answer a reconciliation for every project.
 * The root error handler lists each unknown key as its own problem (`querystring.<name>`).
 */
export function strictQuery<Shape extends z.ZodRawShape>(shape: Shape) {
  const known = Object.keys(shape).join(', ')
  return z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? `is not a parameter of this route; its parameters are ${known}` : undefined),
  })
}

/**
 * A whole-number query parameter (a page's `limit`, `first`): `z.coerce.number` read `0x10` as 16, `1e1` as
 * 10 and ` 7` as 7, which OpenAI refuses and no client means. Decimal digits only; documented as `inner` is.
 */
export const countParam = <T extends z.ZodType>(inner: T) =>
  z.preprocess((v, ctx) => {
    if (typeof v !== 'string' || /^\d{1,16}$/.test(v)) return v
    ctx.addIssue({ code: 'custom', message: 'must be a whole number written in decimal digits' })
    return z.NEVER
  }, inner)
