/**
 * Browser-side reconciliation by day (plain ES2020, part of dashboard.js): GraphQL `reconciliation` (window
 * DAY, grouped by provider) over the UTC days covering the chosen dates — billed costs are UTC days, so this
 * section ignores the chosen zone and says so. Each row shows computed, billed, difference and the API's
 * status; the totals are the API's `totals`, never re-added here.
 */
export const RECON_JS = String.raw`
var RECON_QUERY = 'query DashboardReconciliation($from: DateTime!, $to: DateTime!, $first: Int, $after: String) {\n' +
  '  reconciliation(from: $from, to: $to, window: DAY, groupBy: [PROVIDER], first: $first, after: $after) {\n' +
  '    rows { windowStart windowEnd provider computed billed difference status unpricedTokens }\n' +
  '    totals { computed billed difference unpricedTokens }\n' +
  '    pageInfo { hasNextPage endCursor }\n' +
  '  }\n}';
// What each status means, said in the cell's title and the legend (the colour is never the only signal).
var RECON_STATUS = {
  MATCH: 'computed equals billed (within $0.000001)',
  MISMATCH: 'computed and billed differ',
  BILLED_ONLY: 'billed, but the ledger computed nothing (usage missing)',
  COMPUTED_ONLY: 'computed, but nothing billed (bill not imported yet, or never billed)',
  UNPRICED: 'some usage has no price on the card: computed is a lower bound',
};
var RECON_MAX_ROWS = 5000;

/** The UTC days [from, to] as instants: the chosen dates read as UTC dates. */
function reconRange(ctx) {
  return { from: ctx.fromDate + 'T00:00:00Z', to: Zone.addDays(ctx.toDate, 1) + 'T00:00:00Z' };
}

function reconAll(range) {
  var rows = [];
  function page(after) {
    return Api.graphql(RECON_QUERY, { from: range.from, to: range.to, first: 1000, after: after || null }).then(function (data) {
      var r = data.reconciliation;
      rows = rows.concat(r.rows);
      if (r.pageInfo.hasNextPage && rows.length < RECON_MAX_ROWS) return page(r.pageInfo.endCursor);
      return { range: range, rows: rows, totals: r.totals, truncated: r.pageInfo.hasNextPage };
    });
  }
  return page(null);
}

/** A side's amount; a computed side with unpriced tokens is written as a cost with gaps (never a bare $0). */
function reconMoney(value, field, unpricedTokens) {
  if (value === null) return Fmt.el('td', { class: 'num empty', 'data-field': field, 'data-value': '', text: '–' });
  var text = unpricedTokens ? Fmt.cost({ total: value, currency: 'USD', complete: false, unpricedTokens: unpricedTokens, unpricedQuantity: [] })
    : Fmt.money(value, 'USD');
  return Fmt.el('td', { class: 'num' + (unpricedTokens ? ' incomplete' : ''), 'data-field': field, 'data-value': value,
    'data-unpriced': unpricedTokens ? String(unpricedTokens) : null, title: value + ' USD' + (unpricedTokens ? ' (incomplete)' : ''), text: text });
}

var reconSection = {
  id: 'recon',
  clear: function () { Fmt.blank(['recon-table', 'recon-zone'], ['recon-zone', 'recon-empty', 'recon-truncated']); },
  load: function (ctx) { return reconAll(reconRange(ctx)); },
  render: function (result, ctx) {
    var table = document.getElementById('recon-table');
    var billedAny = result.rows.some(function (r) { return r.billed !== null; });
    var zoneNote = document.getElementById('recon-zone');
    zoneNote.hidden = ctx.timeZone === 'UTC';
    zoneNote.textContent = 'Billed costs are UTC days, so this section shows UTC days ' + ctx.fromDate + ' to ' + ctx.toDate +
      ', not ' + ctx.timeZone + ' days.';
    document.getElementById('recon-empty').hidden = billedAny;
    document.getElementById('recon-truncated').hidden = !result.truncated;
    table.hidden = !billedAny;
    table.textContent = '';
    table.setAttribute('data-from', result.range.from);
    table.setAttribute('data-to', result.range.to);
    table.appendChild(Fmt.el('caption', { text: 'Computed (rate card) beside billed (provider) per UTC day and provider' }));
    table.appendChild(Fmt.el('thead', {}, [Fmt.el('tr', {}, ['Day (UTC)', 'Provider', 'Computed', 'Billed', 'Difference', 'Status']
      .map(function (h, i) { return Fmt.el('th', { scope: 'col', class: i >= 2 && i <= 4 ? 'num' : null, text: h }); }))]));
    table.appendChild(Fmt.el('tbody', {}, result.rows.map(function (r) {
      var status = r.status + (r.status === 'UNPRICED' && r.unpricedTokens ? ' (' + Fmt.int(r.unpricedTokens) + ' tokens)' : '');
      return Fmt.el('tr', { 'data-window': r.windowStart, 'data-provider': r.provider === null ? '' : r.provider, 'data-status': r.status }, [
        Fmt.el('th', { scope: 'row', text: r.windowStart.slice(0, 10) }),
        Fmt.el('td', { text: r.provider === null ? '(all providers)' : r.provider }),
        reconMoney(r.computed, 'computed', r.unpricedTokens), reconMoney(r.billed, 'billed'), reconMoney(r.difference, 'difference'),
        Fmt.el('td', { 'data-field': 'status' }, [Fmt.el('span', { class: 'status status-' + r.status.toLowerCase().replace('_', '-'),
          title: RECON_STATUS[r.status] || r.status, text: status })]),
      ]);
    })));
    var t = result.totals;
    table.appendChild(Fmt.el('tfoot', {}, [Fmt.el('tr', { 'data-total': 'true' }, [
      Fmt.el('th', { scope: 'row', text: 'Total' }), Fmt.el('td', { text: '' }),
      reconMoney(t.computed, 'computed', t.unpricedTokens), reconMoney(t.billed, 'billed'), reconMoney(t.difference, 'difference'),
      Fmt.el('td', { 'data-field': 'status' }),
    ])]));
    this.csv = function () {
      Fmt.downloadCsv('tokenledger-reconciliation-by-day.csv',
        ['window_start', 'window_end', 'provider', 'computed', 'billed', 'difference', 'status', 'unpriced_tokens'],
        result.rows.map(function (r) {
          return [r.windowStart, r.windowEnd, r.provider, r.computed, r.billed, r.difference, r.status, r.unpricedTokens];
        }).concat([[result.range.from, result.range.to, 'total', t.computed, t.billed, t.difference, '', t.unpricedTokens]]));
    };
  },
};
`
