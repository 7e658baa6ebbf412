/* GPU engine kernels (src/engine/cuda/kernels.h) against their CPU twins
 * (kernels_ref.h, the GEMM layer's ss_dequant_ref / quant references):
 * fused norm + quant (+ slide) in every source mode and output dtype, every
 * GEMM-output view, RoPE + KV-cache write, prefill (flash) and decode
 * (split-context) attention, argmax. Label gpu: exits 77 without a device.
 *
 * Exactness: the row-wise kernels, RoPE and argmax follow the CPU's
 * arithmetic step by step and must match bit for bit (SiLU aside: expf may
 * differ by an ulp). Attention sums in a different order; decode keeps q and
 * P in float (relative error ~1e-6), prefill rounds q and P to BF16 for the
 * tensor cores (relative error ~3e-3), so they are compared by relative
 * L2 error with stated bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/sparsity.h"
#include "core/dtype.h"
#include "core/rng.h"
#include "engine/cuda/kernels.h"
#include "engine/cuda/kernels_ref.h"
#include "engine/cuda/plan.h"
#include "engine/generate.h"
#include "gemm/gemm.h"
#include "gemm/gemm_ref.h"
#include "gemm/linear.h"

#define OK(expr)                                                                                 \
    do {                                                                                         \
        ss_status st_ = (expr);                                                                  \
        if (st_ != SS_OK) fail_msg("%s -> %s: %s", #expr, ss_status_name(st_), ss_errmsg());     \
    } while (0)

static ss_rng g_rng;

/* ---- host/device helpers ---- */

static void *dev_upload(const void *h, size_t bytes) {
    void *d = NULL;
    OK(ss_gpu_alloc(bytes ? bytes : 16, &d));
    if (bytes) OK(ss_gpu_upload(d, h, bytes));
    return d;
}

static void *dev_poison(size_t bytes) { /* 0xAB bytes: every unwritten element shows */
    void *d = NULL;
    OK(ss_gpu_alloc(bytes ? bytes : 16, &d));
    OK(ss_gpu_memset(d, 0xAB, bytes));
    return d;
}

static void *dev_download(const void *d, size_t bytes) {
    void *h = malloc(bytes ? bytes : 1);
    assert_non_null(h);
    OK(ss_gpu_download(h, d, bytes));
    return h;
}

static float *rand_floats(int64_t n, float lo, float hi) {
    float *v = malloc((size_t)n * sizeof(float));
    assert_non_null(v);
    for (int64_t i = 0; i < n; i++) v[i] = lo + (hi - lo) * ss_rng_uniform(&g_rng);
    return v;
}

static float *rand_normal_bf16(int64_t n, float std) { /* BF16-representable */
    float *v = malloc((size_t)n * sizeof(float));
    assert_non_null(v);
    for (int64_t i = 0; i < n; i++) v[i] = ss_round_bf16(std * ss_rng_normal(&g_rng));
    return v;
}

static uint16_t *to_bf16(const float *v, int64_t n) {
    uint16_t *b = malloc((size_t)n * 2 + 2);
    assert_non_null(b);
    for (int64_t i = 0; i < n; i++) b[i] = ss_f32_to_bf16(v[i]);
    return b;
}

static double rel_l2(const float *got, const float *want, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(got[i])) return INFINITY;
        double d = (double)got[i] - want[i];
        num += d * d;
        den += (double)want[i] * want[i];
    }
    return sqrt(num / (den > 0 ? den : 1));
}

/* ---- GEMM-output views: the same random data as a device ss_yview and as
 * the dequantized floats the CPU reference computes from it ---- */

typedef struct yfix {
    ss_yview dev;  /* device view */
    float *host;   /* [M, N] dequantized, BF16 values */
    void *d_data, *d_sx, *d_sw, *d_bias;
} yfix;

static void yfix_make(yfix *f, ss_ykind kind, int64_t M, int64_t N, int64_t ld) {
    memset(f, 0, sizeof *f);
    const int64_t M_pad = ss_gemm_pad_m(M);
    float *sx = rand_floats(M_pad, 0.001f, 0.02f), *sw = rand_floats(N, 0.002f, 0.05f), *bias = rand_floats(N, -0.5f, 0.5f);
    f->host = malloc((size_t)(M * N) * sizeof(float));
    assert_non_null(f->host);
    size_t es = kind == SS_Y_I32 || kind == SS_Y_F32 ? 4 : 2;
    void *raw = calloc((size_t)(M_pad * ld), es);
    assert_non_null(raw);
    for (int64_t i = 0; i < M_pad * ld; i++) {
        if (kind == SS_Y_I32) ((int32_t *)raw)[i] = (int32_t)(ss_rng_u64(&g_rng) % 200001) - 100000;
        else if (kind == SS_Y_F32) ((float *)raw)[i] = 3000.0f * ss_rng_normal(&g_rng);
        else ((uint16_t *)raw)[i] = ss_f32_to_bf16(kind == SS_Y_BF16 ? ss_rng_normal(&g_rng) : 20.0f * ss_rng_normal(&g_rng));
    }
    ss_dtype in = kind == SS_Y_I32 ? SS_DT_I32 : kind == SS_Y_F32 ? SS_DT_F32 : SS_DT_BF16;
    const float *hsx = kind == SS_Y_BF16 ? NULL : sx,
                *hsw = (kind == SS_Y_I32 || kind == SS_Y_F32 || kind == SS_Y_BF16_ACC) ? sw : NULL,
                *hb = kind == SS_Y_BF16 ? NULL : bias;
    ss_dequant_ref(in, raw, ld, M, N, hsx, hsw, hb, f->host, N);
    f->d_data = dev_upload(raw, (size_t)(M_pad * ld) * es);
    f->dev = (ss_yview){.kind = kind, .data = f->d_data, .ld = ld};
    if (hsx) f->dev.sx = f->d_sx = dev_upload(sx, (size_t)M_pad * sizeof(float));
    if (hsw) f->dev.sw = f->d_sw = dev_upload(sw, (size_t)N * sizeof(float));
    if (hb) f->dev.bias = f->d_bias = dev_upload(bias, (size_t)N * sizeof(float));
    free(raw), free(sx), free(sw), free(bias);
}

static void yfix_free(yfix *f) {
    ss_gpu_free(f->d_data), ss_gpu_free(f->d_sx), ss_gpu_free(f->d_sw), ss_gpu_free(f->d_bias);
    free(f->host);
}

/* ---- xview outputs ---- */

typedef struct xout {
    ss_xview dev;
    int64_t M, bytes;
} xout;

static void xout_make(xout *o, ss_dtype dtype, int64_t M, int64_t n, int L) {
    memset(o, 0, sizeof *o);
    o->M = M;
    o->dev.dtype = dtype;
    if (L) {
        OK(ss_slide_geometry(n, L, &o->dev.geom));
        o->dev.slid = 1;
        o->dev.ld = o->dev.geom.K_slid;
    } else {
        o->dev.ld = ss_gemm_round_up(n, 32);
    }
    o->bytes = ss_gemm_pad_m(M) * o->dev.ld * (int64_t)ss_dtype_size(dtype);
    o->dev.data = dev_poison((size_t)o->bytes);
    if (dtype != SS_DT_BF16) o->dev.scale = dev_poison((size_t)ss_gemm_pad_m(M) * sizeof(float));
}

