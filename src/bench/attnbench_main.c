/* ss_attnbench: the engine's attention kernels alone, old against new in one
 * process, on BitNet-2B's attention shape (20 heads over 5 KV heads of 128)
 * by default, against the device's measured copy bandwidth.
 *
 *   ss_attnbench [--decode B:CTX,...] [--prefill SEQS:PROMPT,...] [--kinds old,tc,fused,fp8]
 *                [--heads 20 --kv-heads 5 --head-dim 128] [--iters N] [--csv FILE]
 *
 * Decode point B:CTX: B rows, each its own sequence with CTX positions of
 * random BF16 K/V; the time of one launch (median of 5 runs of --iters
 * launches, alternating between two cache sets so that consecutive launches
 * do not share L2 lines), and the bandwidth of the KV bytes it must read
 * (B * CTX * KV heads * head_dim * 2 bytes * 2), over the copy bandwidth of
 * a 1 GiB device-to-device copy (bytes read + written). Kind `fused` also
 * writes the new position's K/V (rope_kv's work, which old and tc leave to
 * a separate kernel not timed here); `fp8` is `fused` over an FP8 cache
 * (kernels.h's ss_kv_f8: half the bytes, plus a scale per row) of random
 * codes, so its relative L2 against the BF16 kinds is not an accuracy
 * figure (the tests measure that). The kinds' outputs are compared
 * (relative L2 against the first).
 *
 * Prefill point SEQS:PROMPT: the causal flash kernels (mma.sync, and the
 * experimental wgmma one where the GPU has it) on SEQS prompts of
 * PROMPT tokens in one batch (M = SEQS * PROMPT); TFLOP/s counts 4 *
 * head_dim FLOP per (query head, query, visible key): q.k and p.V, two
 * FLOP per multiply-add. */
#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dtype.h"
#include "core/log.h"
#include "core/rng.h"
#include "engine/cuda/kernels.h"
#include "engine/cuda/kernels_ref.h"
#include "engine/cuda/plan.h"
#include "gemm/gemm.h"

