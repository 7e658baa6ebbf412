/* tune (task 3) and bench kernel (tasks 6-8): the GEMM layer's offline
 * search and kernel benchmark. Every GPU job runs in a child process
 * (ss_kbench_*_isolated), so a device fault loses that job only. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_kernel.h"
#include "cli/cli.h"
#include "convert/sparsity.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/timer.h"
#include "io/checkpoint.h"
#include "io/config.h"

#define MAX_LIST 64

static const int64_t k_kernel_m[] = {64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384};
static const int64_t k_tune_m[] = {64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768};

/* The model's 4 (N, K) pairs and a base name for result files: from a
 * checkpoint folder (--model) or an architecture preset (--arch). */
static ss_status model_shapes(const char *model_dir, const char *arch, int64_t N[4], int64_t K[4], char *name,
                              size_t cap, int64_t *head_N, int64_t *head_K) {
    ss_model_config cfg;
    if (model_dir) {
        char path[4096];
        SS_TRY(ss_path_join(path, sizeof path, model_dir, "config.json"));
        SS_TRY(ss_config_load(path, &cfg));
        const char *base = strrchr(model_dir, '/');
        base = base && base[1] ? base + 1 : model_dir;
        snprintf(name, cap, "%s", base);
        /* "<Base>-SlideSparse-2_L" and "-INT8"/"-FP8" name the same shapes */
        char *cut = strstr(name, "-SlideSparse-");
        if (cut) *cut = '\0';
    } else {
        SS_TRY(ss_config_preset(arch, &cfg));
        snprintf(name, cap, "%s", !strcmp(arch, "bitnet-2b") ? "BitNet-2B" : arch);
    }
    ss_kbench_model_nk(&cfg, N, K);
    if (head_N) *head_N = cfg.vocab, *head_K = cfg.hidden;
    return SS_OK;
}

/* "2_4,2_8,dense" -> L values (dense = 0). */
static ss_status parse_sparsities(const char *s, int *L, int *n) {
    char *copy = strdup(s), *save = NULL;
    if (!copy) return ss_fail(SS_ERR_NOMEM, "out of memory");
    ss_status st = SS_OK;
    *n = 0;
    for (char *t = strtok_r(copy, ",", &save); t && st == SS_OK; t = strtok_r(NULL, ",", &save)) {
        if (*n == MAX_LIST) st = ss_fail(SS_ERR_ARG, "--sparsity: more than %d values", MAX_LIST);
        else if (!strcmp(t, "dense")) L[(*n)++] = 0;
        else st = ss_sparsity_parse(t, 1, &L[(*n)++]);
    }
    free(copy);
    return st;
}

static ss_status parse_dtypes(const char *s, ss_gemm_dtype *d, int *n) {
    char *copy = strdup(s), *save = NULL;
    if (!copy) return ss_fail(SS_ERR_NOMEM, "out of memory");
    ss_status st = SS_OK;
    *n = 0;
    for (char *t = strtok_r(copy, ",", &save); t && st == SS_OK; t = strtok_r(NULL, ",", &save))
        st = *n == MAX_LIST ? ss_fail(SS_ERR_ARG, "--dtype: too many values") : ss_gemm_dtype_parse(t, &d[(*n)++]);
    free(copy);
    return st;
}

static ss_status copy_list(const char *opt, const char *s, int64_t *out, int *n) {
    int64_t *v;
    SS_TRY(cli_parse_int_list(opt, s, 1, 1 << 20, &v, n));
    if (*n > MAX_LIST) {
        free(v);
        return ss_fail(SS_ERR_ARG, "%s: more than %d values", opt, MAX_LIST);
    }
    memcpy(out, v, (size_t)*n * sizeof *v);
    free(v);
    return SS_OK;
}

static const char *g_bench_kernel_help =
    "kernel [--model DIR | --arch NAME] [--backend cublaslt|cusparselt|ours|ours_dense]\n"
    "       [--dtype fp16,bf16,int8,fp8e4m3,fp4e2m1] [--sparsity 2_4,2_6,...,2_inf] [--m LIST]\n"
    "       [--square] [--out RESULTS] [--tune-dir DIR] [--warmup N] [--repeats N] [--planted-fault]\n"
    "  Times the GEMM alone and with its quant/slide/dequant kernels over the model's\n"
    "  4 (N,K) pairs (BitNet-2B by default), M = 64..16384. cublaslt is the dense\n"
    "  baseline; cusparselt runs each 2_L on slid weights (default 2_4,2_6,2_8,2_10).\n"
    "  --square: N = K over the --m list (the diagonal is M = N = K). Each\n"
    "  (dtype, sparsity) job runs in its own process; results go to\n"
    "  RESULTS/benchmark_kernel/{cuBLASLt,cuSPARSELt}/alg_search_results/<GPU>_<toolchain>/<DT>/.";

