/**
 * Browser-side API access (plain ES2020, part of dashboard.js). Every view asks POST /graphql `usage`, the
 * query any client sends, with the read key from sessionStorage. Failures are classified once here so every
 * view reports them the same way: a refused key, a database that is down, a network failure, a bad query.
 */
export const API_JS = String.raw`
var Api = (function () {
  var ENDPOINT = new URL('graphql', document.baseURI).toString();
  var KEY_STORAGE = 'tokenledger.dashboard.key';
  // One page holds at most 1000 rows (the API's limit); a view follows cursors up to this many rows.
  var PAGE = 1000, MAX_ROWS = 20000;
  // A request (answer included) that takes longer has been lost: a proxy that never answers, a half-open
  // connection. The server bounds its own work well inside this (STATEMENT_TIMEOUT_MS, 30 s by default).
  var TIMEOUT_S = 120;

  var COST = 'cost { total input cachedInput cacheWrite output resources currency complete unpricedTokens ' +
    'unpricedTokensByClass { input cachedInput cacheWrite output } unpricedQuantity { resource quantity } }';
  var COUNTS = 'requests inputTokens outputTokens cachedInputTokens uncachedInputTokens cacheWriteTokens ' + COST;
  var USAGE_QUERY = 'query DashboardUsage($from: DateTime!, $to: DateTime!, $window: Window!, $timeZone: String!, ' +
    '$groupBy: [UsageDimension!], $first: Int, $after: String) {\n' +
    '  usage(from: $from, to: $to, window: $window, timeZone: $timeZone, groupBy: $groupBy, first: $first, after: $after) {\n' +
    '    rows { windowStart windowEnd provider projectId apiKeyId model modality resource quantity ' + COUNTS + ' }\n' +
    '    totals { ' + COUNTS + ' }\n' +
    '    pageInfo { hasNextPage endCursor }\n' +
    '  }\n}';

  function key() {
    try { return sessionStorage.getItem(KEY_STORAGE) || ''; } catch (e) { return ''; }
  }
  function setKey(value) {
    try {
      if (value) sessionStorage.setItem(KEY_STORAGE, value); else sessionStorage.removeItem(KEY_STORAGE);
    } catch (e) { /* storage disabled: nothing is kept */ }
  }

  /**
   * kind: 'auth' (401), 'forbidden' (403), 'unavailable' (503 / database down), 'rate' (429), 'network', 'timeout'
   * (no whole answer within TIMEOUT_S), 'query', 'server'; the controller adds 'render' for an answer a view could not read or draw.
   */
  function ApiError(kind, message, retryAfter) {
    this.kind = kind; this.message = message; this.retryAfter = retryAfter;
  }

  function fromResponse(res) {
    var type = res.headers.get('content-type') || '';
    var retry = res.headers.get('retry-after');
    var body = type.indexOf('json') === -1 ? res.text().then(function (t) { return { detail: t.slice(0, 300) }; })
      : res.json();
    return body.then(function (json) {
      if (res.status === 401) throw new ApiError('auth', (json && json.detail) || 'the key was refused');
      if (res.status === 403) throw new ApiError('forbidden', (json && json.detail) || 'the key may not read usage');
      if (res.status === 503) throw new ApiError('unavailable', (json && json.detail) || 'the database is unavailable', retry);
      if (res.status === 429) throw new ApiError('rate', (json && json.detail) || 'too many requests', retry);
      var errors = json && json.errors;
      if (errors && errors.length) {
        var code = errors[0].extensions && errors[0].extensions.code;
        if (code === 'SERVICE_UNAVAILABLE') throw new ApiError('unavailable', errors[0].message, retry);
        if (code === 'INTERNAL_SERVER_ERROR') throw new ApiError('server', errors[0].message);
        throw new ApiError('query', errors.map(function (e) { return e.message; }).join('; '));
      }
      if (!res.ok || !json || !json.data) {
        // The request id lets an operator find the failure in the server's log.
        var id = (json && json.request_id) || res.headers.get('x-request-id');
        throw new ApiError('server', 'HTTP ' + res.status + ((json && json.title) ? ': ' + json.title : '') + (id ? ' (request ' + id + ')' : ''));
      }
      return json.data;
    });
  }

  function graphql(query, variables) {
    var headers = { 'content-type': 'application/json', accept: 'application/json', authorization: 'Bearer ' + key() };
    // Without a bound, a request that is never answered left the page "Loading…" for good. The abort also
    // ends reading a body that stops arriving.
    var abort = new AbortController();
    var timer = setTimeout(function () { abort.abort(); }, TIMEOUT_S * 1000);
    // Any failure once the timer has fired is the timeout. Before it, a fetch that fails is the network's: the
    // fetch's own error was rethrown as it was, and a server that could not be reached was told as an answer
    // this page could not show.
    var timeout = function () { return new ApiError('timeout', 'no answer within ' + TIMEOUT_S + ' s'); };
    return fetch(ENDPOINT, { method: 'POST', headers: headers, credentials: 'omit', signal: abort.signal,
      body: JSON.stringify({ query: query, variables: variables }) })
      .catch(function (err) { throw abort.signal.aborted ? timeout() : new ApiError('network', String(err && err.message || err)); })
      .then(fromResponse)
      .catch(function (err) { throw abort.signal.aborted ? timeout() : err; })
      .finally(function () { clearTimeout(timer); });
  }

  /**
   * One view's usage: the first page, then its cursor pages. Resolves to { rows, totals, truncated }; totals
   * always cover the whole query (the API computes them), truncated says rows stopped at MAX_ROWS.
   */
  function usage(vars) {
    var rows = [];
    function page(after) {
      var v = Object.assign({}, vars, { first: PAGE, after: after || null });
      return graphql(USAGE_QUERY, v).then(function (data) {
        var u = data.usage;
        rows = rows.concat(u.rows);
        if (u.pageInfo.hasNextPage && rows.length < MAX_ROWS) return page(u.pageInfo.endCursor);
        return { rows: rows, totals: u.totals, truncated: u.pageInfo.hasNextPage };
      });
    }
    return page(null);
  }

  return { key: key, setKey: setKey, usage: usage, graphql: graphql, ApiError: ApiError, USAGE_QUERY: USAGE_QUERY, TIMEOUT_S: TIMEOUT_S };
})();
`
