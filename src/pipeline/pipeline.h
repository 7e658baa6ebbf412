/* The eight-task pipeline of SPEC section 2, as one command:
 *
 *   1 base models: download (or synthesise) BF16, quantize INT8 and FP8
 *   2 SlideSparse conversion: INT8/FP8 x 2_4, 2_6, 2_8, 2_10 (pruning the
 *     quantized checkpoint: for BitNet the order that keeps more quality,
 *     measured in docs/QUALITY.md)
 *   3 offline tuning (GPU)
 *   4 prefill throughput      5 decode throughput
 *   6 kernels: cuBLASLt       7 cuSPARSELt 2_4..2_10    8 cuSPARSELt 2_12..2_inf
 *
 * Every job is one `slidesparse <subcommand> ...` child process of the same
 * binary, its stdout and stderr appended to <out>/pipeline.log. The pipeline
 * process never touches CUDA: a device fault loses one job, and a failing
 * job never stops the others (jobs that need its output are skipped, saying
 * which input is missing). GPU presence is asked once, of a child
 * `slidesparse gpu-info`.
 *
 * Quality (--eval-text FILE or --eval-tokens FILE; jobs of task 2): for
 * INT8 and FP8, the dense model, task 2's magnitude-pruned 2_4..2_10 models
 * and their Wanda-pruned twins (<model>-wanda: `convert --method wanda`
 * from the dense model, calibrated on --calib-text/--calib-tokens, else on
 * the first --calib-n (convert's default) tokens of the evaluated text) are
 * evaluated by `slidesparse eval` (sliding-window perplexity; the CUDA engine
 * where tasks 4-5 use it, else the CPU reference) into
 * results/quality/<Base>-<DTYPE>/<dense|2_L>_<magnitude|wanda>.json, and the
 * report puts each perplexity next to the speedups of the same model. Text
 * is tokenized once per input by a `tokenize` job (results/quality/eval.tokens,
 * calib.tokens) with the base model's tokenizer.json; a synthetic base has
 * none, so its text becomes one id per byte (`tokenize --bytes`), also when
 * a failed download turned the base synthetic, and the report says that
 * perplexity of random weights means nothing (a smoke test of the path).
 * The inputs are recorded in the state (options.quality); a later run that
 * does not run task 2 and gives none keeps them, so the quality jobs keep
 * their records like every unselected task's jobs.
 *
 * Output folder (default out/<preset>):
 *   pipeline_state.json   per task and job: status (success / failed / skipped
 *                         with reason), times, command, outputs, error; written
 *                         atomically after every change
 *   pipeline.log          the whole run, every job's output included
 *   models/               checkpoints (<Base>-BF16, -INT8, -FP8, -{INT8,FP8}-SlideSparse-2_L)
 *   results/              benchmark results in the reference layout
 *   report.md, report.json, charts/   (see report.h)
 *
 * --resume keeps a job whose recorded status is success, whose command line
 * is unchanged and whose outputs verify (checkpoints open, result CSVs hold
 * their rows, eval results read back, token files parse); every other job
 * of the selected tasks runs again, so a run killed mid-job continues where
 * it stopped. Inputs are named by path in the command lines: a file changed
 * in place under the same name is not noticed (rerun without --resume).
 *
 * Test hook (documented, off unless set): break_job (the CLI reads it from
 * $SS_PIPELINE_BREAK) names a job key whose command gets a bad argument: its
 * --sparsity becomes "2_5" (invalid), or, without one, "--planted-fault" is
 * appended, so the real error path of that subcommand fails the job.
 */
#ifndef SS_PIPELINE_PIPELINE_H
#define SS_PIPELINE_PIPELINE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/status.h"

#define SS_N_TASKS 8

typedef enum ss_job_status {
    SS_JOB_PENDING = 0, /* not run (its task was not selected, or not reached) */
    SS_JOB_RUNNING,     /* started; a run killed here reruns it on --resume */
    SS_JOB_SUCCESS,
    SS_JOB_FAILED,
    SS_JOB_SKIPPED,     /* with a reason: no CUDA device, FP4 needs Blackwell, missing input */
} ss_job_status;

