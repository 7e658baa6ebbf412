/* Sliding: exhaustive over every 2:L pattern of one group for small L, random
 * rows for larger L and 2_inf, geometry values, and the linear layer of a
 * slid weight against its pruned twin (bit-exact for INT8 and FP8). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/prune.h"
#include "convert/slide.h"
#include "convert/sparsity.h"
#include "core/dtype.h"
#include "core/rng.h"
#include "gemm/linear.h"

/* A nonzero INT8 value in [-127, 127]. */
static int8_t rand_nonzero_i8(ss_rng *r) {
    int v = (int)(ss_rng_u64(r) % 254) - 127;
    return (int8_t)(v >= 0 ? v + 1 : v);
}

/* Checks a slid INT8 row against its source: 2:4, every nonzero exactly once
 * at a slid position whose source column is its own (i.e. in a window that
 * covers it), nothing else; and the dot product with a random activation is
 * preserved exactly. */
static void check_slid_row(const ss_slide_geom *g, const int8_t *row, const int8_t *slid, ss_rng *r) {
    assert_true(ss_row_is_2_4(slid, g->K_slid, 1));
    int *seen = calloc((size_t)g->K, sizeof(int));
    assert_non_null(seen);
    for (int64_t p = 0; p < g->K_slid; p++) {
        if (!slid[p]) continue;
        int64_t src = ss_slide_src(g, p);
        assert_true(src >= 0 && src < g->K);
        assert_int_equal(slid[p], row[src]);
        seen[src]++;
    }
    for (int64_t k = 0; k < g->K; k++) assert_int_equal(seen[k], row[k] ? 1 : 0);
    free(seen);

    int8_t *x = malloc((size_t)g->K), *xs = malloc((size_t)g->K_slid);
    assert_non_null(x);
    assert_non_null(xs);
    for (int64_t k = 0; k < g->K; k++) x[k] = rand_nonzero_i8(r);
    ss_slide_activation(g, x, 1, xs);
    int32_t dot = 0, dot_slid = 0;
    for (int64_t k = 0; k < g->K; k++) dot += (int32_t)x[k] * row[k];
    for (int64_t p = 0; p < g->K_slid; p++) dot_slid += (int32_t)xs[p] * slid[p];
    assert_int_equal(dot, dot_slid);
    free(x);
    free(xs);
}

/* Every subset of nonzero positions of one group, L = 4..10: those with at
 * most L-2 nonzeros slide correctly, the others fail with SS_ERR_FORMAT. */
static void test_exhaustive_small_L(void **state) {
    (void)state;
    ss_rng r;
    ss_rng_seed(&r, 1, 0);
    const int Ls[] = {4, 6, 8, 10};
    for (size_t li = 0; li < sizeof Ls / sizeof *Ls; li++) {
        const int L = Ls[li];
        ss_slide_geom g;
        assert_int_equal(ss_slide_geometry(L, L, &g), SS_OK);
        assert_int_equal(g.groups, 1);
        int8_t row[16], slid[64];
        assert_true(g.K_slid <= 64);
        int ok = 0, refused = 0;
        for (unsigned mask = 0; mask < (1u << L); mask++) {
            for (int k = 0; k < L; k++) row[k] = (mask >> k) & 1 ? rand_nonzero_i8(&r) : 0;
            int nz = __builtin_popcount(mask);
            ss_status st = ss_slide_row(&g, row, 1, slid);
            if (nz <= L - 2) {
                assert_int_equal(st, SS_OK);
                check_slid_row(&g, row, slid, &r);
                ok++;
            } else {
                assert_int_equal(st, SS_ERR_FORMAT);
                assert_non_null(strstr(ss_errmsg(), "group 0"));
                refused++;
            }
        }
        assert_int_equal(ok + refused, 1 << L);
        assert_int_equal(refused, L + 1); /* L-1 nonzeros: L ways; L nonzeros: 1 */
    }
}

/* Same exhaustive check on 16-bit and 32-bit elements (the code is size
 * generic), with the group placed second in a two-group row. */