/* Compares the kernel's output with ss_ref_xview of the rows y[M, n].
 * max_code_diff 0: bit-exact; else quantized codes may differ by that much
 * (as integers for INT8, as decoded values within one FP8 step) in at most
 * 1% of the elements, and scales relatively by 1e-5. */
static void xout_check(xout *o, const float *y, int64_t n, int max_code_diff, const char *what) {
    const int64_t M_pad = ss_gemm_pad_m(o->M), ld = o->dev.ld;
    const size_t es = ss_dtype_size(o->dev.dtype);
    uint8_t *want = malloc((size_t)o->bytes);
    float *wscale = malloc((size_t)M_pad * sizeof(float));
    assert_non_null(want), assert_non_null(wscale);
    OK(ss_ref_xview(y, o->M, n, o->dev.dtype, o->dev.slid ? &o->dev.geom : NULL, ld, want, wscale));
    uint8_t *got = dev_download(o->dev.data, (size_t)o->bytes);
    int64_t differ = 0;
    for (int64_t i = 0; i < M_pad * ld; i++) {
        if (!memcmp(got + i * es, want + i * es, es)) continue;
        differ++;
        if (max_code_diff == 0)
            fail_msg("%s: element %lld (row %lld col %lld) differs: got %#x want %#x", what, (long long)i,
                     (long long)(i / ld), (long long)(i % ld), es == 1 ? got[i] : ((uint16_t *)got)[i],
                     es == 1 ? want[i] : ((uint16_t *)want)[i]);
        if (o->dev.dtype == SS_DT_I8) assert_true(abs((int8_t)got[i] - (int8_t)want[i]) <= max_code_diff);
    }
    if (max_code_diff) assert_true(differ * 100 <= M_pad * ld);
    if (o->dev.dtype != SS_DT_BF16) {
        float *gs = dev_download(o->dev.scale, (size_t)M_pad * sizeof(float));
        for (int64_t m = 0; m < M_pad; m++) {
            if (max_code_diff == 0) assert_true(gs[m] == wscale[m]);
            else assert_true(fabsf(gs[m] - wscale[m]) <= 1e-5f * wscale[m]);
        }
        free(gs);
    }
    printf("  %-40s ok (%lld of %lld elements differ)\n", what, (long long)differ, (long long)(M_pad * ld));
    free(got), free(want), free(wscale);
}

static void xout_free(xout *o) {
    ss_gpu_free(o->dev.data);
    ss_gpu_free(o->dev.scale);
}

static const ss_dtype OUT_DTYPES[3] = {SS_DT_BF16, SS_DT_I8, SS_DT_F8_E4M3};
static const int SLIDES[3] = {0, 6, 8};

/* ---- row-wise kernels ---- */

static void norm_plain_case(int M, int n) {
    /* n + 1 weights: norm 2 takes them from the second, a w the kernel cannot load 16 bytes at a time */
    float *x = rand_floats((int64_t)M * n, -3, 3), *w = rand_normal_bf16(n + 1, 1.0f);
    for (int i = 0; i <= n; i++) w[i] += 1.0f;
    float *d_x = dev_upload(x, (size_t)M * n * 4), *d_w = dev_upload(w, (size_t)(n + 1) * 4);
    float *y = malloc((size_t)M * n * 4);
    for (int with_norm = 0; with_norm < 3; with_norm++) {
        const int w0 = with_norm == 2; /* first weight used */
        ss_ref_rmsnorm(y, x, with_norm ? w + w0 : NULL, M, n, 1e-5);
        for (int d = 0; d < 3; d++)
            for (int s = 0; s < 3; s++) {
                xout o;
                xout_make(&o, OUT_DTYPES[d], M, n, SLIDES[s]);
                OK(ss_k_norm(d_x, M, n, with_norm ? d_w + w0 : NULL, 1e-5, &o.dev, NULL));
                char what[96];
                snprintf(what, sizeof what, "norm%s n=%d -> %s L=%d",
                         with_norm == 2 ? " (w unaligned)" : with_norm ? "" : "(none)", n,
                         ss_dtype_name(OUT_DTYPES[d]), SLIDES[s]);
                xout_check(&o, y, n, 0, what);
                xout_free(&o);
            }
    }
    ss_gpu_free(d_x), ss_gpu_free(d_w);
    free(x), free(w), free(y);
}

static void test_norm_plain(void **state) {
    (void)state;
    /* n not a multiple of 32 nor of 6: padding everywhere; 520 takes the
     * 2:8 path that stores whole groups, 516 (not a multiple of 8) the
     * general window gather for every L. The longer rows: 6916 (not a
     * multiple of 8), 9000, and 16388, whose float row needs more than
     * 48 KiB of shared memory. */
    const int ns[5] = {520, 516, 6916, 9000, 16388};
    for (int nc = 0; nc < 5; nc++)
        norm_plain_case(nc < 2 ? 37 : 5, ns[nc]);
}

static void test_embed_norm(void **state) {
    (void)state;
    const int M = 19, n = 256, vocab = 100;
    float *table = rand_normal_bf16((int64_t)vocab * n, 1.0f), *w = rand_floats(n, 0.5f, 1.5f);
    uint16_t *tb = to_bf16(table, (int64_t)vocab * n);
    int32_t tok[19];
    for (int i = 0; i < M; i++) tok[i] = (int32_t)(ss_rng_u64(&g_rng) % vocab);
    uint16_t *d_tab = dev_upload(tb, (size_t)vocab * n * 2);
    int32_t *d_tok = dev_upload(tok, sizeof tok);
    float *d_w = dev_upload(w, (size_t)n * 4);
    float *x = malloc((size_t)M * n * 4), *y = malloc((size_t)M * n * 4);
    for (int i = 0; i < M; i++) memcpy(x + (size_t)i * n, table + (size_t)tok[i] * n, (size_t)n * 4);
    ss_ref_rmsnorm(y, x, w, M, n, 1e-6);
    for (int bf = 0; bf < 2; bf++) { /* residual F32, BF16 */
        void *d_x = dev_poison((size_t)M * n * 4);
        xout o;
        xout_make(&o, SS_DT_I8, M, n, 8);
        OK(ss_k_embed_norm(d_tok, d_tab, M, n, d_x, bf ? SS_DT_BF16 : SS_DT_F32, d_w, 1e-6, &o.dev, NULL));
        xout_check(&o, y, n, 0, bf ? "embed_norm (x BF16) -> I8 L=8" : "embed_norm -> I8 L=8");
        if (bf) {
            uint16_t *gx = dev_download(d_x, (size_t)M * n * 2), *wx = to_bf16(x, (int64_t)M * n);
            assert_memory_equal(gx, wx, (size_t)M * n * 2);
            free(gx), free(wx);
        } else {
            float *gx = dev_download(d_x, (size_t)M * n * 4);
            assert_memory_equal(gx, x, (size_t)M * n * 4);
            free(gx);
        }
        xout_free(&o);
        ss_gpu_free(d_x);
    }
    assert_int_equal(ss_k_embed_norm(d_tok, d_tab, M, n, NULL, SS_DT_F16, d_w, 1e-6, NULL, NULL), SS_ERR_ARG);
    assert_non_null(strstr(ss_errmsg(), "residual dtype"));
    ss_gpu_free(d_tab), ss_gpu_free(d_tok), ss_gpu_free(d_w);
    free(table), free(tb), free(w), free(x), free(y);
}

