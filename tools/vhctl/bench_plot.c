// SPDX-License-Identifier: BSD-3-Clause
/*
 * vhctl blk bench --plot FILE.svg: IOPS and mean latency per second of the timed phase, two
 * panels one above the other, written as a standalone SVG 1.1 file (no script, no fonts).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

#define PLOT_W	   800.0
#define PANEL_H	   240.0
#define MARGIN_L   80.0
#define MARGIN_R   20.0
#define MARGIN_T   50.0
#define PANEL_GAP  60.0
#define PLOT_TICKS 5

struct panel {
	const char *title;
	const char *color;
	double top; /* y of the panel's top edge */
	double max; /* the y axis runs 0..max */
};

/* A round axis maximum (1, 2 or 5 times a power of ten) at or above @v. */
static double nice_max(double v)
{
	double p, f;

	if (!(v > 0))
		return 1;
	p = pow(10, floor(log10(v)));
	f = v / p;
	return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
}

static double px(double t, double tmax)
{
	return MARGIN_L + (PLOT_W - MARGIN_L - MARGIN_R) * (tmax > 0 ? t / tmax : 0);
}

static double py(const struct panel *p, double v)
{
	return p->top + PANEL_H * (1 - v / p->max);
}

static void axes(FILE *f, const struct panel *p, double tmax)
{
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\">%s</text>\n", MARGIN_L,
		p->top - 10, p->title);
	fprintf(f,
		"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" "
		"stroke=\"#444\"/>\n",
		MARGIN_L, p->top, PLOT_W - MARGIN_L - MARGIN_R, PANEL_H);
	for (int i = 0; i <= PLOT_TICKS; i++) {
		double v = p->max * i / PLOT_TICKS;

		fprintf(
		    f,
		    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n"
		    "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%g</text>\n",
		    MARGIN_L, py(p, v), PLOT_W - MARGIN_R, py(p, v), MARGIN_L - 6, py(p, v) + 4, v);
	}
	for (int i = 0; i <= PLOT_TICKS; i++) {
		double t = tmax * i / PLOT_TICKS;

		fprintf(f,
			"<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">%.0f "
			"s</text>\n",
			px(t, tmax), p->top + PANEL_H + 16, t);
	}
}

static void line(FILE *f, const struct panel *p, const struct bench_sample *s, unsigned n,
		 double tmax, bool lat)
{
	fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", p->color);
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "%s%.1f,%.1f", i ? " " : "", px(s[i].t, tmax),
			py(p, lat ? s[i].lat_avg_us : s[i].iops));
	fprintf(f, "\"/>\n");
	for (unsigned i = 0; i < n; i++)
		fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n",
			px(s[i].t, tmax), py(p, lat ? s[i].lat_avg_us : s[i].iops), p->color);
}

int bench_plot(const char *file, const struct bench_opts *o, const struct bench_sample *s,
	       unsigned n)
{
	struct panel iops = { "IOPS", "#1f77b4", MARGIN_T, 0 };
	struct panel lat = { "mean latency (us)", "#d62728", MARGIN_T + PANEL_H + PANEL_GAP, 0 };
	double tmax = n ? s[n - 1].t : 1;
	FILE *f = fopen(file, "w");
	int err;

	if (!f) {
		err = -errno;
		vhctl_err("blk bench: --plot %s: %s", file, strerror(errno));
		return err;
	}
	for (unsigned i = 0; i < n; i++) {
		iops.max = s[i].iops > iops.max ? s[i].iops : iops.max;
		lat.max = s[i].lat_avg_us > lat.max ? s[i].lat_avg_us : lat.max;
	}
	iops.max = nice_max(iops.max);
	lat.max = nice_max(lat.max);
	fprintf(f,
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%.0f\" "
		"height=\"%.0f\" font-family=\"sans-serif\">\n"
		"<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
		"<text x=\"%.1f\" y=\"22\" font-size=\"15\" font-weight=\"bold\">vhctl blk bench: "
		"%s bs=%u iodepth=%u queues=%u (%u one-second samples)</text>\n",
		PLOT_W, lat.top + PANEL_H + 40, MARGIN_L, o->rw_name, o->bs, o->iodepth, o->queues,
		n);
	axes(f, &iops, tmax);
	axes(f, &lat, tmax);
	line(f, &iops, s, n, tmax, false);
	line(f, &lat, s, n, tmax, true);
	fprintf(f, "</svg>\n");
	if (fclose(f) != 0) {
		err = -errno;
		vhctl_err("blk bench: --plot %s: %s", file, strerror(errno));
		return err;
	}
	return 0;
}
