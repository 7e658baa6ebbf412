/* Host side of our Hopper GEMM (no GPU): the weight image, its index math
 * and the CPU model of the tensor cores that reads it back. The model
 * multiplying the packed image must equal the plain product of the weight,
 * exactly (INT32 for int8, exact sums for fp8), for 2:4 weights, every
 * slid 2:L weight and odd shapes; the dense twin for any weight. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "convert/prune.h"
#include "convert/slide.h"
#include "core/rng.h"
#include "gemm/gemm_ref.h"
#include "gemm/ours_layout.h"

static void test_permutations_are_bijections(void **s) {
    (void)s;
    int seen[64] = {0};
    for (int p = 0; p < 64; p++) {
        const int c = ss_ours_row_channel(p);
        assert_in_range(c, 0, 63);
        assert_int_equal(ss_ours_channel_row(c), p);
        seen[c]++;
    }
    for (int c = 0; c < 64; c++) assert_int_equal(seen[c], 1);
    /* a thread's accumulator rows r and r + 8 (r = 16 w + lane / 4) hold adjacent channels */
    for (int w = 0; w < 4; w++)
        for (int lane = 0; lane < 32; lane++) {
            const int r = 16 * w + lane / 4;
            assert_int_equal(ss_ours_row_channel(r), 16 * w + 2 * (lane / 4));
            assert_int_equal(ss_ours_row_channel(r + 8), ss_ours_row_channel(r) + 1);
        }
    /* the sub-tile offset covers 2048 bytes once, core matrices of 128 contiguous bytes */
    static int hit[SS_OURS_SUB_BYTES];
    memset(hit, 0, sizeof hit);
    for (int row = 0; row < 64; row++)
        for (int b = 0; b < 32; b++) {
            const int o = ss_ours_sub_offset(row, b);
            assert_in_range(o, 0, SS_OURS_SUB_BYTES - 1);
            hit[o]++;
            assert_int_equal(o / 128, (row / 8) * 2 + b / 16);
        }
    for (int o = 0; o < SS_OURS_SUB_BYTES; o++) assert_int_equal(hit[o], 1);
    /* every (row, half of k64) metadata word comes from exactly one thread */
    int words[64][2] = {{0}};
    for (int t = 0; t < 128; t++) words[ss_ours_meta_row(t)][ss_ours_meta_k0(t) / 32]++;
    for (int r = 0; r < 64; r++) assert_true(words[r][0] == 1 && words[r][1] == 1);
}

static void test_tile_schedule_is_a_bijection(void **s) {
    (void)s;
    const int64_t shapes[][2] = {{20, 64}, {108, 64}, {1, 1}, {3, 7}, {30, 5}, {7, 129}};
    const int64_t groups[] = {1, 2, 8, 16, 1000};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (size_t gi = 0; gi < sizeof groups / sizeof groups[0]; gi++) {
            const int64_t nbc = shapes[i][0], tbc = shapes[i][1], n = nbc * tbc;
            char *seen = calloc((size_t)n, 1);
            assert_non_null(seen);
            for (int64_t t = 0; t < n; t++) {
                int64_t nb, tb;
                ss_ours_tile(t, nbc, tbc, groups[gi], &nb, &tb);
                assert_true(nb >= 0 && nb < nbc && tb >= 0 && tb < tbc);
                assert_int_equal(seen[nb * tbc + tb], 0);
                seen[nb * tbc + tb] = 1;
            }
            free(seen);
        }
    /* the first 132 tiles of BitNet's gate_up at M = 16384 (BN 128) stay inside 8 token blocks */
    for (int64_t t = 0; t < 132; t++) {
        int64_t nb, tb;
        ss_ours_tile(t, 108, 128, SS_OURS_GROUP, &nb, &tb);
        assert_true(tb < SS_OURS_GROUP && nb <= 132 / SS_OURS_GROUP);
    }
}

/* Clusters of two: every (channel block, token block) exactly once over the
 * cluster tiles and the two ranks, the odd last pair's second CTA loading a
 * real block and storing nothing. */