static void test_exhaustive_wide_elements(void **state) {
    (void)state;
    const int L = 8;
    ss_slide_geom g;
    assert_int_equal(ss_slide_geometry(2 * L, L, &g), SS_OK);
    for (unsigned mask = 0; mask < (1u << L); mask++) {
        if (__builtin_popcount(mask) > L - 2) continue;
        uint32_t row32[16] = {0}, slid32[64];
        uint16_t row16[16] = {0}, slid16[64];
        for (int k = 0; k < L; k++) {
            row32[L + k] = (mask >> k) & 1 ? 0x3f800000u + (uint32_t)k : 0; /* distinct values */
            row16[L + k] = (mask >> k) & 1 ? (uint16_t)(0x3f80 + k) : 0;
        }
        row32[0] = row32[3] = 0x80000000u; /* -0.0f in group 0 is a nonzero code: kept, not dropped */
        assert_int_equal(ss_slide_row(&g, row32, 4, slid32), SS_OK);
        assert_int_equal(ss_slide_row(&g, row16, 2, slid16), SS_OK);
        assert_true(ss_row_is_2_4(slid32, g.K_slid, 4));
        assert_true(ss_row_is_2_4(slid16, g.K_slid, 2));
        int n32 = 0, n16 = 0;
        for (int64_t p = 0; p < g.K_slid; p++) {
            if (slid32[p]) {
                assert_int_equal(slid32[p], row32[ss_slide_src(&g, p)]);
                n32++;
            }
            if (slid16[p]) {
                assert_int_equal(slid16[p], row16[ss_slide_src(&g, p)]);
                n16++;
            }
        }
        assert_int_equal(n32, __builtin_popcount(mask) + 2);
        assert_int_equal(n16, __builtin_popcount(mask));
    }
}

/* A random row pruned to 2:L (K not a multiple of L: padding counts as
 * zeros), nonzero everywhere else. */
static void random_pruned_row(ss_rng *r, int8_t *row, int64_t K, int L) {
    for (int64_t k = 0; k < K; k++) row[k] = rand_nonzero_i8(r);
    for (int64_t k0 = 0; k0 < K; k0 += L) {
        int64_t n = K - k0 < L ? K - k0 : L, need = 2 - (L - n);
        while (need > 0) { /* zero random distinct columns of the group */
            int64_t k = k0 + (int64_t)(ss_rng_u64(r) % (uint64_t)n);
            if (row[k]) {
                row[k] = 0;
                need--;
            }
        }
        if (ss_rng_u64(r) % 4 == 0) row[k0 + (int64_t)(ss_rng_u64(r) % (uint64_t)n)] = 0; /* sometimes sparser */
    }
}

static void test_random_rows_large_L_and_inf(void **state) {
    (void)state;
    ss_rng r;
    ss_rng_seed(&r, 2, 0);
    const int Ls[] = {12, 14, 16, 4, 6};
    const int64_t Ks[] = {37, 100, 250, 2563};
    for (size_t li = 0; li < sizeof Ls / sizeof *Ls; li++)
        for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks; ki++) {
            ss_slide_geom g;
            assert_int_equal(ss_slide_geometry(Ks[ki], Ls[li], &g), SS_OK);
            assert_true(g.K_padded % Ls[li] == 0 && g.K_padded >= Ks[ki] && g.K_padded < Ks[ki] + Ls[li]);
            assert_int_equal(g.K_slid % SS_KSLID_ALIGN, 0);
            int8_t *row = malloc((size_t)g.K), *slid = malloc((size_t)g.K_slid);
            assert_non_null(row);
            assert_non_null(slid);
            for (int rep = 0; rep < 20; rep++) {
                random_pruned_row(&r, row, g.K, g.L);
                assert_true(ss_is_pruned(row, SS_DT_I8, 1, g.K, g.L));
                assert_int_equal(ss_slide_row(&g, row, 1, slid), SS_OK);
                check_slid_row(&g, row, slid, &r);
            }
            /* one group with L-1 nonzeros: refused, naming the group */
            random_pruned_row(&r, row, g.K, g.L);
            int64_t grp = g.groups / 2, k0 = grp * g.L;
            if (k0 + g.L <= g.K) {
                for (int k = 0; k < g.L - 1; k++) row[k0 + k] = 1;
                row[k0 + g.L - 1] = 0;
                char want[64];
                snprintf(want, sizeof want, "group %lld", (long long)grp);
                assert_int_equal(ss_slide_row(&g, row, 1, slid), SS_ERR_FORMAT);
                assert_non_null(strstr(ss_errmsg(), want));
            }
            free(row);
            free(slid);
        }
    /* 2_inf: a dense row (no zeros at all) slides into K_slid = 2K */
    const int64_t Kinf[] = {1, 2, 37, 64, 2560};
    for (size_t ki = 0; ki < sizeof Kinf / sizeof *Kinf; ki++) {
        ss_slide_geom g;
        assert_int_equal(ss_slide_geometry(Kinf[ki], SS_L_INF, &g), SS_OK);
        assert_int_equal(g.groups, 1);
        int8_t *row = malloc((size_t)g.K), *slid = malloc((size_t)g.K_slid);
        assert_non_null(row);
        assert_non_null(slid);
        for (int64_t k = 0; k < g.K; k++) row[k] = rand_nonzero_i8(&r);
        assert_int_equal(ss_slide_row(&g, row, 1, slid), SS_OK);
        check_slid_row(&g, row, slid, &r);
        free(row);
        free(slid);
    }
}

