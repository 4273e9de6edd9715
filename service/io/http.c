/*
 * http: see http.h. Owns the evhttp server, its listening socket, the
 * dashboard's own libpq connection and the requests waiting for its query.
 * Must never block the loop (no PQexec, no blocking connect: PQconnectPoll
 * and non-blocking sends under events) and never exit after startup: a
 * database problem is a 503 for the requests that need it, nothing more.
 *
 * The metrics exposition is table driven (metrics[] below): a new counter
 * of struct pipeline_stats or struct pipeline_health is one line there.
 */
#include "http.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <json-c/json.h>
#include <libpq-fe.h>

#include "log.h"

#define HTTP_MAX_HEADERS_BYTES 8192
#define HTTP_MAX_BODY_BYTES 4096 /* every endpoint is a GET */
#define HTTP_IDLE_TIMEOUT_S 30
#define METRICS_CAP (1u << 20)
#define DASH_BODY_CAP (4u << 20) /* data.json answers at most this much */
#define DASH_MAX_WAITERS 64	 /* requests waiting for the data query */
#define DASH_CONNECT_TIMEOUT_MS 5000
#define DASH_QUERY_TIMEOUT_MS 15000 /* client side; the server stops at statement_timeout */
#define DASH_BACKOFF_MIN_MS 500
#define DASH_BACKOFF_MAX_MS 30000

/* ------------------------------------------------------------ metrics */

enum msrc {
	MS_U64,	  /* uint64_t in struct pipeline_stats */
	MS_INT,	  /* int in struct pipeline_stats */
	MS_HSIZE, /* size_t in struct pipeline_health */
	MS_HINT,  /* int in struct pipeline_health */
	MS_HI64,  /* int64_t in struct pipeline_health; negative = unknown, not exported */
};

enum mexpand {
	MX_NONE,
	MX_TIER,  /* an array [TIER__MODELS]: one sample per tier, label tier="..." */
	MX_STATE, /* an array [JOB__STATES]: one sample per state, label state="..." */
};

/*
 * One row per sample (or per array of samples). Rows of one family are
 * adjacent; the first carries the help text. Exported as triaged_<name>.
 */
struct metric {
	const char *name;
	const char *type;
	const char *help;
	const char *labels; /* fixed labels after the expanded one, e.g. outcome="ok" */
	enum msrc src;
	size_t off;
	enum mexpand expand;
};

#define ST(f) MS_U64, offsetof(struct pipeline_stats, f)
#define STI(f) MS_INT, offsetof(struct pipeline_stats, f)
#define HZ(f) MS_HSIZE, offsetof(struct pipeline_health, f)
#define HI(f) MS_HINT, offsetof(struct pipeline_health, f)
#define HL(f) MS_HI64, offsetof(struct pipeline_health, f)
#define CNT "counter"
#define GAU "gauge"

/* clang-format off */
static const struct metric metrics[] = {
	{"tickets_consumed_total", CNT, "Messages consumed from the intake topic.", NULL, ST(consumed), MX_NONE},
	{"dlq_total", CNT, "Messages dead-lettered (invalid, or rejected by the database).", NULL, ST(dlq), MX_NONE},
	{"tickets_claimed_total", CNT, "Tickets claimed in the database, by result.", "result=\"new\"", ST(claimed_new), MX_NONE},
	{"tickets_claimed_total", CNT, NULL, "result=\"updated\"", ST(claimed_updated), MX_NONE},
	{"tickets_claimed_total", CNT, NULL, "result=\"pending\"", ST(claimed_pending), MX_NONE},
	{"redelivered_total", CNT, "Redelivered tickets already triaged (nothing redone).", NULL, ST(redelivered_done), MX_NONE},
	{"tickets_stored_total", CNT, "Triage results stored, by status.", "status=\"pending_review\"", ST(stored_pending_review), MX_NONE},
	{"tickets_stored_total", CNT, NULL, "status=\"needs_human\"", ST(stored_needs_human), MX_NONE},
	{"tickets_store_duplicates_total", CNT, "Stores that found the result already stored.", NULL, ST(stored_duplicate), MX_NONE},
	{"model_requests_total", CNT, "HTTP requests to the models (attempts).", NULL, ST(model_requests), MX_TIER},
	{"model_outcomes_total", CNT, "Model HTTP attempts by outcome.", "outcome=\"ok\"", ST(model_ok), MX_TIER},
	{"model_outcomes_total", CNT, NULL, "outcome=\"http_error\"", ST(model_http_errors), MX_TIER},
	{"model_outcomes_total", CNT, NULL, "outcome=\"transport_error\"", ST(model_transport_errors), MX_TIER},
	{"model_outcomes_total", CNT, NULL, "outcome=\"invalid\"", ST(model_invalid), MX_TIER},
	{"model_retries_total", CNT, "Model attempts retried after 429, 5xx, timeouts or transport errors.", NULL, ST(retries), MX_TIER},
	{"model_http_429_total", CNT, "Model answers with HTTP 429.", NULL, ST(http_429), MX_TIER},
	{"repairs_total", CNT, "Repair attempts for invalid model answers.", NULL, ST(repairs), MX_TIER},
	{"model_calls_reused_total", CNT, "Model answers reused from calls persisted before a redelivery.", NULL, ST(calls_reused), MX_NONE},
	{"escalated_total", CNT, "Tickets escalated to the flagship model.", NULL, ST(escalated), MX_NONE},
	{"human_only_total", CNT, "Tickets routed to a person by the rules, without a flagship call.", NULL, ST(human_only), MX_NONE},
	{"flagship_decided_total", CNT, "Tickets decided by the flagship model.", NULL, ST(flagship_decided), MX_NONE},
	{"budget_denied_total", CNT, "Model calls refused for lack of budget.", NULL, ST(budget_denied), MX_TIER},
	{"events_sent_total", CNT, "tickets.triaged events produced.", NULL, ST(events_sent), MX_NONE},
	{"db_rejected_total", CNT, "Tickets the database refused for their data.", NULL, ST(db_rejected), MX_NONE},
	{"rules_reloads_total", CNT, "Escalation rules reloads (SIGHUP).", NULL, ST(rules_reloads), MX_NONE},
	{"rules_reload_errors_total", CNT, "Escalation rules reloads that failed (old rules kept).", NULL, ST(rules_reload_errors), MX_NONE},
	{"redactions_total", CNT, "Values replaced by placeholders before a model call, by kind.", "kind=\"email\"", ST(redactions[0]), MX_NONE},
	{"redactions_total", CNT, NULL, "kind=\"phone\"", ST(redactions[1]), MX_NONE},
	{"redactions_total", CNT, NULL, "kind=\"card\"", ST(redactions[2]), MX_NONE},
	{"redactions_total", CNT, NULL, "kind=\"iban\"", ST(redactions[3]), MX_NONE},
	{"redactions_total", CNT, NULL, "kind=\"custom\"", ST(redactions[4]), MX_NONE},
	{"injection_flagged_total", CNT, "Tickets flagged as suspected prompt injection.", NULL, ST(injection_flagged), MX_NONE},
	{"drafts_flagged_total", CNT, "Draft replies flagged by the policy checks.", NULL, ST(drafts_flagged), MX_NONE},
	{"breaker_opens_total", CNT, "Times a model circuit breaker opened.", NULL, ST(breaker_opens), MX_TIER},
	{"breaker_denied_total", CNT, "Model calls held back by an open circuit breaker.", NULL, ST(breaker_denied), MX_TIER},
	{"breaker_state", GAU, "Model circuit breaker: 0 closed, 1 open, 2 half-open.", NULL, STI(breaker_state), MX_TIER},
	{"in_flight", GAU, "Tickets in flight.", NULL, ST(in_flight), MX_NONE},
	{"tickets_by_state", GAU, "Tickets in flight by state.", NULL, ST(state_count), MX_STATE},
	{"partitions_assigned", GAU, "Intake partitions assigned to this consumer.", NULL, HZ(partitions), MX_NONE},
	{"db_up", GAU, "1 when the database connection is ready.", NULL, HI(db_up), MX_NONE},
	{"intake_paused", GAU, "1 while intake is paused (backpressure, database, shutdown).", NULL, HI(paused), MX_NONE},
	{"draining", GAU, "1 while shutting down.", NULL, HI(draining), MX_NONE},
	{"consumer_lag", GAU, "Messages behind the high watermarks of the assigned partitions.", NULL, HL(consumer_lag), MX_NONE},
	{"mini_in_flight", GAU, "Requests in flight to the mini model.", NULL, HZ(mini_in_flight), MX_NONE},
	{"mini_waiting", GAU, "Requests waiting for a mini model slot.", NULL, HZ(mini_waiting), MX_NONE},
	{"flagship_in_flight", GAU, "Requests in flight to the flagship model.", NULL, HZ(flagship_in_flight), MX_NONE},
	{"flagship_waiting", GAU, "Escalations waiting for a flagship slot.", NULL, HZ(flagship_waiting), MX_NONE},
	{"db_pending", GAU, "Items queued or in flight to the database.", NULL, HZ(db_pending), MX_NONE},
	{"dlq_pending", GAU, "Dead letters not yet acknowledged by the broker.", NULL, HZ(dlq_pending), MX_NONE},
};