static void test_cluster_schedule(void **s) {
    (void)s;
    static const int64_t shapes[][2] = {{1, 1}, {1, 2}, {3, 5}, {10, 128}, {54, 7}, {15, 33}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const int64_t nbc = shapes[i][0], tbc = shapes[i][1], pairs = nbc * ((tbc + 1) / 2);
        char *seen = calloc((size_t)(nbc * tbc), 1);
        assert_non_null(seen);
        for (int64_t t = 0; t < pairs; t++)
            for (int r = 0; r < 2; r++) {
                int64_t nb, tb, load_tb;
                int store;
                ss_ours_cluster_tile(t, nbc, tbc, SS_OURS_GROUP, r, &nb, &tb, &load_tb, &store);
                assert_true(nb >= 0 && nb < nbc && load_tb >= 0 && load_tb < tbc);
                assert_int_equal(store, tb < tbc);
                if (!store) {
                    assert_int_equal(r, 1);
                    assert_int_equal(tb, tbc); /* only the odd count's last pair lacks its second block */
                    continue;
                }
                assert_int_equal(load_tb, tb);
                assert_int_equal(seen[nb * tbc + tb], 0);
                seen[nb * tbc + tb] = 1;
            }
        for (int64_t k = 0; k < nbc * tbc; k++) assert_int_equal(seen[k], 1);
        free(seen);
    }
}

static void test_default_cfg(void **s) {
    (void)s;
    ss_ours_cfg c;
    ss_ours_cfg_default(2560, 16384, 132, &c); /* o_proj, large M: the tallest, longest tiles */
    assert_int_equal(c.rows, 256);
    assert_int_equal(c.bn, 128);
    ss_ours_cfg_default(2560, 64, 132, &c); /* decode: one short token block, 128-row blocks fill more SMs */
    assert_int_equal(c.rows, 128);
    assert_int_equal(c.bn, 64);
    for (int64_t M = 1; M <= 40000; M = M * 3 + 1) {
        ss_ours_cfg_default(3840, M, 132, &c);
        assert_int_equal(ss_ours_cfg_check(&c), SS_OK);
        /* no other configuration has fewer weighted waves */
        const int64_t tiles = ss_ours_row_blocks(&c, 3840) * ((M + c.bn - 1) / c.bn);
        const int64_t cost = (tiles + 131) / 132 * ss_ours_tile_cost(&c);
        for (int r = 128; r <= 256; r *= 2)
            for (int bn = 64; bn <= 128; bn *= 2) {
                const ss_ours_cfg o = {r, bn, 1};
                const int64_t t = ss_ours_row_blocks(&o, 3840) * ((M + bn - 1) / bn);
                assert_true((t + 131) / 132 * ss_ours_tile_cost(&o) >= cost);
            }
    }
    ss_ours_cfg_default(1, 1, 0, &c); /* no SM count: still a valid tile */
    assert_int_equal(ss_ours_cfg_check(&c), SS_OK);
    assert_int_equal(ss_ours_row_blocks(&(ss_ours_cfg){256, 64, 1}, 2560), 10);
    assert_int_equal(ss_ours_row_blocks(&(ss_ours_cfg){128, 64, 1}, 2600), 21);
}

static void test_configs(void **s) {
    (void)s;
    ss_ours_cfg c, d;
    ss_ours_cfg_default(13824, 16384, 132, &c);
    assert_int_equal(ss_ours_cfg_check(&c), SS_OK);
    assert_int_equal(ss_ours_cfg_decode(ss_ours_cfg_encode(&c), &d), SS_OK);
    assert_int_equal(c.bn, d.bn);
    assert_int_equal(c.rows, d.rows);
    assert_int_equal(c.cluster, 1); /* clusters are never the default */
    for (int cl = 0; cl <= 3; cl++)
        for (int rows = 0; rows <= 512; rows += 64)
            for (int bn = 1; bn <= 512; bn++) {
                ss_ours_cfg e = {rows, bn, cl};
                const int built = (((rows == 128 || rows == 256) && (bn == 64 || bn == 128)) ||
                                   (rows == 256 && bn == 192)) &&
                                  (cl == 1 || (cl == 2 && rows == 256 && bn == 128));
                assert_int_equal(ss_ours_cfg_check(&e), built ? SS_OK : SS_ERR_ARG);
                if (built) {
                    assert_int_equal(ss_ours_cfg_decode(ss_ours_cfg_encode(&e), &d), SS_OK);
                    assert_int_equal(d.rows, rows);
                    assert_int_equal(d.bn, bn);
                    assert_int_equal(d.cluster, cl);
                }
            }
    assert_int_equal(ss_ours_cfg_decode(2128, &d), SS_OK);
    assert_int_equal(d.cluster, 2);
    assert_int_equal(ss_ours_cfg_decode(2064, &d), SS_ERR_ARG); /* clusters of 2: 256 x 128 only */
    assert_non_null(strstr(ss_errmsg(), "clusters of 2"));
    assert_int_equal(ss_ours_cfg_decode(-64, &d), SS_ERR_ARG);
    assert_int_equal(ss_ours_cfg_decode(3128, &d), SS_ERR_ARG);
    /* tables written before 256-row tiles: alg_id = bn, 128 rows */
    assert_int_equal(ss_ours_cfg_decode(64, &d), SS_OK);
    assert_int_equal(d.rows, 128);
    assert_int_equal(ss_ours_cfg_decode(1128, &d), SS_OK);
    assert_int_equal(d.rows, 256);
    assert_int_equal(d.bn, 128);
    assert_int_equal(ss_ours_cfg_decode(256, &d), SS_ERR_ARG); /* 256-token tiles are not built (ours_gemm.cu) */
    assert_non_null(strstr(ss_errmsg(), "256-token"));
}

