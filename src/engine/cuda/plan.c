/* Attention scheduling of a batch (see plan.h). */
#include <stdlib.h>

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
