/* CPU test of the GPU engine's attention scheduling (engine/cuda/plan.h):
 * runs become 64-row prefill tiles (largest context first), single rows go
 * to the decode kernel, and every batch row is covered exactly once; the
 * tensor-core decode kernel's context chunk (ss_attn_decode_chunk). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/status.h"

#include "core/rng.h"
#include "engine/cuda/plan.h"

/* Every row in exactly one tile or decode entry; tiles hold consecutive
 * rows of one sequence at consecutive positions. */
static void check_cover(const ss_batch *b, const ss_attn_tile *t, int nt, const int32_t *d, int nd) {
    int seen[512] = {0};
    for (int i = 0; i < nt; i++) {
        assert_true(t[i].n >= 1 && t[i].n <= SS_ATTN_TILE_ROWS);
        for (int r = 0; r < t[i].n; r++) {
            int row = t[i].row0 + r;
            assert_int_equal(b->seq[row], t[i].seq);
            assert_int_equal(b->pos[row], t[i].pos0 + r);
            seen[row]++;
        }
        if (i > 0) assert_true(t[i - 1].pos0 + t[i - 1].n >= t[i].pos0 + t[i].n);
    }
    for (int i = 0; i < nd; i++) seen[d[i]]++;
    for (int i = 0; i < b->n; i++) assert_int_equal(seen[i], 1);
}

static void test_plan_shapes(void **state) {
    (void)state;
    /* seq 0: 130 rows at 0.. (tiles 64, 64, 2); seq 1: one decode row at 7;
     * seq 2: 2 rows at 10 (one tile of 2); seq 1 again: impossible in a
     * valid batch, so seq 3: single row at 0 (a one-token prompt decodes) */
    int32_t seq[134], pos[134], tok[134] = {0};
    int n = 0;
    for (int p = 0; p < 130; p++) seq[n] = 0, pos[n++] = p;
    seq[n] = 1, pos[n++] = 7;
    seq[n] = 2, pos[n++] = 10;
    seq[n] = 2, pos[n++] = 11;
    seq[n] = 3, pos[n++] = 0;
    ss_batch b = {.n = n, .token = tok, .seq = seq, .pos = pos};
    ss_attn_tile tiles[134];
    int32_t dec[134];
    int nt, nd;
    ss_attn_plan(&b, tiles, &nt, dec, &nd);
    assert_int_equal(nt, 4);
    assert_int_equal(nd, 2);
    assert_int_equal(tiles[0].pos0, 128); /* largest context first */
    assert_int_equal(tiles[0].n, 2);
    assert_int_equal(tiles[1].pos0, 64);
    assert_int_equal(tiles[2].pos0, 0);
    assert_int_equal(tiles[3].seq, 2);
    assert_int_equal(dec[0], 130);
    assert_int_equal(dec[1], 133);
    check_cover(&b, tiles, nt, dec, nd);
}

/* Interleaved sequences (allowed: a sequence's rows need not be adjacent)
 * break into runs at every switch. */
static void test_plan_interleaved(void **state) {
    (void)state;
    int32_t seq[6] = {0, 1, 0, 1, 1, 0}, pos[6] = {0, 0, 1, 1, 2, 2}, tok[6] = {0};
    ss_batch b = {.n = 6, .token = tok, .seq = seq, .pos = pos};
    ss_attn_tile tiles[6];
    int32_t dec[6];
    int nt, nd;
    ss_attn_plan(&b, tiles, &nt, dec, &nd);
    assert_int_equal(nt, 1); /* rows 3, 4: seq 1 at 1, 2 */
    assert_int_equal(tiles[0].row0, 3);
    assert_int_equal(nd, 4);
    check_cover(&b, tiles, nt, dec, nd);
}