/* Residual add + norm for every GEMM-output view, x float or BF16 (then the
 * sum is rounded: x = bf16(x + delta), the CPU's BF16 residual). */
static void add_norm_case(int M, int n, int64_t ld) {
    const ss_ykind kinds[5] = {SS_Y_BF16, SS_Y_BF16_CHANNEL, SS_Y_I32, SS_Y_F32, SS_Y_BF16_ACC};
    float *w = rand_floats(n, 0.5f, 1.5f), *d_w = dev_upload(w, (size_t)n * 4);
    for (int k = 0; k < 10; k++) {
        const int bf = k >= 5; /* BF16 residual */
        const size_t xs = bf ? 2 : 4, xbytes = (size_t)M * n * xs;
        yfix f;
        yfix_make(&f, kinds[k % 5], M, n, ld);
        float *x = bf ? rand_normal_bf16((int64_t)M * n, 1.0f) : rand_floats((int64_t)M * n, -2, 2);
        float *sum = malloc((size_t)M * n * 4), *y = malloc((size_t)M * n * 4);
        for (int64_t i = 0; i < (int64_t)M * n; i++) sum[i] = bf ? ss_round_bf16(x[i] + f.host[i]) : x[i] + f.host[i];
        uint16_t *xb = to_bf16(x, (int64_t)M * n), *sumb = to_bf16(sum, (int64_t)M * n);
        const void *xh = bf ? (const void *)xb : (const void *)x, *sumh = bf ? (const void *)sumb : (const void *)sum;
        const ss_dtype xd = bf ? SS_DT_BF16 : SS_DT_F32;
        /* all rows, residual written back */
        void *d_x = dev_upload(xh, xbytes);
        ss_ref_rmsnorm(y, sum, w, M, n, 1e-5);
        xout o;
        xout_make(&o, SS_DT_F8_E4M3, M, n, k % 5 == 2 ? 10 : 0);
        OK(ss_k_add_norm(d_x, xd, &f.dev, NULL, M, n, 1, d_w, 1e-5, &o.dev, NULL));
        char what[96];
        snprintf(what, sizeof what, "add_norm(n=%d, y kind %d, x %s) -> FP8%s", n, (int)kinds[k % 5], bf ? "BF16" : "F32",
                 k % 5 == 2 ? " L=10" : "");
        xout_check(&o, y, n, 0, what);
        void *gx = dev_download(d_x, xbytes);
        assert_memory_equal(gx, sumh, xbytes);
        free(gx);
        xout_free(&o);
        /* gathered rows (the lm_head input), residual untouched */
        int32_t rows[3] = {M - 1, M / 2, 0};
        float *ys = malloc((size_t)3 * n * 4), *sums = malloc((size_t)3 * n * 4);
        for (int r = 0; r < 3; r++) memcpy(sums + (size_t)r * n, sum + (size_t)rows[r] * n, (size_t)n * 4);
        ss_ref_rmsnorm(ys, sums, w, 3, n, 1e-5);
        OK(ss_gpu_upload(d_x, xh, xbytes));
        int32_t *d_rows = dev_upload(rows, sizeof rows);
        xout_make(&o, SS_DT_BF16, 3, n, 0);
        OK(ss_k_add_norm(d_x, xd, &f.dev, d_rows, 3, n, 0, d_w, 1e-5, &o.dev, NULL));
        xout_check(&o, ys, n, 0, "add_norm gathered rows -> BF16");
        gx = dev_download(d_x, xbytes);
        assert_memory_equal(gx, xh, xbytes);
        free(gx);
        xout_free(&o);
        ss_gpu_free(d_rows), ss_gpu_free(d_x);
        free(x), free(sum), free(y), free(ys), free(sums), free(xb), free(sumb);
        yfix_free(&f);
    }
    ss_gpu_free(d_w);
    free(w);
}

static void test_add_norm(void **state) {
    (void)state;
    add_norm_case(21, 384, 416);   /* a small row */
    add_norm_case(6, 2564, 2596);  /* BitNet's size class, n and the stride not multiples of 8 */
}

static void act_norm_case(int M, int I, int64_t ld) {
    float *w = rand_floats(I, 0.5f, 1.5f), *d_w = dev_upload(w, (size_t)I * 4);
    for (int act = 0; act < 2; act++)
        for (int k = 0; k < 3; k++) { /* BF16, INT32 accumulators, BF16 accumulators (cuSPARSELt FP8) */
            yfix f;
            yfix_make(&f, k == 0 ? SS_Y_BF16 : k == 1 ? SS_Y_I32 : SS_Y_BF16_ACC, M, 2 * I, ld);
            float *h = malloc((size_t)M * I * 4), *y = malloc((size_t)M * I * 4);
            ss_ref_act(f.host, M, I, act, h);
            for (int with_norm = 0; with_norm < 2; with_norm++) {
                ss_ref_rmsnorm(y, h, with_norm ? w : NULL, M, I, 1e-5);
                for (int d = 1; d < 3; d++) {
                    xout o;
                    xout_make(&o, OUT_DTYPES[d], M, I, d == 1 ? 8 : 0);
                    OK(ss_k_act_norm(&f.dev, M, I, act, with_norm ? d_w : NULL, 1e-5, &o.dev, NULL));
                    char what[96];
                    snprintf(what, sizeof what, "act_norm(%s, I=%d, y kind %d, norm %d) -> %s", act ? "silu" : "relu2",
                             I, k, with_norm, ss_dtype_name(OUT_DTYPES[d]));
                    xout_check(&o, y, I, act ? 1 : 0, what); /* silu: expf may differ by an ulp */
                    xout_free(&o);
                }
            }
            free(h), free(y);
            yfix_free(&f);
        }
    ss_gpu_free(d_w);
    free(w);
}

static void test_act_norm(void **state) {
    (void)state;
    /* 344: a small row; BitNet's 6912 with a stride that is not a multiple of 8 */
    act_norm_case(33, 344, 2 * 344 + 16);
    act_norm_case(7, 6912, 2 * 6912 + 4);
}

/* ---- RoPE + KV cache and attention ---- */