/* Latency histograms of struct pipeline_stats, exported in seconds. */
static const struct {
	const char *name, *help;
	size_t off;
} hists[] = {
	{"ticket_seconds", "Time from receiving a ticket to done.", offsetof(struct pipeline_stats, e2e_ms)},
	{"model_wait_seconds", "Time per ticket spent waiting for models (calls and backoff).", offsetof(struct pipeline_stats, model_ms)},
	{"added_latency_seconds", "Time per ticket added by the daemon (end to end minus model wait).", offsetof(struct pipeline_stats, added_ms)},
};

/* Bucket bounds: the label as printed, and the bound in ms for hist_count_le. */
static const struct {
	const char *le;
	double ms;
} le_bounds[] = {
	{"0.001", 1},   {"0.0025", 2.5}, {"0.005", 5},   {"0.01", 10},   {"0.025", 25},
	{"0.05", 50},   {"0.1", 100},    {"0.25", 250},  {"0.5", 500},   {"1", 1000},
	{"2.5", 2500},  {"5", 5000},     {"10", 10000},  {"30", 30000},  {"60", 60000},
};
/* clang-format on */

static const char *metric_expand_label(enum mexpand e, size_t i)
{
	if (e == MX_TIER)
		return model_tier_name((enum model_tier)i);
	return job_state_name((enum job_state)i);
}

/* The sample's value as text; 0 when it is not exported (unknown). */
static int metric_value(const struct metric *m, size_t i, const struct pipeline_stats *st,
			const struct pipeline_health *hl, char *out, size_t outlen)
{
	const char *s = (const char *)st, *h = (const char *)hl;
	switch (m->src) {
	case MS_U64: {
		uint64_t v;
		memcpy(&v, s + m->off + i * sizeof(v), sizeof(v));
		snprintf(out, outlen, "%" PRIu64, v);
		return 1;
	}
	case MS_INT: {
		int v;
		memcpy(&v, s + m->off + i * sizeof(v), sizeof(v));
		snprintf(out, outlen, "%d", v);
		return 1;
	}
	case MS_HSIZE: {
		size_t v;
		memcpy(&v, h + m->off, sizeof(v));
		snprintf(out, outlen, "%zu", v);
		return 1;
	}
	case MS_HINT: {
		int v;
		memcpy(&v, h + m->off, sizeof(v));
		snprintf(out, outlen, "%d", v);
		return 1;
	}
	case MS_HI64: {
		int64_t v;
		memcpy(&v, h + m->off, sizeof(v));
		if (v < 0)
			return 0;
		snprintf(out, outlen, "%" PRId64, v);
		return 1;
	}
	}
	return 0;
}

static int render_header(struct buf *out, const char *name, const char *type, const char *help)
{
	return buf_appendf(out, "# HELP triaged_%s %s\n# TYPE triaged_%s %s\n", name,
			   help ? help : "", name, type);
}

static int render_histogram(struct buf *out, const char *name, const char *help,
			    const struct hist *hs)
{
	if (render_header(out, name, "histogram", help) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(le_bounds); i++)
		if (buf_appendf(out, "triaged_%s_bucket{le=\"%s\"} %" PRIu64 "\n", name,
				le_bounds[i].le, hist_count_le(hs, le_bounds[i].ms)) < 0)
			return -1;
	return buf_appendf(out,
			   "triaged_%s_bucket{le=\"+Inf\"} %" PRIu64 "\n"
			   "triaged_%s_sum %.9g\n"
			   "triaged_%s_count %" PRIu64 "\n",
			   name, hs->count, name, hs->sum_ms / 1000.0, name, hs->count);
}

/* Prometheus label value escaping: backslash, double quote, newline. */
static int append_label_value(struct buf *out, const char *v)
{
	for (; *v; v++) {
		int r;
		if (*v == '\\' || *v == '"')
			r = buf_appendf(out, "\\%c", *v);
		else if (*v == '\n')
			r = buf_append(out, "\\n", 2);
		else
			r = buf_append(out, v, 1);
		if (r < 0)
			return -1;
	}
	return 0;
}

int http_render_metrics(struct buf *out, const struct pipeline_stats *st,
			const struct pipeline_health *hl)
{
	const struct metric *family = NULL, *printed = NULL;
	char val[32];

	for (size_t k = 0; k < ARRAY_SIZE(metrics); k++) {
		const struct metric *m = &metrics[k];
		size_t n = m->expand == MX_TIER	   ? TIER__MODELS
			   : m->expand == MX_STATE ? JOB__STATES
						   : 1;

		if (family == NULL || strcmp(family->name, m->name) != 0)
			family = m;
		for (size_t i = 0; i < n; i++) {
			int r;
			if (!metric_value(m, i, st, hl, val, sizeof(val)))
				continue;
			if (printed != family) {
				if (render_header(out, family->name, family->type, family->help) <
				    0)
					return -1;
				printed = family;
			}
			if (m->expand != MX_NONE)
				r = buf_appendf(out, "triaged_%s{%s=\"%s\"%s%s} %s\n", m->name,
						m->expand == MX_TIER ? "tier" : "state",
						metric_expand_label(m->expand, i),
						m->labels ? "," : "", m->labels ? m->labels : "",
						val);
			else if (m->labels)
				r = buf_appendf(out, "triaged_%s{%s} %s\n", m->name, m->labels,
						val);
			else
				r = buf_appendf(out, "triaged_%s %s\n", m->name, val);
			if (r < 0)
				return -1;
		}
	}
	for (size_t k = 0; k < ARRAY_SIZE(hists); k++) {
		const struct hist *hs = (const struct hist *)((const char *)st + hists[k].off);
		if (render_histogram(out, hists[k].name, hists[k].help, hs) < 0)
			return -1;
	}
	if (render_header(out, "build_info", "gauge", "Build information; always 1.") < 0 ||
	    buf_appendf(out, "triaged_build_info{version=\"") < 0 ||
	    append_label_value(out, TRIAGED_VERSION) < 0 || buf_appendf(out, "\"} 1\n") < 0)
		return -1;
	return 0;
}

/* ----------------------------------------------------------- the page */

/*
 * The dashboard: one page, no external resources (the Content-Security-Policy
 * sent with it forbids them). Charts are inline SVG drawn by the script from
 * dashboard/data.json every 10 s. After each draw it sets
 * body[data-rendered="ok"] and section[data-points] (points drawn per chart),
 * which the browser test reads; errors go to body[data-errors], never to the
 * console. Data is inserted with textContent only.
 */
