/* Result files of `slidesparse eval` (sliding-window perplexity): one JSON
 * object or one CSV row per evaluation.
 *
 * JSON: {"model": DIR, "model_name", "arch", "quant", "sparsity" (null when
 *   dense), "synthetic", "backend", "input": "text"|"tokens", "input_path",
 *   "bos_added" (text input: the tokenizer's BOS was prepended),
 *   "ctx", "stride", "n_tokens", "tokens_evaluated", "windows", "nll_sum",
 *   "mean_nll", "perplexity", "seconds", "tokens_per_s",
 *   "prune_method" (the checkpoint's slidesparse.json: "magnitude", "wanda",
 *   "sparsegpt"; null when not pruned or not recorded), "calib_tokens"
 *   (calibration tokens of a Wanda/SparseGPT checkpoint, else 0),
 *   "convention": "huggingface-sliding-window"}
 * CSV: the same keys as columns, in that order, one header line.
 * NLLs are in nats; the convention is engine/perplexity.h's.
 */
#ifndef SS_PIPELINE_EVAL_RESULTS_H
#define SS_PIPELINE_EVAL_RESULTS_H

#include "core/status.h"
#include "engine/perplexity.h"

typedef struct ss_eval_record {
    char model[1024];      /* checkpoint folder as given */
    char model_name[256];  /* its last path component */
    char arch[16];         /* "llama", "qwen2", "bitnet" */
    char quant[16];        /* "none", "int8", "fp8_e4m3" */
    char sparsity[16];     /* "" when dense */
    int synthetic;         /* the weights are synthetic: the perplexity says nothing about quality */
    char backend[16];      /* "cpu", "cuda" */
    char input[8];         /* "text", "tokens" */
    char input_path[1024];
    int bos_added;         /* text input only */
    char prune_method[16]; /* "" when not pruned (or not recorded) */
    int64_t calib_tokens;  /* 0 unless calibrated */
    ss_ppl_result r;
} ss_eval_record;

#define SS_EVAL_CONVENTION "huggingface-sliding-window"

/* Writes rec to path as JSON when it ends in ".json", as CSV when it ends
 * in ".csv" (atomic); any other name is SS_ERR_ARG. */
ss_status ss_eval_write(const char *path, const ss_eval_record *rec);
ss_status ss_eval_write_json(const char *path, const ss_eval_record *rec);
ss_status ss_eval_write_csv(const char *path, const ss_eval_record *rec);
/* Reads a JSON result back (the report's tables). */
ss_status ss_eval_read_json(const char *path, ss_eval_record *rec);

#endif