typedef struct attn_fix {
    ss_attn_geom g;
    double *rope, *d_rope; /* double table: rope_kv, decode attention */
    float *d_rope_f;       /* float table: prefill attention */
    int64_t ld;            /* of qkv */
} attn_fix;

static void attn_fix_make(attn_fix *a, int H, int KVH, int D, int max_seqs, int max_len, double theta) {
    memset(a, 0, sizeof *a);
    a->g = (ss_attn_geom){.n_heads = H, .n_kv_heads = KVH, .head_dim = D, .max_seqs = max_seqs, .max_len = max_len,
                          .q_col = 0, .k_col = (int64_t)H * D, .v_col = (int64_t)(H + KVH) * D};
    a->ld = ss_gemm_round_up((int64_t)(H + 2 * KVH) * D, 32);
    double inv[128];
    for (int i = 0; i < D / 2; i++) inv[i] = pow(theta, -2.0 * i / D);
    a->rope = malloc((size_t)max_len * D * sizeof(double));
    assert_non_null(a->rope);
    ss_ref_rope_table(inv, 1.0, D, max_len, a->rope);
    a->d_rope = dev_upload(a->rope, (size_t)max_len * D * sizeof(double));
    float *rf = malloc((size_t)max_len * D * sizeof(float));
    assert_non_null(rf);
    for (size_t i = 0; i < (size_t)max_len * D; i++) rf[i] = (float)a->rope[i];
    a->d_rope_f = dev_upload(rf, (size_t)max_len * D * sizeof(float));
    free(rf);
}

static void attn_fix_free(attn_fix *a) {
    free(a->rope);
    ss_gpu_free(a->d_rope);
    ss_gpu_free(a->d_rope_f);
}

static size_t cache_elems(const ss_attn_geom *g) {
    return (size_t)g->max_seqs * g->n_kv_heads * g->max_len * g->head_dim;
}

static void test_rope_kv(void **state) {
    (void)state;
    for (int variant = 0; variant < 3; variant++) {
        attn_fix a;
        attn_fix_make(&a, 4, 2, variant ? 128 : 64, 3, 40, variant ? 500000.0 : 10000.0);
        const int M = 25;
        yfix f;
        yfix_make(&f, variant == 0 ? SS_Y_BF16 : variant == 1 ? SS_Y_BF16_CHANNEL : SS_Y_BF16_ACC, M, a.ld, a.ld);
        int32_t seq[25], pos[25];
        for (int i = 0; i < M; i++) seq[i] = i % 3, pos[i] = (i * 7) % 40; /* distinct (seq, pos) pairs */
        int32_t *d_seq = dev_upload(seq, sizeof seq), *d_pos = dev_upload(pos, sizeof pos);
        const size_t ce = cache_elems(&a.g);
        uint16_t *kc = calloc(ce, 2), *vc = calloc(ce, 2);
        uint16_t *d_kc = dev_upload(kc, ce * 2), *d_vc = dev_upload(vc, ce * 2);
        OK(ss_ref_rope_kv(f.host, a.ld, M, seq, pos, a.rope, &a.g, kc, vc));
        OK(ss_k_rope_kv(&f.dev, M, d_seq, d_pos, a.d_rope, &a.g, d_kc, d_vc, NULL));
        uint16_t *gk = dev_download(d_kc, ce * 2), *gv = dev_download(d_vc, ce * 2);
        assert_memory_equal(gk, kc, ce * 2);
        assert_memory_equal(gv, vc, ce * 2);
        printf("  rope_kv D=%d: caches bit-identical\n", a.g.head_dim);
        free(gk), free(gv), free(kc), free(vc);
        ss_gpu_free(d_kc), ss_gpu_free(d_vc), ss_gpu_free(d_seq), ss_gpu_free(d_pos);
        yfix_free(&f);
        attn_fix_free(&a);
    }
}

/* Fills the caches on the host for every (seq, pos) in [0, upto[seq]) from
 * random BF16 k/v rows, uploads them. */
static void fill_caches(const attn_fix *a, const int *upto, uint16_t **d_kc, uint16_t **d_vc) {
    const size_t ce = cache_elems(&a->g);
    uint16_t *kc = calloc(ce, 2), *vc = calloc(ce, 2);
    assert_non_null(kc), assert_non_null(vc);
    for (int s = 0; s < a->g.max_seqs; s++)
        for (int h = 0; h < a->g.n_kv_heads; h++)
            for (int p = 0; p < upto[s]; p++)
                for (int d = 0; d < a->g.head_dim; d++) {
                    size_t at = (((size_t)s * a->g.n_kv_heads + h) * a->g.max_len + p) * a->g.head_dim + d;
                    kc[at] = ss_f32_to_bf16(ss_rng_normal(&g_rng));
                    vc[at] = ss_f32_to_bf16(ss_rng_normal(&g_rng));
                }
    *d_kc = dev_upload(kc, ce * 2);
    *d_vc = dev_upload(vc, ce * 2);
    free(kc), free(vc);
}