static void test_geometry(void **s) {
    (void)s;
    ss_ours_geom g;
    assert_int_equal(ss_ours_geometry(2560, 3840, 1, &g), SS_OK);
    assert_int_equal(g.rows_img, 2560);
    assert_int_equal(g.blocks, 40);
    assert_int_equal(g.k_steps, 30);
    assert_int_equal((int64_t)g.bytes, 40 * 30 * SS_OURS_CHUNK_SPARSE);
    assert_int_equal(ss_ours_geometry(100, 33, 0, &g), SS_OK);
    assert_int_equal(g.rows_img, 256); /* a multiple of the tallest tile */
    assert_int_equal(g.k_steps, 1);
    assert_int_equal((int64_t)g.bytes, 4 * SS_OURS_CHUNK_DENSE);
    assert_int_equal(ss_ours_geometry(3900, 64, 1, &g), SS_OK);
    assert_int_equal(g.rows_img, 4096);
    assert_int_equal(ss_ours_geometry(0, 64, 1, &g), SS_ERR_ARG);
    assert_int_equal(ss_ours_geometry(64, (int64_t)1 << 30, 1, &g), SS_ERR_ARG);
}

/* Random 8-bit codes of dtype dt (no NaN for fp8), density in 1/8ths. */
static void random_codes(ss_rng *r, ss_dtype dt, uint8_t *v, size_t n, int density8) {
    for (size_t i = 0; i < n; i++) {
        uint8_t c = 0;
        if ((int)(ss_rng_u64(r) % 8) < density8) {
            c = (uint8_t)ss_rng_u64(r);
            if (dt == SS_DT_F8_E4M3 && (c & 0x7f) == 0x7f) c = 0x38; /* NaN -> 1.0 */
            if (dt == SS_DT_I8 && c == 0x80) c = 0x81;               /* -128 -> -127, as the quantizer */
        }
        v[i] = c;
    }
}

/* 2:4 along K: keep at most two codes in every aligned group of 4, at random positions. */
static void make_2_4(ss_rng *r, uint8_t *w, int64_t N, int64_t K) {
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k + 4 <= K; k += 4) {
            const int drop1 = (int)(ss_rng_u64(r) % 4), drop2 = (drop1 + 1 + (int)(ss_rng_u64(r) % 3)) % 4;
            w[n * K + k + drop1] = 0;
            w[n * K + k + drop2] = 0;
        }
}

/* The image's model product equals the plain product, for one weight. */
static void check_model(ss_dtype dt, const uint8_t *w, int64_t N, int64_t K, int sparse, const uint8_t *x,
                        int64_t M) {
    ss_ours_geom g;
    assert_int_equal(ss_ours_geometry(N, K, sparse, &g), SS_OK);
    uint8_t *img = malloc(g.bytes);
    int32_t *acc = malloc(sizeof(int32_t) * (size_t)(M * N)), *ref = malloc(sizeof(int32_t) * (size_t)(M * N));
    double *accd = malloc(sizeof(double) * (size_t)(M * N)), *refd = malloc(sizeof(double) * (size_t)(M * N));
    assert_true(img && acc && ref && accd && refd);
    assert_int_equal(ss_ours_pack(&g, dt, w, img, "test"), SS_OK);
    ss_ours_model_gemm(&g, dt, img, x, M, acc, accd);
    ss_gemm_acc_ref(dt, x, w, M, N, K, ref, refd);
    for (int64_t i = 0; i < M * N; i++) {
        if (dt == SS_DT_I8) assert_int_equal(acc[i], ref[i]);
        else assert_true(accd[i] == refd[i]);
    }
    free(img), free(acc), free(ref), free(accd), free(refd);
}