#define CUDA_OK(call)                                                                                       \
    do {                                                                                                \
        cudaError_t e_ = (call);                                                                        \
        if (e_ != cudaSuccess) return ss_fail(SS_ERR_CUDA, "%s: %s", #call, cudaGetErrorString(e_));     \
    } while (0)

enum { KIND_FP8 = 100 }; /* the fused tensor-core kernel over an FP8 cache */

typedef struct args {
    int H, KVH, D, iters;
    int n_dec, n_pre, n_kinds;
    int dec_b[16], dec_ctx[16], pre_s[16], pre_p[16];
    int kinds[4]; /* ss_attn_decode_kind, or KIND_FP8 */
    const char *csv;
} args;

static int usage(void) {
    fprintf(stderr, "usage: ss_attnbench [--decode B:CTX,...] [--prefill SEQS:PROMPT,...] [--kinds old,tc,fused,fp8]\n"
                    "  [--heads H] [--kv-heads KVH] [--head-dim 64|128] [--iters N] [--csv FILE]\n");
    return 2;
}

static int parse_pairs(const char *s, int *a, int *b, int cap) {
    int n = 0;
    if (!strcmp(s, "0")) return 0;
    while (*s && n < cap) {
        char *end;
        long x = strtol(s, &end, 10);
        if (end == s || *end != ':') return -1;
        s = end + 1;
        long y = strtol(s, &end, 10);
        if (end == s || x <= 0 || y <= 0) return -1;
        a[n] = (int)x, b[n] = (int)y, n++;
        s = *end == ',' ? end + 1 : end;
    }
    return *s ? -1 : n;
}

static int parse(int argc, char **argv, args *a) {
    memset(a, 0, sizeof *a);
    a->H = 20, a->KVH = 5, a->D = 128, a->iters = 10;
    a->n_dec = parse_pairs("512:144,512:272,128:1024,32:4096,4:16384,1:32768", a->dec_b, a->dec_ctx, 16);
    a->n_pre = parse_pairs("32:1024,8:4096", a->pre_s, a->pre_p, 16);
    a->kinds[0] = SS_ATTN_DECODE_OLD, a->kinds[1] = SS_ATTN_DECODE_TC, a->kinds[2] = SS_ATTN_DECODE_FUSED;
    a->kinds[3] = KIND_FP8;
    a->n_kinds = 4;
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return usage();
        i++;
        if (!strcmp(k, "--decode")) {
            if ((a->n_dec = parse_pairs(v, a->dec_b, a->dec_ctx, 16)) < 0) return usage();
        } else if (!strcmp(k, "--prefill")) {
            if ((a->n_pre = parse_pairs(v, a->pre_s, a->pre_p, 16)) < 0) return usage();
        } else if (!strcmp(k, "--kinds")) {
            char buf[64];
            snprintf(buf, sizeof buf, "%s", v);
            a->n_kinds = 0;
            for (char *t = strtok(buf, ","); t && a->n_kinds < 4; t = strtok(NULL, ",")) {
                ss_attn_decode_kind dk;
                if (!strcmp(t, "fp8")) a->kinds[a->n_kinds++] = KIND_FP8;
                else if (ss_attn_decode_parse(t, &dk) == SS_OK) a->kinds[a->n_kinds++] = (int)dk;
                else {
                    fprintf(stderr, "error: %s (or fp8)\n", ss_errmsg());
                    return 2;
                }
            }
        } else if (!strcmp(k, "--heads")) a->H = atoi(v);
        else if (!strcmp(k, "--kv-heads")) a->KVH = atoi(v);
        else if (!strcmp(k, "--head-dim")) a->D = atoi(v);
        else if (!strcmp(k, "--iters")) a->iters = atoi(v);
        else if (!strcmp(k, "--csv")) a->csv = v;
        else return usage();
    }
    if (a->H <= 0 || a->KVH <= 0 || a->H % a->KVH || (a->D != 64 && a->D != 128) || a->iters <= 0) return usage();
    return 0;
}

static int cmp_float(const void *x, const void *y) {
    float a = *(const float *)x, b = *(const float *)y;
    return (a > b) - (a < b);
}

/* Random BF16 over `elems` elements: a 16 MiB host pattern, uploaded, then
 * doubled on the device (distinct enough: every launch reads far past L2). */
static ss_status fill_random_bf16(uint16_t *d, size_t elems, ss_rng *r) {
    if (elems == 0) return SS_OK;
    const size_t pat = elems < (8u << 20) ? elems : (8u << 20);
    uint16_t *h = calloc(pat, 2);
    if (!h) return ss_fail(SS_ERR_NOMEM, "attnbench: no memory for a fill pattern");
    for (size_t i = 0; i < pat; i++) h[i] = ss_f32_to_bf16(ss_rng_normal(r));
    ss_status st = ss_gpu_upload(d, h, pat * 2);
    free(h);
    SS_TRY(st);
    for (size_t done = pat; done < elems;) {
        const size_t n = done < elems - done ? done : elems - done;
        CUDA_OK(cudaMemcpy(d + done, d, n * 2, cudaMemcpyDeviceToDevice));
        done += n;
    }
    return SS_OK;
}

static ss_status copy_bandwidth(double *gbs) {
    const size_t bytes = (size_t)1 << 30;
    void *a = NULL, *b = NULL;
    SS_TRY(ss_gpu_alloc(bytes, &a));
    ss_status st = ss_gpu_alloc(bytes, &b);
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0), cudaEventCreate(&e1);
    float t[5];
    for (int r = 0; r < 7 && st == SS_OK; r++) {
        cudaEventRecord(e0, 0);
        cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, 0);
        cudaEventRecord(e1, 0);
        if (cudaEventSynchronize(e1) != cudaSuccess) st = ss_fail(SS_ERR_CUDA, "attnbench: copy failed");
        if (r >= 2) cudaEventElapsedTime(&t[r - 2], e0, e1);
    }
    if (st == SS_OK) {
        qsort(t, 5, sizeof t[0], cmp_float);
        *gbs = 2.0 * (double)bytes / (t[2] * 1e-3) / 1e9;
    }
    cudaEventDestroy(e0), cudaEventDestroy(e1);
    ss_gpu_free(a), ss_gpu_free(b);
    return st;
}