static void test_attention(void **state) {
    (void)state;
    /* head dims, and heads over 2 KV heads: groups of 4 pair up in the wgmma
     * kernel (two query heads a CTA), groups of 3 do not (one a CTA) */
    const int Ds[3] = {64, 128, 128}, Hs[3] = {8, 8, 6};
    for (int v = 0; v < 3; v++) {
        attn_fix a;
        attn_fix_make(&a, Hs[v], 2, Ds[v], 4, 400, 500000.0);
        /* batch: seq 0 prefill 0..389 (7 tiles: the wgmma kernel's 3-stage K/V
         * ring wraps twice), seq 1 continues 50..89, seq 2 one decode token at
         * 150, seq 3 one decode token at 300 (3 chunks) */
        int32_t tok[512], seq[512], pos[512];
        int n = 0;
        for (int p = 0; p < 390; p++) seq[n] = 0, pos[n++] = p;
        for (int p = 50; p < 90; p++) seq[n] = 1, pos[n++] = p;
        seq[n] = 2, pos[n++] = 150;
        seq[n] = 3, pos[n++] = 300;
        for (int i = 0; i < n; i++) tok[i] = 0;
        const int upto[4] = {390, 90, 151, 301};
        uint16_t *d_kc, *d_vc;
        fill_caches(&a, upto, &d_kc, &d_vc);
        const size_t ce = cache_elems(&a.g);
        uint16_t *kc = dev_download(d_kc, ce * 2), *vc = dev_download(d_vc, ce * 2);
        yfix f;
        yfix_make(&f, SS_Y_BF16, n, a.ld, a.ld);
        ss_batch b = {.n = n, .token = tok, .seq = seq, .pos = pos};
        ss_attn_tile tiles[512];
        int32_t dec[512];
        int nt, nd;
        ss_attn_plan(&b, tiles, &nt, dec, &nd);
        assert_int_equal(nt, 7 + 1);
        assert_int_equal(nd, 2);
        int32_t *d_seq = dev_upload(seq, (size_t)n * 4), *d_pos = dev_upload(pos, (size_t)n * 4),
                *d_dec = dev_upload(dec, (size_t)nd * 4);
        ss_attn_tile *d_tiles = dev_upload(tiles, sizeof(ss_attn_tile) * (size_t)nt);
        const int64_t Q = (int64_t)a.g.n_heads * a.g.head_dim;
        float *d_att = dev_poison((size_t)n * Q * 4);
        float *d_part = dev_poison(ss_attn_decode_partial_floats(nd, &a.g) * 4);
        OK(ss_k_attention_prefill(&f.dev, d_tiles, nt, a.d_rope_f, &a.g, d_kc, d_vc, d_att, NULL));
        OK(ss_k_attention_decode(&f.dev, d_dec, nd, d_seq, d_pos, a.d_rope, &a.g, d_kc, d_vc, d_part, d_att, NULL));
        float *got = dev_download(d_att, (size_t)n * Q * 4), *want = malloc((size_t)n * Q * 4);
        if (ss_attn_prefill_wgmma_available()) {
            /* the wgmma kernel: the same tiles, compared with the mma.sync kernel and (below) the CPU */
            float *d_att2 = dev_poison((size_t)n * Q * 4);
            OK(ss_k_attention_prefill_wgmma(&f.dev, d_tiles, nt, a.d_rope_f, &a.g, d_kc, d_vc, d_att2, NULL));
            float *got2 = dev_download(d_att2, (size_t)n * Q * 4);
            const int n_pre2 = n - 2;
            float *want2 = malloc((size_t)n * Q * 4);
            OK(ss_ref_attention(f.host, a.ld, n, seq, pos, a.rope, &a.g, kc, vc, want2));
            const double e_mma = rel_l2(got2, got, (int64_t)n_pre2 * Q), e_cpu = rel_l2(got2, want2, (int64_t)n_pre2 * Q);
            printf("  attention D=%d: prefill (wgmma) rel L2 %.2e vs CPU, %.2e vs the mma.sync kernel\n", a.g.head_dim,
                   e_cpu, e_mma);
            assert_true(e_cpu < 1e-2);
            assert_true(e_mma < 1e-3); /* same roundings, other summation order */
            for (int i = 0; i < n_pre2; i++) assert_true(rel_l2(got2 + (int64_t)i * Q, want2 + (int64_t)i * Q, Q) < 3e-2);
            free(got2), free(want2);
            ss_gpu_free(d_att2);
        } else {
            printf("  attention D=%d: wgmma prefill kernel not available here (needs sm_90 and sm_90a code)\n",
                   a.g.head_dim);
        }
        OK(ss_ref_attention(f.host, a.ld, n, seq, pos, a.rope, &a.g, kc, vc, want));
        const int n_pre = n - 2;
        double e_pre = rel_l2(got, want, (int64_t)n_pre * Q);
        double e_dec = rel_l2(got + (int64_t)n_pre * Q, want + (int64_t)n_pre * Q, 2 * Q);
        printf("  attention D=%d: prefill (flash, FP16 q.K, BF16 P.V) rel L2 %.2e, decode (float, split) rel L2 %.2e\n",
               a.g.head_dim, e_pre, e_dec);
        assert_true(e_pre < 1e-2);
        assert_true(e_dec < 1e-5);
        /* every row of the prefill tiles: no row may be far off (catches a wrong tile or mask) */
        for (int i = 0; i < n_pre; i++) assert_true(rel_l2(got + (int64_t)i * Q, want + (int64_t)i * Q, Q) < 3e-2);
        free(got), free(want), free(kc), free(vc);
        ss_gpu_free(d_att), ss_gpu_free(d_part), ss_gpu_free(d_seq), ss_gpu_free(d_pos), ss_gpu_free(d_dec);
        ss_gpu_free(d_tiles), ss_gpu_free(d_kc), ss_gpu_free(d_vc);
        yfix_free(&f);
        attn_fix_free(&a);
    }
}

/* The tensor-core decode kernel (ss_k_attention_decode_tc) on contexts of
 * every length near its warp (16), tile (64) and chunk edges, each row its
 * own sequence, rows given in a permuted order: against the CPU engine's
 * attention (ss_ref_attention) and the kernel's own twin
 * (ss_ref_attention_decode_tc, same chunks), for automatic and forced
 * chunks (the split + combine path), GQA groups of 1 to 8, both head
 * dimensions, BF16 and BF16-accumulator q/k/v views. Fused (fuse_kv 1): the
 * caches hold NaN at each row's own position beforehand, and must hold
 * exactly ss_ref_rope_kv's K/V there afterwards. */
static const int DEC_CTX[] = {1, 2, 15, 16, 17, 31, 48, 63, 64, 65, 80, 127, 128, 129, 191, 192, 193, 255, 256, 300};
#define N_DEC_CTX ((int)(sizeof DEC_CTX / sizeof DEC_CTX[0]))