static void test_plan_random(void **state) {
    (void)state;
    ss_rng r;
    ss_rng_seed(&r, 5, 0);
    for (int iter = 0; iter < 200; iter++) {
        int32_t seq[512], pos[512], tok[512] = {0}, next[8] = {0};
        int n = 0;
        while (n < 400) {
            int s = (int)(ss_rng_u64(&r) % 8), len = 1 + (int)(ss_rng_u64(&r) % 150);
            for (int i = 0; i < len && n < 512; i++) seq[n] = s, pos[n++] = next[s]++;
        }
        ss_batch b = {.n = n, .token = tok, .seq = seq, .pos = pos};
        ss_attn_tile tiles[512];
        int32_t dec[512];
        int nt, nd;
        ss_attn_plan(&b, tiles, &nt, dec, &nd);
        assert_true(nt <= ss_attn_plan_max_tiles(n));
        check_cover(&b, tiles, nt, dec, nd);
    }
}

/* Chunks are whole tiles, cover max_len in as few splits as the rule gives,
 * and split only when the (row, KV head) pairs leave the GPU short of CTAs. */
static void test_decode_chunk(void **state) {
    (void)state;
    /* batch 512 x 5 KV heads on 132 SMs: one chunk per context */
    assert_int_equal(ss_attn_decode_chunk(512, 5, 272, 132), 320);
    assert_int_equal(ss_attn_decode_chunk(512, 5, 64, 132), 64);
    /* batch 1: as many splits as tiles, up to 4 CTAs per SM */
    assert_int_equal(ss_attn_decode_chunk(1, 5, 4096, 132), 64);
    /* batch 64 x 5 = 320 pairs < 528: 2 splits of 5 tiles -> 3 tiles each */
    assert_int_equal(ss_attn_decode_chunk(64, 5, 272, 132), 192);
    const int rows[5] = {1, 3, 16, 100, 1000}, lens[6] = {1, 63, 64, 65, 1000, 40000};
    for (int r = 0; r < 5; r++)
        for (int k = 0; k < 6; k++)
            for (int sms = 1; sms <= 264; sms += 131) {
                const int c = ss_attn_decode_chunk(rows[r], 2, lens[k], sms);
                const int tiles = (lens[k] + 63) / 64, splits = (lens[k] + c - 1) / c;
                assert_true(c >= 64 && c % 64 == 0);
                assert_true(c <= tiles * 64);           /* never more than the whole context */
                assert_true(splits <= tiles);
                if ((long)rows[r] * 2 >= 4L * sms) assert_int_equal(splits, 1);
                /* no split wasted: a chunk one tile shorter would need more splits */
                if (c > 64) assert_true((lens[k] + c - 65) / (c - 64) > splits || splits == 1);
            }
}

/* Unknown decode/prefill attention and KV cache kinds are refused by name. */
static void test_attn_decode_names(void **state) {
    (void)state;
    ss_attn_decode_kind k;
    assert_int_equal(ss_attn_decode_parse("tc", &k), SS_OK);
    assert_int_equal(k, SS_ATTN_DECODE_TC);
    assert_int_equal(ss_attn_decode_parse("fast", &k), SS_ERR_ARG);
    assert_non_null(strstr(ss_errmsg(), "'fast'"));
    assert_null(ss_attn_decode_name(SS_ATTN_DECODE_AUTO));
    assert_string_equal(ss_attn_decode_name(SS_ATTN_DECODE_OLD), "old");
    ss_attn_prefill_kind pk;
    assert_int_equal(ss_attn_prefill_parse("wgmma", &pk), SS_OK);
    assert_int_equal(pk, SS_ATTN_PREFILL_WGMMA);
    assert_int_equal(ss_attn_prefill_parse("fa3", &pk), SS_ERR_ARG);
    assert_non_null(strstr(ss_errmsg(), "'fa3'"));
    assert_string_equal(ss_attn_prefill_name(SS_ATTN_PREFILL_MMA), "mma");
    ss_kv_cache_kind kk;
    assert_int_equal(ss_kv_cache_parse("fp8", &kk), SS_OK);
    assert_int_equal(kk, SS_KV_CACHE_FP8);
    assert_int_equal(ss_kv_cache_parse("int4", &kk), SS_ERR_ARG);
    assert_non_null(strstr(ss_errmsg(), "'int4'"));
    assert_string_equal(ss_kv_cache_name(SS_KV_CACHE_BF16), "bf16");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_shapes),
        cmocka_unit_test(test_plan_interleaved),
        cmocka_unit_test(test_plan_random),
        cmocka_unit_test(test_decode_chunk),
        cmocka_unit_test(test_attn_decode_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
