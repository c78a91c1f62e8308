import { attr, pageHead } from '../http/static-assets.js'

/**
 * The dashboard's HTML and CSS. They live in modules (not as files under src/) so the build compiles them
 * into dist/ with everything else and the Docker image needs nothing more. Asset URLs are relative to `/`,
 * so the page keeps working behind a reverse proxy that mounts tokenledger under a path prefix.
 */

export interface DashboardAssetUrls {
  css: string
  echarts: string
  app: string
}

function topCard(id: string, title: string): string {
  return `<section id="${id}" class="card" aria-labelledby="${id}-title" data-state="idle">
    <div class="section-head"><h2 id="${id}-title">${title}</h2>
      <button type="button" id="${id}-csv" class="secondary" disabled>Download CSV</button></div>
    <div class="table-wrap"><table id="${id}-table"></table></div>
    <p id="${id}-more" class="muted"></p>
  </section>`
}

export function renderDashboardPage(a: DashboardAssetUrls): string {
  return `${pageHead('tokenledger · dashboard', a.css)}
</head>
<body>
<header class="top">
  <h1>tokenledger</h1>
  <form id="key-form" autocomplete="off">
    <label for="key">Read key</label>
    <input id="key" name="key" type="password" spellcheck="false" placeholder="tl_…" aria-describedby="key-help">
    <button type="submit" id="key-save">Use key</button>
    <button type="button" id="key-forget" class="secondary">Forget key</button>
    <span id="key-state" role="status"></span>
    <span id="key-help" class="muted">A tenant API key with scope <code>read</code>, kept for this tab only.</span>
  </form>
  <nav aria-label="Other tools"><a href="graphiql">GraphiQL</a> <a href="docs">API docs</a></nav>
</header>
<main id="app" data-state="starting">
  <form id="controls" class="controls" aria-label="What to show">
    <div><label for="from">From</label><input id="from" type="date" required></div>
    <div><label for="to">To (inclusive)</label><input id="to" type="date" required></div>
    <div><label for="window">Window</label><select id="window">
      <option value="HOUR">Hour</option><option value="DAY">Day</option><option value="WEEK">Week</option><option value="MONTH">Month</option>
    </select></div>
    <div class="wide"><label for="tz">Time zone</label><input id="tz" list="tz-list" spellcheck="false" autocomplete="off" required>
      <datalist id="tz-list"></datalist></div>
    <div><label for="group">Stack by</label><select id="group">
      <option value="MODEL">Model</option><option value="PROJECT">Project</option><option value="API_KEY">API key</option><option value="PROVIDER">Provider</option><option value="RESOURCE">Resource</option>
    </select></div>
    <button type="submit" id="apply">Show</button>
  </form>
  <p id="message" role="status" aria-live="polite" hidden></p>

  <section id="overview" aria-labelledby="totals-title" data-state="idle">
    <div class="overview">
      <div class="card totals"><h2 id="totals-title">Total cost</h2><div id="totals-body"><p class="muted">No data yet.</p></div></div>
      <div class="card over-time">
        <div class="section-head"><h2 id="over-time-title">Cost over time</h2>
          <button type="button" id="overview-csv" class="secondary" disabled>Download CSV</button></div>
        <div id="chart" role="img" aria-label="Cost over time (no data yet)"></div>
        <p id="series-empty" class="muted" hidden>No usage in this range.</p>
        <p id="chart-unpriced" class="warning" hidden></p>
        <p id="series-truncated" class="warning" hidden>Too many windows × groups to draw all of them: narrow the range or widen the window. Totals still cover everything.</p>
        <details id="series-details"><summary>Table of the chart’s values</summary>
          <div class="table-wrap"><table id="series-table"></table></div></details>
      </div>
    </div>
  </section>

  <div class="grid3">
    ${topCard('top-project', 'Top projects')}
    ${topCard('top-api-key', 'Top API keys')}
    ${topCard('top-model', 'Top models')}
  </div>

  <section id="classes" class="card" aria-labelledby="classes-title" data-state="idle">
    <div class="section-head"><h2 id="classes-title">Tokens by class</h2>
      <button type="button" id="classes-csv" class="secondary" disabled>Download CSV</button></div>
    <div class="table-wrap"><table id="classes-table"></table></div>
  </section>
  <section id="budgets" class="card" aria-labelledby="budgets-title" data-state="idle">
    <div class="section-head"><h2 id="budgets-title">Budgets</h2>
      <button type="button" id="budgets-csv" class="secondary" disabled>Download CSV</button></div>
    <div class="table-wrap"><table id="budgets-table"></table></div>
    <p id="budgets-empty" class="muted" hidden>No budgets yet — <code>PUT /v1/budgets/{name}</code> creates one.</p>
  </section>
  <section id="recon" class="card" aria-labelledby="recon-title" data-state="idle">
    <div class="section-head"><h2 id="recon-title">Reconciliation by day: computed vs billed</h2>
      <button type="button" id="recon-csv" class="secondary" disabled>Download CSV</button></div>
    <p id="recon-zone" class="note" hidden></p>
    <div class="table-wrap"><table id="recon-table"></table></div>
    <p id="recon-empty" class="muted" hidden>No billed costs stored for these days — <code>POST /v1/billing/costs</code>
      stores a provider’s costs pages, cost export CSV or cost report, and this section compares them with the ledger’s cost.</p>
    <p id="recon-truncated" class="warning" hidden>Too many rows to list them all: narrow the range. Totals still cover everything.</p>
  </section>
</main>
<noscript>The dashboard needs JavaScript; the same numbers are at POST /graphql (query usage).</noscript>
<script src=${attr(a.echarts)}></script>
<script src=${attr(a.app)}></script>
</body>
</html>
`
}

