/*
 * The dashboard's script, served as a file so that the page's CSP needs no
 * 'unsafe-inline'. Charts are inline SVG drawn from dashboard/data.json every
 * 10 s. After each draw it sets body[data-rendered="ok"] and
 * section[data-points], which the browser test reads; errors go to
 * body[data-errors], never to the console. Data is inserted with textContent only.
 */
'use strict';
(function () {
  var SVGNS = 'http://www.w3.org/2000/svg';
  var REFRESH_MS = 10000;
  var PALETTE = ['#2563eb', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6', '#06b6d4', '#ec4899',
                 '#84cc16', '#f97316', '#6366f1', '#14b8a6', '#a855f7', '#64748b', '#eab308'];
  var URGENCY = { critical: '#b91c1c', high: '#f97316', normal: '#2563eb', low: '#10b981', none: '#6b7280' };
  var errors = 0, renders = 0;
  var token = new URLSearchParams(window.location.search).get('token');

  function setStatus(text, bad) {
    var s = document.getElementById('status');
    s.textContent = text;
    s.className = bad ? 'err' : '';
  }
  function noteError(msg) {
    errors++;
    document.body.dataset.errors = String(errors);
    setStatus('error: ' + msg, true);
  }
  window.addEventListener('error', function (e) { noteError(e.message || 'script error'); });
  window.addEventListener('unhandledrejection', function (e) { noteError(String(e.reason)); });

  function svg(tag, attrs, parent, text) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function html(tag, cls, parent, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function box(id) {
    var c = document.getElementById(id).querySelector('.chart');
    while (c.firstChild) c.removeChild(c.firstChild);
    return c;
  }
  function done(id, points, state) {
    var s = document.getElementById(id);
    s.dataset.points = String(points);
    s.dataset.state = state || (points > 0 ? 'data' : 'empty');
  }
  function empty(c, text) { html('div', 'empty', c, text); }
  function num(v) { var n = Number(v); return isFinite(n) ? n : 0; }
  function niceMax(v) {
    if (!(v > 0)) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v))), m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }
  function fmtNum(v) {
    if (Math.abs(v) >= 1e6) return (v / 1e6).toFixed(1) + 'M';
    if (Math.abs(v) >= 1e4) return (v / 1e3).toFixed(0) + 'k';
    if (Math.abs(v) >= 100 || v === Math.round(v)) return String(Math.round(v));
    return String(parseFloat(v.toPrecision(3)));
  }
  function pct(v) { return v === 0 ? '0%' : (v * 100).toFixed(v < 0.1 ? 1 : 0) + '%'; }
  function usd(v) { return v === 0 ? '$0' : '$' + (v >= 1 ? v.toFixed(2) : String(parseFloat(v.toPrecision(2)))); }
  function dayLabel(iso) { var d = new Date(iso); return (d.getMonth() + 1) + '/' + d.getDate(); }
  function hourLabel(ms) { var d = new Date(ms); return ('0' + d.getHours()).slice(-2) + ':00'; }
  function colorOf(map, key) {
    if (!(key in map.known)) map.known[key] = PALETTE[map.n++ % PALETTE.length];
    return map.known[key];
  }
  function legend(c, series) {
    var l = html('div', 'legend', c);
    series.forEach(function (s) {
      var item = html('span', '', l);
      var sw = html('i', '', item);
      sw.style.background = s.color;
      item.appendChild(document.createTextNode(s.name));
    });
  }
  /* Bars: labels along x; series [{name, color, values}]; stacked or grouped. Returns points drawn. */
  function bars(c, labels, series, opt) {
    opt = opt || {};
    var W = 560, H = opt.height || 220, L = 46, R = 8, T = 8, B = 34;
    var pw = W - L - R, ph = H - T - B, n = labels.length, max = 0, points = 0;
    for (var i = 0; i < n; i++) {
      var tot = 0;
      series.forEach(function (s) {
        var v = num(s.values[i]);
        if (opt.stacked) tot += v; else tot = Math.max(tot, v);
      });
      max = Math.max(max, tot);
    }
    max = niceMax(max);
    if (opt.integer && max < 5) max = 5;
    var fmt = opt.fmt || fmtNum;
    var g = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img' }, c);
    for (var t = 0; t <= 5; t++) {
      var y = T + ph - ph * t / 5;
      svg('line', { x1: L, x2: W - R, y1: y, y2: y, 'class': 'grid' }, g);
      svg('text', { x: L - 4, y: y + 3, 'text-anchor': 'end' }, g, fmt(max * t / 5));
    }
    svg('line', { x1: L, x2: W - R, y1: T + ph, y2: T + ph, 'class': 'axis' }, g);
    var slot = pw / Math.max(n, 1), bw = Math.max(1, slot * 0.8), every = Math.ceil(n / 12);
    for (i = 0; i < n; i++) {
      var x0 = L + slot * i + (slot - bw) / 2, acc = 0;
      series.forEach(function (s, k) {
        var v = num(s.values[i]);
        if (v <= 0) return;
        points++;
        var h = ph * v / max, x = x0, w = bw, y0;
        if (opt.stacked) { y0 = T + ph - ph * acc / max - h; acc += v; }
        else { w = bw / series.length; x = x0 + w * k; y0 = T + ph - h; }
        var r = svg('rect', { x: x.toFixed(1), y: y0.toFixed(1), width: Math.max(w - 0.5, 0.5).toFixed(1),
                              height: Math.max(h, 0.5).toFixed(1), fill: s.color }, g);
        svg('title', {}, r, labels[i] + ' - ' + s.name + ': ' + fmt(v));
      });
      if (i % every === 0)
        svg('text', { x: (L + slot * i + slot / 2).toFixed(1), y: H - B + 14, 'text-anchor': 'middle' }, g, labels[i]);
    }
    if (opt.legend !== false) legend(c, series);
    return points;
  }
  /* A line of values (0..1 as percentages). */
  function line(c, labels, values, color) {
    var W = 560, H = 220, L = 46, R = 12, T = 8, B = 34, pw = W - L - R, ph = H - T - B;
    var n = labels.length, max = 0;
    values.forEach(function (v) { max = Math.max(max, num(v)); });
    max = Math.min(1, niceMax(max));
    var g = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img' }, c);
    for (var t = 0; t <= 5; t++) {
      var y = T + ph - ph * t / 5;
      svg('line', { x1: L, x2: W - R, y1: y, y2: y, 'class': 'grid' }, g);
      svg('text', { x: L - 4, y: y + 3, 'text-anchor': 'end' }, g, pct(max * t / 5));
    }
    var xs = function (i) { return n > 1 ? L + pw * i / (n - 1) : L + pw / 2; };
    var ys = function (v) { return T + ph - ph * num(v) / max; };
    var pts = values.map(function (v, i) { return xs(i).toFixed(1) + ',' + ys(v).toFixed(1); });
    svg('polyline', { points: pts.join(' '), fill: 'none', stroke: color, 'stroke-width': 2 }, g);
    var every = Math.ceil(n / 10);
    values.forEach(function (v, i) {
      var d = svg('circle', { cx: xs(i).toFixed(1), cy: ys(v).toFixed(1), r: 3, fill: color }, g);
      svg('title', {}, d, labels[i] + ': ' + pct(num(v)));
      if (i % every === 0)
        svg('text', { x: xs(i).toFixed(1), y: H - B + 14, 'text-anchor': 'middle' }, g, labels[i]);
    });
    return values.length;
  }
  /* Pivot rows into labels x series: key(row) -> x label, ser(row) -> series name. */
  function pivot(rows, xkeys, xOf, serOf, valOf, colors) {
    var idx = {}, names = [], byName = {};
    xkeys.forEach(function (k, i) { idx[k] = i; });
    rows.forEach(function (r) {
      var i = idx[xOf(r)], s = serOf(r);
      if (i === undefined) return;
      if (!(s in byName)) {
        byName[s] = { name: s, color: colorOf(colors, s), values: xkeys.map(function () { return 0; }) };
        names.push(s);
      }
      byName[s].values[i] += num(valOf(r));
    });
    names.sort();
    return names.map(function (s) { return byName[s]; });
  }
  function days(rows) {
    var seen = {}, out = [];
    rows.forEach(function (r) { if (!(r.day in seen)) { seen[r.day] = 1; out.push(r.day); } });
    out.sort(function (a, b) { return new Date(a) - new Date(b); });
    return out;
  }
  var catColors = { known: {}, n: 0 }, codeColors = { known: {}, n: 3 }, tierColors = { known: {}, n: 0 };

  function drawVolume(d) {
    var c = box('volume'), rows = d.volume || [];
    if (!rows.length) { empty(c, 'no tickets in the last 48 hours'); return done('volume', 0); }
    var end = 0;
    rows.forEach(function (r) { end = Math.max(end, new Date(r.hour).getTime()); });
    var keys = [], labels = [];
    for (var i = 47; i >= 0; i--) { keys.push(end - i * 3600000); labels.push(hourLabel(end - i * 3600000)); }
    var series = pivot(rows, keys, function (r) { return new Date(r.hour).getTime(); },
                       function (r) { return r.category; }, function (r) { return r.count; }, catColors);
    done('volume', bars(c, labels, series, { stacked: true, integer: true }));
  }
  function drawEscalation(d) {
    var c = box('escalation'), rows = d.escalation || [];
    if (!rows.length) { empty(c, 'no triaged tickets yet'); return done('escalation', 0); }
    var n = line(c, rows.map(function (r) { return dayLabel(r.day); }),
                 rows.map(function (r) { return num(r.rate); }), '#8b5cf6');
    var last = rows[rows.length - 1];
    var note = html('div', 'note', c, 'latest day: ' + last.escalated + ' of ' + last.tickets + ' escalated');
    var reasons = d.escalation_reasons || [];
    if (reasons.length)
      note.textContent += '; top reasons: ' + reasons.slice(0, 3).map(function (r) { return r.reason + ' (' + r.count + ')'; }).join(', ');
    done('escalation', n);
  }
  function drawLatency(d) {
    var c = box('latency'), rows = d.latency || [];
    if (!rows.length) { empty(c, 'no model calls in the last 7 days'); return done('latency', 0); }
    var labels = rows.map(function (r) { return r.tier + ' / ' + r.model; });
    var series = [
      { name: 'p50', color: '#60a5fa', values: rows.map(function (r) { return num(r.p50_ms); }) },
      { name: 'p95', color: '#1d4ed8', values: rows.map(function (r) { return num(r.p95_ms); }) }];
    var n = bars(c, labels, series, { fmt: function (v) { return fmtNum(v) + ' ms'; } });
    html('div', 'note', c, rows.map(function (r) {
      return r.tier + ': ' + r.calls + ' calls, ' + r.failed + ' failed (' + dayLabel(r.day) + ')';
    }).join('; '));
    done('latency', n);
  }
  function drawBacklog(d) {
    var c = box('backlog'), rows = d.backlog || [];
    if (!rows.length) { empty(c, 'nothing awaits review'); return done('backlog', 0); }
    var labels = rows.map(function (r) { return r.urgency; });
    var series = [
      { name: 'awaiting', color: '#2563eb', values: rows.map(function (r) { return r.awaiting; }) },
      { name: 'at risk', color: '#f59e0b', values: rows.map(function (r) { return r.at_risk; }) },
      { name: 'SLA breached', color: '#dc2626', values: rows.map(function (r) { return r.breached; }) }];
    var n = bars(c, labels, series, { integer: true });
    var tot = 0, br = 0, risk = 0, oldest = 0;
    rows.forEach(function (r) { tot += num(r.awaiting); br += num(r.breached); risk += num(r.at_risk); oldest = Math.max(oldest, num(r.oldest_waiting_s)); });
    html('div', 'note', c, tot + ' awaiting, ' + br + ' breached, ' + risk + ' at risk; oldest waiting ' +
         (oldest >= 3600 ? (oldest / 3600).toFixed(1) + ' h' : Math.round(oldest / 60) + ' min'));
    done('backlog', n);
  }
  function drawOutcomes(d) {
    var c = box('outcomes'), rows = (d.review_outcomes || []).slice();
    if (!rows.length) { empty(c, 'no reviews yet'); return done('outcomes', 0); }
    rows.sort(function (a, b) {
      return (a.dimension === 'all' ? 0 : 1) - (b.dimension === 'all' ? 0 : 1) || String(a.category).localeCompare(String(b.category));
    });
    var labels = rows.map(function (r) { return r.dimension === 'all' ? 'all' : String(r.category); });
    var series = [
      { name: 'accepted', color: '#10b981', values: rows.map(function (r) { return r.accepted; }) },
      { name: 'edited', color: '#f59e0b', values: rows.map(function (r) { return r.edited; }) },
      { name: 'rejected', color: '#ef4444', values: rows.map(function (r) { return r.rejected; }) }];
    var n = bars(c, labels, series, { stacked: true, integer: true });
    var all = rows[0];
    if (all.dimension === 'all')
      html('div', 'note', c, all.reviewed + ' reviewed; acceptance ' + pct(num(all.acceptance_rate)) +
           ', approval ' + pct(num(all.approval_rate)));
    done('outcomes', n);
  }
  function drawDlq(d) {
    var c = box('dlq'), rows = d.dlq || [];
    if (!rows.length) { empty(c, 'no dead letters in the last 30 days'); return done('dlq', 0); }
    var keys = days(rows);
    var series = pivot(rows, keys, function (r) { return r.day; }, function (r) { return r.error_code; },
                       function (r) { return r.count; }, codeColors);
    done('dlq', bars(c, keys.map(dayLabel), series, { stacked: true, integer: true }));
  }
  function drawCost(d) {
    var c = box('cost');
    if (d.cost === null || d.cost === undefined) {
      empty(c, 'no cost data (the metrics_cost_daily view does not exist)');
      return done('cost', 0, 'nodata');
    }
    var rows = d.cost.filter(function (r) { return r.cost_usd !== null; });
    var unpriced = 0, lost = 0, lostUsd = 0;
    d.cost.forEach(function (r) {
      unpriced += num(r.unpriced_calls);
      lost += num(r.lost_calls);
      if (num(r.lost_calls)) lostUsd += num(r.cost_usd);
    });
    if (!rows.length) {
      empty(c, 'no cost data' + (unpriced ? ' (' + unpriced + ' calls without a price)' : ''));
      return done('cost', 0, 'nodata');
    }
    var keys = days(rows);
    var series = pivot(rows, keys, function (r) { return r.day; }, function (r) { return r.tier + ' / ' + r.model; },
                       function (r) { return r.cost_usd; }, tierColors);
    var n = bars(c, keys.map(dayLabel), series, { stacked: true, fmt: usd });
    if (unpriced) html('div', 'note', c, unpriced + ' calls without a price are not counted');
    if (lost) html('div', 'note', c, lost + ' calls paid, answer lost (a daemon died with them in flight): ' + usd(lostUsd));
    done('cost', n);
  }
  function drawQueue(d) {
    var c = box('queue'), rows = d.queue || [];
    if (!rows.length) { empty(c, 'the review queue is empty'); return done('queue', 0); }
    var t = html('table', '', c), hr = html('tr', '', html('thead', '', t));
    ['#', 'ticket', 'urgency', 'category', 'tier', 'status', 'state', 'waiting'].forEach(function (h, i) {
      html('th', i === 0 || i === 7 ? 'n' : '', hr, h);
    });
    var tb = html('tbody', '', t);
    rows.forEach(function (r) {
      var tr = html('tr', r.sla_breached ? 'breached' : '', tb);
      html('td', 'n', tr, String(r.queue_position));
      html('td', '', tr, String(r.ticket_id));
      var u = html('td', '', tr, String(r.urgency || 'none'));
      u.style.color = URGENCY[r.urgency || 'none'] || '';
      html('td', '', tr, String(r.category || '-'));
      html('td', '', tr, String(r.customer_tier || '-'));
      html('td', '', tr, String(r.status));
      html('td', '', tr, String(r.review_state) + (r.sla_breached ? ' (SLA breached)' : ''));
      var w = num(r.waiting_s);
      html('td', 'n', tr, w >= 3600 ? (w / 3600).toFixed(1) + ' h' : Math.round(w / 60) + ' min');
    });
    done('queue', rows.length);
  }
  // model mix (issue #13): the live escalation share and, where a shadow tier runs, how its
  // answers compare with production (view shadow_vs_production)
  function drawModelMix(d) {
    var c = box('modelmix'), esc = d.escalation || [], rows = d.shadow || [], points = 0;
    if (esc.length) {
      var last = esc[esc.length - 1];
      html('div', 'note', c, 'escalated to the flagship, latest day: ' + pct(num(last.rate)) +
           ' (' + last.escalated + ' of ' + last.tickets + ')');
      points++;
    }
    if (!rows.length) {
      empty(c, 'no shadow tier has answered yet ([shadow] in the configuration)');
      return done('modelmix', points, points ? 'data' : 'empty');
    }
    var t = html('table', '', c), hr = html('tr', '', html('thead', '', t));
    ['shadow', 'tickets', 'agree', '$/1k shadow/prod', 'p50',
     'gold acc. shadow/prod'].forEach(function (h) { html('th', '', hr, h); });
    var tb = html('tbody', '', t);
    function opt(v, f) { return v === null || v === undefined ? '-' : f(num(v)); }
    rows.forEach(function (r) {
      var tr = html('tr', '', tb);
      html('td', '', tr, String(r.model) + ' / ' + String(r.prompt_version));
      html('td', 'n', tr, String(r.tickets));
      html('td', 'n', tr, opt(r.agreement, pct));
      html('td', 'n', tr, opt(r.shadow_cost_per_1000, usd) + '/' + opt(r.production_cost_per_1000, usd));
      html('td', 'n', tr, opt(r.shadow_p50_ms, function (v) { return fmtNum(v) + ' ms'; }));
      html('td', 'n', tr, num(r.gold_labelled) ? opt(r.shadow_gold_accuracy, pct) + '/' +
           opt(r.production_gold_accuracy, pct) + ' (' + r.gold_labelled + ')' : 'none yet');
      points++;
    });
    done('modelmix', points);
  }
  /* issue #15.2: escalations parked outside intake.max_in_flight, and how long they wait */
  function drawFlagship(d) {
    var c = box('flagship'), f = d.flagship;
    if (!f) { empty(c, 'no live figures from the daemon'); return done('flagship', 0); }
    var n = bars(c, ['parked', 'waiting', 'in flight'],
                 [{ name: 'escalations', color: '#8b5cf6', values: [num(f.parked), num(f.waiting), num(f.in_flight)] }],
                 { integer: true });
    html('div', 'note', c, num(f.waits) + ' waits since start: p50 ' + fmtNum(num(f.wait_p50_ms)) + ' ms, p99 ' +
         fmtNum(num(f.wait_p99_ms)) + ' ms, max ' + fmtNum(num(f.wait_max_ms)) + ' ms; queue limit ' + num(f.max_queue));
    done('flagship', n);
  }
  function render(d) {
    [drawFlagship, drawVolume, drawEscalation, drawLatency, drawBacklog, drawOutcomes, drawDlq, drawCost, drawModelMix, drawQueue]
      .forEach(function (f) { f(d); });
    var today = (d.volume_daily || []).slice(-1)[0];
    document.getElementById('kpis').textContent = today ? 'tickets today: ' + today.count : '';
    renders++;
    document.body.dataset.renders = String(renders);
    document.body.dataset.rendered = 'ok';
    setStatus('updated ' + new Date(d.generated_at || Date.now()).toLocaleTimeString(), false);
  }
  function load() {
    var headers = {};
    if (token) headers.Authorization = 'Bearer ' + token;
    fetch('dashboard/data.json', { headers: headers, cache: 'no-store' })
      .then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) throw new Error('HTTP ' + r.status + (body && body.error ? ': ' + body.error : ''));
          return body;
        }, function () { throw new Error('HTTP ' + r.status); });
      })
      .then(function (d) {
        try {
          render(d);
        } catch (e) {
          document.body.dataset.rendered = 'error';
          noteError('render: ' + e.message);
        }
      }, function (e) {
        document.body.dataset.rendered = 'error';
        setStatus('cannot load data: ' + e.message + ' (retrying)', true);
      })
      .then(function () { setTimeout(load, REFRESH_MS); });
  }
  load();
})();
