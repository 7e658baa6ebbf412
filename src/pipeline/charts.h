/* Line charts through gnuplot (an external program, found in PATH): the
 * report's speedup-vs-M charts, written as PNG and SVG. */
#ifndef SS_PIPELINE_CHARTS_H
#define SS_PIPELINE_CHARTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct ss_chart_series {
    const char *label;  /* e.g. "2_4" */
    const int64_t *x;   /* [n] M values, increasing */
    const double *y;    /* [n] */
    int n;
    double ideal;       /* drawn as a dashed line of the same colour; <= 0: none */
} ss_chart_series;

typedef struct ss_chart {
    const char *title;
    const char *xlabel, *ylabel;
    const ss_chart_series *series;
    int n_series;
    int parity_line;    /* draw y = 1 (dense) */
} ss_chart;

/* Full path of the gnuplot program ("gnuplot" searched in PATH, or a path);
 * 0 when there is none. */
int ss_gnuplot_find(const char *gnuplot, char *path, size_t cap);

/* Writes <out_base>.png and <out_base>.svg (atomically: gnuplot writes
 * temporary files that are renamed once it succeeded). */
ss_status ss_chart_draw(const char *gnuplot_path, const ss_chart *c, const char *out_base);

#endif