static void test_geometry_bitnet(void **state) {
    (void)state;
    const int Ls[] = {4, 6, 8, 10};
    const int64_t want2560[] = {2560, 3424, 3840, 4096}, want6912[] = {6912, 9216, 10368, 11072};
    for (int i = 0; i < 4; i++) {
        ss_slide_geom g;
        assert_int_equal(ss_slide_geometry(2560, Ls[i], &g), SS_OK);
        assert_int_equal(g.K_slid, want2560[i]);
        assert_int_equal(ss_slide_geometry(6912, Ls[i], &g), SS_OK);
        assert_int_equal(g.K_slid, want6912[i]);
    }
    ss_slide_geom g;
    assert_int_equal(ss_slide_geometry(2560, SS_L_INF, &g), SS_OK);
    assert_int_equal(g.K_slid, 5120);
    assert_int_equal(ss_slide_geometry(6912, SS_L_INF, &g), SS_OK);
    assert_int_equal(g.K_slid, 13824);
}

/* The matrix form: OpenMP over rows, error names the tensor, the FIRST bad row and its group. */
static void test_matrix_errors(void **state) {
    (void)state;
    const int64_t N = 64, K = 40;
    ss_slide_geom g;
    assert_int_equal(ss_slide_geometry(K, 8, &g), SS_OK);
    int8_t *w = calloc((size_t)(N * K), 1), *ws = malloc((size_t)(N * g.K_slid));
    assert_non_null(w);
    assert_non_null(ws);
    for (int k = 16; k < 23; k++) w[50 * K + k] = 3; /* row 50, group 2: 7 nonzeros */
    for (int k = 0; k < 8; k++) w[33 * K + k] = -1;  /* row 33, group 0: 8 nonzeros */
    assert_int_equal(ss_slide_matrix(&g, w, N, 1, ws, "layers.0.q_proj.weight"), SS_ERR_FORMAT);
    const char *msg = ss_errmsg();
    assert_non_null(strstr(msg, "layers.0.q_proj.weight"));
    assert_non_null(strstr(msg, "row 33"));
    assert_non_null(strstr(msg, "group 0"));
    memset(w + 33 * K, 0, (size_t)K);
    memset(w + 50 * K, 0, (size_t)K);
    assert_int_equal(ss_slide_matrix(&g, w, N, 1, ws, "w"), SS_OK);
    free(w);
    free(ws);
}

static float rand_uniform_pm(ss_rng *r) { return 2.0f * ss_rng_uniform(r) - 1.0f; }

/* ss_linear_ref of a pruned weight vs its slid twin: bit-identical outputs
 * for INT8 and FP8 (exact accumulation), near-identical for BF16. */
