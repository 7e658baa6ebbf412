/* pipeline, report, gpu-info (hidden; the pipeline's GPU probe) and the CPU
 * branch of `bench prefill|decode`. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench_cpu.h"
#ifdef SS_HAVE_CUDA
#include "bench/bench_cuda.h"
#endif
#include "cli/cli.h"
#include "core/log.h"
#include "pipeline/gpu_probe.h"
#include "pipeline/pipeline.h"
#include "pipeline/report.h"

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* An M list, sorted ascending (results are written in that order). */
static ss_status parse_m_list(const char *opt, const char *s, int64_t **m, int *n) {
    SS_TRY(cli_parse_int_list(opt, s, 1, 1 << 24, m, n));
    qsort(*m, (size_t)*n, sizeof **m, cmp_i64);
    for (int i = 1; i < *n; i++)
        if ((*m)[i] == (*m)[i - 1]) {
            long long dup = (long long)(*m)[i];
            free(*m);
            *m = NULL;
            return ss_fail(SS_ERR_ARG, "%s: M=%lld is listed twice", opt, dup);
        }
    return SS_OK;
}

static void join_args(int argc, char **argv, char *out, size_t cap) {
    size_t k = (size_t)snprintf(out, cap, "slidesparse");
    for (int i = 0; i < argc && k < cap; i++) k += (size_t)snprintf(out + k, cap - k, " %s", argv[i]);
}

static const char k_pipeline_help[] =
    "[--preset bitnet-2b|tiny] [--model DIR|REPO] [--tasks 1-8] [--out DIR] [--models DIR]\n"
    "       [--resume] [--synthetic] [--cpu-only] [--m-prefill LIST] [--m-decode LIST] [--m-kernel LIST]\n"
    "       [--decode-len N] [--repeats N] [--job-timeout SECONDS] [--no-report]\n"
    "       [--eval-text FILE|--eval-tokens FILE [--calib-text FILE|--calib-tokens FILE] [--eval-ctx N]]\n"
    "  Runs tasks 1-8 (base models, conversion, tuning, prefill, decode, kernel benchmarks) as child jobs,\n"
    "  with a state file for --resume, a log and a final report in --out (default out/<preset>).\n"
    "  --preset defaults to bitnet-2b with a CUDA device, tiny (CPU reference engine) without.\n"
    "  --eval-text FILE: task 2 also evaluates perplexity (slidesparse eval) on FILE, tokenized with the\n"
    "  base model's tokenizer.json (one id per byte for synthetic weights, a smoke test only), of the\n"
    "  dense, the magnitude-pruned and Wanda-pruned models (Wanda calibrated on --calib-text, default\n"
    "  the first 16384 tokens of FILE); --eval-tokens / --calib-tokens take token files instead; the\n"
    "  report shows perplexity next to the speedups (docs/PIPELINE.md, docs/QUALITY.md).";

