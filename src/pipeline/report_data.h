/* The report's data, read from a result tree (internal to src/pipeline). */
#ifndef SS_PIPELINE_REPORT_DATA_H
#define SS_PIPELINE_REPORT_DATA_H

#include <jansson.h>
#include <stdint.h>

#include "core/status.h"

/* One throughput point (a CSV row). */
typedef struct rp_point {
    int64_t M;
    double tps;     /* prompt + output tokens per second */
    double out_tps; /* output tokens per second */
} rp_point;

/* One backend's CSV of one model. */
typedef struct rp_series {
    char backend[64];  /* dense: the folder name ("cublaslt", "cpu_dense"); sparse: the parent ("cusparselt", "cpu_slid") */
    char sparsity[16]; /* "" = dense */
    char path[1024];   /* relative to the result root */
    rp_point *pts;     /* sorted by M */
    int n;
} rp_series;

/* All backends of one model in one hardware folder of one stage. */
typedef struct rp_tgroup {
    int decode;        /* 0 prefill, 1 decode */
    char hw[256];      /* "<HW>_<DTYPE>_<TOOLCHAIN>" folder */
    char dtype[16];    /* "INT8", "FP8E4M3", "BF16", "FP16" or "?" (from the folder name) */
    char model[128];   /* "<Base>-INT8" */
    rp_series *s;
    int ns;
} rp_tgroup;

/* One kernel measurement: the best algorithm's latency of one (M, N, K). */
typedef struct rp_krow {
    int64_t M, N, K;
    double lat_us;
} rp_krow;

/* One kernel CSV. */
typedef struct rp_kseries {
    char lib[16];      /* "cuBLASLt" | "cuSPARSELt" */
    char hw[256];      /* the folder above the dtype folder */
    char dtype[16];    /* normalised: FP16, BF16, INT8, FP8, FP4 */
    char sparsity[16]; /* "" for cuBLASLt */
    char path[1024];   /* relative to the result root */
    rp_krow *rows;
    int n;
} rp_kseries;

typedef struct rp_data {
    char results[4096]; /* the result root */
    rp_tgroup *tg;
    int ntg;
    rp_kseries *ks;
    int nks;
} rp_data;

/* Scans the result tree; missing folders are not errors (nothing was run). */
ss_status rp_scan(const char *results, rp_data *d);
void rp_free(rp_data *d);

/* Kernel dtype names as folders spell them: FP8E4M3 -> FP8, FP4E2M1 -> FP4, else upper case. */
void rp_kernel_dtype_norm(const char *in, char *out, size_t cap);

/* Sort key of a sparsity name: L for 2_L, 1e9 for 2_inf, 0 for dense "". */
int rp_sparsity_order(const char *sp);

#endif