/* clang-format off */
static const char dashboard_html[] =
	"<!doctype html>\n"
	"<html lang=\"en\">\n"
	"<head>\n"
	"<meta charset=\"utf-8\">\n"
	"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	"<title>triaged - supervisor dashboard</title>\n"
	"<style>\n"
	"body { font: 13px/1.4 system-ui, -apple-system, \"Segoe UI\", sans-serif; margin: 0; background: #f3f4f6; color: #1f2937; }\n"
	"header { display: flex; align-items: baseline; gap: 16px; padding: 10px 16px; background: #111827; color: #f9fafb; }\n"
	"header h1 { font-size: 17px; margin: 0; }\n"
	"#status { color: #9ca3af; }\n"
	"#status.err { color: #fca5a5; }\n"
	"#kpis { margin-left: auto; color: #d1d5db; }\n"
	"main { display: grid; grid-template-columns: repeat(auto-fill, minmax(540px, 1fr)); gap: 12px; padding: 12px; }\n"
	".card { background: #fff; border-radius: 6px; padding: 10px 12px; box-shadow: 0 1px 2px rgba(0, 0, 0, .12); min-width: 0; }\n"
	".card h2 { font-size: 14px; margin: 0 0 6px; font-weight: 600; }\n"
	".chart svg { width: 100%; height: auto; display: block; }\n"
	".chart text { font-size: 10px; fill: #4b5563; }\n"
	".chart .grid { stroke: #e5e7eb; stroke-width: 1; }\n"
	".chart .axis { stroke: #9ca3af; stroke-width: 1; }\n"
	".legend { display: flex; flex-wrap: wrap; gap: 4px 12px; margin-top: 4px; font-size: 11px; color: #374151; }\n"
	".legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; vertical-align: -1px; border-radius: 2px; }\n"
	".empty { color: #6b7280; text-align: center; padding: 60px 0; font-style: italic; }\n"
	".note { color: #6b7280; font-size: 11px; margin-top: 4px; }\n"
	"table { border-collapse: collapse; width: 100%; font-size: 12px; }\n"
	"th, td { padding: 3px 6px; border-bottom: 1px solid #e5e7eb; text-align: left; white-space: nowrap; }\n"
	"td.n, th.n { text-align: right; }\n"
	"tr.breached td { color: #b91c1c; }\n"
	"</style>\n"
	"</head>\n"
	"<body data-rendered=\"pending\" data-errors=\"0\" data-renders=\"0\">\n"
	"<header><h1>triaged</h1><span id=\"status\">loading&#8230;</span><span id=\"kpis\"></span></header>\n"
	"<main>\n"
	"<section class=\"card\" id=\"volume\"><h2>Tickets per hour by category (last 48 h)</h2><div class=\"chart\"></div></section>\n"
	"<section class=\"card\" id=\"escalation\"><h2>Escalation rate per day</h2><div class=\"chart\"></div></section>\n"
	"<section class=\"card\" id=\"latency\"><h2>Model latency p50 / p95 per tier (latest day, ms)</h2><div class=\"chart\"></div></section>\n"
	"<section class=\"card\" id=\"backlog\"><h2>Review backlog by urgency (SLA breached, at risk)</h2><div class=\"chart\"></div></section>\n"
	"<section class=\"card\" id=\"outcomes\"><h2>Review outcomes</h2><div class=\"chart\"></div></section>\n"
	"<section class=\"card\" id=\"dlq\"><h2>Dead letters per day</h2><div class=\"chart\"></div></section>\n"
	"<section class=\"card\" id=\"cost\"><h2>Model cost per day (USD)</h2><div class=\"chart\"></div></section>\n"
	"<section class=\"card\" id=\"queue\"><h2>Next in the review queue</h2><div class=\"chart\"></div></section>\n"
	"</main>\n"
	"<script>\n"
	"'use strict';\n"
	"(function () {\n"
	"  var SVGNS = 'http://www.w3.org/2000/svg';\n"
	"  var REFRESH_MS = 10000;\n"
	"  var PALETTE = ['#2563eb', '#f59e0b', '#10b981', '#ef4444', '#8b5cf6', '#06b6d4', '#ec4899',\n"
	"                 '#84cc16', '#f97316', '#6366f1', '#14b8a6', '#a855f7', '#64748b', '#eab308'];\n"
	"  var URGENCY = { critical: '#b91c1c', high: '#f97316', normal: '#2563eb', low: '#10b981', none: '#6b7280' };\n"
	"  var errors = 0, renders = 0;\n"
	"  var token = new URLSearchParams(window.location.search).get('token');\n"
	"\n"
	"  function setStatus(text, bad) {\n"
	"    var s = document.getElementById('status');\n"
	"    s.textContent = text;\n"
	"    s.className = bad ? 'err' : '';\n"
	"  }\n"
	"  function noteError(msg) {\n"
	"    errors++;\n"
	"    document.body.dataset.errors = String(errors);\n"
	"    setStatus('error: ' + msg, true);\n"
	"  }\n"
	"  window.addEventListener('error', function (e) { noteError(e.message || 'script error'); });\n"
	"  window.addEventListener('unhandledrejection', function (e) { noteError(String(e.reason)); });\n"
	"\n"
	"  function svg(tag, attrs, parent, text) {\n"
	"    var e = document.createElementNS(SVGNS, tag);\n"
	"    for (var k in attrs) e.setAttribute(k, attrs[k]);\n"
	"    if (text !== undefined) e.textContent = text;\n"
	"    if (parent) parent.appendChild(e);\n"
	"    return e;\n"
	"  }\n"
	"  function html(tag, cls, parent, text) {\n"
	"    var e = document.createElement(tag);\n"
	"    if (cls) e.className = cls;\n"
	"    if (text !== undefined) e.textContent = text;\n"
	"    if (parent) parent.appendChild(e);\n"
	"    return e;\n"
	"  }\n"
	"  function box(id) {\n"
	"    var c = document.getElementById(id).querySelector('.chart');\n"
	"    while (c.firstChild) c.removeChild(c.firstChild);\n"
	"    return c;\n"
	"  }\n"
	"  function done(id, points, state) {\n"
	"    var s = document.getElementById(id);\n"
	"    s.dataset.points = String(points);\n"
	"    s.dataset.state = state || (points > 0 ? 'data' : 'empty');\n"
	"  }\n"
	"  function empty(c, text) { html('div', 'empty', c, text); }\n"
	"  function num(v) { var n = Number(v); return isFinite(n) ? n : 0; }\n"
	"  function niceMax(v) {\n"
	"    if (!(v > 0)) return 1;\n"
	"    var p = Math.pow(10, Math.floor(Math.log10(v))), m = v / p;\n"
	"    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;\n"
	"  }\n"
	"  function fmtNum(v) {\n"
	"    if (Math.abs(v) >= 1e6) return (v / 1e6).toFixed(1) + 'M';\n"
	"    if (Math.abs(v) >= 1e4) return (v / 1e3).toFixed(0) + 'k';\n"
	"    if (Math.abs(v) >= 100 || v === Math.round(v)) return String(Math.round(v));\n"
	"    return String(parseFloat(v.toPrecision(3)));\n"
	"  }\n"
	"  function pct(v) { return v === 0 ? '0%' : (v * 100).toFixed(v < 0.1 ? 1 : 0) + '%'; }\n"
	"  function usd(v) { return v === 0 ? '$0' : '$' + (v >= 1 ? v.toFixed(2) : String(parseFloat(v.toPrecision(2)))); }\n"
	"  function dayLabel(iso) { var d = new Date(iso); return (d.getMonth() + 1) + '/' + d.getDate(); }\n"
	"  function hourLabel(ms) { var d = new Date(ms); return ('0' + d.getHours()).slice(-2) + ':00'; }\n"
	"  function colorOf(map, key) {\n"
	"    if (!(key in map.known)) map.known[key] = PALETTE[map.n++ % PALETTE.length];\n"
	"    return map.known[key];\n"
	"  }\n"
	"  function legend(c, series) {\n"
	"    var l = html('div', 'legend', c);\n"
	"    series.forEach(function (s) {\n"
	"      var item = html('span', '', l);\n"
	"      var sw = html('i', '', item);\n"
	"      sw.style.background = s.color;\n"
	"      item.appendChild(document.createTextNode(s.name));\n"
	"    });\n"
	"  }\n"
	"  /* Bars: labels along x; series [{name, color, values}]; stacked or grouped. Returns points drawn. */\n"
	"  function bars(c, labels, series, opt) {\n"
	"    opt = opt || {};\n"
	"    var W = 560, H = opt.height || 220, L = 46, R = 8, T = 8, B = 34;\n"
	"    var pw = W - L - R, ph = H - T - B, n = labels.length, max = 0, points = 0;\n"
	"    for (var i = 0; i < n; i++) {\n"
	"      var tot = 0;\n"
	"      series.forEach(function (s) {\n"
	"        var v = num(s.values[i]);\n"
	"        if (opt.stacked) tot += v; else tot = Math.max(tot, v);\n"
	"      });\n"
	"      max = Math.max(max, tot);\n"
	"    }\n"
	"    max = niceMax(max);\n"
	"    if (opt.integer && max < 5) max = 5;\n"
	"    var fmt = opt.fmt || fmtNum;\n"
	"    var g = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img' }, c);\n"
	"    for (var t = 0; t <= 5; t++) {\n"
	"      var y = T + ph - ph * t / 5;\n"
	"      svg('line', { x1: L, x2: W - R, y1: y, y2: y, 'class': 'grid' }, g);\n"
	"      svg('text', { x: L - 4, y: y + 3, 'text-anchor': 'end' }, g, fmt(max * t / 5));\n"
	"    }\n"
	"    svg('line', { x1: L, x2: W - R, y1: T + ph, y2: T + ph, 'class': 'axis' }, g);\n"
	"    var slot = pw / Math.max(n, 1), bw = Math.max(1, slot * 0.8), every = Math.ceil(n / 12);\n"
	"    for (i = 0; i < n; i++) {\n"
	"      var x0 = L + slot * i + (slot - bw) / 2, acc = 0;\n"
	"      series.forEach(function (s, k) {\n"
	"        var v = num(s.values[i]);\n"
	"        if (v <= 0) return;\n"
	"        points++;\n"
	"        var h = ph * v / max, x = x0, w = bw, y0;\n"
	"        if (opt.stacked) { y0 = T + ph - ph * acc / max - h; acc += v; }\n"
	"        else { w = bw / series.length; x = x0 + w * k; y0 = T + ph - h; }\n"
	"        var r = svg('rect', { x: x.toFixed(1), y: y0.toFixed(1), width: Math.max(w - 0.5, 0.5).toFixed(1),\n"
	"                              height: Math.max(h, 0.5).toFixed(1), fill: s.color }, g);\n"
	"        svg('title', {}, r, labels[i] + ' - ' + s.name + ': ' + fmt(v));\n"
	"      });\n"
	"      if (i % every === 0)\n"
	"        svg('text', { x: (L + slot * i + slot / 2).toFixed(1), y: H - B + 14, 'text-anchor': 'middle' }, g, labels[i]);\n"
	"    }\n"
	"    if (opt.legend !== false) legend(c, series);\n"
	"    return points;\n"
	"  }\n"
	"  /* A line of values (0..1 as percentages). */\n"
	"  function line(c, labels, values, color) {\n"
	"    var W = 560, H = 220, L = 46, R = 12, T = 8, B = 34, pw = W - L - R, ph = H - T - B;\n"
	"    var n = labels.length, max = 0;\n"
	"    values.forEach(function (v) { max = Math.max(max, num(v)); });\n"
	"    max = Math.min(1, niceMax(max));\n"
	"    var g = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img' }, c);\n"
	"    for (var t = 0; t <= 5; t++) {\n"
	"      var y = T + ph - ph * t / 5;\n"
	"      svg('line', { x1: L, x2: W - R, y1: y, y2: y, 'class': 'grid' }, g);\n"
	"      svg('text', { x: L - 4, y: y + 3, 'text-anchor': 'end' }, g, pct(max * t / 5));\n"
	"    }\n"
	"    var xs = function (i) { return n > 1 ? L + pw * i / (n - 1) : L + pw / 2; };\n"
	"    var ys = function (v) { return T + ph - ph * num(v) / max; };\n"
	"    var pts = values.map(function (v, i) { return xs(i).toFixed(1) + ',' + ys(v).toFixed(1); });\n"
	"    svg('polyline', { points: pts.join(' '), fill: 'none', stroke: color, 'stroke-width': 2 }, g);\n"
	"    var every = Math.ceil(n / 10);\n"
	"    values.forEach(function (v, i) {\n"
	"      var d = svg('circle', { cx: xs(i).toFixed(1), cy: ys(v).toFixed(1), r: 3, fill: color }, g);\n"
	"      svg('title', {}, d, labels[i] + ': ' + pct(num(v)));\n"
	"      if (i % every === 0)\n"
	"        svg('text', { x: xs(i).toFixed(1), y: H - B + 14, 'text-anchor': 'middle' }, g, labels[i]);\n"
	"    });\n"
	"    return values.length;\n"
	"  }\n"
	"  /* Pivot rows into labels x series: key(row) -> x label, ser(row) -> series name. */\n"
	"  function pivot(rows, xkeys, xOf, serOf, valOf, colors) {\n"
	"    var idx = {}, names = [], byName = {};\n"
	"    xkeys.forEach(function (k, i) { idx[k] = i; });\n"
	"    rows.forEach(function (r) {\n"
	"      var i = idx[xOf(r)], s = serOf(r);\n"
	"      if (i === undefined) return;\n"
	"      if (!(s in byName)) {\n"
	"        byName[s] = { name: s, color: colorOf(colors, s), values: xkeys.map(function () { return 0; }) };\n"
	"        names.push(s);\n"
	"      }\n"
	"      byName[s].values[i] += num(valOf(r));\n"
	"    });\n"
	"    names.sort();\n"
	"    return names.map(function (s) { return byName[s]; });\n"
	"  }\n"
	"  function days(rows) {\n"
	"    var seen = {}, out = [];\n"
	"    rows.forEach(function (r) { if (!(r.day in seen)) { seen[r.day] = 1; out.push(r.day); } });\n"
	"    out.sort(function (a, b) { return new Date(a) - new Date(b); });\n"
	"    return out;\n"
	"  }\n"
	"  var catColors = { known: {}, n: 0 }, codeColors = { known: {}, n: 3 }, tierColors = { known: {}, n: 0 };\n"
	"\n"
	"  function drawVolume(d) {\n"
	"    var c = box('volume'), rows = d.volume || [];\n"
	"    if (!rows.length) { empty(c, 'no tickets in the last 48 hours'); return done('volume', 0); }\n"
	"    var end = 0;\n"
	"    rows.forEach(function (r) { end = Math.max(end, new Date(r.hour).getTime()); });\n"
	"    var keys = [], labels = [];\n"
	"    for (var i = 47; i >= 0; i--) { keys.push(end - i * 3600000); labels.push(hourLabel(end - i * 3600000)); }\n"
	"    var series = pivot(rows, keys, function (r) { return new Date(r.hour).getTime(); },\n"
	"                       function (r) { return r.category; }, function (r) { return r.count; }, catColors);\n"
	"    done('volume', bars(c, labels, series, { stacked: true, integer: true }));\n"
	"  }\n"
	"  function drawEscalation(d) {\n"
	"    var c = box('escalation'), rows = d.escalation || [];\n"
	"    if (!rows.length) { empty(c, 'no triaged tickets yet'); return done('escalation', 0); }\n"
	"    var n = line(c, rows.map(function (r) { return dayLabel(r.day); }),\n"
	"                 rows.map(function (r) { return num(r.rate); }), '#8b5cf6');\n"
	"    var last = rows[rows.length - 1];\n"
	"    var note = html('div', 'note', c, 'latest day: ' + last.escalated + ' of ' + last.tickets + ' escalated');\n"
	"    var reasons = d.escalation_reasons || [];\n"
	"    if (reasons.length)\n"
	"      note.textContent += '; top reasons: ' + reasons.slice(0, 3).map(function (r) { return r.reason + ' (' + r.count + ')'; }).join(', ');\n"
	"    done('escalation', n);\n"
	"  }\n"
	"  function drawLatency(d) {\n"
	"    var c = box('latency'), rows = d.latency || [];\n"
	"    if (!rows.length) { empty(c, 'no model calls in the last 7 days'); return done('latency', 0); }\n"
	"    var labels = rows.map(function (r) { return r.tier + ' / ' + r.model; });\n"
	"    var series = [\n"
	"      { name: 'p50', color: '#60a5fa', values: rows.map(function (r) { return num(r.p50_ms); }) },\n"
	"      { name: 'p95', color: '#1d4ed8', values: rows.map(function (r) { return num(r.p95_ms); }) }];\n"
	"    var n = bars(c, labels, series, { fmt: function (v) { return fmtNum(v) + ' ms'; } });\n"
	"    html('div', 'note', c, rows.map(function (r) {\n"
	"      return r.tier + ': ' + r.calls + ' calls, ' + r.failed + ' failed (' + dayLabel(r.day) + ')';\n"
	"    }).join('; '));\n"
	"    done('latency', n);\n"
	"  }\n"
	"  function drawBacklog(d) {\n"
	"    var c = box('backlog'), rows = d.backlog || [];\n"
	"    if (!rows.length) { empty(c, 'nothing awaits review'); return done('backlog', 0); }\n"
	"    var labels = rows.map(function (r) { return r.urgency; });\n"
	"    var series = [\n"
	"      { name: 'awaiting', color: '#2563eb', values: rows.map(function (r) { return r.awaiting; }) },\n"
	"      { name: 'at risk', color: '#f59e0b', values: rows.map(function (r) { return r.at_risk; }) },\n"
	"      { name: 'SLA breached', color: '#dc2626', values: rows.map(function (r) { return r.breached; }) }];\n"
	"    var n = bars(c, labels, series, { integer: true });\n"
	"    var tot = 0, br = 0, risk = 0, oldest = 0;\n"
	"    rows.forEach(function (r) { tot += num(r.awaiting); br += num(r.breached); risk += num(r.at_risk); oldest = Math.max(oldest, num(r.oldest_waiting_s)); });\n"
	"    html('div', 'note', c, tot + ' awaiting, ' + br + ' breached, ' + risk + ' at risk; oldest waiting ' +\n"
	"         (oldest >= 3600 ? (oldest / 3600).toFixed(1) + ' h' : Math.round(oldest / 60) + ' min'));\n"
	"    done('backlog', n);\n"
	"  }\n"
	"  function drawOutcomes(d) {\n"
	"    var c = box('outcomes'), rows = (d.review_outcomes || []).slice();\n"
	"    if (!rows.length) { empty(c, 'no reviews yet'); return done('outcomes', 0); }\n"
	"    rows.sort(function (a, b) {\n"
	"      return (a.dimension === 'all' ? 0 : 1) - (b.dimension === 'all' ? 0 : 1) || String(a.category).localeCompare(String(b.category));\n"
	"    });\n"
	"    var labels = rows.map(function (r) { return r.dimension === 'all' ? 'all' : String(r.category); });\n"
	"    var series = [\n"
	"      { name: 'accepted', color: '#10b981', values: rows.map(function (r) { return r.accepted; }) },\n"
	"      { name: 'edited', color: '#f59e0b', values: rows.map(function (r) { return r.edited; }) },\n"
	"      { name: 'rejected', color: '#ef4444', values: rows.map(function (r) { return r.rejected; }) }];\n"
	"    var n = bars(c, labels, series, { stacked: true, integer: true });\n"
	"    var all = rows[0];\n"
	"    if (all.dimension === 'all')\n"
	"      html('div', 'note', c, all.reviewed + ' reviewed; acceptance ' + pct(num(all.acceptance_rate)) +\n"
	"           ', approval ' + pct(num(all.approval_rate)));\n"
	"    done('outcomes', n);\n"
	"  }\n"
	"  function drawDlq(d) {\n"
	"    var c = box('dlq'), rows = d.dlq || [];\n"
	"    if (!rows.length) { empty(c, 'no dead letters in the last 30 days'); return done('dlq', 0); }\n"
	"    var keys = days(rows);\n"
	"    var series = pivot(rows, keys, function (r) { return r.day; }, function (r) { return r.error_code; },\n"
	"                       function (r) { return r.count; }, codeColors);\n"
	"    done('dlq', bars(c, keys.map(dayLabel), series, { stacked: true, integer: true }));\n"
	"  }\n"
	"  function drawCost(d) {\n"
	"    var c = box('cost');\n"
	"    if (d.cost === null || d.cost === undefined) {\n"
	"      empty(c, 'no cost data (the metrics_cost_daily view does not exist)');\n"
	"      return done('cost', 0, 'nodata');\n"
	"    }\n"
	"    var rows = d.cost.filter(function (r) { return r.cost_usd !== null; });\n"
	"    var unpriced = 0;\n"
	"    d.cost.forEach(function (r) { unpriced += num(r.unpriced_calls); });\n"
	"    if (!rows.length) {\n"
	"      empty(c, 'no cost data' + (unpriced ? ' (' + unpriced + ' calls without a price)' : ''));\n"
	"      return done('cost', 0, 'nodata');\n"
	"    }\n"
	"    var keys = days(rows);\n"
	"    var series = pivot(rows, keys, function (r) { return r.day; }, function (r) { return r.tier + ' / ' + r.model; },\n"
	"                       function (r) { return r.cost_usd; }, tierColors);\n"
	"    var n = bars(c, keys.map(dayLabel), series, { stacked: true, fmt: usd });\n"
	"    if (unpriced) html('div', 'note', c, unpriced + ' calls without a price are not counted');\n"
	"    done('cost', n);\n"
	"  }\n"
	"  function drawQueue(d) {\n"
	"    var c = box('queue'), rows = d.queue || [];\n"
	"    if (!rows.length) { empty(c, 'the review queue is empty'); return done('queue', 0); }\n"
	"    var t = html('table', '', c), hr = html('tr', '', html('thead', '', t));\n"
	"    ['#', 'ticket', 'urgency', 'category', 'tier', 'status', 'state', 'waiting'].forEach(function (h, i) {\n"
	"      html('th', i === 0 || i === 7 ? 'n' : '', hr, h);\n"
	"    });\n"
	"    var tb = html('tbody', '', t);\n"
	"    rows.forEach(function (r) {\n"
	"      var tr = html('tr', r.sla_breached ? 'breached' : '', tb);\n"
	"      html('td', 'n', tr, String(r.queue_position));\n"
	"      html('td', '', tr, String(r.ticket_id));\n"
	"      var u = html('td', '', tr, String(r.urgency || 'none'));\n"
	"      u.style.color = URGENCY[r.urgency || 'none'] || '';\n"
	"      html('td', '', tr, String(r.category || '-'));\n"
	"      html('td', '', tr, String(r.customer_tier || '-'));\n"
	"      html('td', '', tr, String(r.status));\n"
	"      html('td', '', tr, String(r.review_state) + (r.sla_breached ? ' (SLA breached)' : ''));\n"
	"      var w = num(r.waiting_s);\n"
	"      html('td', 'n', tr, w >= 3600 ? (w / 3600).toFixed(1) + ' h' : Math.round(w / 60) + ' min');\n"
	"    });\n"
	"    done('queue', rows.length);\n"
	"  }\n"
	"  function render(d) {\n"
	"    [drawVolume, drawEscalation, drawLatency, drawBacklog, drawOutcomes, drawDlq, drawCost, drawQueue]\n"
	"      .forEach(function (f) { f(d); });\n"
	"    var today = (d.volume_daily || []).slice(-1)[0];\n"
	"    document.getElementById('kpis').textContent = today ? 'tickets today: ' + today.count : '';\n"
	"    renders++;\n"
	"    document.body.dataset.renders = String(renders);\n"
	"    document.body.dataset.rendered = 'ok';\n"
	"    setStatus('updated ' + new Date(d.generated_at || Date.now()).toLocaleTimeString(), false);\n"
	"  }\n"
	"  function load() {\n"
	"    var headers = {};\n"
	"    if (token) headers.Authorization = 'Bearer ' + token;\n"
	"    fetch('dashboard/data.json', { headers: headers, cache: 'no-store' })\n"
	"      .then(function (r) {\n"
	"        return r.json().then(function (body) {\n"
	"          if (!r.ok) throw new Error('HTTP ' + r.status + (body && body.error ? ': ' + body.error : ''));\n"
	"          return body;\n"
	"        }, function () { throw new Error('HTTP ' + r.status); });\n"
	"      })\n"
	"      .then(function (d) {\n"
	"        try {\n"
	"          render(d);\n"
	"        } catch (e) {\n"
	"          document.body.dataset.rendered = 'error';\n"
	"          noteError('render: ' + e.message);\n"
	"        }\n"
	"      }, function (e) {\n"
	"        document.body.dataset.rendered = 'error';\n"
	"        setStatus('cannot load data: ' + e.message + ' (retrying)', true);\n"
	"      })\n"
	"      .then(function () { setTimeout(load, REFRESH_MS); });\n"
	"  }\n"
	"  load();\n"
	"})();\n"
	"</script>\n"
	"</body>\n"
	"</html>\n";