ss_status cmd_bench_kernel(int argc, char **argv) {
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},    {"arch", required_argument, 0, 'a'},
        {"backend", required_argument, 0, 'b'},  {"dtype", required_argument, 0, 'd'},
        {"sparsity", required_argument, 0, 's'}, {"m", required_argument, 0, 'M'},
        {"square", no_argument, 0, 'q'},         {"out", required_argument, 0, 'o'},
        {"tune-dir", required_argument, 0, 't'}, {"warmup", required_argument, 0, 'w'},
        {"repeats", required_argument, 0, 'r'},  {"planted-fault", no_argument, 0, 'F'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0},
    };
    const char *model = NULL, *arch = "bitnet-2b", *backend = "cublaslt", *out = "results", *tune_dir = NULL;
    int L[MAX_LIST] = {4, 6, 8, 10}, nL = 4, nd = 2, nM = 9, square = 0, planted = 0, c;
    ss_gemm_dtype dts[MAX_LIST] = {SS_GEMM_INT8, SS_GEMM_FP8E4M3};
    int64_t Ms[MAX_LIST], v;
    memcpy(Ms, k_kernel_m, sizeof k_kernel_m);
    ss_kbench_opts o;
    ss_kbench_opts_default(&o);
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'a': arch = optarg; break;
        case 'b': backend = optarg; break;
        case 'd': SS_TRY(parse_dtypes(optarg, dts, &nd)); break;
        case 's': SS_TRY(parse_sparsities(optarg, L, &nL)); break;
        case 'M': SS_TRY(copy_list("--m", optarg, Ms, &nM)); break;
        case 'q': square = 1; break;
        case 'o': out = optarg; break;
        case 't': tune_dir = optarg; break;
        case 'w': SS_TRY(cli_parse_i64("--warmup", optarg, 0, 1000, &v)); o.warmup = (int)v; break;
        case 'r': SS_TRY(cli_parse_i64("--repeats", optarg, 1, 1000, &v)); o.repeats = (int)v; break;
        case 'F': planted = 1; break;
        case 'h': printf("usage: slidesparse bench %s\n", g_bench_kernel_help); return SS_OK;
        default: return cli_bad_usage("bench kernel", argc, argv);
        }
    }
    if (optind < argc) return cli_bad_usage("bench kernel", argc, argv);
    ss_backend be;
    SS_TRY_CTX(ss_backend_parse(backend, &be), "bench kernel");
    if (!ss_backend_sparse(be)) L[0] = 0, nL = 1; /* the dense backends run dense */
    for (int i = 0; ss_backend_sparse(be) && i < nL; i++) /* and the sparse ones a sparsity */
        if (L[i] == 0)
            return ss_fail(SS_ERR_ARG, "bench kernel: dense runs on --backend cublaslt or ours_dense, not %s", backend);

    int64_t N[MAX_LIST], K[MAX_LIST];
    int n_nk = 4;
    char name[256];
    if (square) {
        for (int i = 0; i < nM; i++) N[i] = K[i] = Ms[i];
        n_nk = nM;
        snprintf(name, sizeof name, "square");
    } else {
        SS_TRY(model_shapes(model, arch, N, K, name, sizeof name, NULL, NULL));
    }

    ss_gpu_info gpu;
    SS_TRY_CTX(ss_gpu_info_isolated(&gpu), "bench kernel"); /* asked of a child: this process stays CUDA-free */
    int failed = 0, skipped = 0, ran = 0;
    char first_error[512] = "";
    for (int d = 0; d < nd; d++)
        for (int l = 0; l < nL; l++) {
            ss_kbench_job job = {.backend = be, .dtype = dts[d], .L = L[l], .model = name, .N = N, .K = K,
                                 .n_nk = n_nk, .M = Ms, .n_m = nM, .results = out, .tune_dir = tune_dir,
                                 .planted_fault = planted};
            ss_kbench_point *pts = calloc((size_t)n_nk * (size_t)nM, sizeof *pts);
            if (!pts) return ss_fail(SS_ERR_NOMEM, "bench kernel: out of memory");
            char sp[16];
            double t0 = ss_now();
            ss_status st = ss_kbench_job_isolated(&job, &o, pts);
            const char *what = ss_kbench_sparsity_name(L[l], sp, sizeof sp);
            if (st == SS_OK) {
                ran++;
                ss_info("bench kernel %s %s %s: %d points in %.1f s", backend, ss_gemm_dtype_name(dts[d]), what,
                        n_nk * nM, ss_now() - t0);
            } else if (st == SS_ERR_UNSUPPORTED) {
                skipped++;
                ss_info("bench kernel %s %s %s: skipped: %s", backend, ss_gemm_dtype_name(dts[d]), what, ss_errmsg());
            } else {
                failed++;
                ss_warn("bench kernel %s %s %s failed: %s", backend, ss_gemm_dtype_name(dts[d]), what, ss_errmsg());
                if (!first_error[0])
                    snprintf(first_error, sizeof first_error, "%s %s: %s", ss_gemm_dtype_name(dts[d]), what, ss_errmsg());
            }
            free(pts);
        }
    ss_info("bench kernel: %d jobs ran, %d skipped, %d failed", ran, skipped, failed);
    if (failed) return ss_fail(SS_ERR_CUDA, "bench kernel: %d of %d jobs failed (first: %s)", failed, nd * nL, first_error);
    if (!ran) return ss_fail(SS_ERR_UNSUPPORTED, "bench kernel: every job was skipped");
    return SS_OK;
}

