/* Result files of the throughput benchmarks: folder names, CSV and JSON. */
#include "bench/throughput_results.h"

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "core/fsutil.h"
#include "core/jsonutil.h"
#include "gemm/lib_version.h"

#ifdef SS_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

const char *ss_tp_stage_name(ss_tp_stage s) { return s == SS_TP_DECODE ? "decode" : "prefill"; }

double ss_tp_requests_per_s(const ss_tp_point *p) {
    return p->median_pass_s > 0 ? (double)p->max_num_seqs / p->median_pass_s : 0.0;
}

double ss_tp_tokens_per_s(const ss_tp_point *p) {
    return ss_tp_requests_per_s(p) * (double)(p->prompt_len + p->output_len);
}

double ss_tp_output_tokens_per_s(const ss_tp_point *p) { return ss_tp_requests_per_s(p) * (double)p->output_len; }

const char *ss_tp_dtype_tag(const char *quant_name) {
    if (!strcmp(quant_name, "int8")) return "INT8";
    if (!strcmp(quant_name, "fp8_e4m3") || !strcmp(quant_name, "fp8")) return "FP8E4M3";
    return "BF16";
}

static void machine_name(char *out, size_t cap) {
    struct utsname u;
    snprintf(out, cap, "%s", uname(&u) == 0 ? u.machine : "unknown");
}

void ss_toolchain_tag(char *out, size_t cap) { ss_toolchain_tag_lib(0, out, cap); }

void ss_toolchain_tag_lib(int cusparselt_version, char *out, size_t cap) {
    char mach[65], lib[48] = "";
    if (cusparselt_version > 0) {
        char v[32];
        snprintf(lib, sizeof lib, "_cslt%s", ss_cusparselt_version_str(cusparselt_version, v, sizeof v));
    }
    machine_name(mach, sizeof mach);
#if defined(__clang__)
    const char *cc = "clang";
    int major = __clang_major__;
#else
    const char *cc = "gcc";
    int major = __GNUC__;
#endif
#ifdef SS_HAVE_CUDA
    snprintf(out, cap, "%s%d_cu%d%d%s_%s", cc, major, CUDART_VERSION / 1000, (CUDART_VERSION % 1000) / 10, lib, mach);
#else
    (void)lib;
    snprintf(out, cap, "%s%d_%s", cc, major, mach);
#endif
}

void ss_toolchain_desc(char *out, size_t cap) {
    char mach[65];
    machine_name(mach, sizeof mach);
#if defined(__clang__)
    const char *cc = "clang " __clang_version__;
#else
    const char *cc = "gcc " __VERSION__;
#endif
#ifdef SS_HAVE_CUDA
    snprintf(out, cap, "%s, CUDA %d.%d (build), %s", cc, CUDART_VERSION / 1000, (CUDART_VERSION % 1000) / 10, mach);
#else
    snprintf(out, cap, "%s, no CUDA, %s", cc, mach);
#endif
}

void ss_tp_model_name(const char *ckpt_dir, char *out, size_t cap) {
    size_t len = strlen(ckpt_dir);
    while (len > 1 && ckpt_dir[len - 1] == '/') len--; /* "models/X/" names X */
    size_t start = len;
    while (start > 0 && ckpt_dir[start - 1] != '/') start--;
    size_t n = len - start;
    const char *base = ckpt_dir + start;
    /* strip a final "-SlideSparse-2_<L>" (L digits or "inf") */
    static const char tag[] = "-SlideSparse-2_";
    const size_t tl = sizeof tag - 1;
    for (size_t i = n >= tl ? n - tl : 0; i-- > 0;) {
        if (strncmp(base + i, tag, tl) != 0) continue;
        size_t j = i + tl, digits = 0;
        while (j + digits < n && base[j + digits] >= '0' && base[j + digits] <= '9') digits++;
        if ((digits > 0 && j + digits == n) || (n - j == 3 && !strncmp(base + j, "inf", 3))) n = i;
        break;
    }
    snprintf(out, cap, "%.*s", (int)n, base);
}

