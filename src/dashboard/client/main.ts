/**
 * Browser-side controller (plain ES2020, last part of dashboard.js): the read key, the controls (kept in the
 * URL's #fragment so a view can be linked — never the key), and the sections. Each section is
 * `{ id, load(ctx) → Promise, render(result, ctx), clear(), csv? }` with a <section id=…> in the page.
 */
export const MAIN_JS = String.raw`
var SECTIONS = [overviewSection, topSection('PROJECT'), topSection('API_KEY'), topSection('MODEL'), classesSection, budgetsSection, reconSection];
var WINDOWS = ['HOUR', 'DAY', 'WEEK', 'MONTH'];
var LATEST_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
var $ = function (id) { return document.getElementById(id); };
var app = $('app');
var generation = 0;

function defaults() {
  var tz = Zone.browserZone();
  var today = Zone.dateOf(Date.now(), tz);
  return { from: Zone.addDays(today, -29), to: today, window: 'DAY', tz: tz, group: 'MODEL' };
}
function readHash() {
  var s = defaults();
  // Own keys only: a link with #group=constructor (any name every object inherits) passed these checks and
  // broke the view.
  var own = function (o, k) { return Object.prototype.hasOwnProperty.call(o, k); };
  new URLSearchParams(location.hash.slice(1)).forEach(function (v, k) { if (own(s, k) && v) s[k] = v; });
  if (WINDOWS.indexOf(s.window) < 0) s.window = 'DAY';
  if (!own(DIMENSIONS, s.group)) s.group = 'MODEL';
  return s;
}
function showControls(s) {
  $('from').value = s.from; $('to').value = s.to; $('window').value = s.window; $('tz').value = s.tz; $('group').value = s.group;
}
function readControls() {
  return { from: $('from').value, to: $('to').value, window: $('window').value, tz: $('tz').value.trim(), group: $('group').value };
}

function say(text, kind) {
  var box = $('message');
  box.textContent = text;
  box.className = kind || '';
  box.hidden = !text;
  box.setAttribute('aria-live', kind === 'alert' ? 'assertive' : 'polite');
}
function setState(state) { app.setAttribute('data-state', state); }

/**
 * Takes what a section shows off the page, its CSV with it. A section keeps what it drew until its next answer
 * replaces it, so without this a failed answer left the one before in place: another range's numbers, or — after
 * the key changed — another tenant's, beside this one's; and a forgotten key left its tenant's data on screen.
 */
function clearSection(section) {
  section.csv = null;
  var csv = $(section.id + '-csv');
  if (csv) csv.disabled = true;
  section.clear();
  $(section.id).setAttribute('data-state', 'idle');
}
function clearSections() { SECTIONS.forEach(clearSection); }

function showKeyState() {
  var has = !!Api.key();
  $('key-state').textContent = has ? 'Key set for this browser tab.' : 'No key yet.';
  $('key-forget').disabled = !has;
}
function askForKey(text) {
  Api.setKey('');
  clearSections();
  showKeyState();
  setState('needs-key');
  say(text, 'alert');
  $('key').focus();
}

function validate(s) {
  var problems = [];
  var fromBad = Zone.dateProblem(s.from), toBad = Zone.dateProblem(s.to), tzOk = Zone.isValid(s.tz);
  if (fromBad) problems.push('“From” ' + fromBad + '.');
  if (toBad) problems.push('“To” ' + toBad + '.');
  if (!fromBad && !toBad && s.from > s.to) problems.push('“From” must not be after “To”.');
  if (!tzOk) problems.push('“' + s.tz + '” is not an IANA time zone (for example Europe/Paris or UTC).');
  // The API takes instants from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z; a range's local midnights
  // east or west of UTC can fall just outside, which is said here rather than as a failed query.
  if (!fromBad && tzOk && Zone.midnight(s.from, s.tz) < 0)
    problems.push('“From” ' + s.from + ' in ' + s.tz + ' starts before 1970-01-01T00:00:00Z, the earliest time tokenledger takes.');
  if (!toBad && tzOk && Zone.midnight(Zone.addDays(s.to, 1), s.tz) > LATEST_MS)
    problems.push('“To” ' + s.to + ' in ' + s.tz + ' ends after 9999-12-31T23:59:59Z, the latest time tokenledger takes.');
  $('tz').setAttribute('aria-invalid', String(!tzOk));
  return problems;
}

var MESSAGES = {
  auth: 'The server refused this key (HTTP 401). Paste a tenant API key with scope “read”.',
  forbidden: 'This key may not read usage (HTTP 403): it needs scope “read”.',
  unavailable: 'The database is unavailable (HTTP 503): tokenledger cannot read usage right now. It reconnects by itself; try again',
  network: 'Cannot reach the tokenledger server (network error). Check that it is running, then try again.',
  timeout: 'The tokenledger server did not answer within ' + Api.TIMEOUT_S + ' s (the request was given up). It may be ' +
    'overloaded, or a proxy in between lost the request: try again, or narrow the range.',
};
// When several views fail, the user is told the most fundamental reason.
var SEVERITY = ['auth', 'forbidden', 'unavailable', 'network', 'timeout', 'rate', 'query', 'server', 'render'];

function load() {
  var s = readControls();
  var problems = validate(s);
  if (problems.length) { setState('invalid'); say(problems.join(' '), 'alert'); return; }
  history.replaceState(null, '', '#' + new URLSearchParams(s).toString());
  if (!Api.key()) { setState('needs-key'); say('Paste a read key above to see usage.', 'info'); return; }
  var gen = ++generation;
  var ctx = { from: new Date(Zone.midnight(s.from, s.tz)).toISOString(),
    to: new Date(Zone.midnight(Zone.addDays(s.to, 1), s.tz)).toISOString(),
    fromDate: s.from, toDate: s.to, window: s.window, timeZone: s.tz, dimension: s.group, currency: 'USD' };
  setState('loading');
  say('Loading usage from ' + s.from + ' to ' + s.to + ' (' + s.tz + ')…', 'info');
  var failures = [];
  Promise.all(SECTIONS.map(function (section) {
    var node = $(section.id);
    node.setAttribute('aria-busy', 'true');
    node.setAttribute('data-state', 'loading');
    var csv = $(section.id + '-csv');
    if (csv) csv.disabled = true;
    // catch, not then's second argument: an answer the view cannot draw throws in render, and that must end
    // in the error state too (it left the page "Loading…" for good).
    return section.load(ctx).then(function (result) {
      if (gen !== generation) return;
      section.render(result, ctx);
      node.setAttribute('data-state', 'ready');
      if (csv) csv.disabled = !section.csv;
    }).catch(function (err) {
      if (gen !== generation) return;
      clearSection(section);
      failures.push(err instanceof Api.ApiError ? err : new Api.ApiError('render', String((err && err.message) || err)));
      node.setAttribute('data-state', 'error');
    }).then(function () { node.removeAttribute('aria-busy'); });
  })).then(function () {
    if (gen !== generation) return;
    if (!failures.length) {
      setState('ready');
      say('Showing ' + s.from + ' to ' + s.to + ' (' + s.tz + ').', 'info');
      return;
    }
    var err = failures.sort(function (a, b) { return SEVERITY.indexOf(a.kind) - SEVERITY.indexOf(b.kind); })[0];
    if (err.kind === 'auth') return askForKey(MESSAGES.auth);
    setState('error');
    if (err.kind === 'unavailable') {
      say(MESSAGES.unavailable + (err.retryAfter ? ' in ' + err.retryAfter + ' s.' : ' shortly.'), 'alert');
    } else if (err.kind === 'render') {
      say('The answer from the server could not be shown (' + err.message + '). Try again; if it persists, the server’s answer is not what this page expects.', 'alert');
    } else if (err.kind === 'rate') {
      say('Too many requests for this key (HTTP 429); try again' + (err.retryAfter ? ' in ' + err.retryAfter + ' s.' : ' shortly.'), 'alert');
    } else {
      say(MESSAGES[err.kind] || ('The query failed: ' + err.message), 'alert');
    }
  });
}

$('key-form').addEventListener('submit', function (ev) {
  ev.preventDefault();
  var value = $('key').value.trim();
  if (!value) { $('key').focus(); return; }
  // Another key may be another tenant: nothing the last one read stays while this one's answers arrive.
  if (value !== Api.key()) clearSections();
  Api.setKey(value);
  $('key').value = '';
  showKeyState();
  load();
});
$('key-forget').addEventListener('click', function () {
  Api.setKey('');
  // A load still under way for the forgotten key must not draw when it answers.
  generation++;
  clearSections();
  showKeyState();
  setState('needs-key');
  say('Key forgotten. Paste a read key to see usage.', 'info');
});
$('controls').addEventListener('submit', function (ev) { ev.preventDefault(); load(); });
['window', 'group'].forEach(function (id) { $(id).addEventListener('change', load); });
SECTIONS.forEach(function (section) {
  var button = $(section.id + '-csv');
  if (button) button.addEventListener('click', function () { if (section.csv) section.csv(); });
});
window.addEventListener('hashchange', function () { showControls(readHash()); load(); });

var zones = $('tz-list');
['UTC'].concat(Zone.allZones()).forEach(function (z) { zones.appendChild(Fmt.el('option', { value: z })); });
showControls(readHash());
showKeyState();
load();
`