static const char *g_tune_help =
    "--model DIR [--dtype int8|fp8e4m3|fp4e2m1] [--sparsity dense,2_4,2_6,2_8,2_10] [--m LIST] [--out RESULTS]\n"
    "  Offline search (task 3): for the model's 4 (N,K) pairs, every sparsity\n"
    "  (dense: cuBLASLt, timing its heuristic candidates; 2_L: cuSPARSELt on the\n"
    "  slid shape, MatmulSearch over algorithm ids and split-K) and every M bucket\n"
    "  (64..32768), stores the fastest algorithm in\n"
    "  RESULTS/tuning/<GPU>_<toolchain>/<model>-<DTYPE>.json, which the engine and\n"
    "  the benchmarks look up at run time (nearest bucket at or above M).\n"
    "  The dtype defaults to the checkpoint's quantization; fp4e2m1 (NVFP4, cc >= 10.0)\n"
    "  tunes the dense cuBLASLt GEMM only (cuSPARSELt's FP4 needs paired 4:8, not 2:4).";

ss_status cmd_tune(int argc, char **argv) {
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'}, {"dtype", required_argument, 0, 'd'},
        {"sparsity", required_argument, 0, 's'}, {"m", required_argument, 0, 'M'},
        {"out", required_argument, 0, 'o'},   {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *model = NULL, *out = "results", *dtype = NULL;
    int L[MAX_LIST] = {0, 4, 6, 8, 10}, nL = 5, nM = 10, c;
    int64_t Ms[MAX_LIST];
    memcpy(Ms, k_tune_m, sizeof k_tune_m);
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'd': dtype = optarg; break;
        case 's': SS_TRY(parse_sparsities(optarg, L, &nL)); break;
        case 'M': SS_TRY(copy_list("--m", optarg, Ms, &nM)); break;
        case 'o': out = optarg; break;
        case 'h': printf("usage: slidesparse tune %s\n", g_tune_help); return SS_OK;
        default: return cli_bad_usage("tune", argc, argv);
        }
    }
    if (optind < argc) return cli_bad_usage("tune", argc, argv);
    SS_TRY(cli_require("tune", "--model", model));
    ss_gemm_dtype dt;
    if (dtype) {
        SS_TRY(ss_gemm_dtype_parse(dtype, &dt));
    } else {
        char path[4096];
        ss_ckpt_meta meta;
        SS_TRY(ss_path_join(path, sizeof path, model, "slidesparse.json"));
        SS_TRY_CTX(ss_ckpt_meta_load(path, &meta), "tune: cannot tell the dtype (pass --dtype)");
        ss_quant q = meta.quant;
        ss_ckpt_meta_free(&meta);
        if (q == SS_QUANT_NONE) return ss_fail(SS_ERR_ARG, "tune: %s is not quantized; pass --dtype", model);
        dt = q == SS_QUANT_INT8 ? SS_GEMM_INT8 : SS_GEMM_FP8E4M3;
    }
    int64_t N[4], K[4];
    char base[256], table_name[300], table[4096];
    int64_t head_N = 0, head_K = 0;
    SS_TRY(model_shapes(model, NULL, N, K, base, sizeof base, &head_N, &head_K));
    /* the table is named for the quantized base model, e.g. BitNet-2B-INT8 */
    snprintf(table_name, sizeof table_name, "%s", base);
    ss_kbench_tune_spec spec = {.model = table_name, .dtype = dt, .L = L, .n_L = nL, .N = N, .K = K, .n_nk = 4,
                                .M = Ms, .n_m = nM, .results = out, .head_N = head_N, .head_K = head_K};
    double t0 = ss_now();
    SS_TRY(ss_kbench_tune_isolated(&spec, table, sizeof table));
    ss_info("tune: %s %s, %d sparsities x 4 (N,K) x %d M in %.1f s -> %s", table_name, ss_gemm_dtype_name(dt), nL, nM,
            ss_now() - t0, table);
    return SS_OK;
}