/* clang-format on */

/* ------------------------------------------------------ the data query */

/*
 * One round trip: a statement timeout, the supervisor views as one JSON
 * object, then the cost view on its own, last: a later migration adds it, and
 * if it is missing only that statement fails (the results before it are
 * already delivered).
 */
/* clang-format off */
static const char dash_sql[] =
	"SET statement_timeout = 10000;\n"
	"SELECT json_build_object(\n"
	" 'generated_at', now(),\n"
	" 'volume', (SELECT coalesce(json_agg(v ORDER BY v.hour, v.category), '[]') FROM (\n"
	"   SELECT hour, coalesce(category, 'none') AS category, sum(count)::bigint AS count\n"
	"     FROM metrics_volume_hourly WHERE hour > now() - interval '48 hours'\n"
	"    GROUP BY 1, 2) v),\n"
	" 'volume_daily', (SELECT coalesce(json_agg(v ORDER BY v.day), '[]') FROM (\n"
	"   SELECT day, sum(count)::bigint AS count FROM metrics_volume_daily\n"
	"    WHERE day > now() - interval '30 days' GROUP BY 1) v),\n"
	" 'escalation', (SELECT coalesce(json_agg(v ORDER BY v.day), '[]') FROM (\n"
	"   SELECT day, tickets, escalated, rate FROM metrics_escalation\n"
	"    WHERE day > now() - interval '30 days') v),\n"
	" 'escalation_reasons', (SELECT coalesce(json_agg(v ORDER BY v.count DESC, v.reason), '[]')\n"
	"   FROM (SELECT reason, count FROM metrics_escalation_reasons\n"
	"          ORDER BY count DESC, reason LIMIT 10) v),\n"
	" 'latency', (SELECT coalesce(json_agg(v ORDER BY v.tier DESC, v.model), '[]') FROM (\n"
	"   SELECT DISTINCT ON (tier, model) day, tier, model, calls, failed,\n"
	"          round(p50_ms::numeric, 1) AS p50_ms, round(p95_ms::numeric, 1) AS p95_ms\n"
	"     FROM metrics_model_latency WHERE day > now() - interval '7 days'\n"
	"    ORDER BY tier, model, day DESC) v),\n"
	" 'backlog', (SELECT coalesce(json_agg(v ORDER BY v.rank, v.urgency), '[]') FROM (\n"
	"   SELECT coalesce(urgency, 'none') AS urgency,\n"
	"          CASE urgency WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2\n"
	"                       WHEN 'low' THEN 3 ELSE 4 END AS rank,\n"
	"          awaiting, open, claimed, breached, at_risk,\n"
	"          extract(epoch FROM oldest_waiting)::bigint AS oldest_waiting_s\n"
	"     FROM metrics_backlog) v),\n"
	" 'review_outcomes', (SELECT coalesce(json_agg(v), '[]') FROM (\n"
	"   SELECT dimension, category, reviewed, accepted, edited, rejected,\n"
	"          acceptance_rate, approval_rate\n"
	"     FROM review_outcomes WHERE dimension IN ('all', 'category')) v),\n"
	" 'dlq', (SELECT coalesce(json_agg(v ORDER BY v.day, v.error_code), '[]') FROM (\n"
	"   SELECT day, error_code, count FROM metrics_dlq\n"
	"    WHERE day > now() - interval '30 days') v),\n"
	" 'queue', (SELECT coalesce(json_agg(v ORDER BY v.queue_position), '[]') FROM (\n"
	"   SELECT queue_position, ticket_id, urgency, category, customer_tier, status,\n"
	"          review_state, sla_due, sla_breached,\n"
	"          extract(epoch FROM waiting)::bigint AS waiting_s\n"
	"     FROM agent_review_queue ORDER BY queue_position LIMIT 10) v));\n"
	"SELECT coalesce(json_agg(v ORDER BY v.day, v.tier, v.model), '[]') FROM (\n"
	"  SELECT day, tier, model, calls, cost_usd, unpriced_calls FROM metrics_cost_daily\n"
	"   WHERE day > now() - interval '30 days') v;\n";