typedef struct bench_io {
    ss_attn_geom g;
    int64_t ld; /* of qkv */
    uint16_t *kc, *vc, *qkv;
    ss_kv_f8 kv8; /* FP8 caches of the same shape (decode points) */
    double *rope;
    float *rope_f, *att, *partial;
    int32_t *seq[2], *pos, *rows;
    ss_attn_tile *tiles;
    int n_tiles;
} bench_io;

static void io_free(bench_io *b) {
    ss_gpu_free(b->kc), ss_gpu_free(b->vc), ss_gpu_free(b->qkv), ss_gpu_free(b->rope), ss_gpu_free(b->rope_f);
    ss_gpu_free(b->att), ss_gpu_free(b->partial), ss_gpu_free(b->seq[0]), ss_gpu_free(b->seq[1]);
    ss_gpu_free(b->pos), ss_gpu_free(b->rows), ss_gpu_free(b->tiles);
    ss_gpu_free(b->kv8.k), ss_gpu_free(b->kv8.v), ss_gpu_free(b->kv8.k_scale), ss_gpu_free(b->kv8.v_scale);
    memset(b, 0, sizeof *b);
}

static ss_status upload_new(void **d, const void *h, size_t bytes) {
    SS_TRY(ss_gpu_alloc(bytes ? bytes : 16, d));
    return bytes ? ss_gpu_upload(*d, h, bytes) : SS_OK;
}

/* Caches for 2 * seqs sequences of max_len, qkv for M rows, RoPE tables. */
static ss_status io_make(bench_io *b, const args *a, int seqs, int max_len, int M, ss_rng *r) {
    memset(b, 0, sizeof *b);
    b->g = (ss_attn_geom){.n_heads = a->H, .n_kv_heads = a->KVH, .head_dim = a->D, .max_seqs = 2 * seqs,
                          .max_len = max_len, .q_col = 0, .k_col = (int64_t)a->H * a->D,
                          .v_col = (int64_t)(a->H + a->KVH) * a->D};
    const size_t ce = (size_t)2 * seqs * a->KVH * (size_t)max_len * a->D;
    const int64_t ld = ss_gemm_round_up((int64_t)(a->H + 2 * a->KVH) * a->D, 32), M_pad = ss_gemm_pad_m(M);
    b->ld = ld;
    SS_TRY(ss_gpu_alloc(ce * 2, (void **)&b->kc));
    SS_TRY(ss_gpu_alloc(ce * 2, (void **)&b->vc));
    SS_TRY(fill_random_bf16(b->kc, ce, r));
    SS_TRY(fill_random_bf16(b->vc, ce, r));
    SS_TRY(ss_gpu_alloc((size_t)(M_pad * ld) * 2, (void **)&b->qkv));
    SS_TRY(fill_random_bf16(b->qkv, (size_t)(M_pad * ld), r));
    double *inv = malloc((size_t)a->D / 2 * sizeof(double)), *rope = malloc((size_t)max_len * a->D * sizeof(double));
    float *rope_f = malloc((size_t)max_len * a->D * sizeof(float));
    ss_status st = inv && rope && rope_f ? SS_OK : ss_fail(SS_ERR_NOMEM, "attnbench: no memory for RoPE tables");
    if (st == SS_OK) {
        for (int i = 0; i < a->D / 2; i++) inv[i] = pow(500000.0, -2.0 * i / a->D);
        ss_ref_rope_table(inv, 1.0, a->D, max_len, rope);
        for (size_t i = 0; i < (size_t)max_len * a->D; i++) rope_f[i] = (float)rope[i];
        st = upload_new((void **)&b->rope, rope, (size_t)max_len * a->D * sizeof(double));
    }
    if (st == SS_OK) st = upload_new((void **)&b->rope_f, rope_f, (size_t)max_len * a->D * sizeof(float));
    free(inv), free(rope), free(rope_f);
    SS_TRY(st);
    SS_TRY(ss_gpu_alloc((size_t)M * a->H * a->D * sizeof(float), (void **)&b->att));
    return SS_OK;
}

