/* Attention scheduling of a batch (see plan.h). */
#include <stdlib.h>
#include <string.h>

#include "engine/cuda/plan.h"

/* Tiles with more positions to attend to first: (pos0 + n) descending, then
 * by row for a deterministic order. */
static int tile_cmp(const void *pa, const void *pb) {
    const ss_attn_tile *a = pa, *b = pb;
    const int ea = a->pos0 + a->n, eb = b->pos0 + b->n;
    if (ea != eb) return ea > eb ? -1 : 1;
    return (a->row0 > b->row0) - (a->row0 < b->row0);
}

void ss_attn_plan(const ss_batch *b, ss_attn_tile *tiles, int *n_tiles, int32_t *decode_rows, int *n_decode) {
    int nt = 0, nd = 0;
    for (int i = 0; i < b->n;) {
        int r = 1; /* length of the run starting at row i */
        while (i + r < b->n && b->seq[i + r] == b->seq[i] && b->pos[i + r] == b->pos[i] + r) r++;
        if (r == 1) {
            decode_rows[nd++] = i;
        } else {
            for (int k = 0; k < r; k += SS_ATTN_TILE_ROWS) {
                int n = r - k < SS_ATTN_TILE_ROWS ? r - k : SS_ATTN_TILE_ROWS;
                tiles[nt++] = (ss_attn_tile){.row0 = i + k, .n = n, .seq = b->seq[i], .pos0 = b->pos[i] + k};
            }
        }
        i += r;
    }
    qsort(tiles, (size_t)nt, sizeof *tiles, tile_cmp);
    *n_tiles = nt;
    *n_decode = nd;
}

int ss_attn_decode_chunk(int n_rows, int n_kv_heads, int max_len, int n_sms) {
    const int64_t tiles = max_len > 0 ? (max_len + 63) / 64 : 1;
    const int64_t units = (int64_t)(n_rows > 0 ? n_rows : 1) * (n_kv_heads > 0 ? n_kv_heads : 1);
    const int64_t want = 4 * (int64_t)(n_sms > 0 ? n_sms : 1);
    int64_t splits = units >= want ? 1 : (want + units - 1) / units;
    if (splits > tiles) splits = tiles;
    const int64_t per = (tiles + splits - 1) / splits;
    return (int)(per * 64);
}

static const char *const DECODE_NAMES[] = {NULL, "old", "tc", "fused"};

const char *ss_attn_decode_name(ss_attn_decode_kind k) {
    return (unsigned)k < sizeof DECODE_NAMES / sizeof DECODE_NAMES[0] ? DECODE_NAMES[k] : NULL;
}

ss_status ss_attn_decode_parse(const char *s, ss_attn_decode_kind *out) {
    for (int k = SS_ATTN_DECODE_OLD; k <= SS_ATTN_DECODE_FUSED; k++)
        if (s && !strcmp(s, DECODE_NAMES[k])) {
            *out = (ss_attn_decode_kind)k;
            return SS_OK;
        }
    return ss_fail(SS_ERR_ARG, "decode attention '%s' is not one of old, tc, fused", s ? s : "(null)");
}

static const char *const PREFILL_NAMES[] = {NULL, "mma", "wgmma"};

const char *ss_attn_prefill_name(ss_attn_prefill_kind k) {
    return (unsigned)k < sizeof PREFILL_NAMES / sizeof PREFILL_NAMES[0] ? PREFILL_NAMES[k] : NULL;
}

ss_status ss_attn_prefill_parse(const char *s, ss_attn_prefill_kind *out) {
    for (int k = SS_ATTN_PREFILL_MMA; k <= SS_ATTN_PREFILL_WGMMA; k++)
        if (s && !strcmp(s, PREFILL_NAMES[k])) {
            *out = (ss_attn_prefill_kind)k;
            return SS_OK;
        }
    return ss_fail(SS_ERR_ARG, "prefill attention '%s' is not one of mma, wgmma", s ? s : "(null)");
}

static const char *const KV_NAMES[] = {NULL, "bf16", "fp8"};

const char *ss_kv_cache_name(ss_kv_cache_kind k) {
    return (unsigned)k < sizeof KV_NAMES / sizeof KV_NAMES[0] ? KV_NAMES[k] : NULL;
}

ss_status ss_kv_cache_parse(const char *s, ss_kv_cache_kind *out) {
    for (int k = SS_KV_CACHE_BF16; k <= SS_KV_CACHE_FP8; k++)
        if (s && !strcmp(s, KV_NAMES[k])) {
            *out = (ss_kv_cache_kind)k;
            return SS_OK;
        }
    return ss_fail(SS_ERR_ARG, "KV cache '%s' is not one of bf16, fp8", s ? s : "(null)");
}
