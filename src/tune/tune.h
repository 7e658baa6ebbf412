/* Offline tuning tables (task 3): the GEMM algorithm each plan should use,
 * found once per GPU and toolchain, looked up at run time.
 *
 * Folder: <root>/tuning/<HW>_<TOOLCHAIN>/ (HW = "<GPU>_cc<major><minor>",
 * e.g. "H100-80GB-HBM3_cc90"; TOOLCHAIN as the result folders, e.g.
 * "gcc13_cu130_x86_64"), one JSON file per tuned model:
 *
 *   {"format_version": 1, "model": "BitNet-2B-INT8", "gpu": "NVIDIA H100 80GB HBM3",
 *    "cc": "9.0", "toolchain": "...", "cublaslt_version": 130100, "cusparselt_version": 800,
 *    "entries": [{"backend": "cusparselt", "dtype": "int8", "kind": "channel_scalar",
 *                 "N": 3840, "K": 3424, "M": 4096, "alg_id": 19, "split_k": -1,
 *                 "split_k_mode": 0, "lt_algo": "<128 hex digits>" | null, "us": 52.1}, ...]}
 *
 * N and K are the padded GEMM shape (N_pad, K_act: K_slid for a slid
 * weight), M the padded token count the entry was timed at, kind the
 * library call (ss_gemm_kind_name). Lookup: among the entries of the same
 * (backend, dtype, kind, N, K), the smallest M at or above the plan's M_pad,
 * else the largest. No entry: the plan searches as without a table (the
 * library heuristic, timed), and the table says so once.
 */
#ifndef SS_TUNE_TUNE_H
#define SS_TUNE_TUNE_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"
#include "gemm/gemm.h"

typedef struct ss_tune_entry {
    ss_backend backend;
    ss_gemm_dtype dtype;
    char kind[16];
    int64_t N, K, M;
    ss_gemm_alg alg;
    double us; /* measured GEMM time at M (informative) */
} ss_tune_entry;

typedef struct ss_tune_table {
    ss_tune_entry *e;
    int n, cap;
    int warned_miss; /* one "no entry" warning per table */
    char source[1024]; /* folder it was loaded from, for messages */
} ss_tune_table;

void ss_tune_table_init(ss_tune_table *t);
void ss_tune_table_free(ss_tune_table *t);
/* Adds (or replaces the entry of the same key and M). */
ss_status ss_tune_add(ss_tune_table *t, const ss_tune_entry *e);

/* "<GPU>_cc<major><minor>" with "NVIDIA "/"GeForce " dropped and spaces as
 * '-' (the pipeline's hardware folder name). */
void ss_tune_hw_name(const ss_gpu_info *gpu, char *out, size_t cap);
/* <root>/tuning/<HW>_<toolchain> */
ss_status ss_tune_dir(const char *root, const ss_gpu_info *gpu, const char *toolchain, char *out, size_t cap);

/* Loads every *.json of dir. A missing or empty folder is no error: the
 * table stays empty and a warning says the library heuristics will be used.
 * A malformed file fails, naming the file and field. */
ss_status ss_tune_load_dir(ss_tune_table *t, const char *dir);
/* Writes the entries (all of them) as <dir>/<model>.json, atomically. */
ss_status ss_tune_save(const ss_tune_table *t, const char *dir, const char *model, const ss_gpu_info *gpu,
                       const char *toolchain);

/* The lookup rule above; 1 and *alg on a hit. */
int ss_tune_find(const ss_tune_table *t, ss_backend b, ss_gemm_dtype d, const char *kind, int64_t M_pad, int64_t N_pad,
                 int64_t K_act, ss_gemm_alg *alg);
/* Makes ctx take its plans' algorithms from t (t must outlive ctx's use). */
void ss_tune_attach(ss_gemm_ctx *ctx, ss_tune_table *t);
/* Adds every ready plan of ctx that did not come from a table. */
void ss_tune_collect(ss_tune_table *t, ss_gemm_ctx *ctx);

#endif