static void check_decode_tc(int H, int KVH, int D, ss_ykind kind, int fuse) {
    const int n = N_DEC_CTX, max_len = 300;
    attn_fix a;
    attn_fix_make(&a, H, KVH, D, n, max_len, 500000.0);
    yfix f;
    yfix_make(&f, kind, n, a.ld, a.ld);
    int32_t seq[N_DEC_CTX], pos[N_DEC_CTX], rows[N_DEC_CTX];
    for (int i = 0; i < n; i++) seq[i] = n - 1 - i, pos[i] = DEC_CTX[i] - 1, rows[i] = (i * 7) % n;
    const size_t ce = cache_elems(&a.g);
    uint16_t *kc = malloc(ce * 2), *vc = malloc(ce * 2);
    assert_non_null(kc), assert_non_null(vc);
    for (size_t i = 0; i < ce; i++) kc[i] = ss_f32_to_bf16(ss_rng_normal(&g_rng)), vc[i] = ss_f32_to_bf16(ss_rng_normal(&g_rng));
    if (fuse) /* the kernel must neither read these nor leave them */
        for (int i = 0; i < n; i++)
            for (int h = 0; h < KVH; h++)
                for (int d = 0; d < D; d++) {
                    const size_t at = (((size_t)seq[i] * KVH + h) * max_len + pos[i]) * D + d;
                    kc[at] = vc[at] = 0x7fc0;
                }
    uint16_t *d_kc = dev_upload(kc, ce * 2), *d_vc = dev_upload(vc, ce * 2);
    if (fuse) OK(ss_ref_rope_kv(f.host, a.ld, n, seq, pos, a.rope, &a.g, kc, vc)); /* the caches the kernel must leave */
    int32_t *d_seq = dev_upload(seq, sizeof seq), *d_pos = dev_upload(pos, sizeof pos), *d_rows = dev_upload(rows, sizeof rows);
    const int64_t Q = (int64_t)H * D;
    float *want = malloc((size_t)n * Q * 4), *twin = malloc((size_t)n * Q * 4);
    assert_non_null(want), assert_non_null(twin);
    OK(ss_ref_attention(f.host, a.ld, n, seq, pos, a.rope, &a.g, kc, vc, want));
    const int chunks[4] = {0, 64, 128, 320};
    for (int c = 0; c < 4; c++) {
        if (c > 0) { /* fresh caches: the fused run wrote them */
            OK(ss_gpu_upload(d_kc, kc, ce * 2));
            OK(ss_gpu_upload(d_vc, vc, ce * 2));
            if (fuse) /* poison the new positions again */
                for (int i = 0; i < n; i++)
                    for (int h = 0; h < KVH; h++) {
                        const size_t at = (((size_t)seq[i] * KVH + h) * max_len + pos[i]) * D;
                        uint16_t nan_row[128];
                        for (int d = 0; d < D; d++) nan_row[d] = 0x7fc0;
                        OK(ss_gpu_upload(d_kc + at, nan_row, (size_t)D * 2));
                        OK(ss_gpu_upload(d_vc + at, nan_row, (size_t)D * 2));
                    }
        }
        float *d_att = dev_poison((size_t)n * Q * 4), *d_part = dev_poison(ss_attn_decode_partial_floats(n, &a.g) * 4);
        OK(ss_k_attention_decode_tc(&f.dev, d_rows, n, d_seq, d_pos, a.d_rope, &a.g, chunks[c], fuse, d_kc, d_vc, d_part,
                                    d_att, NULL));
        float *got = dev_download(d_att, (size_t)n * Q * 4);
        double worst = 0, worst_twin = 0;
        if (chunks[c]) /* (the automatic chunk depends on the GPU's SM count) */
            OK(ss_ref_attention_decode_tc(f.host, a.ld, rows, n, seq, pos, a.rope, &a.g, chunks[c], kc, vc, twin));
        for (int i = 0; i < n; i++) {
            const double e = rel_l2(got + (int64_t)i * Q, want + (int64_t)i * Q, Q);
            if (e > worst) worst = e;
            if (e >= 1e-4)
                fail_msg("decode_tc H=%d KVH=%d D=%d kind %d fuse %d chunk %d: context %d: rel L2 %.3g vs CPU", H, KVH,
                         D, (int)kind, fuse, chunks[c], DEC_CTX[i], e);
            if (chunks[c]) {
                const double et = rel_l2(got + (int64_t)i * Q, twin + (int64_t)i * Q, Q);
                if (et > worst_twin) worst_twin = et;
                assert_true(et < 1e-4);
            }
        }
        printf("  decode_tc H=%2d KVH=%d D=%3d y kind %d fuse %d chunk %3d: worst row rel L2 %.2e vs CPU, %.2e vs twin\n",
               H, KVH, D, (int)kind, fuse, chunks[c], worst, worst_twin);
        if (fuse) {
            uint16_t *gk = dev_download(d_kc, ce * 2), *gv = dev_download(d_vc, ce * 2);
            assert_memory_equal(gk, kc, ce * 2);
            assert_memory_equal(gv, vc, ce * 2);
            free(gk), free(gv);
        }
        free(got);
        ss_gpu_free(d_att), ss_gpu_free(d_part);
    }
    free(want), free(twin), free(kc), free(vc);
    ss_gpu_free(d_kc), ss_gpu_free(d_vc), ss_gpu_free(d_seq), ss_gpu_free(d_pos), ss_gpu_free(d_rows);
    yfix_free(&f);
    attn_fix_free(&a);
}

static void test_attention_decode_tc(void **state) {
    (void)state;
    for (int fuse = 0; fuse < 2; fuse++) {
        check_decode_tc(20, 5, 128, SS_Y_BF16, fuse); /* BitNet-2B */
        check_decode_tc(8, 2, 64, SS_Y_BF16_ACC, fuse);
        check_decode_tc(4, 4, 128, SS_Y_BF16, fuse); /* groups of 1 */
        check_decode_tc(16, 2, 64, SS_Y_F32, fuse);  /* groups of 8 */
        check_decode_tc(6, 2, 128, SS_Y_BF16_CHANNEL, fuse);
    }
}

/* Shapes the tensor-core decode kernel does not take are refused by name. */
static void test_attention_decode_tc_refusals(void **state) {
    (void)state;
    attn_fix a;
    attn_fix_make(&a, 18, 2, 128, 2, 64, 10000.0);
    ss_yview y = {.kind = SS_Y_BF16, .data = NULL, .ld = a.ld};
    assert_int_equal(ss_k_attention_decode_tc(&y, NULL, 1, NULL, NULL, a.d_rope, &a.g, 0, 0, NULL, NULL, NULL, NULL, NULL),
                     SS_ERR_UNSUPPORTED); /* groups of 9 */
    assert_non_null(strstr(ss_errmsg(), "groups"));
    a.g.n_heads = 8;
    assert_int_equal(ss_k_attention_decode_tc(&y, NULL, 1, NULL, NULL, a.d_rope, &a.g, 100, 0, NULL, NULL, NULL, NULL, NULL),
                     SS_ERR_ARG); /* chunk not a multiple of 64 */
    a.g.head_dim = 96;
    assert_int_equal(ss_k_attention_decode_tc(&y, NULL, 1, NULL, NULL, a.d_rope, &a.g, 0, 0, NULL, NULL, NULL, NULL, NULL),
                     SS_ERR_UNSUPPORTED);
    assert_non_null(strstr(ss_errmsg(), "head_dim"));
    attn_fix_free(&a);
}

/* ---- the FP8 KV cache ---- */

typedef struct kv8_fix {
    ss_kv_f8 host, dev; /* host and device copies */
    size_t rows, D;
} kv8_fix;

static void kv8_make(kv8_fix *f, const ss_attn_geom *g) {
    f->D = (size_t)g->head_dim;
    f->rows = (size_t)g->max_seqs * g->n_kv_heads * g->max_len;
    f->host.k = calloc(f->rows, f->D), f->host.v = calloc(f->rows, f->D);
    f->host.k_scale = calloc(f->rows, 4), f->host.v_scale = calloc(f->rows, 4);
    assert_non_null(f->host.k), assert_non_null(f->host.v), assert_non_null(f->host.k_scale);
    assert_non_null(f->host.v_scale);
}

/* Random rows (BF16 values, std 1) quantized per row into the host cache. */
static void kv8_fill(kv8_fix *f) {
    float *tmp = malloc(f->D * sizeof(float));
    assert_non_null(tmp);
    for (size_t r = 0; r < f->rows; r++)
        for (int kv = 0; kv < 2; kv++) {
            for (size_t d = 0; d < f->D; d++) tmp[d] = ss_round_bf16(ss_rng_normal(&g_rng));
            ss_quant_act_ref(tmp, 1, (int64_t)f->D, SS_DT_F8_E4M3, (kv ? f->host.v : f->host.k) + r * f->D,
                             &(kv ? f->host.v_scale : f->host.k_scale)[r]);
        }
    free(tmp);
}

