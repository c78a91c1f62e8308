/**
 * Browser-side budgets section (plain ES2020, part of dashboard.js): one row per budget from GraphQL `budgets`
 * — the same answer any client gets — with its period in the dashboard's zone, spent of amount as a progress
 * bar, percent used, forecast, thresholds crossed and "incomplete" when usage in scope has no price (the spend
 * is then a lower bound). Amounts are written from the API's decimal strings; only the bar uses Number().
 */
export const BUDGETS_JS = String.raw`
var BUDGETS_QUERY = 'query DashboardBudgets($at: DateTime) { budgets(at: $at) { name amount spent forecast percentUsed ' +
  'periodStart periodEnd thresholds crossed complete currency period timeZone rateCard } }';

/**
 * The instant whose budget periods are shown: the last millisecond of the shown range when it is over, else
 * now — so a past range shows the budgets as they stood at its end (spend counts rows starting up to and
 * including at: the last second would leave out usage of the range's final second).
 */
function budgetsAt(ctx) {
  var end = Date.parse(ctx.to) - 1;
  return end < Date.now() ? new Date(end).toISOString() : null;
}

var budgetsSection = {
  id: 'budgets',
  clear: function () { Fmt.blank(['budgets-table'], ['budgets-empty']); },
  load: function (ctx) {
    var at = budgetsAt(ctx);
    return Api.graphql(BUDGETS_QUERY, { at: at }).then(function (data) { return { at: at, budgets: data.budgets }; });
  },
  render: function (result, ctx) {
    var table = document.getElementById('budgets-table');
    var empty = document.getElementById('budgets-empty');
    var list = result.budgets;
    table.textContent = '';
    table.setAttribute('data-at', result.at || '');
    empty.hidden = list.length > 0;
    table.hidden = !list.length;
    table.appendChild(Fmt.el('caption', { text: 'Budgets in the period containing ' +
      (result.at ? Zone.label(result.at, 'HOUR', ctx.timeZone) + ' (' + ctx.timeZone + ', end of the range)' : 'now') }));
    table.appendChild(Fmt.el('thead', {}, [Fmt.el('tr', {}, ['Budget', 'Period', 'Spent of amount', 'Used', 'Forecast', 'Thresholds crossed', 'Status']
      .map(function (h, i) { return Fmt.el('th', { scope: 'col', class: i === 3 || i === 4 ? 'num' : null, text: h }); }))]));
    table.appendChild(Fmt.el('tbody', {}, list.map(function (b) {
      var percent = Dec.toFixed(b.percentUsed, 1) + '%';
      var spentText = Fmt.money(b.spent, b.currency) + ' of ' + Fmt.money(b.amount, b.currency);
      var last = new Date(Date.parse(b.periodEnd) - 1).toISOString();
      var crossed = b.crossed.length ? b.crossed.map(function (c) { return c + '%'; }).join(', ') : 'none';
      return Fmt.el('tr', { 'data-budget': b.name }, [
        Fmt.el('th', { scope: 'row', text: b.name }),
        Fmt.el('td', { 'data-field': 'period', 'data-start': b.periodStart, 'data-end': b.periodEnd,
          title: b.period + ' in ' + b.timeZone + ': ' + b.periodStart + ' to ' + b.periodEnd + ' (exclusive)',
          text: Zone.dateOf(Date.parse(b.periodStart), ctx.timeZone) + ' – ' + Zone.dateOf(Date.parse(last), ctx.timeZone) }),
        Fmt.el('td', { 'data-field': 'spent', 'data-spent': b.spent, 'data-amount': b.amount, title: b.spent + ' of ' + b.amount + ' ' + b.currency }, [
          Fmt.el('progress', { max: '100', value: String(Math.min(100, Number(b.percentUsed))),
            'aria-label': b.name + ': ' + percent + ' of the budget used', 'aria-valuetext': spentText + ' (' + percent + ')' }, [percent]),
          ' ', Fmt.el('span', { class: 'spent-text', text: spentText })]),
        Fmt.el('td', { class: 'num', 'data-field': 'percent', 'data-value': b.percentUsed, title: b.percentUsed + '%', text: percent }),
        Fmt.el('td', { class: 'num', 'data-field': 'forecast', 'data-value': b.forecast, title: b.forecast + ' ' + b.currency,
          text: Fmt.money(b.forecast, b.currency) }),
        Fmt.el('td', { 'data-field': 'crossed', 'data-value': b.crossed.join(','),
          title: 'thresholds: ' + b.thresholds.map(function (c) { return c + '%'; }).join(', '), text: crossed }),
        b.complete
          ? Fmt.el('td', { 'data-field': 'status', 'data-complete': 'true', text: 'complete' })
          : Fmt.el('td', { class: 'incomplete', 'data-field': 'status', 'data-complete': 'false',
            text: 'incomplete: unpriced usage in scope, spend is a lower bound' }),
      ]);
    })));
    this.csv = function () {
      Fmt.downloadCsv('tokenledger-budgets.csv',
        ['name', 'period', 'time_zone', 'period_start', 'period_end', 'amount', 'spent', 'percent_used', 'forecast', 'currency',
          'thresholds', 'crossed', 'complete', 'rate_card'],
        list.map(function (b) {
          return [b.name, b.period, b.timeZone, b.periodStart, b.periodEnd, b.amount, b.spent, b.percentUsed, b.forecast,
            b.currency, b.thresholds.join(' '), b.crossed.join(' '), b.complete, b.rateCard];
        }));
    };
  },
};
`
