/**
 * Browser-side overview (plain ES2020, part of dashboard.js): totals with their completeness, and cost over
 * time stacked by the chosen dimension as an ECharts chart plus the same values as a table. One `usage` query
 * (window + groupBy) feeds all three; its `totals` are the API's, never re-added here.
 */
export const OVERVIEW_JS = String.raw`
var DIMENSIONS = {
  MODEL: { field: 'model', name: 'model', plural: 'models', none: '(no model)' },
  PROJECT: { field: 'projectId', name: 'project', plural: 'projects', none: '(no project)' },
  API_KEY: { field: 'apiKeyId', name: 'API key', plural: 'API keys', none: '(no API key)' },
  PROVIDER: { field: 'provider', name: 'provider', plural: 'providers', none: '(no provider)' },
  // Token usage is the series "tokens"; every other resource (images, storage, search calls, …) its own.
  RESOURCE: { field: 'resource', name: 'resource', plural: 'resources', none: '(no resource)' },
};
// More series than this are unreadable as a stack: the smallest groups are merged into one "Other" series.
var MAX_SERIES = 10;

function groupLabel(row, dim) {
  var v = row[DIMENSIONS[dim].field];
  return v === null || v === undefined ? DIMENSIONS[dim].none : v;
}

// Nothing a reader could see: white space, zero-width and other format characters, or nothing at all.
var UNSEEN = /^[\s\p{Cf}]*$/u;
/** A value with nothing to see, quoted with each of its characters as an escape ("\u0020"); any other as it is. */
function seenLabel(name) {
  if (!UNSEEN.test(name)) return name;
  return '"' + Array.from(name, function (c) {
    var hex = c.codePointAt(0).toString(16).toUpperCase();
    return hex.length <= 4 ? '\\u' + hex.padStart(4, '0') : '\\u{' + hex + '}';
  }).join('') + '"';
}

/**
 * Makes the labels of groups keyed by value ({key, name}) distinct, in place: the synthetic ones (key null:
 * "(no model)", "Other (…)") stay as they are; a value with nothing to see is shown escaped (an empty row
 * header said nothing, and " " looked like "\u200B"); a value that reads like a synthetic one, or like an
 * earlier label, is quoted.
 */
function distinctLabels(list) {
  var taken = new Set(list.filter(function (g) { return g.key === null; }).map(function (g) { return g.name; }));
  list.forEach(function (g) {
    if (g.key === null) return;
    g.name = seenLabel(g.name);
    while (taken.has(g.name)) g.name = JSON.stringify(g.name);
    taken.add(g.name);
  });
  return list;
}

/**
 * rows (window × group) → windows, series sorted by cost (exact), each with its cost per window. Series are
 * keyed by the group's value (null apart from every string), never by its label: a model literally named
 * "(no model)" or "Other (3 models)" is its own series, not merged into the synthetic one, and its label is
 * quoted where it would read like another series' (labels are display only, but the legend goes by them).
 */
function pivot(rows, dim) {
  var windows = [], byWindow = Object.create(null), groups = new Map();
  rows.forEach(function (r) {
    if (!byWindow[r.windowStart]) { byWindow[r.windowStart] = true; windows.push({ start: r.windowStart, end: r.windowEnd }); }
    var v = r[DIMENSIONS[dim].field];
    var key = v === undefined ? null : v;
    var g = groups.get(key);
    if (!g) groups.set(key, g = { key: key, name: groupLabel(r, dim), cost: null, tokens: 0, cells: {} });
    g.cost = Fmt.mergeCost(g.cost, r.cost);
    g.tokens += r.inputTokens + r.outputTokens;
    g.cells[r.windowStart] = Fmt.mergeCost(g.cells[r.windowStart], r.cost);
  });
  var list = Array.from(groups.values()).sort(function (a, b) {
    return Dec.cmp(b.cost.total, a.cost.total) || (b.tokens - a.tokens) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) ||
      (a.key === null ? 1 : b.key === null ? -1 : 0);
  });
  if (list.length > MAX_SERIES) {
    var rest = list.splice(MAX_SERIES - 1);
    var other = { key: null, other: true, name: 'Other (' + rest.length + ' ' + DIMENSIONS[dim].plural + ')', cost: null, tokens: 0, cells: {} };
    rest.forEach(function (g) {
      other.cost = Fmt.mergeCost(other.cost, g.cost);
      other.tokens += g.tokens;
      Object.keys(g.cells).forEach(function (w) { other.cells[w] = Fmt.mergeCost(other.cells[w], g.cells[w]); });
    });
    list.push(other);
  }
  distinctLabels(list);
  windows.sort(function (a, b) { return Date.parse(a.start) - Date.parse(b.start); });
  return { windows: windows, series: list };
}

var BREAKDOWN = [
  ['input', 'Uncached input', 'uncachedInputTokens'], ['cachedInput', 'Cached input', 'cachedInputTokens'],
  ['cacheWrite', 'Cache writes', 'cacheWriteTokens'], ['output', 'Output', 'outputTokens'],
];

/**
 * The total's amount per token class and for resources, each written as what it is, from the API's
 * unpriced tokens per class (Cost.unpricedTokensByClass): a class whose tokens all had no rate is
 * "unpriced (n tokens)", never $0.00; a class with some unpriced tokens beside priced ones has an amount
 * that is a lower bound ("≥ $x"); a class priced at exactly 0 is "$0.00" even when another class is unpriced.
 */
function breakdown(totals) {
  var c = totals.cost;
  var lines = BREAKDOWN.map(function (b) {
    var amount = c[b[0]], tokens = totals[b[2]], unpriced = c.unpricedTokensByClass[b[0]];
    var line = { key: b[0], name: b[1], amount: amount, complete: true, unpriced: null, title: amount + ' ' + c.currency,
      text: Fmt.money(amount, c.currency) };
    if (unpriced > 0 && unpriced >= tokens) {
      line.complete = false;
      line.unpriced = unpriced;
      line.text = Fmt.cost({ total: amount, currency: c.currency, complete: false, unpricedTokens: unpriced, unpricedQuantity: [] });
      line.title = 'No rate on the card for these ' + Fmt.int(unpriced) + ' tokens: they add nothing to the total.';
    } else if (unpriced > 0) {
      line.complete = false;
      line.unpriced = unpriced;
      line.text = '≥ ' + line.text;
      line.title = amount + ' ' + c.currency + ': a lower bound, ' + Fmt.int(unpriced) + ' of these ' + Fmt.int(tokens) +
        ' tokens have no rate on the card.';
    }
    return line;
  });
  var q = c.unpricedQuantity || [];
  var resources = { key: 'resources', name: 'Resources', amount: c.resources, complete: !q.length, unpriced: null,
    title: c.resources + ' ' + c.currency, text: Fmt.money(c.resources, c.currency) };
  if (q.length) {
    resources.text = Fmt.cost({ total: c.resources, currency: c.currency, complete: false, unpricedTokens: 0, unpricedQuantity: q });
    resources.title = c.resources + ' ' + c.currency + '; no rate on the card for ' + q.map(Fmt.quantity).join(', ') + '.';
  }
  return lines.concat([resources]);
}

function renderTotals(totals) {
  var c = totals.cost;
  var box = document.getElementById('totals-body');
  box.textContent = '';
  var main = Fmt.el('p', { class: 'total-cost', id: 'total-cost', 'data-value': c.total, 'data-complete': String(c.complete),
    'data-unpriced': String(c.unpricedTokens), 'data-unpriced-quantity': Fmt.quantityList(c), title: c.total + ' ' + c.currency,
    // Nothing in range priced: "unpriced (n tokens)", as every other cost on the page writes it — never "$0.00".
    text: !c.complete && Dec.isZero(c.total) ? Fmt.cost(c) : Fmt.money(c.total, c.currency) });
  box.appendChild(main);
  box.appendChild(c.complete
    ? Fmt.el('p', { id: 'completeness', class: 'complete', text: 'Complete: every token and resource in range has a price.' })
    : Fmt.el('p', { id: 'completeness', class: 'warning', 'data-unpriced': String(c.unpricedTokens),
      'data-unpriced-quantity': Fmt.quantityList(c),
      text: Fmt.unpricedText(c) + ', total incomplete (the amount above is a lower bound).' }));
  var facts = breakdown(totals).map(function (f) {
    return [Fmt.el('dt', { text: f.name + ' cost' }), Fmt.el('dd', { class: 'num' + (f.complete ? '' : ' incomplete'),
      'data-class': f.key, 'data-value': f.amount, 'data-complete': String(f.complete),
      'data-unpriced': f.unpriced === null ? null : String(f.unpriced), title: f.title, text: f.text })];
  });
  [['Requests', totals.requests], ['Input tokens', totals.inputTokens], ['Output tokens', totals.outputTokens]].forEach(function (f) {
    facts.push([Fmt.el('dt', { text: f[0] }), Fmt.el('dd', { class: 'num', 'data-value': f[1] === null ? '' : String(f[1]), text: Fmt.int(f[1]) })]);
  });
  box.appendChild(Fmt.el('dl', { class: 'facts' }, [].concat.apply([], facts)));
}

var chart = null;
function renderChart(p, ctx) {
  var node = document.getElementById('chart');
  if (!chart) {
    chart = echarts.init(node, null, { renderer: 'svg' });
    window.addEventListener('resize', function () { chart.resize(); });
  }
  var labels = p.windows.map(function (w) { return Zone.label(w.start, ctx.window, ctx.timeZone); });
  chart.setOption({
    animation: false,
    aria: { enabled: true },
    color: ['#2563eb', '#d97706', '#059669', '#dc2626', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#9333ea', '#64748b'],
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, confine: true, formatter: function (items) {
      var w = p.windows[items[0].dataIndex];
      return '<strong>' + Fmt.escapeHtml(labels[items[0].dataIndex]) + '</strong><br>' + items.map(function (it) {
        var c = p.series[it.seriesIndex].cells[w.start];
        return c ? it.marker + Fmt.isolatedHtml(it.seriesName) + ': ' + Fmt.escapeHtml(Fmt.cost(c)) : '';
      }).filter(Boolean).join('<br>');
    } },
    legend: { type: 'scroll', top: 0 },
    grid: { left: 8, right: 16, top: 52, bottom: 8, containLabel: true }, // room for the axis name under the legend
    xAxis: { type: 'category', data: labels },
    yAxis: { type: 'value', name: ctx.currency, axisLabel: { formatter: function (v) { return Fmt.money(String(v), ctx.currency); } } },
    // Numbers here are geometry only; the exact amounts are in the tooltip and the table.
    series: p.series.map(function (s, i) {
      return { id: 'series-' + i, name: s.name, type: 'bar', stack: 'cost', emphasis: { focus: 'series' },
        data: p.windows.map(function (w) { return s.cells[w.start] ? Number(s.cells[w.start].total) : null; }) };
    }),
  }, true);
  node.setAttribute('aria-label', 'Stacked bar chart: cost per ' + ctx.window.toLowerCase() + ' by ' +
    DIMENSIONS[ctx.dimension].name + ', ' + ctx.timeZone + '. The table below lists the same values.');
}

function renderSeriesTable(p, ctx) {
  var dim = DIMENSIONS[ctx.dimension];
  var table = document.getElementById('series-table');
  table.textContent = '';
  table.appendChild(Fmt.el('caption', { text: 'Cost per ' + ctx.window.toLowerCase() + ' by ' + dim.name + ' (' + ctx.timeZone + ')' }));
  var head = [Fmt.el('th', { scope: 'col', text: 'Window (' + ctx.timeZone + ')' })].concat(p.series.map(function (s) {
    return Fmt.el('th', { scope: 'col', 'data-series': s.name, text: s.name });
  }), [Fmt.el('th', { scope: 'col', text: 'All ' + dim.plural })]);
  table.appendChild(Fmt.el('thead', {}, [Fmt.el('tr', {}, head)]));
  var body = Fmt.el('tbody');
  p.windows.forEach(function (w) {
    var all = null;
    var cells = p.series.map(function (s) {
      var c = s.cells[w.start];
      if (!c) return Fmt.el('td', { class: 'num empty', 'data-series': s.name, text: '–' });
      all = Fmt.mergeCost(all, c);
      return Fmt.costCell('td', c, { 'data-series': s.name });
    });
    var label = Zone.label(w.start, ctx.window, ctx.timeZone);
    body.appendChild(Fmt.el('tr', { 'data-window': w.start }, [Fmt.el('th', { scope: 'row', text: label })]
      .concat(cells, [Fmt.costCell('td', all, { 'data-series': '' })])));
  });
  table.appendChild(body);
  document.getElementById('series-empty').hidden = p.windows.length > 0;
  // A group with no price at all has no bar: say so under the chart rather than let it look like $0.
  var unpriced = p.series.filter(function (s) { return !s.cost.complete && Dec.isZero(s.cost.total); });
  var note = document.getElementById('chart-unpriced');
  note.hidden = !unpriced.length;
  note.textContent = '';
  if (unpriced.length) {
    note.appendChild(document.createTextNode('No bar for usage without a price: '));
    unpriced.forEach(function (s, i) {
      note.appendChild(Fmt.isolated(s.name));
      note.appendChild(document.createTextNode(' (' + Fmt.unpricedText(s.cost) + ')' + (i < unpriced.length - 1 ? ', ' : '.')));
    });
  }
}

var overviewSection = {
  id: 'overview',
  clear: function () {
    Fmt.blank(['totals-body', 'series-table', 'chart-unpriced'], ['series-empty', 'chart-unpriced', 'series-truncated']);
    document.getElementById('totals-body').appendChild(Fmt.el('p', { class: 'muted', text: 'No data yet.' }));
    if (chart) chart.clear();
    document.getElementById('chart').setAttribute('aria-label', 'Cost over time (no data yet)');
  },
  load: function (ctx) {
    return Api.usage({ from: ctx.from, to: ctx.to, window: ctx.window, timeZone: ctx.timeZone, groupBy: [ctx.dimension] });
  },
  render: function (result, ctx) {
    ctx.currency = result.totals.cost.currency;
    var p = pivot(result.rows, ctx.dimension);
    renderTotals(result.totals);
    renderChart(p, ctx);
    renderSeriesTable(p, ctx);
    document.getElementById('over-time-title').textContent = 'Cost over time by ' + DIMENSIONS[ctx.dimension].name;
    document.getElementById('series-truncated').hidden = !result.truncated;
    this.csv = function () {
      var dim = DIMENSIONS[ctx.dimension];
      Fmt.downloadCsv('tokenledger-cost-by-' + dim.field + '.csv',
        ['window_start', 'window_end', 'window_local', dim.field, 'cost', 'currency', 'complete', 'unpriced_tokens',
          'requests', 'input_tokens', 'output_tokens', 'unpriced_quantity'],
        result.rows.map(function (r) {
          return [r.windowStart, r.windowEnd, Zone.label(r.windowStart, ctx.window, ctx.timeZone), r[dim.field], r.cost.total,
            r.cost.currency, r.cost.complete, r.cost.unpricedTokens, r.requests, r.inputTokens, r.outputTokens,
            Fmt.quantityList(r.cost)];
        }));
    };
  },
};
`
