/* ss_kbench: a developer's driver of the kernel benchmark library, for
 * quick runs on the GPU machine (the CLI's `bench kernel` is the user's).
 *
 *   ss_kbench [--M 1024,4096,16384] [--dtypes int8,fp8e4m3]
 *             [--sparsity dense,2_4,2_6,2_8,2_10,2_inf]
 *             [--nk 3840x2560,2560x2560,13824x2560,2560x6912]
 *             [--backends cublaslt,cusparselt,ours,ours_dense]
 *             [--warmup 3] [--repeats 10] [--no-linear] [--profile] [--csv FILE]
 *
 * Each sparsity runs on each listed backend that takes it: dense on the
 * dense backends (cublaslt, ours_dense), every 2_L with the slid weight on
 * the sparse ones (cusparselt, ours); default cublaslt,cusparselt. Prints,
 * per dtype and M, the latencies summed over the (N, K) pairs and the ratio
 * best dense / row (> 1: the row is faster than the fastest dense backend
 * of that column); --csv writes every point. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_kernel.h"
#include "core/timer.h"
#include "gemm/lib_version.h"

#define MAXL 32

static int parse_list(const char *s, char items[][32], int max) {
    int n = 0;
    const char *p = s;
    while (*p && n < max) {
        size_t len = strcspn(p, ",");
        if (len >= 32) len = 31;
        memcpy(items[n], p, len);
        items[n][len] = 0;
        n++;
        p += strcspn(p, ",");
        if (*p == ',') p++;
    }
    return n;
}

static int usage(const char *msg) {
    fprintf(stderr, "error: %s\nusage: ss_kbench [--M list] [--dtypes list] [--sparsity list] [--nk NxK,...] "
                    "[--warmup n] [--repeats n] [--no-linear] [--profile] [--csv FILE]\n", msg);
    return 2;
}

int main(int argc, char **argv) {
    char Mstr[MAXL][32], dstr[MAXL][32], sstr[MAXL][32], nkstr[MAXL][32], bstr[MAXL][32];
    int nM = parse_list("1024,4096,16384", Mstr, MAXL), nd = parse_list("int8,fp8e4m3", dstr, MAXL);
    int ns = parse_list("dense,2_4,2_6,2_8,2_10,2_inf", sstr, MAXL);
    int nnk = parse_list("3840x2560,2560x2560,13824x2560,2560x6912", nkstr, MAXL);
    int nb = parse_list("cublaslt,cusparselt", bstr, MAXL);
    const char *csv = NULL;
    ss_kbench_opts o;
    ss_kbench_opts_default(&o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--no-linear")) { o.time_linear = 0; continue; }
        if (!strcmp(a, "--profile")) { o.profile = 1; continue; }
        if (!v) return usage("missing value");
        if (!strcmp(a, "--M")) nM = parse_list(v, Mstr, MAXL);
        else if (!strcmp(a, "--dtypes")) nd = parse_list(v, dstr, MAXL);
        else if (!strcmp(a, "--sparsity")) ns = parse_list(v, sstr, MAXL);
        else if (!strcmp(a, "--nk")) nnk = parse_list(v, nkstr, MAXL);
        else if (!strcmp(a, "--backends")) nb = parse_list(v, bstr, MAXL);
        else if (!strcmp(a, "--warmup")) o.warmup = atoi(v);
        else if (!strcmp(a, "--repeats")) o.repeats = atoi(v);
        else if (!strcmp(a, "--csv")) csv = v;
        else return usage(a);
        i++;
    }
    int64_t Ms[MAXL], Ns[MAXL], Ks[MAXL];
    int Ls[MAXL];
    ss_gemm_dtype dts[MAXL];
    for (int i = 0; i < nM; i++) Ms[i] = atoll(Mstr[i]);
    for (int i = 0; i < nnk; i++)
        if (sscanf(nkstr[i], "%lldx%lld", (long long *)&Ns[i], (long long *)&Ks[i]) != 2) return usage(nkstr[i]);
    for (int i = 0; i < nd; i++)
        if (ss_gemm_dtype_parse(dstr[i], &dts[i])) return usage(ss_errmsg());
    for (int i = 0; i < ns; i++) {
        if (!strcmp(sstr[i], "dense")) Ls[i] = 0;
        else if (ss_sparsity_parse(sstr[i], 1, &Ls[i])) return usage(ss_errmsg());
    }
    ss_backend bes[MAXL];
    for (int i = 0; i < nb; i++)
        if (ss_backend_parse(bstr[i], &bes[i])) return usage(ss_errmsg());
    /* rows: (sparsity, backend) pairs that fit */
    int row_L[MAXL * MAXL], nr = 0;
    ss_backend row_b[MAXL * MAXL];
    char row_name[MAXL * MAXL][48];
    for (int i = 0; i < ns; i++)
        for (int b = 0; b < nb; b++)
            if (ss_backend_sparse(bes[b]) == (Ls[i] != 0)) {
                row_L[nr] = Ls[i];
                row_b[nr] = bes[b];
                snprintf(row_name[nr], sizeof row_name[nr], "%s %s", bstr[b], sstr[i]);
                nr++;
            }
    if (!nr) return usage("no backend takes the sparsities asked for");

    ss_gpu_info gpu;
    if (ss_gpu_info_get(0, &gpu)) {
        printf("skipped: %s\n", ss_errmsg());
        return 77;
    }
    char blt[32], slt[32];
    printf("# %s, cc %d.%d, %d SMs, driver %d, runtime %d, cuBLASLt %s, cuSPARSELt %s\n", gpu.name, gpu.cc_major,
           gpu.cc_minor, gpu.sm_count, gpu.driver_version, gpu.runtime_version,
           ss_cublaslt_version_str(gpu.cublaslt_version, blt, sizeof blt),
           ss_cusparselt_version_str(gpu.cusparselt_version, slt, sizeof slt));
    ss_gemm_ctx *ctx;
    if (ss_gemm_ctx_create(0, NULL, NULL, &ctx)) {
        fprintf(stderr, "error: %s\n", ss_errmsg());
        return 1;
    }
    size_t npts = (size_t)nd * nr * nnk * nM;
    ss_kbench_point *pts = calloc(npts, sizeof *pts);