static ss_status run_decode_kind(bench_io *b, int k, int B, int set) {
    const ss_yview y = {.kind = SS_Y_BF16, .data = b->qkv, .ld = b->ld};
    if (k == KIND_FP8)
        return ss_k_attention_decode_tc_f8(&y, b->rows, B, b->seq[set], b->pos, b->rope, &b->g, 0, 1, &b->kv8,
                                           b->partial, b->att, NULL);
    if (k == SS_ATTN_DECODE_OLD)
        return ss_k_attention_decode(&y, b->rows, B, b->seq[set], b->pos, b->rope, &b->g, b->kc, b->vc, b->partial,
                                     b->att, NULL);
    return ss_k_attention_decode_tc(&y, b->rows, B, b->seq[set], b->pos, b->rope, &b->g, 0, k == SS_ATTN_DECODE_FUSED,
                                    b->kc, b->vc, b->partial, b->att, NULL);
}

static double rel_l2(const float *got, const float *want, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i])) return INFINITY;
        const double d = (double)got[i] - want[i];
        num += d * d, den += (double)want[i] * want[i];
    }
    return sqrt(num / (den > 0 ? den : 1));
}

/* Median time of one launch of fn over 5 runs of iters launches. */
typedef ss_status (*launch_fn)(bench_io *b, int kind, int B, int set);
static ss_status time_launches(bench_io *b, launch_fn fn, int kind, int B, int iters, double *us) {
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0), cudaEventCreate(&e1);
    ss_status st = SS_OK;
    for (int w = 0; w < 3 && st == SS_OK; w++) st = fn(b, kind, B, w & 1);
    float t[5];
    for (int r = 0; r < 5 && st == SS_OK; r++) {
        cudaEventRecord(e0, 0);
        for (int i = 0; i < iters && st == SS_OK; i++) st = fn(b, kind, B, i & 1);
        cudaEventRecord(e1, 0);
        if (st == SS_OK && cudaEventSynchronize(e1) != cudaSuccess)
            st = ss_fail(SS_ERR_CUDA, "attnbench: a launch failed: %s", cudaGetErrorString(cudaGetLastError()));
        if (st == SS_OK) cudaEventElapsedTime(&t[r], e0, e1);
    }
    if (st == SS_OK) {
        qsort(t, 5, sizeof t[0], cmp_float);
        *us = 1e3 * t[2] / iters;
    }
    cudaEventDestroy(e0), cudaEventDestroy(e1);
    return st;
}

static ss_status decode_launch(bench_io *b, int kind, int B, int set) {
    return run_decode_kind(b, kind, B, set);
}

static ss_status prefill_launch(bench_io *b, int kind, int B, int set) {
    (void)set, (void)B;
    const ss_yview y = {.kind = SS_Y_BF16, .data = b->qkv, .ld = b->ld};
    if (kind == SS_ATTN_PREFILL_WGMMA)
        return ss_k_attention_prefill_wgmma(&y, b->tiles, b->n_tiles, b->rope_f, &b->g, b->kc, b->vc, b->att, NULL);
    return ss_k_attention_prefill(&y, b->tiles, b->n_tiles, b->rope_f, &b->g, b->kc, b->vc, b->att, NULL);
}

static const char *kind_name(int k) { return k == KIND_FP8 ? "fp8" : ss_attn_decode_name((ss_attn_decode_kind)k); }

