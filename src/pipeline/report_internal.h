/* Shared by the report's files (report.c: helpers, title block, driver;
 * report_jobs.c: summary, models, tuning, errors; report_bench.c:
 * throughput and kernel sections; report_quality.c: perplexity;
 * report_layout.c: result layout; report_conclusion.c: completeness and
 * conclusion). */
#ifndef SS_PIPELINE_REPORT_INTERNAL_H
#define SS_PIPELINE_REPORT_INTERNAL_H

#include <jansson.h>
#include <stdio.h>

#include "pipeline/report.h"
#include "pipeline/report_data.h"

#define RP_MAX_M 64
#define RP_MAX_ROWS 16

/* A completeness line: what a category expected and what it has. */
typedef struct rp_category {
    char name[64];      /* "Prefill INT8" */
    char model[128];
    char m_range[64];   /* "512~32768" */
    int have, expected;
    char missing[512];  /* what is missing, in words */
    char reason[512];   /* why (the jobs' skip reasons or errors) */
} rp_category;

typedef struct rctx {
    const ss_report_opts *o;
    FILE *md;             /* the markdown being written (a memory stream) */
    json_t *js;           /* report.json */
    json_t *state;        /* pipeline_state.json, or NULL */
    rp_data d;
    char dir[4096], results[4200];
    char base[64];        /* "BitNet-2B" ("" without a state) */
    char backend[16];     /* "cuda", "cpu" or "" */
    int64_t m_prefill[RP_MAX_M], m_decode[RP_MAX_M], m_kernel[RP_MAX_M];
    int n_prefill, n_decode, n_kernel;
    char gnuplot[4096];
    int draw;             /* charts are drawn */
    char charts_note[512];
    json_t *charts;       /* array of drawn chart paths (relative to dir) */
    rp_category cats[64];
    int ncats;
    json_t *findings;     /* array of strings for the conclusion */
} rctx;

/* helpers (report.c) */
const char *rp_jstr(const json_t *o, const char *key);        /* "" when absent */
json_t *rp_find_job(const rctx *c, const char *key);          /* NULL without a state */
const char *rp_job_icon(const char *status);                   /* ✅ ❌ ⏭️ ⬜ 🔄 */
void rp_md_cell(FILE *fp, const char *s, size_t max);          /* text safe inside a table cell */
void rp_fmt_rate(double v, char *out, size_t cap);
void rp_m_range(const int64_t *m, int n, char *out, size_t cap);
rp_category *rp_add_category(rctx *c);
/* Collects the distinct skip reasons / errors of jobs matching kind (and dtype, lib when non-NULL). */
void rp_job_reasons(const rctx *c, const char *kind, const char *dtype, const char *lib, char *out, size_t cap);
void rp_add_reason(char *out, size_t cap, const char *s);     /* appends to a "; " list unless already there */
const json_t *rp_state_task(const rctx *c, int id);           /* task id (1-based) of the state; NULL without one */

/* sections from the state's tasks and jobs (report_jobs.c) */
void rp_section_summary(rctx *c);
void rp_section_models(rctx *c);
void rp_section_tuning(rctx *c);
void rp_section_errors(rctx *c, int number);

/* sections (report_bench.c) */
ss_status rp_section_throughput(rctx *c, int decode, int number);
ss_status rp_section_kernels(rctx *c, int number);
/* report_quality.c: results/quality exists (the run had --eval-text); the section */
int rp_has_quality(const rctx *c);
void rp_section_quality(rctx *c, int number);
/* report_layout.c: the result tree; the sorted entries of dir (no dot files, no
 * temporaries), is_dir per entry, both malloc'd (free with rp_free_names); returns the count */
void rp_section_layout(rctx *c, int number);
int rp_list_names(const char *dir, char ***names, int **is_dir);
void rp_free_names(char **names, int *is_dir, int n);
/* report_conclusion.c */
void rp_section_completeness(rctx *c, int number);
void rp_section_conclusion(rctx *c, int number);

#endif