#define PT(d, s, k, m) pts[(((size_t)(d) * nr + (s)) * nnk + (k)) * nM + (m)]
    int rc = 0;
    for (int d = 0; d < nd && !rc; d++)
        for (int s = 0; s < nr && !rc; s++)
            for (int k = 0; k < nnk && !rc; k++) {
                double t0 = ss_now();
                if (ss_kbench_run(ctx, row_b[s], dts[d], row_L[s], Ns[k], Ks[k], Ms, nM, &o, &PT(d, s, k, 0))) {
                    fprintf(stderr, "error: %s (stopping: the CUDA context is broken)\n", ss_errmsg());
                    rc = 1;
                }
                fprintf(stderr, "%s %s N=%lld K=%lld: %.1f s, %s;", dstr[d], row_name[s], (long long)Ns[k],
                        (long long)Ks[k], ss_now() - t0, PT(d, s, k, 0).status);
                for (int m = 0; m < nM; m++)
                    fprintf(stderr, " M=%lld %.1f/%.1f/%.1f us", (long long)Ms[m], PT(d, s, k, m).gemm_us,
                            PT(d, s, k, m).fused_us, PT(d, s, k, m).linear_us);
                fprintf(stderr, "\n");
            }

    if (csv) {
        FILE *f = fopen(csv, "w");
        if (f) {
            fprintf(f, "backend,dtype,sparsity,M,N,K,K_act,status,gemm_us,gemm_us_min,gemm_us_max,fused_us,linear_us,"
                       "alg_id,split_k,candidate,candidates,sm_mhz,power_w\n");
            for (size_t i = 0; i < npts; i++) {
                const ss_kbench_point *p = &pts[i];
                char sp[16];
                fprintf(f, "%s,%s,%s,%lld,%lld,%lld,%lld,\"%s\",%.2f,%.2f,%.2f,%.2f,%.2f,%d,%d,%d,%d,%.0f,%.1f\n",
                        ss_backend_name(p->backend), ss_gemm_dtype_name(p->dtype),
                        ss_kbench_sparsity_name(p->L, sp, sizeof sp), (long long)p->M, (long long)p->N, (long long)p->K,
                        (long long)p->K_act, p->status, p->gemm_us, p->gemm_us_min, p->gemm_us_max, p->fused_us,
                        p->linear_us, p->alg_id, p->split_k, p->candidate, p->candidates, p->sm_mhz, p->power_w);
            }
            fclose(f);
        }
    }

    /* summary: sums over the (N, K) pairs, ratio against the best dense row of each column */
    for (int d = 0; d < nd; d++)
        for (int m = 0; m < nM; m++) {
            printf("\n%s M=%lld (sums over %d (N,K); us)          gemm  ratio | fused  ratio | linear ratio | full/gemm  MHz   W\n",
                   dstr[d], (long long)Ms[m], nnk);
            double sums[MAXL * MAXL][3], mhzs[MAXL * MAXL], ws[MAXL * MAXL], base[3] = {0, 0, 0};
            int oks[MAXL * MAXL];
            for (int s = 0; s < nr; s++) {
                double *sum = sums[s], mhz = 0, w = 0;
                sum[0] = sum[1] = sum[2] = 0;
                int ok = 1, sampled = 0;
                for (int k = 0; k < nnk; k++) {
                    const ss_kbench_point *p = &PT(d, s, k, m);
                    ok &= p->ok;
                    sum[0] += p->gemm_us, sum[1] += p->fused_us, sum[2] += p->linear_us;
                    if (p->sm_mhz > 0) mhz += p->sm_mhz, w += p->power_w, sampled++;
                }
                mhzs[s] = sampled ? mhz / sampled : 0;
                ws[s] = sampled ? w / sampled : 0;
                oks[s] = ok;
                for (int c = 0; ok && row_L[s] == 0 && c < 3; c++)
                    if (sum[c] > 0 && (base[c] == 0 || sum[c] < base[c])) base[c] = sum[c];
            }
            for (int s = 0; s < nr; s++) {
                const double *sum = sums[s];
                if (!oks[s]) {
                    printf("  %-22s %s\n", row_name[s], PT(d, s, 0, m).status);
                    continue;
                }
                printf("  %-22s %19.1f %5.2f | %6.1f %5.2f | %6.1f %5.2f | %5.2f %6.0f %5.0f\n", row_name[s], sum[0],
                       base[0] > 0 ? base[0] / sum[0] : 0, sum[1], base[1] > 0 ? base[1] / sum[1] : 0, sum[2],
                       base[2] > 0 && sum[2] > 0 ? base[2] / sum[2] : 0, sum[1] / sum[0], mhzs[s], ws[s]);
            }
        }
    free(pts);
    ss_gemm_ctx_destroy(ctx);
    return rc;
}