/* FP8 caches of the BF16 caches' shape: random codes (never NaN) and row
 * scales (timing only: their attention is not the BF16 caches'). */
static ss_status make_f8_caches(bench_io *b, ss_rng *r) {
    const size_t rows = (size_t)b->g.max_seqs * b->g.n_kv_heads * b->g.max_len, D = (size_t)b->g.head_dim;
    SS_TRY(ss_gpu_alloc(rows * D, (void **)&b->kv8.k));
    SS_TRY(ss_gpu_alloc(rows * D, (void **)&b->kv8.v));
    SS_TRY(ss_gpu_alloc(rows * sizeof(float), (void **)&b->kv8.k_scale));
    SS_TRY(ss_gpu_alloc(rows * sizeof(float), (void **)&b->kv8.v_scale));
    /* a 16 MiB pattern of BF16 -> its bytes reinterpreted as E4M3 codes would hold NaNs: quantize instead */
    const size_t pat = rows * D < (16u << 20) ? rows * D : (16u << 20);
    uint8_t *h = malloc(pat);
    float *sc = malloc(rows * sizeof(float) < (16u << 20) ? rows * sizeof(float) : (16u << 20));
    if (!h || !sc) {
        free(h), free(sc);
        return ss_fail(SS_ERR_NOMEM, "attnbench: no memory for FP8 patterns");
    }
    for (size_t i = 0; i < pat; i++) h[i] = ss_f32_to_fp8e4m3(100.0f * ss_rng_normal(r));
    const size_t spat = (rows < (4u << 20) ? rows : (4u << 20));
    for (size_t i = 0; i < spat; i++) sc[i] = 0.01f;
    ss_status st = SS_OK;
    uint8_t *dst[2] = {b->kv8.k, b->kv8.v};
    float *sdst[2] = {b->kv8.k_scale, b->kv8.v_scale};
    for (int w = 0; w < 2 && st == SS_OK; w++) {
        for (size_t done = 0; done < rows * D && st == SS_OK; done += pat)
            st = ss_gpu_upload(dst[w] + done, h, done + pat <= rows * D ? pat : rows * D - done);
        for (size_t done = 0; done < rows && st == SS_OK; done += spat)
            st = ss_gpu_upload(sdst[w] + done, sc, (done + spat <= rows ? spat : rows - done) * sizeof(float));
    }
    free(h), free(sc);
    return st;
}

static FILE *g_csv;