/* clang-format on */

enum { DASH_RES_SET, DASH_RES_MAIN, DASH_RES_COST };

/* ------------------------------------------------------------ the server */

enum dash_state { DASH_DOWN, DASH_CONNECTING, DASH_IDLE, DASH_BUSY };

/* A data.json request waiting for the query. */
struct waiter {
	struct http *h;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	struct waiter *prev, *next;
};

/* A response body shared by several requests (evbuffer references). */
struct shared_body {
	int refs;
	size_t len;
	char data[];
};

struct http {
	struct event_base *base;
	struct evhttp *http;
	struct pipeline *pl;
	char *token; /* NULL: no authentication */
	char *conninfo;
	int port;
	char addr[INET6_ADDRSTRLEN + 2];

	/* dashboard data: one connection, one query at a time */
	PGconn *conn;
	enum dash_state dstate;
	struct event *ev_sock;
	int ev_fd;
	short ev_what;
	struct event *ev_timeout;
	struct waiter *whead, *wtail;
	size_t nwait;
	int backoff_ms;
	int64_t retry_at_ms; /* while DOWN: no new attempt before this (monotonic) */
	int nres;	     /* results of the running query seen so far */
	char *res_main, *res_cost;
	int res_status; /* HTTP status of the first failed statement; 0 none */
	char *res_error;
};