ss_status cmd_pipeline(int argc, char **argv) {
    static const struct option longopts[] = {
        {"preset", required_argument, 0, 'p'},    {"model", required_argument, 0, 'm'},
        {"tasks", required_argument, 0, 't'},     {"out", required_argument, 0, 'o'},
        {"models", required_argument, 0, 'M'},    {"resume", no_argument, 0, 'r'},
        {"synthetic", no_argument, 0, 's'},       {"cpu-only", no_argument, 0, 'c'},
        {"m-prefill", required_argument, 0, 'P'}, {"m-decode", required_argument, 0, 'D'},
        {"m-kernel", required_argument, 0, 'K'},  {"decode-len", required_argument, 0, 'L'},
        {"repeats", required_argument, 0, 'R'},   {"job-timeout", required_argument, 0, 'T'},
        {"no-report", no_argument, 0, 'n'},       {"help", no_argument, 0, 'h'},
        {"eval-text", required_argument, 0, 'E'}, {"calib-text", required_argument, 0, 'C'},
        {"eval-ctx", required_argument, 0, 'X'},  {"eval-tokens", required_argument, 0, 'e'},
        {"calib-tokens", required_argument, 0, 'k'},
        {0, 0, 0, 0},
    };
    ss_pipeline_opts o;
    memset(&o, 0, sizeof o);
    int64_t *mp = NULL, *md = NULL, *mk = NULL, v;
    ss_status st = SS_OK;
    optind = 0;
    opterr = 0;
    int c;
    while (st == SS_OK && (c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'p': o.preset = optarg; break;
        case 'm': o.model = optarg; break;
        case 't': st = ss_pipeline_parse_tasks(optarg, &o.tasks); break;
        case 'o': o.out_dir = optarg; break;
        case 'M': o.models_dir = optarg; break;
        case 'r': o.resume = 1; break;
        case 's': o.synthetic = 1; break;
        case 'c': o.cpu_only = 1; break;
        case 'P': free(mp); mp = NULL; st = parse_m_list("--m-prefill", optarg, &mp, &o.n_prefill); break;
        case 'D': free(md); md = NULL; st = parse_m_list("--m-decode", optarg, &md, &o.n_decode); break;
        case 'K': free(mk); mk = NULL; st = parse_m_list("--m-kernel", optarg, &mk, &o.n_kernel); break;
        case 'L':
            st = cli_parse_i64("--decode-len", optarg, 1, 1 << 16, &v);
            o.decode_output = (int)v;
            break;
        case 'R':
            st = cli_parse_i64("--repeats", optarg, 1, 1000, &v);
            o.repeats = (int)v;
            break;
        case 'T':
            st = cli_parse_i64("--job-timeout", optarg, 1, 7 * 24 * 3600, &v);
            o.job_timeout_s = (double)v;
            break;
        case 'n': o.no_report = 1; break;
        case 'E': o.eval_text = optarg; break;
        case 'C': o.calib_text = optarg; break;
        case 'e': o.eval_tokens = optarg; break;
        case 'k': o.calib_tokens = optarg; break;
        case 'X':
            st = cli_parse_i64("--eval-ctx", optarg, 2, 1 << 20, &v);
            o.eval_ctx = (int)v;
            break;
        case 'h':
            printf("usage: slidesparse pipeline %s\n", k_pipeline_help);
            goto done;
        default: st = cli_bad_usage("pipeline", argc, argv);
        }
    }
    if (st == SS_OK && optind < argc) st = cli_bad_usage("pipeline", argc, argv);
    if (st == SS_OK && o.eval_text && o.eval_tokens)
        st = ss_fail(SS_ERR_ARG, "pipeline: give one of --eval-text and --eval-tokens");
    if (st == SS_OK && o.calib_text && o.calib_tokens)
        st = ss_fail(SS_ERR_ARG, "pipeline: give one of --calib-text and --calib-tokens");
    if (st == SS_OK && (o.calib_text || o.calib_tokens || o.eval_ctx) && !o.eval_text && !o.eval_tokens)
        st = ss_fail(SS_ERR_ARG, "pipeline: --calib-text, --calib-tokens and --eval-ctx need --eval-text or "
                     "--eval-tokens");
    if (st != SS_OK) goto done;
    o.m_prefill = mp;
    o.m_decode = md;
    o.m_kernel = mk;
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        st = ss_fail_errno("pipeline: cannot find the slidesparse binary (/proc/self/exe)");
        goto done;
    }
    self[n] = '\0';
    o.bin = self;
    o.break_job = getenv("SS_PIPELINE_BREAK");
    char cmdline[8192];
    join_args(argc, argv, cmdline, sizeof cmdline);
    o.command_line = cmdline;
    st = ss_pipeline_run(&o);
done:
    free(mp);
    free(md);
    free(mk);
    return st;
}

