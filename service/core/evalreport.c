/*
 * evalreport: the lab's HTML report. See evalreport.h.
 */
#include "evalreport.h"

#include <string.h>

#define W 640.0
#define H 340.0
#define PAD 50.0

static int esc(struct buf *out, const char *s)
{
	for (; *s; s++) {
		const char *r = NULL;
		switch (*s) {
		case '<': r = "&lt;"; break;
		case '>': r = "&gt;"; break;
		case '&': r = "&amp;"; break;
		case '"': r = "&quot;"; break;
		default: break;
		}
		if (r ? buf_append(out, r, strlen(r)) : buf_append(out, s, 1))
			return -1;
	}
	return 0;
}

struct axes {
	double xmax, ymin, ymax;
};

static double px(const struct axes *a, double cost)
{
	return PAD + (W - 2 * PAD) * (a->xmax > 0 ? cost / a->xmax : 0);
}

static double py(const struct axes *a, double acc)
{
	return H - PAD - (H - 2 * PAD) * (acc - a->ymin) / (a->ymax - a->ymin);
}

static int point(struct buf *out, const struct axes *a, const struct evalstats_point *p, const char *label,
		 const char *color)
{
	return buf_appendf(out,
			   "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"/>"
			   "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" fill=\"%s\">%s (%.2f%%)</text>\n",
			   px(a, p->cost_per_1000), py(a, p->accuracy), color, px(a, p->cost_per_1000) + 8,
			   py(a, p->accuracy) - 8, color, label, 100.0 * p->accuracy);
}

static int svg(const struct evalstats_calibration *c, struct buf *out)
{
	struct axes a = {c->flagship_only.cost_per_1000, c->mini_only.accuracy, c->flagship_only.accuracy};

	for (int j = 0; j < EVALSTATS_NSTEPS; j++) {
		if (c->curve[j].cost_per_1000 > a.xmax)
			a.xmax = c->curve[j].cost_per_1000;
		if (c->curve[j].accuracy < a.ymin)
			a.ymin = c->curve[j].accuracy;
		if (c->curve[j].accuracy > a.ymax)
			a.ymax = c->curve[j].accuracy;
	}
	a.xmax *= 1.05;
	a.ymin -= 0.01;
	a.ymax += 0.01;
	if (buf_appendf(out,
			"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" role=\"img\" "
			"aria-label=\"cost against accuracy\">\n"
			"<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n"
			"<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#333\"/>"
			"<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#333\"/>\n"
			"<text x=\"%.0f\" y=\"%.0f\" font-size=\"12\" text-anchor=\"middle\">cost per 1,000 tickets "
			"(0 to %.4g)</text>\n"
			"<text x=\"14\" y=\"%.0f\" font-size=\"12\" transform=\"rotate(-90 14 %.0f)\" "
			"text-anchor=\"middle\">accuracy (%.1f%% to %.1f%%)</text>\n<polyline fill=\"none\" "
			"stroke=\"#2a6fdb\" stroke-width=\"2\" points=\"",
			W, H, PAD, H - PAD, W - PAD, H - PAD, PAD, PAD, PAD, H - PAD, W / 2, H - 14, a.xmax, H / 2,
			H / 2, 100 * a.ymin, 100 * a.ymax) != 0)
		return -1;
	for (int j = 0; j < EVALSTATS_NSTEPS; j++)
		if (buf_appendf(out, "%.1f,%.1f ", px(&a, c->curve[j].cost_per_1000), py(&a, c->curve[j].accuracy)))
			return -1;
	if (buf_appendf(out, "\"/>\n") != 0 || point(out, &a, &c->mini_only, "mini only", "#555") != 0 ||
	    point(out, &a, &c->flagship_only, "flagship only", "#b00") != 0)
		return -1;
	if (c->global_found && point(out, &a, &c->global, "global threshold", "#2a6fdb") != 0)
		return -1;
	if (c->per_category_found && point(out, &a, &c->per_category, "per category", "#080") != 0)
		return -1;
	return buf_appendf(out, "</svg>\n");
}

static int row(struct buf *out, const char *name, const struct evalstats_point *p)
{
	return buf_appendf(out,
			   "<tr><td>%s</td><td>%.2f%%</td><td>%.4f</td><td>%.1f%%</td><td>%.4g</td>"
			   "<td>%.0f / %.0f</td></tr>\n",
			   name, 100 * p->accuracy, p->macro_f1, 100 * p->flagship_share, p->cost_per_1000, p->p50_ms,
			   p->p95_ms);
}

