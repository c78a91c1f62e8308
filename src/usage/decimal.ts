/** Plain-notation decimal text with trailing zeros stripped: "0.3409000" → "0.3409", "0.000" → "0". */
export function normalizeDecimal(value: string): string {
  let s = value.trim()
  if (!/^-?\d+(\.\d+)?$/.test(s)) throw new Error(`not a plain decimal: ${value}`)
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '')
  if (s === '-0') s = '0'
  return s
}
