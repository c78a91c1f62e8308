/**
 * Browser-side calendar arithmetic in an IANA zone (plain ES2020, part of dashboard.js). The range the user
 * picks is local dates in the chosen zone; the API takes instants, so local midnights are turned into UTC
 * here with the zone's offset from Intl (DST-correct, independent of the browser's own zone).
 */
export const TIME_JS = String.raw`
var Zone = (function () {
  var formats = {};
  function formatter(tz) {
    if (!formats[tz]) {
      formats[tz] = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric',
        month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    }
    return formats[tz];
  }
  function isValid(tz) {
    try { formatter(tz); return true; } catch (e) { return false; }
  }
  function parts(ms, tz) {
    var out = {};
    formatter(tz).formatToParts(new Date(ms)).forEach(function (p) {
      if (p.type !== 'literal') out[p.type] = Number(p.value);
    });
    return out;
  }
  function offsetMs(ms, tz) {
    var p = parts(ms, tz);
    return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(ms / 1000) * 1000;
  }
  /**
   * The first instant (ms) of the local date 'YYYY-MM-DD' in tz: its midnight, or — where a DST change
   * skips midnight (America/Santiago, 00:00 → 01:00) — the instant the clocks jump to.
   */
  function midnight(date, tz) {
    var a = date.split('-').map(Number);
    var wall = Date.UTC(a[0], a[1] - 1, a[2]);
    var t = wall - offsetMs(wall, tz);
    var again = wall - offsetMs(t, tz); // the offset at the instant itself wins near a DST change
    var first = Math.min(t, again);
    var second = Math.max(t, again);
    // One of the two readings of midnight lies on the date; in a skipped midnight only the later one does.
    return dateOf(first, tz) === date ? first : second;
  }
  function pad(n) { return (n < 10 ? '0' : '') + n; }
  function dateOf(ms, tz) {
    var p = parts(ms, tz);
    return p.year + '-' + pad(p.month) + '-' + pad(p.day);
  }
  function addDays(date, n) {
    var a = date.split('-').map(Number);
    return new Date(Date.UTC(a[0], a[1] - 1, a[2] + n)).toISOString().slice(0, 10);
  }
  /** A window's label in local time: the form depends on the window size. */
  function label(iso, window, tz) {
    var p = parts(Date.parse(iso), tz);
    var day = p.year + '-' + pad(p.month) + '-' + pad(p.day);
    if (window === 'MONTH') return p.year + '-' + pad(p.month);
    if (window === 'HOUR') return day + ' ' + pad(p.hour) + ':' + pad(p.minute);
    return day;
  }
  function browserZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'; } catch (e) { return 'UTC'; }
  }
  function allZones() {
    try { return Intl.supportedValuesOf('timeZone'); } catch (e) { return []; }
  }
  return { isValid: isValid, midnight: midnight, dateOf: dateOf, addDays: addDays, label: label,
    browserZone: browserZone, allZones: allZones };
})();
`