ss_status cmd_report(int argc, char **argv) {
    static const struct option longopts[] = {
        {"no-charts", no_argument, 0, 'n'}, {"gnuplot", required_argument, 0, 'g'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    ss_report_opts o;
    ss_report_defaults(&o);
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'n': o.charts = 0; break;
        case 'g': o.gnuplot = optarg; break;
        case 'h':
            printf("usage: slidesparse report DIR [--no-charts] [--gnuplot PATH]\n"
                   "  Rebuilds DIR/report.md, DIR/report.json and DIR/charts/ from DIR/pipeline_state.json and the\n"
                   "  result tree DIR/results (or DIR itself).\n");
            return SS_OK;
        default: return cli_bad_usage("report", argc, argv);
        }
    }
    if (optind != argc - 1) return ss_fail(SS_ERR_ARG, "report: give one folder (see slidesparse report --help)");
    o.dir = argv[optind];
    SS_TRY(ss_report_write(&o));
    ss_info("wrote %s/report.md and %s/report.json", o.dir, o.dir);
    return SS_OK;
}

ss_status cmd_gpu_info(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--help") && strcmp(argv[1], "-h")) return cli_bad_usage("gpu-info", argc, argv);
    if (argc > 1) {
        printf("usage: slidesparse gpu-info\n  Prints the CUDA device as one JSON line; fails without one.\n");
        return SS_OK;
    }
    ss_device_probe g;
    ss_device_probe_run(&g);
    json_t *j = ss_device_probe_to_json(&g);
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    if (!text) return ss_fail(SS_ERR_NOMEM, "gpu-info: out of memory");
    printf("%s\n", text);
    fflush(stdout);
    free(text);
#ifndef SS_HAVE_CUDA
    if (!g.available) return ss_fail(SS_ERR_UNSUPPORTED, "gpu-info: %s (this build has no CUDA)", g.reason);
#endif
    if (!g.available) return ss_fail(SS_ERR_CUDA, "gpu-info: %s", g.reason);
    ss_info("%s, cc %d.%d, %.1f GiB", g.name, g.cc_major, g.cc_minor, (double)g.memory_bytes / (1 << 30));
    return SS_OK;
}

static const char k_bench_help[] =
    "prefill|decode --model DIR [--backend cuda|cpu] --m LIST --out RESULTS\n"
    "       [--prompt-len N] [--output-len N] [--warmup N] [--repeats N] [--seed S] [--tune-dir DIR]\n"
    "  Throughput of the CUDA engine (default) or the CPU reference engine, SPEC section 2's method;\n"
    "  results under RESULTS/throughput_benchmark_results/<stage>/<HW>_<DTYPE>_<toolchain>/.\n"
    "  --tune-dir: task 3's tables (RESULTS/tuning/<HW>_<toolchain>) choose the GEMM algorithms.";

/* Options of `bench prefill|decode`; -1 = not given (the backend's default). */
typedef struct bench_args {
    const char *model, *backend, *out, *tune_dir;
    int64_t *m;
    int n_m;
    int prompt, output, warmup, repeats;
    uint64_t seed;
} bench_args;

static ss_status bench_cpu(ss_tp_stage stage, const bench_args *a, char *dir, size_t cap) {
    ss_bench_cpu_opts o;
    ss_bench_cpu_defaults(&o, stage);
    o.model_dir = a->model;
    o.results_dir = a->out;
    o.m_list = a->m;
    o.n_m = a->n_m;
    o.seed = a->seed;
    if (a->prompt > 0) *(stage == SS_TP_PREFILL ? &o.max_prompt : &o.decode_prompt) = a->prompt;
    if (a->output > 0) o.decode_output = a->output;
    if (a->warmup >= 0) o.warmup = a->warmup;
    if (a->repeats > 0) o.repeats = a->repeats;
    return ss_bench_cpu(&o, dir, cap);
}

static ss_status bench_cuda(ss_tp_stage stage, const bench_args *a, char *dir, size_t cap) {
#ifdef SS_HAVE_CUDA
    ss_bench_cuda_opts o;
    ss_bench_cuda_defaults(&o, stage);
    o.m_list = a->m;
    o.n_m = a->n_m;
    o.seed = a->seed;
    if (a->prompt > 0) *(stage == SS_TP_PREFILL ? &o.max_prompt : &o.decode_prompt) = a->prompt;
    if (a->output > 0) o.decode_output = a->output;
    if (a->warmup >= 0) o.warmup = a->warmup;
    if (a->repeats > 0) o.repeats = a->repeats;
    o.tune_dir = a->tune_dir;
    return ss_bench_cuda(a->model, a->out, &o, dir, cap);
#else
    (void)a, (void)dir, (void)cap;
    return ss_fail(SS_ERR_UNSUPPORTED, "bench %s --backend cuda: this build has no CUDA", ss_tp_stage_name(stage));
#endif
}