static void linear_twin(ss_dtype dt, int L) {
    const int64_t N = 48, K = 203, M = 5;
    ss_rng r;
    ss_rng_seed(&r, 3, (uint64_t)dt * 100 + (uint64_t)(L + 1));
    ss_slide_geom g;
    assert_int_equal(ss_slide_geometry(K, L, &g), SS_OK);
    const size_t es = ss_dtype_size(dt);
    unsigned char *w = malloc((size_t)(N * K) * es), *ws = malloc((size_t)(N * g.K_slid) * es);
    float *wf = malloc((size_t)(N * K) * sizeof(float)), *scale = malloc((size_t)N * sizeof(float));
    float *bias = malloc((size_t)N * sizeof(float)), *x = malloc((size_t)(M * K) * sizeof(float));
    float *y = malloc((size_t)(M * N) * sizeof(float)), *ys = malloc((size_t)(M * N) * sizeof(float));
    assert_true(w && ws && wf && scale && bias && x && y && ys);
    for (int64_t i = 0; i < N * K; i++) wf[i] = dt == SS_DT_I8 ? (float)rand_nonzero_i8(&r) : 100.0f * rand_uniform_pm(&r);
    ss_convert(w, dt, wf, SS_DT_F32, (size_t)(N * K));
    for (int64_t n = 0; n < N; n++) {
        scale[n] = 0.01f + ss_rng_uniform(&r);
        bias[n] = rand_uniform_pm(&r);
    }
    for (int64_t i = 0; i < M * K; i++) x[i] = 3.0f * rand_uniform_pm(&r);
    if (L != SS_L_INF) assert_int_equal(ss_prune_matrix(w, dt, N, K, L, "twin"), SS_OK);
    assert_int_equal(ss_slide_matrix(&g, w, N, es, ws, "twin"), SS_OK);
    for (int64_t n = 0; n < N; n++) assert_true(ss_row_is_2_4(ws + n * g.K_slid * (int64_t)es, g.K_slid, es));

    ss_linear_weight lw = {.name = "pruned", .N = N, .K = K, .dtype = dt, .w = w, .scale = scale, .bias = bias};
    ss_linear_weight ls = lw;
    ls.name = "slid";
    ls.slid = 1;
    ls.slide = g;
    ls.w = ws;
    assert_int_equal(ss_linear_ref(&lw, x, M, y), SS_OK);
    assert_int_equal(ss_linear_ref(&ls, x, M, ys), SS_OK);
    if (dt == SS_DT_I8 || dt == SS_DT_F8_E4M3) {
        assert_memory_equal(y, ys, (size_t)(M * N) * sizeof(float));
    } else {
        for (int64_t i = 0; i < M * N; i++) assert_true(fabsf(y[i] - ys[i]) <= 0x1p-7f * fabsf(y[i]) + 1e-3f);
    }
    int nonzero_out = 0;
    for (int64_t i = 0; i < M * N; i++) nonzero_out += y[i] != 0.0f;
    assert_true(nonzero_out > M * N / 2); /* the comparison is not vacuous */
    free(w), free(ws), free(wf), free(scale), free(bias), free(x), free(y), free(ys);
}

static void test_linear_slid_equals_pruned(void **state) {
    (void)state;
    const int Ls[] = {4, 6, 8, 10, 16, SS_L_INF};
    for (size_t i = 0; i < sizeof Ls / sizeof *Ls; i++) {
        linear_twin(SS_DT_I8, Ls[i]);
        linear_twin(SS_DT_F8_E4M3, Ls[i]);
        linear_twin(SS_DT_BF16, Ls[i]);
    }
}

static void test_row_is_2_4(void **state) {
    (void)state;
    const int8_t good[] = {1, 0, 2, 0, 0, 0, 3, 4, 5, 6};
    const int8_t bad[] = {1, 0, 2, 0, 0, 3, 4, 5};
    const int8_t bad_tail[] = {0, 0, 0, 0, 1, 2, 3};
    assert_true(ss_row_is_2_4(good, 10, 1));
    assert_false(ss_row_is_2_4(bad, 8, 1));
    assert_false(ss_row_is_2_4(bad_tail, 7, 1));
    assert_true(ss_row_is_2_4(bad_tail, 6, 1));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exhaustive_small_L),        cmocka_unit_test(test_exhaustive_wide_elements),
        cmocka_unit_test(test_random_rows_large_L_and_inf), cmocka_unit_test(test_geometry_bitnet),
        cmocka_unit_test(test_matrix_errors),             cmocka_unit_test(test_linear_slid_equals_pruned),
        cmocka_unit_test(test_row_is_2_4),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