typedef void route_fn(struct http *h, struct evhttp_request *req);

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct evbuffer *xevbuffer_new(void)
{
	struct evbuffer *b = evbuffer_new();
	if (b == NULL)
		abort(); /* OOM */
	return b;
}

static const char *reason_of(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 401:
		return "Unauthorized";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	default:
		return "Error";
	}
}

static const char *method_name(enum evhttp_cmd_type c)
{
	switch (c) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	default:
		return "OTHER";
	}
}

static const char *req_path(struct evhttp_request *req)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *p = uri ? evhttp_uri_get_path(uri) : NULL;
	return p ? p : "";
}

static void shared_unref(const void *data, size_t len, void *arg)
{
	struct shared_body *s = arg;
	if (--s->refs == 0)
		free(s);
}

/*
 * Answer req. body (len bytes) is copied, or taken by reference when shared
 * is set. HEAD gets the headers only, with the length the body would have.
 */
static void send_body(struct evhttp_request *req, int code, const char *ctype, const char *body,
		      size_t len, struct shared_body *shared)
{
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
	struct evbuffer *b = NULL;
	char q[256];

	evhttp_add_header(oh, "Content-Type", ctype);
	evhttp_add_header(oh, "Cache-Control", "no-store");
	evhttp_add_header(oh, "X-Content-Type-Options", "nosniff");
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		char cl[32];
		snprintf(cl, sizeof(cl), "%zu", len);
		evhttp_add_header(oh, "Content-Length", cl);
	} else {
		b = xevbuffer_new();
		if (shared) {
			shared->refs++;
			if (evbuffer_add_reference(b, body, len, shared_unref, shared) < 0)
				abort();
		} else if (evbuffer_add(b, body, len) < 0) {
			abort();
		}
	}
	log_debug("http request", "method=%s path=%s status=%d bytes=%zu",
		  method_name(evhttp_request_get_command(req)),
		  log_quote(q, sizeof(q), req_path(req)), code, len);
	evhttp_send_reply(req, code, reason_of(code), b);
	if (b)
		evbuffer_free(b);
}

static void send_text(struct evhttp_request *req, int code, const char *ctype, const char *text)
{
	send_body(req, code, ctype, text, strlen(text), NULL);
}

/* Answer with a JSON object (stolen). */
static void send_json(struct evhttp_request *req, int code, json_object *o)
{
	size_t len;
	const char *s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	send_body(req, code, "application/json", s, len, NULL);
	json_object_put(o);
}

static void send_error(struct evhttp_request *req, int code, const char *error, const char *detail)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "error", json_object_new_string(error));
	if (detail)
		json_object_object_add(o, "detail", json_object_new_string(detail));
	send_json(req, code, o);
}

/* ------------------------------------------------------- authentication */

/* Constant time in the content of the expected token. */
static int token_eq(const char *given, const char *want)
{
	size_t n = strlen(given), m = strlen(want);
	volatile unsigned char d = (unsigned char)(n != m);
	for (size_t i = 0; i < m; i++)
		d |=
		    (unsigned char)((unsigned char)want[i] ^ (unsigned char)(i < n ? given[i] : 0));
	return d == 0;
}

static int authorized(const struct http *h, struct evhttp_request *req)
{
	const char *a;
	const struct evhttp_uri *uri;
	const char *query;
	int ok = 0;

	if (h->token == NULL)
		return 1;
	a = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
	if (a && strncasecmp(a, "Bearer", 6) == 0 && (a[6] == ' ' || a[6] == '\t')) {
		a += 6;
		while (*a == ' ' || *a == '\t')
			a++;
		if (token_eq(a, h->token))
			return 1;
	}
	uri = evhttp_request_get_evhttp_uri(req);
	query = uri ? evhttp_uri_get_query(uri) : NULL;
	if (query) {
		struct evkeyvalq params;
		TAILQ_INIT(&params);
		if (evhttp_parse_query_str(query, &params) == 0) {
			const char *t = evhttp_find_header(&params, "token");
			ok = t && token_eq(t, h->token);
		}
		evhttp_clear_headers(&params);
	}
	return ok;
}

/* ------------------------------------------------------------ handlers */

static void on_healthz(struct http *h, struct evhttp_request *req)
{
	send_text(req, 200, "text/plain; charset=utf-8", "ok\n");
}

static void get_health(const struct http *h, struct pipeline_health *hl)
{
	memset(hl, 0, sizeof(*hl));
	hl->consumer_lag = -1;
	if (h->pl)
		pipeline_get_health(h->pl, hl);
}

static void on_readyz(struct http *h, struct evhttp_request *req)
{
	struct pipeline_health hl;
	json_object *o = json_object_new_object(), *checks = json_object_new_object();
	json_object *failed = json_object_new_array();
	int ready;

	get_health(h, &hl);
	json_object_object_add(checks, "partitions_assigned",
			       json_object_new_boolean(hl.partitions > 0));
	json_object_object_add(checks, "db_up", json_object_new_boolean(hl.db_up != 0));
	json_object_object_add(checks, "not_draining", json_object_new_boolean(!hl.draining));
	if (hl.partitions == 0)
		json_object_array_add(failed, json_object_new_string("partitions_assigned"));
	if (!hl.db_up)
		json_object_array_add(failed, json_object_new_string("db_up"));
	if (hl.draining)
		json_object_array_add(failed, json_object_new_string("not_draining"));
	ready = json_object_array_length(failed) == 0;
	json_object_object_add(o, "ready", json_object_new_boolean(ready));
	json_object_object_add(o, "checks", checks);
	json_object_object_add(o, "failed", failed);
	json_object_object_add(o, "partitions", json_object_new_int64((int64_t)hl.partitions));
	send_json(req, ready ? 200 : 503, o);
}

static void on_metrics(struct http *h, struct evhttp_request *req)
{
	struct pipeline_stats *st = xcalloc(1, sizeof(*st)); /* ~35 KiB: not on the stack */
	struct pipeline_health hl;
	struct buf b;

	buf_init(&b, METRICS_CAP);
	if (h->pl)
		pipeline_get_stats(h->pl, st);
	get_health(h, &hl);
	if (http_render_metrics(&b, st, &hl) < 0) {
		log_warn("metrics exposition larger than its cap", "cap=%u", METRICS_CAP);
		send_error(req, 500, "metrics too large", NULL);
	} else {
		send_body(req, 200, "text/plain; version=0.0.4; charset=utf-8",
			  b.data ? b.data : "", b.len, NULL);
	}
	buf_cleanup(&b);
	free(st);
}

static void on_dashboard(struct http *h, struct evhttp_request *req)
{
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
	evhttp_add_header(
	    oh, "Content-Security-Policy",
	    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
	    "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; "
	    "frame-ancestors 'none'");
	evhttp_add_header(oh, "Referrer-Policy", "no-referrer");
	send_body(req, 200, "text/html; charset=utf-8", dashboard_html, sizeof(dashboard_html) - 1,
		  NULL);
}

/* ---------------------------------------------- dashboard data (libpq) */

static void dash_on_socket(evutil_socket_t fd, short what, void *arg);
static void dash_kick(struct http *h);

static void waiter_unlink(struct http *h, struct waiter *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		h->whead = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		h->wtail = w->prev;
	h->nwait--;
	free(w);
}

/*
 * The client's connection is going away while its request waits. If
 * libevent detached the request (EOF or timeout while we held it), the
 * request is ours to free; otherwise libevent frees it with the connection.
 */