static ss_status bench_decode(const args *a, int B, int ctx, double copy_gbs, ss_rng *r) {
    bench_io b;
    ss_status st = io_make(&b, a, B, ctx, B, r);
    int32_t *h = malloc((size_t)B * 4 * sizeof(int32_t));
    if (st == SS_OK && !h) st = ss_fail(SS_ERR_NOMEM, "attnbench: no memory for %d rows", B);
    if (st == SS_OK) {
        for (int i = 0; i < B; i++) h[i] = i, h[B + i] = B + i, h[2 * B + i] = ctx - 1, h[3 * B + i] = i;
        st = upload_new((void **)&b.seq[0], h, (size_t)B * 4);
        if (st == SS_OK) st = upload_new((void **)&b.seq[1], h + B, (size_t)B * 4);
        if (st == SS_OK) st = upload_new((void **)&b.pos, h + 2 * B, (size_t)B * 4);
        if (st == SS_OK) st = upload_new((void **)&b.rows, h + 3 * B, (size_t)B * 4);
    }
    free(h);
    if (st == SS_OK) st = ss_gpu_alloc(ss_attn_decode_partial_floats(B, &b.g) * sizeof(float), (void **)&b.partial);
    int want_f8 = 0;
    for (int k = 0; k < a->n_kinds; k++) want_f8 |= a->kinds[k] == KIND_FP8;
    if (st == SS_OK && want_f8) st = make_f8_caches(&b, r);
    const double kv_bytes = (double)B * ctx * a->KVH * a->D * 2.0 * 2.0;
    const size_t n_att = (size_t)B * a->H * a->D;
    float *ref = malloc(n_att * sizeof(float)), *out = malloc(n_att * sizeof(float));
    if (st == SS_OK && (!ref || !out)) st = ss_fail(SS_ERR_NOMEM, "attnbench: no memory for outputs");
    int dev = 0, sms = 1;
    if (cudaGetDevice(&dev) == cudaSuccess) cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
    const int chunk = ss_attn_decode_chunk(B, a->KVH, ctx, sms);
    /* the new positions' K/V as the fused kind writes them, so every kind reads the same cache */
    const ss_yview y = {.kind = SS_Y_BF16, .data = b.qkv, .ld = b.ld};
    for (int set = 0; set < 2 && st == SS_OK; set++)
        st = ss_k_rope_kv(&y, B, b.seq[set], b.pos, b.rope, &b.g, b.kc, b.vc, NULL);
    for (int k = 0; k < a->n_kinds && st == SS_OK; k++) {
        double us = 0;
        st = run_decode_kind(&b, a->kinds[k], B, 0);
        if (st == SS_OK) st = ss_gpu_download(k == 0 ? ref : out, b.att, n_att * sizeof(float));
        if (st == SS_OK) st = time_launches(&b, decode_launch, (int)a->kinds[k], B, a->iters, &us);
        if (st != SS_OK) break;
        const double bytes = a->kinds[k] == KIND_FP8 ? kv_bytes / 2 * (1.0 + 4.0 / a->D) : kv_bytes; /* + scales */
        const double gbs = bytes / (us * 1e-6) / 1e9, err = k == 0 ? 0.0 : rel_l2(out, ref, n_att);
        printf("decode  B=%-5d ctx=%-6d %-6s %9.1f us  %7.1f GB/s  %5.1f%% of copy  (KV %.0f MB, chunk %d)  rel L2 vs "
               "%s %.1e\n",
               B, ctx, kind_name(a->kinds[k]), us, gbs, 100.0 * gbs / copy_gbs, bytes / 1e6,
               a->kinds[k] == SS_ATTN_DECODE_OLD ? 64 : chunk, kind_name(a->kinds[0]), err);
        if (g_csv)
            fprintf(g_csv, "decode,%d,%d,%s,%.3f,%.1f,%.4f,%.3e\n", B, ctx, kind_name(a->kinds[k]), us, gbs,
                    gbs / copy_gbs, err);
    }
    free(ref), free(out);
    io_free(&b);
    return st;
}

