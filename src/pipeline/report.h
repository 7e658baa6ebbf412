/* The final report of a pipeline run, rebuilt from files alone:
 * <dir>/pipeline_state.json (statuses, times, errors; optional) and the
 * result tree <dir>/results (or <dir> itself when it is a result tree).
 *
 * Writes <dir>/report.md in the shape of the reference system's BitNet
 * report (overall table with status and time per task, model preparation,
 * tuning, prefill and decode status grids per dtype, kernel status per dtype
 * and sparsity with point counts, error summary, result file layout, data
 * completeness, conclusion), and beyond it the numbers: tokens/s tables
 * (prompt + output tokens, as the reference counted them, and output tokens
 * alone), sparse/dense speedup tables next to the ideal L/(L-2), and charts
 * of speedup vs M per sparsity for prefill, decode and kernels as PNG and
 * SVG in <dir>/charts/ (drawn by gnuplot; without gnuplot the report says
 * so, and `slidesparse report DIR` can be rerun where it is installed).
 * <dir>/report.json carries the same data.
 *
 * What it reads from the result tree (see bench/throughput_results.h):
 *   throughput_benchmark_results/<stage>/<HW>_<DTYPE>_<TOOLCHAIN>/<backend>[/<2_L>]/<Model>_<stage>.csv
 *     columns by name: M_prefill | M_decode, tokens_per_s, and output_tokens_per_s
 *     (else requests_per_s x output_len, output_len 1 for prefill)
 *   benchmark_kernel/{cuBLASLt,cuSPARSELt}/.../<DTYPE>/<name>[_2_L].csv
 *     columns by name: M, N, K and the GEMM's latency in microseconds (lat_us_1,
 *     lat_us, gemm_us or latency_us: the best algorithm's); dtype from the folder,
 *     sparsity from the file name's "_2_L" suffix.
 */
#ifndef SS_PIPELINE_REPORT_H
#define SS_PIPELINE_REPORT_H

#include "core/status.h"

typedef struct ss_report_opts {
    const char *dir;        /* pipeline output folder, or a bare result tree */
    const char *out_md;     /* default <dir>/report.md */
    const char *out_json;   /* default <dir>/report.json */
    const char *charts_dir; /* default <dir>/charts */
    int charts;             /* draw charts (default 1) */
    const char *gnuplot;    /* gnuplot program (default "gnuplot", found in PATH) */
    const char *now;        /* the "generated" time; NULL = now (tests fix it) */
} ss_report_opts;

void ss_report_defaults(ss_report_opts *o);

/* Writes report.md, report.json and the charts (each file atomically). */
ss_status ss_report_write(const ss_report_opts *o);

/* Ideal sparse/dense speedup of 2_L: 2 / expansion = L / (L - 2); 1 for 2_inf. */
double ss_ideal_speedup(const char *sparsity);

#endif
