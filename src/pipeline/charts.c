/* gnuplot driver: one script per chart, data inline, PNG then SVG. */
#include "pipeline/charts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "pipeline/pipeline.h"

int ss_gnuplot_find(const char *gnuplot, char *path, size_t cap) {
    if (!gnuplot || !*gnuplot) gnuplot = "gnuplot";
    if (strchr(gnuplot, '/')) {
        snprintf(path, cap, "%s", gnuplot);
        return access(path, X_OK) == 0;
    }
    const char *env = getenv("PATH");
    char *dirs = strdup(env && *env ? env : "/usr/local/bin:/usr/bin:/bin");
    if (!dirs) return 0;
    int found = 0;
    char *save = NULL;
    for (char *d = strtok_r(dirs, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
        snprintf(path, cap, "%s/%s", *d ? d : ".", gnuplot);
        found = access(path, X_OK) == 0;
    }
    free(dirs);
    return found;
}

/* gnuplot string literal: double quotes, with \ and " escaped. */
static void put_quoted(FILE *fp, const char *s) {
    fputc('"', fp);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', fp);
        fputc(*s, fp);
    }
    fputc('"', fp);
}

static void write_script(FILE *fp, const ss_chart *c, const char *png_tmp, const char *svg_tmp) {
    for (int i = 0; i < c->n_series; i++) {
        fprintf(fp, "$d%d << EOD\n", i);
        for (int k = 0; k < c->series[i].n; k++)
            fprintf(fp, "%lld %.6g\n", (long long)c->series[i].x[k], c->series[i].y[k]);
        fprintf(fp, "EOD\n");
    }
    /* x tics at the measured M values (a union of the series') */
    int64_t ticks[256];
    int nt = 0;
    for (int i = 0; i < c->n_series; i++)
        for (int k = 0; k < c->series[i].n; k++) {
            int64_t x = c->series[i].x[k];
            int seen = 0;
            for (int t = 0; t < nt; t++) seen |= ticks[t] == x;
            if (!seen && nt < 256) ticks[nt++] = x;
        }
    fprintf(fp, "set terminal pngcairo size 960,600 noenhanced font 'sans,11'\nset output ");
    put_quoted(fp, png_tmp);
    fprintf(fp, "\nset title ");
    put_quoted(fp, c->title);
    fprintf(fp, "\nset xlabel ");
    put_quoted(fp, c->xlabel);
    fprintf(fp, "\nset ylabel ");
    put_quoted(fp, c->ylabel);
    fprintf(fp, "\nset logscale x 2\nset grid\nset key outside right top\nset xtics (");
    for (int t = 0; t < nt; t++) fprintf(fp, "%s%lld", t ? ", " : "", (long long)ticks[t]);
    /* room above the highest line, so an ideal of 2.0 does not sit on the border */
    double ymax = c->parity_line ? 1.0 : 0.0;
    for (int i = 0; i < c->n_series; i++) {
        if (c->series[i].ideal > ymax) ymax = c->series[i].ideal;
        for (int k = 0; k < c->series[i].n; k++)
            if (c->series[i].y[k] > ymax) ymax = c->series[i].y[k];
    }
    int64_t xmin = ticks[0], xmax = ticks[0];
    for (int t = 1; t < nt; t++) {
        if (ticks[t] < xmin) xmin = ticks[t];
        if (ticks[t] > xmax) xmax = ticks[t];
    }
    /* a margin on both sides so the end tics show on the log axis */
    fprintf(fp, ")\nset xtics rotate by -45\nset xrange [%.6g:%.6g]\nset yrange [0:%.3g]\nplot ", (double)xmin / 1.3,
            (double)xmax * 1.3, ymax > 0 ? ymax * 1.12 : 1.0);
    int first = 1;
    for (int i = 0; i < c->n_series; i++) {
        fprintf(fp, "%s$d%d with linespoints lw 2 pt 7 lc %d title ", first ? "" : ", ", i, i + 1);
        put_quoted(fp, c->series[i].label);
        first = 0;
        if (c->series[i].ideal > 0) {
            char t[96];
            snprintf(t, sizeof t, "%s ideal %.2f", c->series[i].label, c->series[i].ideal);
            fprintf(fp, ", %.6g with lines dt 2 lw 1 lc %d title ", c->series[i].ideal, i + 1);
            put_quoted(fp, t);
        }
    }
    if (c->parity_line) fprintf(fp, "%s1 with lines dt 3 lw 1 lc rgb 'black' title 'dense = 1'", first ? "" : ", ");
    fprintf(fp, "\nset terminal svg size 960,600 dynamic noenhanced font 'sans,11'\nset output ");
    put_quoted(fp, svg_tmp);
    fprintf(fp, "\nreplot\nunset output\n");
}

ss_status ss_chart_draw(const char *gnuplot_path, const ss_chart *c, const char *out_base) {
    if (c->n_series <= 0) return ss_fail(SS_ERR_ARG, "%s: a chart without data", out_base);
    char script[4400], png[4400], svg[4400], png_tmp[4500], svg_tmp[4500];
    long pid = (long)getpid();
    snprintf(script, sizeof script, "%s.gp.tmp.%ld", out_base, pid);
    snprintf(png, sizeof png, "%s.png", out_base);
    snprintf(svg, sizeof svg, "%s.svg", out_base);
    snprintf(png_tmp, sizeof png_tmp, "%s.tmp.%ld", png, pid);
    snprintf(svg_tmp, sizeof svg_tmp, "%s.tmp.%ld", svg, pid);
    FILE *fp = fopen(script, "w");
    if (!fp) return ss_fail_errno("cannot create %s", script);
    write_script(fp, c, png_tmp, svg_tmp);
    if (fclose(fp) != 0) {
        unlink(script);
        return ss_fail_errno("writing %s", script);
    }
    char *argv[] = {"gnuplot", script, NULL};
    ss_child_result r;
    ss_status st = ss_run_child(gnuplot_path, argv, NULL, 60, NULL, 0, &r);
    if (st == SS_OK && (r.exit_code != 0 || r.term_signal))
        st = ss_fail(SS_ERR_IO, "%s: gnuplot failed (%s)", out_base, r.error);
    if (st == SS_OK && (ss_file_size(png_tmp) <= 0 || ss_file_size(svg_tmp) <= 0))
        st = ss_fail(SS_ERR_IO, "%s: gnuplot wrote no image", out_base);
    if (st == SS_OK && rename(png_tmp, png) != 0) st = ss_fail_errno("renaming %s", png_tmp);
    if (st == SS_OK && rename(svg_tmp, svg) != 0) st = ss_fail_errno("renaming %s", svg_tmp);
    unlink(script);
    unlink(png_tmp);
    unlink(svg_tmp);
    return st;
}