const char *ss_job_status_name(ss_job_status s); /* "pending", "running", "success", "failed", "skipped" */
ss_status ss_job_status_parse(const char *s, ss_job_status *out);

/* The task titles, 1-based ("Base models (download + quantize)", ...). */
const char *ss_task_name(int task);

typedef struct ss_pipeline_opts {
    const char *bin;        /* the slidesparse binary the jobs run (the CLI passes /proc/self/exe) */
    const char *preset;     /* "bitnet-2b" | "tiny"; NULL: bitnet-2b with a CUDA device, tiny without */
    const char *model;      /* NULL, a local BF16 checkpoint folder, or a Hugging Face repo id */
    const char *out_dir;    /* default out/<preset> */
    const char *models_dir; /* default <out_dir>/models */
    unsigned tasks;         /* bit t set = run task t (1..8); 0 = all */
    int resume;
    int synthetic;          /* synthesise the base model instead of downloading it */
    int cpu_only;           /* do not look for a GPU (GPU-only tasks are skipped) */
    const int64_t *m_prefill, *m_decode, *m_kernel; /* NULL: defaults (see ss_pipeline_run) */
    int n_prefill, n_decode, n_kernel;
    int decode_output;      /* decode tokens per sequence; 0 = 256 */
    int repeats;            /* timed passes per throughput point; 0 = the benchmark's default */
    double job_timeout_s;   /* kill a job after this long; 0 = no limit */
    int no_report;          /* do not write the report at the end */
    const char *eval_text;    /* --eval-text: perplexity of every model (dense, each 2_L, magnitude and Wanda) */
    const char *eval_tokens;  /* --eval-tokens: the same from a token file (one of the two) */
    const char *calib_text;   /* --calib-text / --calib-tokens: Wanda's calibration (default: a slice of */
    const char *calib_tokens; /*   the evaluated text, said in the report) */
    int eval_ctx;             /* eval --ctx and convert --calib-ctx; 0 = their defaults */
    const char *break_job;  /* test hook, see above */
    const char *command_line; /* recorded in the state */
} ss_pipeline_opts;

/* Parses "1-8", "1,2,4", "2-5,7" into a task bit mask. */
ss_status ss_pipeline_parse_tasks(const char *s, unsigned *mask);

/* Runs the selected tasks in order and writes the report. SS_OK when no job
 * failed (skipped jobs are not failures); when some did, SS_ERR_IO with a
 * message counting them and naming the report, so the command exits 1. */
ss_status ss_pipeline_run(const ss_pipeline_opts *o);

/* ---- pieces, exposed for tests ---- */

/* Result of one child process. */
typedef struct ss_child_result {
    int exit_code;     /* exit status, or -1 when killed by a signal */
    int term_signal;   /* the signal, or 0 */
    int timed_out;
    double duration_s;
    char error[1024];  /* last "error: ..." line of its output (without the prefix), or a description of the signal */
    char skipped[512]; /* what follows the last "skipped: " in its output (why a part could not run), or "" */
} ss_child_result;

/* Runs bin with argv (argv[0] is the name shown, NULL-terminated) as a child
 * process that dies with its parent; its stdout and stderr go to log (may be
 * NULL) and, up to cap - 1 bytes, into capture (may be NULL). Fails only when
 * the child cannot be started. */
ss_status ss_run_child(const char *bin, char *const argv[], FILE *log, double timeout_s, char *capture, size_t cap,
                       ss_child_result *r);

/* Data rows (not header, not '#' comments, not blank) of a CSV file; -1 if it cannot be read. */
int ss_csv_data_rows(const char *path);

/* "1h 02m 03s" style durations for progress and reports. */
void ss_format_duration(double s, char *out, size_t cap);

#endif