static void test_model_matches_plain_product(void **s) {
    (void)s;
    ss_rng r;
    ss_rng_seed(&r, 7, 0);
    const ss_dtype dts[2] = {SS_DT_I8, SS_DT_F8_E4M3};
    const int64_t shapes[][3] = {{64, 128, 5}, {128, 256, 3}, {100, 160, 7}, {37, 36, 2}, {192, 384, 1}};
    for (int d = 0; d < 2; d++)
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
            const int64_t N = shapes[i][0], K = shapes[i][1], M = shapes[i][2];
            uint8_t *w = malloc((size_t)(N * K)), *x = malloc((size_t)(M * K));
            assert_true(w && x);
            random_codes(&r, dts[d], x, (size_t)(M * K), 8);
            random_codes(&r, dts[d], w, (size_t)(N * K), 7);
            check_model(dts[d], w, N, K, 0, x, M); /* dense twin: any weight */
            make_2_4(&r, w, N, K);
            check_model(dts[d], w, N, K, 1, x, M);
            random_codes(&r, dts[d], w, (size_t)(N * K), 1); /* sparse groups: 0 or 1 nonzeros, every position */
            make_2_4(&r, w, N, K);
            check_model(dts[d], w, N, K, 1, x, M);
            free(w), free(x);
        }
}

/* Every 2:L: prune, slide, pack; the model on the slid activation equals
 * the pruned product on the original one. */
static void test_slid_weights_every_L(void **s) {
    (void)s;
    ss_rng r;
    ss_rng_seed(&r, 11, 0);
    const int Ls[] = {4, 6, 8, 10, 12, 14, 16, SS_L_INF};
    const int64_t N = 70, K = 200, M = 3;
    for (size_t li = 0; li < sizeof Ls / sizeof Ls[0]; li++)
        for (int d = 0; d < 2; d++) {
            const ss_dtype dt = d ? SS_DT_F8_E4M3 : SS_DT_I8;
            ss_slide_geom geo;
            assert_int_equal(ss_slide_geometry(K, Ls[li], &geo), SS_OK);
            uint8_t *w = malloc((size_t)(N * K)), *ws = calloc((size_t)(N * geo.K_slid), 1);
            uint8_t *x = malloc((size_t)(M * K)), *xs = calloc((size_t)(M * geo.K_slid), 1);
            assert_true(w && ws && x && xs);
            random_codes(&r, dt, w, (size_t)(N * K), 8);
            random_codes(&r, dt, x, (size_t)(M * K), 8);
            if (Ls[li] != SS_L_INF) assert_int_equal(ss_prune_matrix(w, dt, N, K, Ls[li], "test"), SS_OK);
            assert_int_equal(ss_slide_matrix(&geo, w, N, 1, ws, "test"), SS_OK);
            for (int64_t m = 0; m < M; m++) ss_slide_activation(&geo, x + m * K, 1, xs + m * geo.K_slid);

            ss_ours_geom g;
            assert_int_equal(ss_ours_geometry(N, geo.K_slid, 1, &g), SS_OK);
            uint8_t *img = malloc(g.bytes);
            int32_t *acc = malloc(sizeof(int32_t) * (size_t)(M * N)), *ref = malloc(sizeof(int32_t) * (size_t)(M * N));
            double *accd = malloc(sizeof(double) * (size_t)(M * N)), *refd = malloc(sizeof(double) * (size_t)(M * N));
            assert_true(img && acc && ref && accd && refd);
            assert_int_equal(ss_ours_pack(&g, dt, ws, img, "slid"), SS_OK);
            ss_ours_model_gemm(&g, dt, img, xs, M, acc, accd);
            ss_gemm_acc_ref(dt, x, w, M, N, K, ref, refd);
            for (int64_t i = 0; i < M * N; i++) {
                if (dt == SS_DT_I8) assert_int_equal(acc[i], ref[i]);
                else assert_true(accd[i] == refd[i]);
            }
            free(img), free(acc), free(ref), free(accd), free(refd), free(w), free(ws), free(x), free(xs);
        }
}

