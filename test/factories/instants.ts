/**
 * One table of instants and the verdict the contract (v2 "Times") gives each. test/time/instant.test.ts
 * checks the parser with it; test/time/entry-points.test.ts feeds it to every entry point. Valid rows
 * lie strictly inside 1971–9998 so that cross-field rules (end after start) cannot change a verdict there;
 * a rule bounding a span (a billed cost covers at most 31 days) is probed with a partner an hour away.
 */
export interface InstantCase {
  input: string | number
  /** Epoch milliseconds when accepted, null when refused. */
  ms: number | null
  why: string
}

export const INSTANT_CASES: InstantCase[] = [
  { input: '2025-10-01T00:00:00Z', ms: Date.UTC(2025, 9, 1), why: 'RFC 3339 UTC' },
  { input: '2025-10-01T02:00:00+02:00', ms: Date.UTC(2025, 9, 1), why: 'with an offset' },
  { input: '2025-09-30T19:30:00-04:30', ms: Date.UTC(2025, 9, 1), why: 'negative offset with minutes' },
  { input: '2025-10-01T00:00:00.250Z', ms: Date.UTC(2025, 9, 1) + 250, why: 'a fraction' },
  { input: '2025-10-01T00:00:00.2509999999Z', ms: Date.UTC(2025, 9, 1) + 250, why: 'a fraction of 10 digits (RFC 3339 sets no bound)' },
  { input: '2025-10-01T01:59:59.99999999999999999+02:00', ms: Date.UTC(2025, 9, 1) - 1, why: 'a fraction of 17 digits, never rounded up' },
  { input: '2025-10-01t00:00:00z', ms: Date.UTC(2025, 9, 1), why: 'lower-case t and z (RFC 3339 §5.6)' },
  { input: '2024-02-29T12:00:00Z', ms: Date.UTC(2024, 1, 29, 12), why: 'a leap day' },
  { input: 1759276800, ms: 1759276800_000, why: 'unix seconds as a JSON integer' },
  { input: '1759276800', ms: 1759276800_000, why: 'unix seconds as a digit string' },
  { input: '2025-02-30T00:00:00Z', ms: null, why: 'February 30th' },
  { input: '2025-04-31T00:00:00Z', ms: null, why: 'April 31st' },
  { input: '2025-02-29T00:00:00Z', ms: null, why: 'February 29th of a common year' },
  { input: '2025-06-01T24:00:00Z', ms: null, why: 'hour 24' },
  { input: '2025-06-01T23:59:60Z', ms: null, why: 'second 60' },
  { input: '2025-13-01T00:00:00Z', ms: null, why: 'month 13' },
  { input: '2025-10-01 00:00:00Z', ms: null, why: 'a space separator' },
  { input: '2025-10-01T00:00Z', ms: null, why: 'missing seconds' },
  { input: '2025-10-01T00:00:00', ms: null, why: 'no offset' },
  { input: '2025-10-01T00:00:00+25:00', ms: null, why: 'an impossible offset' },
  { input: '2025-10-01', ms: null, why: 'a date alone' },
  { input: '0000-01-01T00:00:00Z', ms: null, why: 'year 0000' },
  { input: '1969-12-31T23:59:59Z', ms: null, why: 'before 1970' },
  { input: '1759276800.0', ms: null, why: 'unix seconds with a fraction, as text' },
  { input: 1759276800.5, ms: null, why: 'unix seconds with a fraction' },
  { input: '+1759276800', ms: null, why: 'a signed digit string' },
  { input: -1, ms: null, why: 'negative unix seconds' },
  { input: '253402300800', ms: null, why: 'unix seconds after 9999' },
  { input: '1759276800000', ms: null, why: 'milliseconds (13 digits)' },
  { input: '99999999999999999999999', ms: null, why: 'an over-long number' },
  { input: ' 2025-10-01T00:00:00Z', ms: null, why: 'surrounding space' },
  { input: 'yesterday', ms: null, why: 'a word' },
  { input: '', ms: null, why: 'empty' },
  { input: '2025-10-01T00:00:00\u0000Z', ms: null, why: 'a NUL byte' },
]