ss_status ss_tp_dir(char *out, size_t cap, const char *results, ss_tp_stage stage, const char *hw, const char *dtype,
                    const char *toolchain, const char *backend, const char *sparsity) {
    int n = snprintf(out, cap, "%s/throughput_benchmark_results/%s/%s_%s_%s/%s%s%s", results, ss_tp_stage_name(stage),
                     hw, dtype, toolchain, backend, sparsity && *sparsity ? "/" : "", sparsity ? sparsity : "");
    if (n < 0 || (size_t)n >= cap) return ss_fail(SS_ERR_ARG, "%s: result folder path too long", results);
    return SS_OK;
}

ss_status ss_tp_write_point_json(const char *dir, const char *model, ss_tp_stage stage, const ss_tp_point *p) {
    char jdir[4096], path[4400];
    SS_TRY(ss_path_join(jdir, sizeof jdir, dir, "json"));
    SS_TRY(ss_mkdir_p(jdir));
    snprintf(path, sizeof path, "%s/%s_M%lld.json", jdir, model, (long long)p->M);
    int64_t requests = (int64_t)p->max_num_seqs * p->n_passes;
    json_t *j = json_pack("{s:s, s:s, s:I, s:i, s:i, s:i, s:i, s:f, s:f, s:I, s:I, s:f, s:f, s:f}", "model", model,
                          "stage", ss_tp_stage_name(stage), "M", (json_int_t)p->M, "prompt_len", p->prompt_len,
                          "output_len", p->output_len, "max_num_seqs", p->max_num_seqs, "passes", p->n_passes,
                          "elapsed_time", p->elapsed_s, "median_pass_s", p->median_pass_s, "num_requests",
                          (json_int_t)requests, "total_num_tokens",
                          (json_int_t)(requests * (p->prompt_len + p->output_len)), "requests_per_second",
                          ss_tp_requests_per_s(p), "tokens_per_second", ss_tp_tokens_per_s(p),
                          "output_tokens_per_second", ss_tp_output_tokens_per_s(p));
    if (!j) return ss_fail(SS_ERR_NOMEM, "%s: cannot build JSON", path);
    ss_status st = ss_json_save(path, j);
    json_decref(j);
    return st;
}

ss_status ss_tp_write_csv(const char *dir, const char *model, ss_tp_stage stage, const ss_tp_point *pts, int n) {
    char path[4400];
    SS_TRY(ss_mkdir_p(dir));
    snprintf(path, sizeof path, "%s/%s_%s.csv", dir, model, ss_tp_stage_name(stage));
    ss_afile f;
    SS_TRY(ss_afile_open(&f, path));
    ss_status st;
    if (stage == SS_TP_PREFILL)
        st = ss_afile_printf(&f, "M_prefill,prompt_len,max_num_seqs,num_prompts,N_prefill,requests_per_s,"
                                 "tokens_per_s,elapsed_time_s,output_tokens_per_s,median_pass_s\n");
    else
        st = ss_afile_printf(&f, "M_decode,prompt_len,max_num_seqs,num_prompts,N_decode,output_len,requests_per_s,"
                                 "tokens_per_s,elapsed_time_s,output_tokens_per_s,median_pass_s\n");
    for (int i = 0; i < n && st == SS_OK; i++) {
        const ss_tp_point *p = &pts[i];
        long long prompts = (long long)p->max_num_seqs * p->n_passes;
        if (stage == SS_TP_PREFILL)
            st = ss_afile_printf(&f, "%lld,%d,%d,%lld,%d,%.4f,%.2f,%.6f,%.2f,%.6f\n", (long long)p->M, p->prompt_len,
                                 p->max_num_seqs, prompts, p->n_passes, ss_tp_requests_per_s(p), ss_tp_tokens_per_s(p),
                                 p->elapsed_s, ss_tp_output_tokens_per_s(p), p->median_pass_s);
        else
            st = ss_afile_printf(&f, "%lld,%d,%d,%lld,%d,%d,%.4f,%.2f,%.6f,%.2f,%.6f\n", (long long)p->M,
                                 p->prompt_len, p->max_num_seqs, prompts, p->n_passes, p->output_len,
                                 ss_tp_requests_per_s(p), ss_tp_tokens_per_s(p), p->elapsed_s,
                                 ss_tp_output_tokens_per_s(p), p->median_pass_s);
    }
    if (st != SS_OK) {
        ss_afile_abort(&f);
        return st;
    }
    return ss_afile_commit(&f);
}