static void test_pack_refuses_non_2_4(void **s) {
    (void)s;
    ss_ours_geom g;
    assert_int_equal(ss_ours_geometry(64, 128, 1, &g), SS_OK);
    uint8_t *w = calloc(64 * 128, 1), *img = malloc(g.bytes);
    assert_true(w && img);
    w[5 * 128 + 8] = w[5 * 128 + 9] = w[5 * 128 + 11] = 1;
    assert_int_equal(ss_ours_pack(&g, SS_DT_I8, w, img, "blk.0.q"), SS_ERR_FORMAT);
    assert_non_null(strstr(ss_errmsg(), "blk.0.q"));
    assert_non_null(strstr(ss_errmsg(), "row 5 columns 8..11"));
    w[5 * 128 + 11] = 0x80; /* fp8 -0 is a zero */
    assert_int_equal(ss_ours_pack(&g, SS_DT_F8_E4M3, w, img, "blk.0.q"), SS_OK);
    assert_int_equal(ss_ours_pack(&g, SS_DT_BF16, w, img, "blk.0.q"), SS_ERR_UNSUPPORTED);
    /* metadata of an all-zero group names positions 0 and 1 (0b0100): never an invalid same-index pair */
    memset(w, 0, 64 * 128);
    assert_int_equal(ss_ours_pack(&g, SS_DT_I8, w, img, "zeros"), SS_OK);
    const uint8_t *meta = img + 2 * SS_OURS_SUB_BYTES;
    for (int i = 0; i < 2 * SS_OURS_META_BYTES; i++) assert_int_equal(meta[i], 0x44);
    free(w), free(img);
}

/* The chunks are packed in parallel: a weight with two bad groups is
 * reported for the first in image order (block-major), whatever the threads
 * did first, and a good weight packs to the same image at any thread count. */
static void test_pack_reports_first_bad_chunk(void **s) {
    (void)s;
    ss_ours_geom g;
    assert_int_equal(ss_ours_geometry(256, 512, 1, &g), SS_OK);
    assert_true(g.blocks * g.k_steps >= 16);
    uint8_t *w = calloc(256 * 512, 1), *img = malloc(g.bytes), *img1 = malloc(g.bytes);
    assert_true(w && img && img1);
    ss_rng r;
    ss_rng_seed(&r, 13, 0);
    random_codes(&r, SS_DT_I8, w, 256 * 512, 8);
    make_2_4(&r, w, 256, 512);
    assert_int_equal(ss_ours_pack(&g, SS_DT_I8, w, img, "w"), SS_OK);
    omp_set_num_threads(1);
    assert_int_equal(ss_ours_pack(&g, SS_DT_I8, w, img1, "w"), SS_OK);
    omp_set_num_threads(omp_get_num_procs());
    assert_memory_equal(img, img1, g.bytes);
    memset(w + 200 * 512, 3, 4);       /* channel 200 (block 3), columns 0..3: k-step 0 */
    memset(w + 70 * 512 + 256, 3, 4);  /* channel 70 (block 1), columns 256..259: k-step 2, earlier in the image */
    assert_int_equal(ss_ours_pack(&g, SS_DT_I8, w, img, "blk.3.gate"), SS_ERR_FORMAT);
    assert_non_null(strstr(ss_errmsg(), "blk.3.gate"));
    assert_non_null(strstr(ss_errmsg(), "row 70 columns 256..259"));
    free(w), free(img), free(img1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_permutations_are_bijections), cmocka_unit_test(test_tile_schedule_is_a_bijection),
        cmocka_unit_test(test_default_cfg), cmocka_unit_test(test_cluster_schedule),                     cmocka_unit_test(test_geometry),
        cmocka_unit_test(test_configs),
        cmocka_unit_test(test_model_matches_plain_product), cmocka_unit_test(test_slid_weights_every_L),
        cmocka_unit_test(test_pack_refuses_non_2_4), cmocka_unit_test(test_pack_reports_first_bad_chunk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