static int hrow(struct buf *out, const char *name, const struct evalstats_point *fit,
		const struct evalstats_point *held)
{
	return buf_appendf(out,
			   "<tr><td>%s</td><td>%.2f%%</td><td>%.4g</td><td>%.2f%%</td><td>%.4g</td><td>%.1f%%</td></tr>\n",
			   name, 100 * fit->accuracy, fit->cost_per_1000, 100 * held->accuracy, held->cost_per_1000,
			   100 * held->flagship_share);
}

static int holdout_section(const struct evalstats_holdout *h, struct buf *out)
{
	if (buf_appendf(out,
			"<h2>Held-out check</h2>\n<p>Thresholds fitted on %zu tickets, scored on %zu others they "
			"never saw.</p>\n<table><tr><th>configuration</th><th>fit accuracy</th><th>fit cost per "
			"1,000</th><th>held-out accuracy</th><th>held-out cost per 1,000</th><th>held-out flagship "
			"share</th></tr>\n",
			h->n_fit, h->n_test) ||
	    hrow(out, "mini only", &h->fit.mini_only, &h->test_mini_only) ||
	    hrow(out, "flagship only", &h->fit.flagship_only, &h->test_flagship_only))
		return -1;
	if (h->fit.global_found && hrow(out, "calibrated, global threshold", &h->fit.global, &h->test_global))
		return -1;
	if (h->fit.per_category_found &&
	    hrow(out, "calibrated, per category", &h->fit.per_category, &h->test_per_category))
		return -1;
	return buf_appendf(out, "</table>\n");
}

int evalreport_html(const struct evalstats_calibration *c, const struct evalstats_holdout *h,
		    const unsigned *confusion, const char *const *names, size_t ncat, const char *title,
		    struct buf *out)
{
	if (buf_appendf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>") ||
	    esc(out, title) ||
	    buf_appendf(out, "</title>\n<style>body{font-family:sans-serif;margin:2em;color:#222}"
			     "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
			     "text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}"
			     "td.d{background:#dfd}td.w{background:#fdd}</style></head><body>\n<h1>") ||
	    esc(out, title) || buf_appendf(out, "</h1>\n<h2>Configurations</h2>\n<table><tr><th>configuration</th>"
					       "<th>accuracy</th><th>macro-F1</th><th>flagship share</th>"
					       "<th>cost per 1,000</th><th>latency p50 / p95 ms</th></tr>\n"))
		return -1;
	if (row(out, "mini only", &c->mini_only) || row(out, "flagship only", &c->flagship_only))
		return -1;
	if (c->global_found && row(out, "calibrated, global threshold", &c->global))
		return -1;
	if (c->per_category_found && row(out, "calibrated, per category", &c->per_category))
		return -1;
	if (buf_appendf(out, "</table>\n<p>Target: %.2f%% (flagship only minus %.2f points).</p>\n"
			     "<h2>Cost against accuracy</h2>\n",
			100 * c->target, 100 * c->tolerance) ||
	    svg(c, out))
		return -1;
	if (h && holdout_section(h, out))
		return -1;
	if (buf_appendf(out, "<h2>Confusion matrix (rows: gold, columns: answer)</h2>\n<table><tr><th>gold</th>"))
		return -1;
	for (size_t p = 0; p < ncat; p++)
		if (buf_appendf(out, "<th>") || esc(out, names[p]) || buf_appendf(out, "</th>"))
			return -1;
	if (buf_appendf(out, "<th>invalid</th></tr>\n"))
		return -1;
	for (size_t g = 0; g < ncat; g++) {
		if (buf_appendf(out, "<tr><td>") || esc(out, names[g]) || buf_appendf(out, "</td>"))
			return -1;
		for (size_t p = 0; p <= ncat; p++) {
			unsigned v = confusion[g * (ncat + 1) + p];
			const char *cls = p == g ? " class=\"d\"" : v ? " class=\"w\"" : "";
			if (buf_appendf(out, "<td%s>%u</td>", cls, v))
				return -1;
		}
		if (buf_appendf(out, "</tr>\n"))
			return -1;
	}
	if (buf_appendf(out, "</table>\n<h2>Accuracy per category</h2>\n<table><tr><th>category</th><th>tickets</th>"
			     "<th>accuracy</th></tr>\n"))
		return -1;
	for (size_t g = 0; g < ncat; g++) {
		unsigned total = 0;
		for (size_t p = 0; p <= ncat; p++)
			total += confusion[g * (ncat + 1) + p];
		if (total == 0)
			continue;
		if (buf_appendf(out, "<tr><td>") || esc(out, names[g]) ||
		    buf_appendf(out, "</td><td>%u</td><td>%.1f%%</td></tr>\n", total,
				100.0 * confusion[g * (ncat + 1) + g] / total))
			return -1;
	}
	return buf_appendf(out, "</table>\n</body></html>\n");
}
