import { z } from 'zod'
import { foldProvider, MAX_DIMENSION_LENGTH, PROVIDER_ID, PROVIDER_ID_RULE, textProblem } from './values.js'

/** What an empty dimension value is told, at every entry point (ingest, report filters). */
const EMPTY_TEXT = 'must not be empty'

/**
 * A dimension, id or label text in a zod schema: non-empty (unless `allowEmpty`), at most
 * MAX_DIMENSION_LENGTH characters (code points, not UTF-16 units as `.max` counts), no NUL — the same
 * rule as `parseJsonDimension`.
 */
export function dimensionText(opts: { allowEmpty?: boolean } = {}) {
  // zod's own words for an empty string are "Too small: expected string to have >=1 characters".
  const base = opts.allowEmpty ? z.string() : z.string().min(1, EMPTY_TEXT)
  // JSON Schema's maxLength counts characters too, so the documented bound is exact.
  return base
    .superRefine((s, ctx) => {
      const problem = textProblem(s)
      if (problem) ctx.addIssue({ code: 'custom', message: problem })
    })
    .meta({ maxLength: MAX_DIMENSION_LENGTH })
}

/** A provider id in a zod schema (`parseProviderId`'s rule), folded to lower case. */
export function providerIdText() {
  return z.string().regex(PROVIDER_ID, PROVIDER_ID_RULE).overwrite(foldProvider)
}
