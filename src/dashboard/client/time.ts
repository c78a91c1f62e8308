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
      // era: Intl writes year 0 as 1 BC (its years count from 1); parts() turns it back into the ISO year.
      formats[tz] = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', era: 'short', year: 'numeric',
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
      if (p.type === 'era') out.bc = p.value === 'BC';
      else if (p.type !== 'literal') out[p.type] = Number(p.value);
    });
    if (out.bc) out.year = 1 - out.year;
    return out;
  }
  /**
   * Date.UTC(y, …) with the year kept exactly: Date.UTC and new Date(y, …) read years 0–99 as 1900–1999, which
   * turned a link's #from=0050-01-01 into 1950 (and 0070-01-01 into a valid 1970 range).
   */
  function utc(y, month0, day, h, mi, s) {
    var d = new Date(Date.UTC(2000, 0, 1, h || 0, mi || 0, s || 0));
    d.setUTCFullYear(y, month0, day);
    return d.getTime();
  }
  function offsetMs(ms, tz) {
    var p = parts(ms, tz);
    return utc(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - Math.floor(ms / 1000) * 1000;
  }
  /**
   * The first instant (ms) of the local date 'YYYY-MM-DD' in tz: its midnight, or — where a DST change
   * skips midnight (America/Santiago, 00:00 → 01:00) — the instant the clocks jump to.
   */
  function midnight(date, tz) {
    var a = date.split('-').map(Number);
    var wall = utc(a[0], a[1] - 1, a[2]);
    var t = wall - offsetMs(wall, tz);
    var again = wall - offsetMs(t, tz); // the offset at the instant itself wins near a DST change
    var first = Math.min(t, again);
    var second = Math.max(t, again);
    // One of the two readings of midnight lies on the date; in a skipped midnight only the later one does.
    return dateOf(first, tz) === date ? first : second;
  }
  function pad(n) { return (n < 10 ? '0' : '') + n; }
  function year(y) { return String(y).padStart(4, '0'); }
  function dateOf(ms, tz) {
    var p = parts(ms, tz);
    return year(p.year) + '-' + pad(p.month) + '-' + pad(p.day);
  }
  function addDays(date, n) {
    var a = date.split('-').map(Number);
    var d = new Date(utc(a[0], a[1] - 1, a[2] + n));
    return year(d.getUTCFullYear()) + '-' + pad(d.getUTCMonth() + 1) + '-' + pad(d.getUTCDate());
  }
  /**
   * Why a 'YYYY-MM-DD' typed or linked as a range bound cannot be used ('' when it can): not that form, not a
   * calendar date (2026-02-30 would roll over to March 2nd), or a year before 1970, which the API refuses.
   */
  function dateProblem(date) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
    if (!m) return 'must be a date (YYYY-MM-DD)';
    var y = Number(m[1]), mo = Number(m[2]), d = Number(m[3]);
    if (mo < 1 || mo > 12 || d < 1 || d > new Date(utc(y, mo, 0)).getUTCDate()) return '(' + date + ') is not a calendar date';
    if (y < 1970) return '(' + date + ') is before 1970, the earliest year tokenledger takes';
    return '';
  }
  /** A window's label in local time: the form depends on the window size; a repeated hour adds its UTC offset. */
  function label(iso, window, tz) {
    var p = parts(Date.parse(iso), tz);
    var day = year(p.year) + '-' + pad(p.month) + '-' + pad(p.day);
    if (window === 'MONTH') return year(p.year) + '-' + pad(p.month);
    if (window === 'HOUR') {
      var text = day + ' ' + pad(p.hour) + ':' + pad(p.minute);
      return repeated(Date.parse(iso), tz) ? text + ' (' + utcOffset(Date.parse(iso), tz) + ')' : text;
    }
    return day;
  }
  /**
   * Whether the local time at ms also happens at another instant: where clocks fall back (America/New_York
   * 01:00 twice, America/Havana 00:00 twice) two HOUR windows would read the same, so those carry their offset.
   * The other reading lies within the size of the change (at most a few hours) before or after.
   */
  function repeated(ms, tz) {
    var wall = Math.floor(ms / 1000) * 1000 + offsetMs(ms, tz);
    return [-3, 3].some(function (h) {
      var off = offsetMs(ms + h * 3600000, tz), other = wall - off;
      return other !== Math.floor(ms / 1000) * 1000 && offsetMs(other, tz) === off;
    });
  }
  /** 'UTC-05:00', 'UTC+10:30': the zone's offset at ms. */
  function utcOffset(ms, tz) {
    var min = Math.round(offsetMs(ms, tz) / 60000), abs = Math.abs(min);
    return 'UTC' + (min < 0 ? '-' : '+') + pad(Math.floor(abs / 60)) + ':' + pad(abs % 60);
  }
  function browserZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'; } catch (e) { return 'UTC'; }
  }
  function allZones() {
    try { return Intl.supportedValuesOf('timeZone'); } catch (e) { return []; }
  }
  return { isValid: isValid, midnight: midnight, dateOf: dateOf, addDays: addDays, dateProblem: dateProblem, label: label,
    browserZone: browserZone, allZones: allZones };
})();
`
