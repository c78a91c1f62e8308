import { attr, pageHead } from '../http/static-assets.js'

/**
 * The GraphiQL page and its small bootstrap script. They live in a module (not as files under src/) so the
 * build copies them into dist/ with everything else. Every URL here is relative to `/graphiql`, so the
 * page keeps working behind a reverse proxy that mounts tokenledger under a path prefix.
 */

export interface PageAssets {
  css: string
  react: string
  reactDom: string
  graphiql: string
  bootstrap: string
}

export function renderPage(a: PageAssets): string {
  return `${pageHead('tokenledger · GraphiQL', a.css)}
<style>
  html, body { height: 100%; margin: 0; }
  body { display: flex; flex-direction: column; font-family: system-ui, sans-serif; }
  #auth { display: flex; gap: .5rem; align-items: center; padding: .4rem .75rem; border-bottom: 1px solid #ddd; font-size: 14px; }
  #auth input { flex: 1; max-width: 36rem; font: 13px ui-monospace, monospace; padding: .25rem .4rem; }
  #auth-state { color: #666; }
  #graphiql { flex: 1; min-height: 0; }
  noscript { padding: 1rem; }
</style>
</head>
<body>
<form id="auth" autocomplete="off">
  <label for="token">Bearer token (a tenant API key with scope <code>read</code>)</label>
  <input id="token" name="token" type="password" spellcheck="false" placeholder="tl_…">
  <button type="submit" id="token-save">Use token</button>
  <button type="button" id="token-forget">Forget</button>
  <span id="auth-state" role="status"></span>
</form>
<div id="graphiql">Loading GraphiQL…</div>
<noscript>GraphiQL needs JavaScript.</noscript>
<script src=${attr(a.react)}></script>
<script src=${attr(a.reactDom)}></script>
<script src=${attr(a.graphiql)}></script>
<script src=${attr(a.bootstrap)}></script>
</body>
</html>
`
}

/**
 * Browser-side bootstrap (plain ES2017, no build step). The token is kept in localStorage so a reload keeps
 * it; it is sent only to this origin's /graphql. A new fetcher is rendered whenever the token changes,
 * which makes GraphiQL introspect again with the new credentials.
 */
export const BOOTSTRAP_JS = `(function () {
  'use strict';
  var STORAGE_KEY = 'tokenledger.graphiql.token';
  var ENDPOINT = new URL('graphql', document.baseURI).toString();
  var input = document.getElementById('token');
  var state = document.getElementById('auth-state');
  var root = ReactDOM.createRoot(document.getElementById('graphiql'));

  function storedToken() {
    try { return localStorage.getItem(STORAGE_KEY) || ''; } catch (e) { return ''; }
  }
  function storeToken(token) {
    try {
      if (token) localStorage.setItem(STORAGE_KEY, token); else localStorage.removeItem(STORAGE_KEY);
    } catch (e) { /* storage disabled: the token still works for this page view */ }
  }

  // Non-GraphQL answers (401/403/503 problem+json, proxies' HTML) are turned into a GraphQL error so
  // GraphiQL shows why, instead of failing to parse them.
  function toResult(res) {
    var type = res.headers.get('content-type') || '';
    if (type.indexOf('json') === -1) {
      return res.text().then(function (text) {
        return { errors: [{ message: 'HTTP ' + res.status + ': ' + text.slice(0, 500) }] };
      });
    }
    return res.json().then(function (body) {
      if (type.indexOf('application/problem+json') === 0) {
        return { errors: [{ message: (body.title || 'HTTP ' + res.status) + (body.detail ? ': ' + body.detail : ''),
          extensions: { status: res.status, problem: body } }] };
      }
      return body;
    });
  }

  function makeFetcher(token) {
    return function fetcher(params, opts) {
      var headers = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };
      if (token) headers.authorization = 'Bearer ' + token;
      var extra = (opts && opts.headers) || {};
      Object.keys(extra).forEach(function (k) { headers[k.toLowerCase()] = extra[k]; });
      return fetch(ENDPOINT, { method: 'POST', headers: headers, body: JSON.stringify(params), credentials: 'omit' })
        .then(toResult);
    };
  }

  function render(token) {
    state.textContent = token ? 'token set' : 'no token: queries will answer 401';
    root.render(React.createElement(GraphiQL, {
      fetcher: makeFetcher(token),
      defaultQuery: '# Paste a tenant API key above, then run a query, e.g.\\n{\\n  __typename\\n}\\n',
      shouldPersistHeaders: false,
    }));
  }

  input.value = storedToken();
  document.getElementById('auth').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var token = input.value.trim();
    storeToken(token);
    render(token);
  });
  document.getElementById('token-forget').addEventListener('click', function () {
    input.value = '';
    storeToken('');
    render('');
  });
  render(input.value.trim());
})();
`
