/**
 * Browser-side exact decimals (plain ES2020 source, served as part of dashboard.js). Amounts arrive as the
 * API's decimal strings (the chart's tick values as String(Number), exponent notation included, read
 * exactly); totals shown on the page are added, compared and rounded here on BigInt, never on floats. Only
 * the chart's geometry uses Number().
 */
export const DECIMAL_JS = String.raw`
var Dec = (function () {
  // The API writes plain notation; String(Number) — the chart's axis ticks — writes 1e-7 and 1.5e+21.
  // Three exponent digits hold every double (e-324 to e+308) and bound the BigInt a text can ask for.
  function parse(s) {
    var m = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]?\d{1,3}))?$/i.exec(String(s));
    if (!m) throw new Error('not a decimal: ' + s);
    var frac = m[3] || '';
    var units = BigInt(m[2] + frac);
    var scale = frac.length - Number(m[4] || 0);
    if (scale < 0) { units = units * (BigInt(10) ** BigInt(-scale)); scale = 0; }
    return { units: m[1] ? -units : units, scale: scale };
  }
  function scaled(d, scale) { return d.units * (BigInt(10) ** BigInt(scale - d.scale)); }
  function str(units, scale) {
    var neg = units < BigInt(0);
    var digits = (neg ? -units : units).toString();
    while (digits.length <= scale) digits = '0' + digits;
    var int = digits.slice(0, digits.length - scale);
    var frac = digits.slice(digits.length - scale).replace(/0+$/, '');
    return (neg ? '-' : '') + int + (frac ? '.' + frac : '');
  }
  /** a + b, exact, in the API's notation (no trailing zeros). */
  function add(a, b) {
    var x = parse(a), y = parse(b), scale = Math.max(x.scale, y.scale);
    return str(scaled(x, scale) + scaled(y, scale), scale);
  }
  function sum(list) { return list.reduce(add, '0'); }
  /** -1, 0 or 1. */
  function cmp(a, b) {
    var x = parse(a), y = parse(b), scale = Math.max(x.scale, y.scale);
    var d = scaled(x, scale) - scaled(y, scale);
    return d < BigInt(0) ? -1 : d > BigInt(0) ? 1 : 0;
  }
  function isZero(a) { return parse(a).units === BigInt(0); }
  /** Rounded half away from zero to exactly dp decimals (a display string, e.g. "12.30"). */
  function toFixed(a, dp) {
    var d = parse(a);
    var units = d.units;
    if (d.scale > dp) {
      var div = BigInt(10) ** BigInt(d.scale - dp);
      var neg = units < BigInt(0), abs = neg ? -units : units;
      var q = abs / div, r = abs % div;
      if (r * BigInt(2) >= div) q += BigInt(1);
      units = neg ? -q : q;
    } else {
      units = units * (BigInt(10) ** BigInt(dp - d.scale));
    }
    var s = str(units, dp);
    var parts = s.split('.');
    var frac = (parts[1] || '');
    while (frac.length < dp) frac += '0';
    return parts[0] + (dp > 0 ? '.' + frac : '');
  }
  return { add: add, sum: sum, cmp: cmp, isZero: isZero, toFixed: toFixed };
})();
`
