import { z } from 'zod'
import { INSTANT_FORMAT, parseInstant } from './instant.js'

/**
 * zod faces of the one instant parser, so REST schemas refuse exactly what every other entry point
 * refuses, with the parser's own message.
 */

/** A JSON body field: a number (unix seconds) or a string; checked, kept as written (see `toDate`). */
export const InstantInputSchema = z
  .union([z.number().describe('unix seconds'), z.string().describe('RFC 3339 date-time or unix seconds')])
  .superRefine((v, ctx) => {
    const r = parseInstant(v)
    if (!r.ok) ctx.addIssue({ code: 'custom', message: r.message })
  })
  .describe(INSTANT_FORMAT)

/** A query-string parameter → Date. */
export const InstantParamSchema = z
  .string()
  .transform((v, ctx) => {
    const r = parseInstant(v)
    if (r.ok) return new Date(r.ms)
    ctx.addIssue({ code: 'custom', message: r.message })
    return z.NEVER
  })
  .describe(INSTANT_FORMAT)