static ss_status bench_prefill(const args *a, int S, int P, ss_rng *r) {
    bench_io b;
    const int M = S * P;
    ss_status st = io_make(&b, a, S, P, M, r);
    int32_t *tok = calloc((size_t)M, 4), *seq = malloc((size_t)M * 4), *pos = malloc((size_t)M * 4),
            *dec = malloc((size_t)M * 4);
    ss_attn_tile *tiles = malloc((size_t)ss_attn_plan_max_tiles(M) * sizeof *tiles);
    if (st == SS_OK && (!tok || !seq || !pos || !dec || !tiles))
        st = ss_fail(SS_ERR_NOMEM, "attnbench: no memory for %d rows", M);
    double flop = 0;
    if (st == SS_OK) {
        for (int i = 0; i < M; i++) seq[i] = i / P, pos[i] = i % P, flop += 4.0 * a->D * a->H * (i % P + 1);
        ss_batch bt = {.n = M, .token = tok, .seq = seq, .pos = pos};
        int nd = 0;
        ss_attn_plan(&bt, tiles, &b.n_tiles, dec, &nd);
        st = upload_new((void **)&b.tiles, tiles, (size_t)b.n_tiles * sizeof *tiles);
    }
    free(tok), free(seq), free(pos), free(dec), free(tiles);
    const size_t n_att = (size_t)M * a->H * a->D;
    float *ref = malloc(n_att * sizeof(float)), *out = malloc(n_att * sizeof(float));
    if (st == SS_OK && (!ref || !out)) st = ss_fail(SS_ERR_NOMEM, "attnbench: no memory for outputs");
    const ss_attn_prefill_kind kinds[2] = {SS_ATTN_PREFILL_MMA, SS_ATTN_PREFILL_WGMMA};
    for (int k = 0; k < 2 && st == SS_OK; k++) {
        if (kinds[k] == SS_ATTN_PREFILL_WGMMA && !ss_attn_prefill_wgmma_available()) {
            printf("prefill seqs=%-3d prompt=%-5d %-6s skipped: needs sm_90 and sm_90a code\n", S, P, "wgmma");
            continue;
        }
        double us = 0;
        st = prefill_launch(&b, (int)kinds[k], M, 0);
        if (st == SS_OK) st = ss_gpu_download(k == 0 ? ref : out, b.att, n_att * sizeof(float));
        if (st == SS_OK) st = time_launches(&b, prefill_launch, (int)kinds[k], M, a->iters, &us);
        if (st != SS_OK) break;
        const double tf = flop / (us * 1e-6) / 1e12, err = k == 0 ? 0.0 : rel_l2(out, ref, n_att);
        printf("prefill seqs=%-3d prompt=%-5d %-6s %9.1f us  %6.1f TFLOP/s  (M=%d, %.2f TFLOP)  rel L2 vs mma %.1e\n",
               S, P, ss_attn_prefill_name(kinds[k]), us, tf, M, flop / 1e12, err);
        if (g_csv)
            fprintf(g_csv, "prefill,%d,%d,%s,%.3f,%.2f,,%.3e\n", S, P, ss_attn_prefill_name(kinds[k]), us, tf, err);
    }
    free(ref), free(out);
    io_free(&b);
    return st;
}

int main(int argc, char **argv) {
    args a;
    if (parse(argc, argv, &a)) return 2;
    if (ss_gpu_count() == 0) {
        fprintf(stderr, "error: no CUDA device\n");
        return 3;
    }
    ss_gpu_info gi;
    if (ss_gpu_info_get(0, &gi) == SS_OK) printf("GPU: %s (cc %d.%d)\n", gi.name, gi.cc_major, gi.cc_minor);
    if (a.csv && !(g_csv = fopen(a.csv, "w"))) {
        fprintf(stderr, "error: cannot write %s\n", a.csv);
        return 1;
    }
    if (g_csv) fprintf(g_csv, "stage,B_or_seqs,ctx_or_prompt,kernel,us,GB_s_or_TFLOP_s,of_copy,rel_l2_vs_first\n");
    double copy = 0;
    ss_status st = copy_bandwidth(&copy);
    if (st == SS_OK) printf("copy bandwidth (1 GiB device to device, read + write): %.1f GB/s\n", copy);
    ss_rng r;
    ss_rng_seed(&r, 7, 0);
    int failures = st != SS_OK;
    if (st != SS_OK) fprintf(stderr, "error: %s\n", ss_errmsg());
    for (int i = 0; i < a.n_dec && st == SS_OK; i++) {
        ss_status s2 = bench_decode(&a, a.dec_b[i], a.dec_ctx[i], copy, &r);
        if (s2 != SS_OK)
            fprintf(stderr, "error: decode B=%d ctx=%d: %s\n", a.dec_b[i], a.dec_ctx[i], ss_errmsg()), failures++;
    }
    for (int i = 0; i < a.n_pre && st == SS_OK; i++) {
        ss_status s2 = bench_prefill(&a, a.pre_s[i], a.pre_p[i], &r);
        if (s2 != SS_OK) fprintf(stderr, "error: prefill %d:%d: %s\n", a.pre_s[i], a.pre_p[i], ss_errmsg()), failures++;
    }
    if (g_csv) fclose(g_csv);
    return failures ? 1 : 0;
}