static void waiter_closecb(struct evhttp_connection *evcon, void *arg)
{
	struct waiter *w = arg;
	if (evhttp_request_get_connection(w->req) == NULL)
		evhttp_request_free(w->req);
	waiter_unlink(w->h, w);
}

static void waiter_add(struct http *h, struct evhttp_request *req)
{
	struct waiter *w = xcalloc(1, sizeof(*w));
	w->h = h;
	w->req = req;
	w->evcon = evhttp_request_get_connection(req);
	w->prev = h->wtail;
	if (h->wtail)
		h->wtail->next = w;
	else
		h->whead = w;
	h->wtail = w;
	h->nwait++;
	if (w->evcon)
		evhttp_connection_set_closecb(w->evcon, waiter_closecb, w);
}

/* Detach the first waiter and return its request (NULL when none). */
static struct evhttp_request *waiter_pop(struct http *h)
{
	struct waiter *w = h->whead;
	struct evhttp_request *req;
	if (w == NULL)
		return NULL;
	req = w->req;
	if (w->evcon)
		evhttp_connection_set_closecb(w->evcon, NULL, NULL);
	waiter_unlink(h, w);
	return req;
}

/* Answer every waiter with the same JSON body (taken). */
static void waiters_answer(struct http *h, int code, struct shared_body *body)
{
	struct evhttp_request *req;
	while ((req = waiter_pop(h)) != NULL)
		send_body(req, code, "application/json", body->data, body->len, body);
	if (--body->refs == 0)
		free(body);
}

/* A new shared body: the n parts concatenated. */
static struct shared_body *shared_new(const char *const *parts, const size_t *lens, size_t n)
{
	struct shared_body *s;
	size_t len = 0, off = 0;
	for (size_t i = 0; i < n; i++)
		len += lens[i];
	s = xmalloc(sizeof(*s) + len + 1);
	s->refs = 1;
	s->len = len;
	for (size_t i = 0; i < n; i++) {
		memcpy(s->data + off, parts[i], lens[i]);
		off += lens[i];
	}
	s->data[len] = '\0';
	return s;
}

static void waiters_error(struct http *h, int code, const char *error, const char *detail)
{
	json_object *o = json_object_new_object();
	size_t len;
	const char *s;
	json_object_object_add(o, "error", json_object_new_string(error));
	if (detail)
		json_object_object_add(o, "detail", json_object_new_string(detail));
	s = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
	waiters_answer(h, code, shared_new(&s, &len, 1));
	json_object_put(o);
}

static void dash_watch(struct http *h, short what)
{
	int fd = h->conn ? PQsocket(h->conn) : -1;
	if (h->ev_sock && (fd != h->ev_fd || what != h->ev_what)) {
		event_free(h->ev_sock);
		h->ev_sock = NULL;
	}
	if (fd < 0 || what == 0 || h->ev_sock)
		return;
	h->ev_sock = event_new(h->base, fd, what | EV_PERSIST, dash_on_socket, h);
	if (h->ev_sock == NULL)
		abort();
	h->ev_fd = fd;
	h->ev_what = what;
	event_add(h->ev_sock, NULL);
}

static void dash_arm_timeout(struct http *h, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	evtimer_add(h->ev_timeout, &tv);
}

static void dash_clear_results(struct http *h)
{
	free(h->res_main);
	free(h->res_cost);
	free(h->res_error);
	h->res_main = h->res_cost = h->res_error = NULL;
	h->res_status = 0;
	h->nres = 0;
}

static void dash_close(struct http *h)
{
	dash_watch(h, 0);
	if (h->ev_timeout)
		evtimer_del(h->ev_timeout);
	if (h->conn)
		PQfinish(h->conn);
	h->conn = NULL;
	h->dstate = DASH_DOWN;
	dash_clear_results(h);
}

/* The connection failed or timed out: close it, back off, answer the waiters 503. */
static void dash_fail(struct http *h, const char *why)
{
	char q[512], w[64];
	const char *msg = h->conn ? PQerrorMessage(h->conn) : "";

	log_warn("dashboard database unavailable", "reason=%s error=%s retry_ms=%d",
		 log_quote(w, sizeof(w), why), log_quote(q, sizeof(q), msg), h->backoff_ms);
	dash_close(h);
	h->retry_at_ms = mono_ms() + h->backoff_ms;
	h->backoff_ms =
	    h->backoff_ms * 2 > DASH_BACKOFF_MAX_MS ? DASH_BACKOFF_MAX_MS : h->backoff_ms * 2;
	waiters_error(h, 503, "database unavailable", why);
}

static void dash_flush(struct http *h)
{
	int r = PQflush(h->conn);
	if (r < 0) {
		dash_fail(h, "send failed");
		return;
	}
	dash_watch(h, r == 1 ? (EV_READ | EV_WRITE) : EV_READ);
}

static void dash_send_query(struct http *h)
{
	dash_clear_results(h);
	if (!PQsendQuery(h->conn, dash_sql)) {
		dash_fail(h, "send failed");
		return;
	}
	h->dstate = DASH_BUSY;
	dash_arm_timeout(h, DASH_QUERY_TIMEOUT_MS);
	dash_flush(h);
}

static void dash_notice(void *arg, const char *message)
{
	char q[512];
	log_debug("dashboard database notice", "notice=%s", log_quote(q, sizeof(q), message));
}

static void dash_connect_poll(struct http *h)
{
	switch (PQconnectPoll(h->conn)) {
	case PGRES_POLLING_READING:
		dash_watch(h, EV_READ);
		break;
	case PGRES_POLLING_WRITING:
		dash_watch(h, EV_WRITE);
		break;
	case PGRES_POLLING_OK:
		if (PQsetnonblocking(h->conn, 1) != 0) {
			dash_fail(h, "setup failed");
			return;
		}
		PQsetNoticeProcessor(h->conn, dash_notice, NULL);
		evtimer_del(h->ev_timeout);
		h->dstate = DASH_IDLE;
		h->backoff_ms = DASH_BACKOFF_MIN_MS;
		dash_watch(h, EV_READ);
		log_debug("dashboard database connected", "%s", "");
		dash_kick(h);
		break;
	case PGRES_POLLING_FAILED:
	default:
		dash_fail(h, "cannot connect");
		break;
	}
}

static void dash_connect(struct http *h)
{
	/* the configured conninfo (or URI) first; fallback_application_name yields to it */
	const char *const keys[] = {"dbname", "fallback_application_name", NULL};
	const char *const vals[] = {h->conninfo, "triaged-dashboard", NULL};

	h->conn = PQconnectStartParams(keys, vals, 1);
	if (h->conn == NULL || PQstatus(h->conn) == CONNECTION_BAD) {
		dash_fail(h, "cannot connect");
		return;
	}
	h->dstate = DASH_CONNECTING;
	dash_arm_timeout(h, DASH_CONNECT_TIMEOUT_MS);
	dash_connect_poll(h);
}

/* Connection-level trouble shows as these SQLSTATE classes: the database is unavailable. */
static int sqlstate_unavailable(const char *s)
{
	return s &&
	       (strncmp(s, "08", 2) == 0 || strncmp(s, "57", 2) == 0 || strncmp(s, "53", 2) == 0);
}