static void kv8_upload(kv8_fix *f) {
    if (!f->dev.k) {
        f->dev.k = dev_poison(f->rows * f->D), f->dev.v = dev_poison(f->rows * f->D);
        f->dev.k_scale = dev_poison(f->rows * 4), f->dev.v_scale = dev_poison(f->rows * 4);
    }
    OK(ss_gpu_upload(f->dev.k, f->host.k, f->rows * f->D));
    OK(ss_gpu_upload(f->dev.v, f->host.v, f->rows * f->D));
    OK(ss_gpu_upload(f->dev.k_scale, f->host.k_scale, f->rows * 4));
    OK(ss_gpu_upload(f->dev.v_scale, f->host.v_scale, f->rows * 4));
}

/* The device cache equals the host one, codes and scales bit for bit. */
static void kv8_check(const kv8_fix *f, const char *what) {
    uint8_t *k = dev_download(f->dev.k, f->rows * f->D), *v = dev_download(f->dev.v, f->rows * f->D);
    float *ks = dev_download(f->dev.k_scale, f->rows * 4), *vs = dev_download(f->dev.v_scale, f->rows * 4);
    assert_memory_equal(k, f->host.k, f->rows * f->D);
    assert_memory_equal(v, f->host.v, f->rows * f->D);
    assert_memory_equal(ks, f->host.k_scale, f->rows * 4);
    assert_memory_equal(vs, f->host.v_scale, f->rows * 4);
    printf("  %s: FP8 codes and scales bit-identical\n", what);
    free(k), free(v), free(ks), free(vs);
}

static void kv8_free(kv8_fix *f) {
    free(f->host.k), free(f->host.v), free(f->host.k_scale), free(f->host.v_scale);
    ss_gpu_free(f->dev.k), ss_gpu_free(f->dev.v), ss_gpu_free(f->dev.k_scale), ss_gpu_free(f->dev.v_scale);
}

static void test_rope_kv_f8(void **state) {
    (void)state;
    const ss_ykind kinds[3] = {SS_Y_BF16, SS_Y_BF16_ACC, SS_Y_F32};
    for (int variant = 0; variant < 3; variant++) {
        attn_fix a;
        attn_fix_make(&a, 4, 2, variant ? 128 : 64, 3, 40, variant ? 500000.0 : 10000.0);
        const int M = 25;
        yfix f;
        yfix_make(&f, kinds[variant], M, a.ld, a.ld);
        int32_t seq[25], pos[25];
        for (int i = 0; i < M; i++) seq[i] = i % 3, pos[i] = (i * 7) % 40;
        int32_t *d_seq = dev_upload(seq, sizeof seq), *d_pos = dev_upload(pos, sizeof pos);
        kv8_fix kv;
        memset(&kv, 0, sizeof kv);
        kv8_make(&kv, &a.g);
        kv8_upload(&kv);
        OK(ss_ref_rope_kv_f8(f.host, a.ld, M, seq, pos, a.rope, &a.g, &kv.host));
        OK(ss_k_rope_kv_f8(&f.dev, M, d_seq, d_pos, a.d_rope, &a.g, &kv.dev, NULL));
        char what[64];
        snprintf(what, sizeof what, "rope_kv_f8 D=%d y kind %d", a.g.head_dim, (int)kinds[variant]);
        kv8_check(&kv, what);
        kv8_free(&kv);
        ss_gpu_free(d_seq), ss_gpu_free(d_pos);
        yfix_free(&f);
        attn_fix_free(&a);
    }
}

/* Decode (tensor cores, fused or not, several chunks) and prefill (flash)
 * over an FP8 cache, against the CPU engine's attention over the same
 * codes (ss_ref_attention_f8) and the decode kernel's twin; fused: the
 * caches hold NaN codes and scales at each row's own position beforehand
 * and exactly ss_ref_rope_kv_f8's afterwards. */
static void check_decode_tc_f8(int H, int KVH, int D, ss_ykind kind, int fuse) {
    const int n = N_DEC_CTX, max_len = 300;
    attn_fix a;
    attn_fix_make(&a, H, KVH, D, n, max_len, 500000.0);
    yfix f;
    yfix_make(&f, kind, n, a.ld, a.ld);
    int32_t seq[N_DEC_CTX], pos[N_DEC_CTX], rows[N_DEC_CTX];
    for (int i = 0; i < n; i++) seq[i] = n - 1 - i, pos[i] = DEC_CTX[i] - 1, rows[i] = (i * 7) % n;
    kv8_fix kv;
    memset(&kv, 0, sizeof kv);
    kv8_make(&kv, &a.g);
    kv8_fill(&kv);
    if (fuse)
        for (int i = 0; i < n; i++)
            for (int h = 0; h < KVH; h++) {
                const size_t r = ((size_t)seq[i] * KVH + h) * max_len + pos[i];
                memset(kv.host.k + r * D, 0x7f, (size_t)D), memset(kv.host.v + r * D, 0x7f, (size_t)D); /* NaN codes */
                kv.host.k_scale[r] = kv.host.v_scale[r] = NAN;
            }
    kv8_upload(&kv);
    if (fuse) OK(ss_ref_rope_kv_f8(f.host, a.ld, n, seq, pos, a.rope, &a.g, &kv.host));
    int32_t *d_seq = dev_upload(seq, sizeof seq), *d_pos = dev_upload(pos, sizeof pos), *d_rows = dev_upload(rows, sizeof rows);
    const int64_t Q = (int64_t)H * D;
    float *want = malloc((size_t)n * Q * 4), *twin = malloc((size_t)n * Q * 4);
    assert_non_null(want), assert_non_null(twin);
    OK(ss_ref_attention_f8(f.host, a.ld, n, seq, pos, a.rope, &a.g, &kv.host, want));
    const int chunks[3] = {0, 64, 128};
    for (int c = 0; c < 3; c++) {
        if (c > 0 && fuse) { /* the fused run wrote the new positions: poison them again */
            kv8_upload(&kv);
            for (int i = 0; i < n; i++)
                for (int h = 0; h < KVH; h++) {
                    const size_t r = ((size_t)seq[i] * KVH + h) * max_len + pos[i];
                    OK(ss_gpu_memset(kv.dev.k + r * D, 0x7f, (size_t)D));
                    OK(ss_gpu_memset(kv.dev.v + r * D, 0x7f, (size_t)D));
                    OK(ss_gpu_memset(kv.dev.k_scale + r, 0xff, 4));
                    OK(ss_gpu_memset(kv.dev.v_scale + r, 0xff, 4));
                }
        }
        float *d_att = dev_poison((size_t)n * Q * 4), *d_part = dev_poison(ss_attn_decode_partial_floats(n, &a.g) * 4);
        OK(ss_k_attention_decode_tc_f8(&f.dev, d_rows, n, d_seq, d_pos, a.d_rope, &a.g, chunks[c], fuse, &kv.dev, d_part,
                                       d_att, NULL));
        float *got = dev_download(d_att, (size_t)n * Q * 4);
        if (chunks[c]) OK(ss_ref_attention_decode_tc_f8(f.host, a.ld, rows, n, seq, pos, a.rope, &a.g, chunks[c], &kv.host, twin));
        double worst = 0, worst_twin = 0;
        for (int i = 0; i < n; i++) {
            const double e = rel_l2(got + (int64_t)i * Q, want + (int64_t)i * Q, Q);
            if (e > worst) worst = e;
            if (e >= 1e-4)
                fail_msg("decode_tc_f8 H=%d KVH=%d D=%d fuse %d chunk %d: context %d: rel L2 %.3g vs CPU", H, KVH, D, fuse,
                         chunks[c], DEC_CTX[i], e);
            if (chunks[c]) {
                const double et = rel_l2(got + (int64_t)i * Q, twin + (int64_t)i * Q, Q);
                if (et > worst_twin) worst_twin = et;
                assert_true(et < 1e-4);
            }
        }
        printf("  decode_tc_f8 H=%2d KVH=%d D=%3d y kind %d fuse %d chunk %3d: worst row rel L2 %.2e vs CPU, %.2e vs twin\n",
               H, KVH, D, (int)kind, fuse, chunks[c], worst, worst_twin);
        if (fuse) kv8_check(&kv, "decode_tc_f8 fused write");
        free(got);
        ss_gpu_free(d_att), ss_gpu_free(d_part);
    }
    free(want), free(twin);
    ss_gpu_free(d_seq), ss_gpu_free(d_pos), ss_gpu_free(d_rows);
    kv8_free(&kv);
    yfix_free(&f);
    attn_fix_free(&a);
}