/** Colours chosen for contrast: body text ≥ 7:1 and muted text ≥ 4.5:1 on white, focus always visible. */
export const DASHBOARD_CSS = `
:root { --text: #111827; --muted: #4b5563; --line: #d1d5db; --bg: #f3f4f6; --card: #fff; --accent: #1d4ed8;
  --warn-bg: #fef3c7; --warn: #78350f; --bad-bg: #fee2e2; --bad: #7f1d1d; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--text); background: var(--bg); }
h1 { font-size: 18px; margin: 0 1rem 0 0; }
h2 { font-size: 15px; margin: 0 0 .5rem; }
a { color: var(--accent); }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.top { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1rem; padding: .6rem 1rem; background: var(--card); border-bottom: 1px solid var(--line); }
.top nav { margin-left: auto; display: flex; gap: .75rem; }
#key-form { display: flex; flex-wrap: wrap; align-items: center; gap: .4rem; }
#key { width: 22rem; max-width: 60vw; font: 13px ui-monospace, monospace; }
input, select, button { font: inherit; padding: .3rem .5rem; border: 1px solid #6b7280; border-radius: 4px; background: #fff; color: var(--text); }
button { background: var(--accent); border-color: var(--accent); color: #fff; cursor: pointer; }
button.secondary { background: #fff; color: var(--accent); }
button:disabled { opacity: .55; cursor: default; }
main { padding: 1rem; display: flex; flex-direction: column; gap: 1rem; max-width: 1400px; margin: 0 auto; }
.controls { display: flex; flex-wrap: wrap; align-items: flex-end; gap: .75rem; background: var(--card); padding: .75rem 1rem; border: 1px solid var(--line); border-radius: 6px; }
.controls div { display: flex; flex-direction: column; gap: .2rem; }
.controls label { font-weight: 600; font-size: 13px; }
.controls .wide input { width: 16rem; }
#message { margin: 0; padding: .5rem .75rem; border-radius: 4px; background: #e0e7ff; color: #1e1b4b; }
#message.alert { background: var(--bad-bg); color: var(--bad); font-weight: 600; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .75rem 1rem; min-width: 0; }
.overview { display: grid; grid-template-columns: minmax(16rem, 1fr) 3fr; gap: 1rem; }
.grid3 { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 1rem; }
@media (max-width: 1000px) { .overview, .grid3 { grid-template-columns: 1fr; } }
.section-head { display: flex; justify-content: space-between; align-items: center; gap: .5rem; }
.total-cost { font-size: 30px; font-weight: 700; margin: .25rem 0; font-variant-numeric: tabular-nums; }
.complete { color: #065f46; margin: 0 0 .5rem; }
.warning { background: var(--warn-bg); color: var(--warn); padding: .35rem .5rem; border-radius: 4px; margin: 0 0 .5rem; font-weight: 600; }
/* Notes and messages quote names tenants choose (up to 256 characters, maybe without a break): they wrap anywhere. */
.warning, .note, #message { overflow-wrap: anywhere; }
.facts { display: grid; grid-template-columns: auto auto; gap: .2rem 1rem; margin: .5rem 0 0; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; }
#chart { width: 100%; height: 340px; }
.muted { color: var(--muted); }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
caption { text-align: left; color: var(--muted); padding: .25rem 0; }
th, td { padding: .3rem .5rem; border-bottom: 1px solid var(--line); text-align: left; white-space: nowrap; }
thead th { font-weight: 600; border-bottom: 2px solid #9ca3af; }
tbody th { font-weight: 500; max-width: 18rem; overflow: hidden; text-overflow: ellipsis; }
.num { text-align: right; }
td.incomplete { color: var(--warn); font-weight: 600; white-space: normal; min-width: 7rem; }
.grid3 table { font-size: 13px; }
.grid3 th, .grid3 td { padding: .3rem .35rem; }
td.empty { color: var(--muted); }
#budgets progress { width: 8rem; vertical-align: middle; accent-color: var(--accent); }
tfoot th, tfoot td { font-weight: 700; border-top: 2px solid #9ca3af; }
/* Reconciliation statuses: distinct colours and always the status word (colour is never the only signal). */
.note { background: #e0e7ff; color: #1e1b4b; padding: .35rem .5rem; border-radius: 4px; margin: 0 0 .5rem; }
.status { display: inline-block; padding: .05rem .45rem; border-radius: 999px; font-size: 12px; font-weight: 700; letter-spacing: .02em; border: 1px solid; }
.status-match { background: #d1fae5; color: #065f46; border-color: #6ee7b7; }
.status-mismatch { background: var(--bad-bg); color: var(--bad); border-color: #fca5a5; }
.status-billed-only { background: #ede9fe; color: #4c1d95; border-color: #c4b5fd; }
.status-computed-only { background: #e0f2fe; color: #0c4a6e; border-color: #7dd3fc; }
.status-unpriced { background: var(--warn-bg); color: var(--warn); border-color: #fcd34d; }
details summary { cursor: pointer; color: var(--accent); margin-top: .5rem; }
[aria-busy="true"] { opacity: .6; }
`