static void dash_take_result(struct http *h, PGresult *res)
{
	int idx = h->nres++;
	ExecStatusType st = PQresultStatus(res);
	const char *sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	if (st == PGRES_FATAL_ERROR && idx == DASH_RES_COST) {
		/* 42P01: no metrics_cost_daily yet; anything else is logged, cost stays null */
		if (sqlstate == NULL || strcmp(sqlstate, "42P01") != 0) {
			char q[512];
			log_warn("dashboard cost query failed", "sqlstate=%s error=%s",
				 sqlstate ? sqlstate : "-",
				 log_quote(q, sizeof(q), PQresultErrorMessage(res)));
		}
		return;
	}
	if (st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR || st == PGRES_BAD_RESPONSE) {
		const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		if (h->res_status == 0) {
			h->res_status = sqlstate_unavailable(sqlstate) ? 503 : 500;
			h->res_error = xasprintf("%s: %s", sqlstate ? sqlstate : "-",
						 primary ? primary : "query failed");
		}
		return;
	}
	if (idx == DASH_RES_MAIN || idx == DASH_RES_COST) {
		char **dst = idx == DASH_RES_MAIN ? &h->res_main : &h->res_cost;
		if (st != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQnfields(res) != 1 ||
		    PQgetisnull(res, 0, 0)) {
			if (idx == DASH_RES_MAIN && h->res_status == 0) {
				h->res_status = 500;
				h->res_error = xstrdup("unexpected result shape");
			}
			return;
		}
		if ((size_t)PQgetlength(res, 0, 0) > DASH_BODY_CAP) {
			if (idx == DASH_RES_MAIN && h->res_status == 0) {
				h->res_status = 500;
				h->res_error =
				    xasprintf("data larger than %u bytes", DASH_BODY_CAP);
			}
			return;
		}
		*dst = xstrndup(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
	}
}

/* The query has finished: answer every waiter with its result. */
static void dash_finish(struct http *h)
{
	const char *cost = h->res_cost ? h->res_cost : "null";
	size_t mlen = h->res_main ? strlen(h->res_main) : 0, clen = strlen(cost);

	evtimer_del(h->ev_timeout);
	h->dstate = DASH_IDLE;
	if (h->res_status == 0 && (mlen < 2 || h->res_main[mlen - 1] != '}')) {
		h->res_status = 500;
		h->res_error = xstrdup("no data returned");
	}
	if (h->res_status == 0 && mlen + clen > DASH_BODY_CAP) {
		cost = "null";
		clen = 4;
	}
	if (h->res_status != 0) {
		char q[512];
		log_warn("dashboard query failed", "status=%d error=%s", h->res_status,
			 log_quote(q, sizeof(q), h->res_error));
		waiters_error(h, h->res_status,
			      h->res_status == 503 ? "database unavailable" : "query failed",
			      h->res_error);
	} else {
		/* {...main...} -> {...main..., "cost": <cost>} */
		const char *parts[] = {h->res_main, ", \"cost\" : ", cost, "}"};
		const size_t lens[] = {mlen - 1, strlen(parts[1]), clen, 1};
		waiters_answer(h, 200, shared_new(parts, lens, ARRAY_SIZE(parts)));
	}
	dash_clear_results(h);
	if (PQstatus(h->conn) == CONNECTION_BAD)
		dash_close(h); /* reconnect on the next request, without waiting */
}

static void dash_read(struct http *h)
{
	if (!PQconsumeInput(h->conn)) {
		dash_fail(h, "connection lost");
		return;
	}
	while (!PQisBusy(h->conn)) {
		PGresult *res = PQgetResult(h->conn);
		if (res == NULL) {
			dash_finish(h);
			return;
		}
		dash_take_result(h, res);
		PQclear(res);
	}
}

static void dash_on_socket(evutil_socket_t fd, short what, void *arg)
{
	struct http *h = arg;
	switch (h->dstate) {
	case DASH_CONNECTING:
		dash_connect_poll(h);
		break;
	case DASH_BUSY:
		if (what & EV_WRITE) {
			dash_flush(h);
			if (h->dstate != DASH_BUSY)
				break;
		}
		if (what & EV_READ)
			dash_read(h);
		break;
	case DASH_IDLE:
		/* the server closed an idle connection (restart, idle timeout): drop it quietly */
		if (!PQconsumeInput(h->conn) || PQstatus(h->conn) == CONNECTION_BAD) {
			log_info("dashboard database connection closed", "%s", "");
			dash_close(h);
		}
		break;
	case DASH_DOWN:
		break;
	}
}

static void dash_on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct http *h = arg;
	dash_fail(h, h->dstate == DASH_CONNECTING ? "connect timeout" : "query timeout");
}

static void dash_kick(struct http *h)
{
	if (h->nwait == 0)
		return;
	switch (h->dstate) {
	case DASH_DOWN:
		dash_connect(h);
		break;
	case DASH_IDLE:
		dash_send_query(h);
		break;
	case DASH_CONNECTING:
	case DASH_BUSY:
		break; /* the running step answers every waiter */
	}
}

static void on_data(struct http *h, struct evhttp_request *req)
{
	if (h->conninfo == NULL) {
		send_error(req, 503, "database unavailable", "no database configured");
		return;
	}
	if (h->nwait >= DASH_MAX_WAITERS) {
		send_error(req, 503, "busy", "too many requests waiting for the data query");
		return;
	}
	if (h->dstate == DASH_DOWN && mono_ms() < h->retry_at_ms) {
		send_error(req, 503, "database unavailable", "reconnecting");
		return;
	}
	waiter_add(h, req);
	dash_kick(h);
}

/* --------------------------------------------------------------- routing */

static const struct route {
	const char *path;
	int auth;
	route_fn *fn;
} routes[] = {
    {"/healthz", 0, on_healthz},	  {"/readyz", 0, on_readyz},
    {"/metrics", 1, on_metrics},	  {"/dashboard", 1, on_dashboard},
    {"/dashboard/data.json", 1, on_data},
};

static void on_request(struct evhttp_request *req, void *arg)
{
	struct http *h = arg;
	const char *path = req_path(req);
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const struct route *r = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(routes); i++)
		if (strcmp(routes[i].path, path) == 0)
			r = &routes[i];
	if (r == NULL) {
		send_error(req, 404, "not found", NULL);
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		send_error(req, 405, "method not allowed", NULL);
		return;
	}
	if (r->auth && !authorized(h, req)) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
				  "Bearer realm=\"triaged\"");
		send_error(req, 401, "unauthorized", "send Authorization: Bearer <http.token>");
		return;
	}
	r->fn(h, req);
}

/* ------------------------------------------------------------ lifecycle */

static int addr_is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		const uint8_t *a = in6->sin6_addr.s6_addr;
		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return 1;
		return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && a[12] == 127;
	}
	return 0;
}

/* "host:port" or "[v6]:port" -> host (without brackets) and port. */
static int split_listen(const char *listen, char *host, size_t hostlen, int *port, char *err,
			size_t errlen)
{
	const char *colon, *hs = listen, *he;
	int64_t p;

	if (listen[0] == '[') {
		hs = listen + 1;
		he = strchr(hs, ']');
		if (he == NULL || he[1] != ':') {
			set_err(err, errlen, "http.listen '%s': expected [address]:port", listen);
			return -1;
		}
		colon = he + 1;
	} else {
		colon = strrchr(listen, ':');
		he = colon;
	}
	if (colon == NULL || he == hs || parse_int64(colon + 1, 0, 65535, &p) < 0) {
		set_err(err, errlen, "http.listen '%s': expected host:port (port 0-65535)", listen);
		return -1;
	}
	if ((size_t)(he - hs) >= hostlen) {
		set_err(err, errlen, "http.listen '%s': host too long", listen);
		return -1;
	}
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	*port = (int)p;
	return 0;
}

struct http *http_new(struct event_base *base, const char *listen, const char *token,
		      const char *pg_conninfo, struct pipeline *pl, char *err, size_t errlen)
{
	struct http *h = xcalloc(1, sizeof(*h));
	struct evhttp_bound_socket *sock;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[256];
	int port;

	h->base = base;
	h->pl = pl;
	h->token = token && *token ? xstrdup(token) : NULL;
	h->conninfo = pg_conninfo && *pg_conninfo ? xstrdup(pg_conninfo) : NULL;
	h->backoff_ms = DASH_BACKOFF_MIN_MS;
	h->ev_fd = -1;
	if (split_listen(listen ? listen : "", host, sizeof(host), &port, err, errlen) < 0)
		goto fail;
	h->ev_timeout = evtimer_new(base, dash_on_timeout, h);
	h->http = evhttp_new(base);
	if (h->ev_timeout == NULL || h->http == NULL) {
		set_err(err, errlen, "http: out of memory");
		goto fail;
	}
	evhttp_set_max_headers_size(h->http, HTTP_MAX_HEADERS_BYTES);
	evhttp_set_max_body_size(h->http, HTTP_MAX_BODY_BYTES);
	evhttp_set_timeout(h->http, HTTP_IDLE_TIMEOUT_S);
	/* every method reaches on_request, which answers 405 itself (evhttp would say 501) */
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
						EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
						EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(h->http, on_request, h);
	sock = evhttp_bind_socket_with_handle(h->http, host, (ev_uint16_t)port);
	if (sock == NULL) {
		set_err(err, errlen, "http.listen %s: cannot bind (address in use or not local?)",
			listen);
		goto fail;
	}
	if (getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &sl) < 0) {
		set_err(err, errlen, "http.listen %s: getsockname failed", listen);
		goto fail;
	}
	if (!addr_is_loopback(&ss) && h->token == NULL) {
		set_err(err, errlen,
			"http.listen %s is not a loopback address: set http.token "
			"(TRIAGED_HTTP_TOKEN) to expose it",
			listen);
		goto fail;
	}
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
		char a[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, &in6->sin6_addr, a, sizeof(a));
		snprintf(h->addr, sizeof(h->addr), "[%s]", a);
		h->port = ntohs(in6->sin6_port);
	} else {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &in->sin_addr, h->addr, sizeof(h->addr));
		h->port = ntohs(in->sin_port);
	}
	log_info("http listening", "addr=%s port=%d auth=%s dashboard=%s", h->addr, h->port,
		 h->token ? "token" : "none", h->conninfo ? "on" : "off");
	return h;
fail:
	http_free(h);
	return NULL;
}

void http_free(struct http *h)
{
	if (h == NULL)
		return;
	waiters_error(h, 503, "shutting down", NULL);
	dash_close(h);
	if (h->ev_timeout)
		event_free(h->ev_timeout);
	if (h->http)
		evhttp_free(h->http);
	free(h->token);
	free(h->conninfo);
	free(h);
}

int http_port(const struct http *h)
{
	return h ? h->port : -1;
}
