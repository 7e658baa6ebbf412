/* Internal to the pipeline (pipeline.c: the run and the state file;
 * pipeline_plan.c: the plan, which jobs in which order needing what). */
#ifndef SS_PIPELINE_PIPELINE_INTERNAL_H
#define SS_PIPELINE_PIPELINE_INTERNAL_H

#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "pipeline/gpu_probe.h"
#include "pipeline/pipeline.h"

#define MAX_ARGS 40
#define MAX_DEPS 2

enum { OUT_NONE = 0, OUT_CKPT, OUT_CSV, OUT_JSON, OUT_TOKENS };

typedef struct job {
    /* what it is */
    char key[64];     /* stable across runs: matches the previous state's record */
    char title[160];
    int task;
    char kind[16];    /* base, quantize, convert, tune, prefill, decode, kernel */
    char dtype[16];   /* INT8 / FP8 for models; FP16, BF16, INT8, FP8E4M3, FP4E2M1 for kernels */
    char sparsity[16];/* "" = dense */
    char lib[16];     /* kernels: cuBLASLt / cuSPARSELt */
    char model[1024]; /* checkpoint it writes (tasks 1-2) or reads (3-8) */
    char *args[MAX_ARGS + 1];
    int nargs;
    char *fallback[MAX_ARGS + 1]; /* run when the command fails (download -> synth) */
    int nfallback;
    char fallback_note[256];
    char *synth_args[MAX_ARGS + 1]; /* the command when the base turns out synthetic (tokenize --bytes) */
    int nsynth_args;
    int deps[MAX_DEPS], ndeps;
    int out_kind;
    char out_path[1200]; /* checkpoint folder or CSV glob */
    int out_rows;
    int needs_gpu;
    int needs_backend;   /* tasks 4-5: cuda or (tiny) cpu */
    char planned_skip[256];
    int synthetic_base;  /* this job makes synthetic weights */
    /* how it went */
    ss_job_status status;
    char reason[512];
    char error[1024];
    char note[512];
    int exit_code, term_signal, resumed, synthetic;
    double start_epoch, end_epoch, duration_s;
    int ran_now; /* decided in this session */
} job;

/* What the quality jobs read (pipeline.h: quality). */
typedef struct quality_opts {
    int on;
    char eval[PATH_MAX], calib[PATH_MAX]; /* absolute; calib "" = a slice of the evaluated text */
    int eval_is_text, calib_is_text;      /* text (tokenized in a job) or token files */
    int ctx;                              /* eval windows and calibration sequences; 0 = the commands' defaults */
    char eval_tokens[PATH_MAX + 64], calib_tokens[PATH_MAX + 64]; /* the token files the jobs read */
    char eval_key[32], calib_key[32];     /* the tokenize jobs making them ("" when given as token files) */
} quality_opts;

typedef struct plan {
    job *jobs;
    int n, cap;
    char out[2048], models[2048], results[2200], state_path[2200], log_path[2200];
    char preset[32], base[64], arch[32], repo[256], base_dir[2200], source[512];
    int base_is_synth;
    char synth_note[256];
    ss_device_probe gpu;
    char tune_dir[2400];      /* <results>/tuning/<HW>_<toolchain>, where task 3 writes its tables */
    char backend[8];          /* "cuda", "cpu" or "" */
    char backend_reason[256]; /* why tasks 4-5 cannot run when backend is "" */
    quality_opts q;           /* --eval-text / --eval-tokens (q.on) */
    int64_t m_prefill[64], m_decode[64], m_kernel[64];
    int n_prefill, n_decode, n_kernel, decode_output, repeats;
    unsigned tasks;
    const ss_pipeline_opts *o;
    json_t *prev;      /* previous state (or NULL) */
    json_t *prev_jobs; /* key -> record */
    json_t *runs;      /* history of invocations */
    FILE *log;
    char started[32];
    double t0;
    /* progress: durations of jobs run in this session */
    double sum_all;
    int cnt_all;
    /* consecutive jobs skipped for one reason are reported once */
    char last_skip[512];
    int last_skip_task, quiet_skips;
} plan;

/* pipeline_plan.c */
void pl_now_string(char *out, size_t cap); /* local time, "%Y-%m-%d %H:%M:%S" */
int pl_find_job(const plan *p, const char *key);
/* Options, output folders, the GPU probe, the backend and the M lists. */
ss_status pl_plan_setup(plan *p, const ss_pipeline_opts *o);
/* Every job of tasks 1-8 (and the quality jobs), in order; needs the previous state loaded (p->prev). */
ss_status pl_plan_build(plan *p);
void pl_plan_free(plan *p);

#endif
