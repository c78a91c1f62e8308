/**
 * Browser-side formatting and DOM helpers (plain ES2020, part of dashboard.js). Money is formatted from the
 * API's decimal strings with Dec (exact); usage with no price is written as such, never as $0.
 */
export const FORMAT_JS = String.raw`
var Fmt = (function () {
  var ints = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === undefined || v === null || v === false) return;
      if (k === 'text') node.textContent = v; else node.setAttribute(k, v === true ? '' : String(v));
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return node;
  }
  function int(n) { return n === null || n === undefined ? 'n/a' : ints.format(n); }
  function group(digits) { return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ','); }
  function symbol(currency) { return currency === 'USD' ? '$' : currency + ' '; }
  /**
   * Rounded for reading (2 decimals from 1 up, 4 below; "< $0.0001" / "> -$0.0001" closer to zero); the
   * exact value goes into title/data-value.
   */
  function money(dec, currency) {
    var neg = dec.charAt(0) === '-', abs = neg ? dec.slice(1) : dec;
    if (Dec.isZero(abs)) return symbol(currency) + '0.00';
    var fixed = Dec.toFixed(abs, Dec.cmp(abs, '1') >= 0 ? 2 : 4);
    // Closer to zero than the smallest step shown; a credit that small keeps its sign (it is not a charge).
    if (Dec.isZero(fixed)) return (neg ? '> -' : '< ') + symbol(currency) + '0.0001';
    var p = fixed.split('.');
    return (neg ? '-' : '') + symbol(currency) + group(p[0]) + (p[1] ? '.' + p[1] : '');
  }
  /** A resource quantity as written: exact, integer part grouped; storage is in GiB-hours (as the API gives it). */
  function quantity(q) {
    var p = q.quantity.split('.');
    var n = group(p[0]) + (p[1] ? '.' + p[1] : '');
    return q.resource === 'storage_bytes' ? n + ' GiB-hours of storage' : n + ' ' + q.resource;
  }
  /** What has no price: "n tokens", "q images", … (empty when the cost is complete). */
  function unpricedParts(c) {
    var parts = c.unpricedTokens ? [int(c.unpricedTokens) + ' tokens'] : [];
    return parts.concat((c.unpricedQuantity || []).map(quantity));
  }
  /** "n unpriced tokens, q unpriced images" */
  function unpricedText(c) {
    return unpricedParts(c).map(function (p) { return p.replace(/^(\S+) /, '$1 unpriced '); }).join(', ');
  }
  /** A cost as the page writes it: unpriced usage is named, a cost with gaps says it is incomplete. */
  function cost(c) {
    if (!c.complete && Dec.isZero(c.total)) return 'unpriced (' + unpricedParts(c).join(', ') + ')';
    var s = money(c.total, c.currency);
    return c.complete ? s : s + ' + ' + unpricedText(c);
  }
  /** unpricedQuantity as one attribute value ("images=12;web_search_calls=3"), for tests and CSV. */
  function quantityList(c) {
    return (c.unpricedQuantity || []).map(function (q) { return q.resource + '=' + q.quantity; }).join(';');
  }
  /** A table cell holding a cost, with the exact values as data attributes (what tests and CSV read). */
  function costCell(tag, c, extra) {
    var attrs = Object.assign({ class: 'num' + (c.complete ? '' : ' incomplete'), 'data-value': c.total,
      'data-complete': String(c.complete), 'data-unpriced': String(c.unpricedTokens), 'data-unpriced-quantity': quantityList(c),
      title: c.total + ' ' + c.currency + (c.complete ? '' : ' (incomplete)'), text: cost(c) }, extra || {});
    return el(tag, attrs);
  }
  function mergeCost(a, b) {
    if (!a) return Object.assign({}, b);
    return { total: Dec.add(a.total, b.total), input: Dec.add(a.input, b.input),
      cachedInput: Dec.add(a.cachedInput, b.cachedInput), cacheWrite: Dec.add(a.cacheWrite, b.cacheWrite),
      output: Dec.add(a.output, b.output), resources: Dec.add(a.resources, b.resources), currency: a.currency,
      complete: a.complete && b.complete, unpricedTokens: a.unpricedTokens + b.unpricedTokens,
      unpricedQuantity: mergeQuantities(a.unpricedQuantity, b.unpricedQuantity) };
  }
  /** Two unpricedQuantity lists as one, summed per resource (exact), in resource order as the API lists them. */
  function mergeQuantities(a, b) {
    var by = Object.create(null);
    (a || []).concat(b || []).forEach(function (q) { by[q.resource] = by[q.resource] ? Dec.add(by[q.resource], q.quantity) : q.quantity; });
    return Object.keys(by).sort().map(function (r) { return { resource: r, quantity: by[r] }; });
  }
  /**
   * One CSV cell (RFC 4180). These files are for spreadsheets, and names come from ingested data: text that
   * a spreadsheet would run as a formula (=, +, -, @, tab or CR first) gets a leading apostrophe; numbers,
   * negative amounts included, are written as they are.
   */
  function csvField(v) {
    var s = v === null || v === undefined ? '' : String(v);
    if (/^[=+\-@\t\r]/.test(s) && !/^-?\d+(\.\d+)?$/.test(s)) s = "'" + s;
    return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }
  /** Offers a CSV file of the given header and rows for download (client-side: exactly what is shown). */
  function downloadCsv(name, header, rows) {
    var text = [header].concat(rows).map(function (r) { return r.map(csvField).join(','); }).join('\r\n') + '\r\n';
    var url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
    var a = el('a', { href: url, download: name });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
  }
  /**
   * A name a tenant chose, set inside running text: in its own bidi isolate, so a right-to-left override or
   * embedding in it (U+202E, never closed) cannot turn the amounts and names after it around.
   */
  function isolated(name) { return el('bdi', { text: name }); }
  /** Takes a section's data off the page (see clearSection in main): these elements emptied, those hidden. */
  function blank(emptied, hidden) {
    emptied.forEach(function (id) { document.getElementById(id).textContent = ''; });
    (hidden || []).forEach(function (id) { document.getElementById(id).hidden = true; });
  }
  function isolatedHtml(name) { return '<bdi>' + escapeHtml(name) + '</bdi>'; }
  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, function (ch) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[ch];
    });
  }
  return { el: el, int: int, money: money, cost: cost, costCell: costCell, mergeCost: mergeCost, quantity: quantity,
    unpricedText: unpricedText, quantityList: quantityList,
    csvField: csvField, downloadCsv: downloadCsv, blank: blank, escapeHtml: escapeHtml, isolated: isolated, isolatedHtml: isolatedHtml };
})();
`