ss_status cmd_bench(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        printf("usage: slidesparse bench %s\n", k_bench_help);
        return argc < 2 ? ss_fail(SS_ERR_ARG, "bench: say prefill, decode or kernel") : SS_OK;
    }
    ss_tp_stage stage;
    if (!strcmp(argv[1], "prefill")) stage = SS_TP_PREFILL;
    else if (!strcmp(argv[1], "decode")) stage = SS_TP_DECODE;
    else if (!strcmp(argv[1], "kernel"))
        return cmd_bench_kernel(argc - 1, argv + 1);
    else return ss_fail(SS_ERR_ARG, "bench: unknown benchmark '%s' (prefill, decode or kernel)", argv[1]);
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},      {"backend", required_argument, 0, 'b'},
        {"m", required_argument, 0, 'M'},          {"out", required_argument, 0, 'o'},
        {"prompt-len", required_argument, 0, 'p'}, {"output-len", required_argument, 0, 'l'},
        {"warmup", required_argument, 0, 'w'},     {"repeats", required_argument, 0, 'r'},
        {"seed", required_argument, 0, 's'},       {"tune-dir", required_argument, 0, 't'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *cmd = stage == SS_TP_PREFILL ? "bench prefill" : "bench decode";
    bench_args a = {.backend = "cuda", .prompt = -1, .output = -1, .warmup = -1, .repeats = -1};
    int64_t v;
    ss_status st = SS_OK;
    optind = 0;
    opterr = 0;
    int c;
    while (st == SS_OK && (c = getopt_long(argc - 1, argv + 1, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': a.model = optarg; break;
        case 'b': a.backend = optarg; break;
        case 'M': free(a.m); a.m = NULL; st = parse_m_list("--m", optarg, &a.m, &a.n_m); break;
        case 'o': a.out = optarg; break;
        case 'p': st = cli_parse_i64("--prompt-len", optarg, 1, 1 << 20, &v); a.prompt = (int)v; break;
        case 'l': st = cli_parse_i64("--output-len", optarg, 1, 1 << 16, &v); a.output = (int)v; break;
        case 'w': st = cli_parse_i64("--warmup", optarg, 0, 1000, &v); a.warmup = (int)v; break;
        case 'r': st = cli_parse_i64("--repeats", optarg, 1, 1000, &v); a.repeats = (int)v; break;
        case 's': st = cli_parse_u64("--seed", optarg, &a.seed); break;
        case 't': a.tune_dir = optarg; break;
        case 'h': printf("usage: slidesparse bench %s\n", k_bench_help); goto done;
        default: st = cli_bad_usage(cmd, argc - 1, argv + 1);
        }
    }
    if (st == SS_OK && optind < argc - 1) st = cli_bad_usage(cmd, argc - 1, argv + 1);
    if (st == SS_OK) st = cli_require(cmd, "--model", a.model);
    if (st == SS_OK) st = cli_require(cmd, "--out", a.out);
    if (st == SS_OK && !a.m) st = ss_fail(SS_ERR_ARG, "%s: missing --m (see slidesparse bench --help)", cmd);
    if (st == SS_OK && strcmp(a.backend, "cpu") && strcmp(a.backend, "cuda"))
        st = ss_fail(SS_ERR_ARG, "%s: unknown --backend '%s' (cuda or cpu)", cmd, a.backend);
    if (st == SS_OK) {
        char dir[4096];
        st = !strcmp(a.backend, "cpu") ? bench_cpu(stage, &a, dir, sizeof dir) : bench_cuda(stage, &a, dir, sizeof dir);
        if (st == SS_OK) ss_info("results in %s", dir);
    }
done:
    free(a.m);
    return st;
}