static void check_prefill_f8(int D) {
    attn_fix a;
    attn_fix_make(&a, 8, 2, D, 4, 400, 500000.0);
    int32_t tok[256], seq[256], pos[256];
    int n = 0;
    for (int p = 0; p < 130; p++) seq[n] = 0, pos[n++] = p;
    for (int p = 50; p < 90; p++) seq[n] = 1, pos[n++] = p;
    for (int i = 0; i < n; i++) tok[i] = 0;
    kv8_fix kv;
    memset(&kv, 0, sizeof kv);
    kv8_make(&kv, &a.g);
    kv8_fill(&kv);
    kv8_upload(&kv);
    yfix f;
    yfix_make(&f, SS_Y_BF16, n, a.ld, a.ld);
    ss_batch b = {.n = n, .token = tok, .seq = seq, .pos = pos};
    ss_attn_tile tiles[256];
    int32_t dec[256];
    int nt, nd;
    ss_attn_plan(&b, tiles, &nt, dec, &nd);
    assert_int_equal(nd, 0);
    ss_attn_tile *d_tiles = dev_upload(tiles, sizeof(ss_attn_tile) * (size_t)nt);
    const int64_t Q = (int64_t)a.g.n_heads * D;
    float *d_att = dev_poison((size_t)n * Q * 4);
    OK(ss_k_attention_prefill_f8(&f.dev, d_tiles, nt, a.d_rope_f, &a.g, &kv.dev, d_att, NULL));
    float *got = dev_download(d_att, (size_t)n * Q * 4), *want = malloc((size_t)n * Q * 4);
    OK(ss_ref_attention_f8(f.host, a.ld, n, seq, pos, a.rope, &a.g, &kv.host, want));
    const double e = rel_l2(got, want, (int64_t)n * Q);
    printf("  prefill_f8 D=%d (FP16 q.K and P.V over the FP8 cache): rel L2 %.2e vs the CPU over the same cache\n", D, e);
    assert_true(e < 1e-2);
    for (int i = 0; i < n; i++) assert_true(rel_l2(got + (int64_t)i * Q, want + (int64_t)i * Q, Q) < 3e-2);
    free(got), free(want);
    ss_gpu_free(d_att), ss_gpu_free(d_tiles);
    yfix_free(&f);
    kv8_free(&kv);
    attn_fix_free(&a);
}

static void test_attention_f8(void **state) {
    (void)state;
    for (int fuse = 0; fuse < 2; fuse++) {
        check_decode_tc_f8(20, 5, 128, SS_Y_BF16, fuse);
        check_decode_tc_f8(8, 2, 64, SS_Y_BF16_ACC, fuse);
        check_decode_tc_f8(16, 2, 64, SS_Y_F32, fuse);
    }
    check_prefill_f8(128);
    check_prefill_f8(64);
}

/* ---- argmax ---- */

static void test_argmax(void **state) {
    (void)state;
    const int rows = 5, vocab = 4100;
    const int64_t ld = 4128;
    uint16_t *lg = malloc((size_t)rows * ld * 2);
    for (int64_t i = 0; i < rows * ld; i++) lg[i] = ss_f32_to_bf16(ss_rng_normal(&g_rng));
    lg[1 * ld + 3000] = lg[1 * ld + 17] = ss_f32_to_bf16(9.0f);                    /* tie: 17 wins */
    for (int j = 0; j < vocab; j += 3) lg[2 * ld + j] = 0x7fc0;                     /* NaNs never win */
    for (int j = 0; j < vocab; j++) lg[3 * ld + j] = 0x7fc0;                        /* all NaN: 0 */
    lg[4 * ld + vocab + 5] = ss_f32_to_bf16(100.0f);                                /* past vocab: ignored */
    uint16_t *d_lg = dev_upload(lg, (size_t)rows * ld * 2);
    int32_t *d_ids = dev_poison(rows * 4);
    float *d_f = dev_poison((size_t)rows * vocab * 4);
    OK(ss_k_argmax(d_lg, ld, rows, vocab, d_ids, NULL));
    OK(ss_k_bf16_to_f32(d_lg, ld, rows, vocab, d_f, NULL));
    int32_t *ids = dev_download(d_ids, rows * 4);
    float *f = dev_download(d_f, (size_t)rows * vocab * 4);
    for (int r = 0; r < rows; r++) {
        for (int j = 0; j < vocab; j++) {
            float want = ss_bf16_to_f32(lg[r * ld + j]);
            assert_true(memcmp(&f[(size_t)r * vocab + j], &want, 4) == 0);
        }
        assert_int_equal(ids[r], ss_argmax(f + (size_t)r * vocab, vocab));
    }
    assert_int_equal(ids[1], 17);
    assert_int_equal(ids[3], 0);
    free(lg), free(ids), free(f);
    ss_gpu_free(d_lg), ss_gpu_free(d_ids), ss_gpu_free(d_f);
}

int main(void) {
    if (ss_gpu_count() == 0) {
        printf("skipped: no CUDA device\n");
        return 77;
    }
    ss_rng_seed(&g_rng, 20261125, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_norm_plain), cmocka_unit_test(test_embed_norm), cmocka_unit_test(test_add_norm),
        cmocka_unit_test(test_act_norm),   cmocka_unit_test(test_rope_kv),    cmocka_unit_test(test_attention),
        cmocka_unit_test(test_argmax),     cmocka_unit_test(test_attention_decode_tc),
        cmocka_unit_test(test_attention_decode_tc_refusals),
        cmocka_unit_test(test_rope_kv_f8),
        cmocka_unit_test(test_attention_f8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
