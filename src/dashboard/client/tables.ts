/**
 * Browser-side ranking and breakdown tables (plain ES2020, part of dashboard.js): top projects, API keys and
 * models over the whole range (one `usage` query each, window TOTAL), and tokens by class and modality.
 */
export const TABLES_JS = String.raw`
var TOP_N = 10;

function topSection(dim) {
  var d = DIMENSIONS[dim];
  var id = 'top-' + dim.toLowerCase().replace('_', '-');
  return {
    id: id,
    clear: function () { Fmt.blank([id + '-table', id + '-more']); },
    load: function (ctx) {
      return Api.usage({ from: ctx.from, to: ctx.to, window: 'TOTAL', timeZone: ctx.timeZone, groupBy: [dim] });
    },
    render: function (result) {
      var ranked = result.rows.slice().sort(function (a, b) {
        return Dec.cmp(b.cost.total, a.cost.total) || (b.inputTokens + b.outputTokens - a.inputTokens - a.outputTokens);
      });
      var table = document.getElementById(id + '-table');
      table.textContent = '';
      table.appendChild(Fmt.el('caption', { text: 'Top ' + d.plural + ' by cost' }));
      table.appendChild(Fmt.el('thead', {}, [Fmt.el('tr', {}, [d.name, 'Cost', 'Tokens']
        .map(function (h, i) { return Fmt.el('th', { scope: 'col', class: i ? 'num' : null, text: h.charAt(0).toUpperCase() + h.slice(1) }); }))]));
      var body = Fmt.el('tbody');
      // Labels as the chart's series have them: a model named "(no model)" is not shown as usage with none.
      var labels = distinctLabels(ranked.slice(0, TOP_N).map(function (r) {
        var v = r[d.field];
        return { key: v === undefined ? null : v, name: groupLabel(r, dim) };
      }));
      ranked.slice(0, TOP_N).forEach(function (r, i) {
        body.appendChild(Fmt.el('tr', { 'data-group': labels[i].name }, [
          Fmt.el('th', { scope: 'row', text: labels[i].name }), Fmt.costCell('td', r.cost),
          Fmt.el('td', { class: 'num', 'data-value': String(r.inputTokens + r.outputTokens), title: 'input + output',
            text: Fmt.int(r.inputTokens + r.outputTokens) })]));
      });
      if (!ranked.length) body.appendChild(Fmt.el('tr', {}, [Fmt.el('td', { colspan: 3, text: 'No usage in this range.' })]));
      table.appendChild(body);
      var more = ranked.length - TOP_N;
      document.getElementById(id + '-more').textContent = result.truncated
        ? 'Ranked among the first ' + ranked.length + ' ' + d.plural + ' only (too many to list).'
        : more > 0 ? more + ' more ' + d.plural + ' in the CSV.' : '';
      this.csv = function () {
        Fmt.downloadCsv('tokenledger-top-' + d.field + '.csv',
          [d.field, 'cost', 'currency', 'complete', 'unpriced_tokens', 'requests', 'input_tokens', 'output_tokens'],
          ranked.map(function (r) {
            return [r[d.field], r.cost.total, r.cost.currency, r.cost.complete, r.cost.unpricedTokens, r.requests,
              r.inputTokens, r.outputTokens];
          }));
      };
    },
  };
}

var CLASS_COLUMNS = [
  ['uncachedInputTokens', 'Uncached input'], ['cachedInputTokens', 'Cached input'],
  ['cacheWriteTokens', 'Cache write'], ['outputTokens', 'Output'],
];

var classesSection = {
  id: 'classes',
  clear: function () { Fmt.blank(['classes-table']); },
  load: function (ctx) {
    return Api.usage({ from: ctx.from, to: ctx.to, window: 'TOTAL', timeZone: ctx.timeZone, groupBy: ['MODALITY'] });
  },
  render: function (result) {
    var table = document.getElementById('classes-table');
    table.textContent = '';
    table.appendChild(Fmt.el('caption', { text: 'Tokens by class and modality' }));
    table.appendChild(Fmt.el('thead', {}, [Fmt.el('tr', {}, [Fmt.el('th', { scope: 'col', text: 'Modality' })]
      .concat(CLASS_COLUMNS.map(function (c) { return Fmt.el('th', { scope: 'col', class: 'num', text: c[1] }); }),
        [Fmt.el('th', { scope: 'col', class: 'num', text: 'Cost' })]))]));
    function line(tag, name, r) {
      return Fmt.el('tr', { 'data-modality': name }, [Fmt.el('th', { scope: 'row', text: name })].concat(
        CLASS_COLUMNS.map(function (c) { return Fmt.el(tag, { class: 'num', 'data-class': c[0], 'data-value': String(r[c[0]]), text: Fmt.int(r[c[0]]) }); }),
        [Fmt.costCell(tag, r.cost)]));
    }
    table.appendChild(Fmt.el('tbody', {}, result.rows.map(function (r) { return line('td', r.modality || '(unknown)', r); })));
    table.appendChild(Fmt.el('tfoot', {}, [line('td', 'All', result.totals)]));
    this.csv = function () {
      Fmt.downloadCsv('tokenledger-tokens-by-class.csv',
        ['modality', 'uncached_input_tokens', 'cached_input_tokens', 'cache_write_tokens', 'output_tokens', 'cost', 'currency',
          'complete', 'unpriced_tokens'],
        result.rows.concat([Object.assign({ modality: 'all' }, result.totals)]).map(function (r) {
          return [r.modality, r.uncachedInputTokens, r.cachedInputTokens, r.cacheWriteTokens, r.outputTokens, r.cost.total,
            r.cost.currency, r.cost.complete, r.cost.unpricedTokens];
        }));
    };
  },
};
`
