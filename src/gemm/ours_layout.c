/* Packing of the weight image of our Hopper GEMM and the CPU model that
 * reads it back the way the tensor cores do (layout: ours_layout.h). */
#include "gemm/ours_layout.h"

#include <string.h>

static int64_t round_up(int64_t x, int64_t a) { return (x + a - 1) / a * a; }

ss_status ss_ours_geometry(int64_t N, int64_t K, int sparse, ss_ours_geom *g) {
    memset(g, 0, sizeof *g);
    /* 2^24 rows or columns is far past any model; it keeps every offset in 64 bits and every row index in int */
    if (N <= 0 || K <= 0 || N > ((int64_t)1 << 24) || K > ((int64_t)1 << 24))
        return ss_fail(SS_ERR_ARG, "ours GEMM: weight shape [%lld, %lld] is empty or too large", (long long)N,
                       (long long)K);
    g->sparse = sparse != 0;
    g->N = N;
    g->K = K;
    g->rows_img = round_up(N, SS_OURS_IMG_ROWS);
    g->blocks = g->rows_img / SS_OURS_ROWS;
    g->k_steps = round_up(K, SS_OURS_BK) / SS_OURS_BK;
    g->chunk_bytes = g->sparse ? SS_OURS_CHUNK_SPARSE : SS_OURS_CHUNK_DENSE;
    g->bytes = (size_t)(g->blocks * g->k_steps) * g->chunk_bytes;
    return SS_OK;
}

int64_t ss_ours_row_blocks(const ss_ours_cfg *c, int64_t N) { return (N + c->rows - 1) / c->rows; }

int64_t ss_ours_tile_cost(const ss_ours_cfg *c) {
    /* 128 rows: the main loop ~ bn, + 32 for a tile's fill and drain (its
     * epilogue overlaps the other consumer's loop). 256 rows: twice the
     * MACs at ~3/4 the cost per MAC (the operands of a stage feed twice the
     * rows of weight: the kernel is bound by operand delivery from L2), +
     * 64 for fill, drain and an epilogue nothing overlaps. */
    return c->rows == 128 ? c->bn + 32 : 3 * c->bn / 2 + 64;
}

const ss_ours_cfg ss_ours_cfgs[SS_OURS_N_CFG] = {{256, 128, 1}, {128, 128, 1}, {256, 64, 1}, {128, 64, 1}};

void ss_ours_cfg_default(int64_t N, int64_t M, int sm_count, ss_ours_cfg *c) {
    if (sm_count < 1) sm_count = 1;
    int64_t best_cost = -1;
    *c = ss_ours_cfgs[0];
    for (int i = 0; i < SS_OURS_N_CFG; i++) {
        const ss_ours_cfg *o = &ss_ours_cfgs[i];
        const int64_t tiles = ss_ours_row_blocks(o, N) * ((M + o->bn - 1) / o->bn);
        const int64_t cost = (tiles + sm_count - 1) / sm_count * ss_ours_tile_cost(o);
        if (best_cost < 0 || cost < best_cost) *c = *o, best_cost = cost; /* ties: the earlier */
    }
}

ss_status ss_ours_cfg_check(const ss_ours_cfg *c) {
    if ((c->rows != 128 && c->rows != 256) || (c->bn != 64 && c->bn != 128 && !(c->bn == 192 && c->rows == 256)))
        return ss_fail(SS_ERR_ARG, "ours GEMM: no kernel for %d-row x %d-token tiles (rows 128 or 256, tokens 64 or 128; 256 x 192)",
                       c->rows, c->bn);
    if (c->cluster != 1 && !(c->cluster == 2 && c->rows == 256 && c->bn == 128))
        return ss_fail(SS_ERR_ARG, "ours GEMM: no kernel for %d-row x %d-token tiles in clusters of %d (clusters of 2: "
                       "256 x 128 only)", c->rows, c->bn, c->cluster);
    return SS_OK;
}

int ss_ours_cfg_encode(const ss_ours_cfg *c) { return (c->rows == 256 ? (c->cluster == 2 ? 2000 : 1000) : 0) + c->bn; }

ss_status ss_ours_cfg_decode(int id, ss_ours_cfg *c) {
    c->rows = id >= 1000 ? 256 : 128;
    c->cluster = id >= 2000 ? 2 : 1;
    c->bn = id % 1000;
    if (id < 0 || id >= 3000) c->bn = -1; /* refused below, by its value */
    return ss_ours_cfg_check(c);
}

static inline int is_zero(uint8_t c, ss_dtype dt) { return c == 0 || (dt == SS_DT_F8_E4M3 && c == 0x80); }

/* Code of weight (channel n, logical column k), zero outside [N, K]. */
static inline uint8_t code_at(const ss_ours_geom *g, ss_dtype dt, const uint8_t *w, int64_t n, int64_t k) {
    if (n >= g->N || k >= g->K) return 0;
    uint8_t c = w[n * g->K + k];
    return is_zero(c, dt) ? 0 : c;
}

/* The two positions the metadata names for a group of 4 whose nonzero codes
 * are the set bits of the index (positions 0..3); -1 for more than two.
 * They must be distinct and increasing; with fewer nonzeros the extra
 * position holds a zero: none -> 0, 1; only 3 -> 2, 3; only j -> j, j + 1. */
static const int8_t pair_of_mask[16][2] = {
    {0, 1}, {0, 1}, {1, 2}, {0, 1}, {2, 3}, {0, 2}, {1, 2}, {-1, 0},
    {2, 3}, {0, 3}, {1, 3}, {-1, 0}, {2, 3}, {-1, 0}, {-1, 0}, {-1, 0},
};

/* One block of 64 rows x one k-step, sparse: compressed sub-tiles + metadata. */
static ss_status pack_sparse_chunk(const ss_ours_geom *g, ss_dtype dt, const uint8_t *w, int64_t b, int64_t s,
                                   uint8_t *chunk, const char *name) {
    uint16_t nibbles[SS_OURS_ROWS][SS_OURS_BK / 4]; /* per physical row, per group of the k-step */
    /* inside the weight (every row of the block and column of the step exists): codes read directly */
    const int interior = (b + 1) * SS_OURS_ROWS <= g->N && (s + 1) * SS_OURS_BK <= g->K;
    for (int p = 0; p < SS_OURS_ROWS; p++) {
        const int64_t n = b * SS_OURS_ROWS + ss_ours_row_channel(p);
        for (int G = 0; G < SS_OURS_BK / 4; G++) {
            const int64_t k = s * SS_OURS_BK + 4 * G;
            uint8_t c[4];
            int mask = 0;
            for (int j = 0; j < 4; j++) {
                c[j] = interior ? w[n * g->K + k + j] : code_at(g, dt, w, n, k + j);
                if (is_zero(c[j], dt)) c[j] = 0; /* fp8 -0 is a zero */
                mask |= (c[j] != 0) << j;
            }
            const int i0 = pair_of_mask[mask][0], i1 = pair_of_mask[mask][1];
            if (i0 < 0)
                return ss_fail(SS_ERR_FORMAT,
                               "%s: weight [%lld, %lld] row %lld columns %lld..%lld hold more than 2 nonzeros: "
                               "not 2:4 (the ours sparse GEMM needs a slid weight, or one pruned to 2_4)",
                               name, (long long)g->N, (long long)g->K, (long long)n, (long long)k, (long long)(k + 3));
            nibbles[p][G] = (uint16_t)(i0 | i1 << 2);
            /* compressed values: sub-tile G/16, byte 2*(G%16) + i */
            uint8_t *sub = chunk + (G / 16) * SS_OURS_SUB_BYTES;
            sub[ss_ours_sub_offset(p, 2 * (G % 16))] = c[i0];
            sub[ss_ours_sub_offset(p, 2 * (G % 16) + 1)] = c[i1];
        }
    }
    for (int sub = 0; sub < 2; sub++) {
        uint8_t *meta = chunk + 2 * SS_OURS_SUB_BYTES + sub * SS_OURS_META_BYTES;
        for (int t = 0; t < 128; t++) {
            const int p = ss_ours_meta_row(t), G0 = sub * 16 + ss_ours_meta_k0(t) / 4;
            uint32_t word = 0;
            for (int j = 0; j < 8; j++) word |= (uint32_t)nibbles[p][G0 + j] << (4 * j);
            for (int i = 0; i < 4; i++) meta[4 * t + i] = (uint8_t)(word >> (8 * i)); /* little endian, as the GPU */
        }
    }
    return SS_OK;
}

static void pack_dense_chunk(const ss_ours_geom *g, ss_dtype dt, const uint8_t *w, int64_t b, int64_t s,
                             uint8_t *chunk) {
    const int interior = (b + 1) * SS_OURS_ROWS <= g->N && (s + 1) * SS_OURS_BK <= g->K;
    for (int p = 0; p < SS_OURS_ROWS; p++) {
        const int64_t n = b * SS_OURS_ROWS + ss_ours_row_channel(p);
        if (!interior) {
            for (int kk = 0; kk < SS_OURS_BK; kk++)
                chunk[(kk / 32) * SS_OURS_SUB_BYTES + ss_ours_sub_offset(p, kk % 32)] =
                    code_at(g, dt, w, n, s * SS_OURS_BK + kk);
            continue;
        }
        /* a row's 16 consecutive bytes of a sub-tile are contiguous (ss_ours_sub_offset) */
        for (int kk = 0; kk < SS_OURS_BK; kk += 16) {
            uint8_t *dst = chunk + (kk / 32) * SS_OURS_SUB_BYTES + ss_ours_sub_offset(p, kk % 32);
            memcpy(dst, w + n * g->K + s * SS_OURS_BK + kk, 16);
            if (dt == SS_DT_F8_E4M3) /* int8 has one zero: nothing to rewrite */
                for (int j = 0; j < 16; j++)
                    if (is_zero(dst[j], dt)) dst[j] = 0; /* -0 as code_at gives it */
        }
    }
}

ss_status ss_ours_pack(const ss_ours_geom *g, ss_dtype dt, const uint8_t *w, uint8_t *img, const char *name) {
    if (dt != SS_DT_I8 && dt != SS_DT_F8_E4M3)
        return ss_fail(SS_ERR_UNSUPPORTED, "%s: the ours GEMM takes int8 or fp8 e4m3 weights, not %s", name,
                       ss_dtype_name(dt));
    /* The chunks are independent: one thread each (a model's weights took
     * ~20 s to pack on one core, H200 machine, 2026-12-02). A weight that is
     * not 2:4 is reported for the first bad chunk in image order, as a
     * serial pack would: that chunk is packed again here to say where. */
    const int64_t n_chunks = g->blocks * g->k_steps;
    int64_t first_bad = n_chunks;
    memset(img, 0, g->bytes);
#pragma omp parallel for schedule(dynamic, 16) reduction(min : first_bad)
    for (int64_t c = 0; c < n_chunks; c++) {
        uint8_t *chunk = img + (size_t)c * g->chunk_bytes;
        const int64_t b = c / g->k_steps, s = c % g->k_steps;
        if (!g->sparse) pack_dense_chunk(g, dt, w, b, s, chunk);
        else if (pack_sparse_chunk(g, dt, w, b, s, chunk, name) != SS_OK && c < first_bad) first_bad = c;
    }
    if (first_bad < n_chunks)
        return pack_sparse_chunk(g, dt, w, first_bad / g->k_steps, first_bad % g->k_steps,
                                 img + (size_t)first_bad * g->chunk_bytes, name);
    return SS_OK;
}

/* ---- the CPU model: read the image as the hardware does ---- */

/* Logical row (64 values, codes) of physical row p, k64 sub-tile `sub` of
 * chunk, rebuilt from compressed values and metadata. */
static void sparse_row(const uint8_t *chunk, int p, int sub, uint8_t out[64]) {
    memset(out, 0, 64);
    const uint8_t *vals = chunk + sub * SS_OURS_SUB_BYTES;
    const uint8_t *meta = chunk + 2 * SS_OURS_SUB_BYTES + sub * SS_OURS_META_BYTES;
    for (int t = 0; t < 128; t++) { /* the threads that supply row p's metadata */
        if (ss_ours_meta_row(t) != p) continue;
        const uint32_t word = (uint32_t)meta[4 * t] | (uint32_t)meta[4 * t + 1] << 8 |
                              (uint32_t)meta[4 * t + 2] << 16 | (uint32_t)meta[4 * t + 3] << 24;
        for (int j = 0; j < 8; j++) {
            const int G = ss_ours_meta_k0(t) / 4 + j, nib = (int)(word >> (4 * j)) & 15;
            out[4 * G + (nib & 3)] = vals[ss_ours_sub_offset(p, 2 * G)];
            out[4 * G + (nib >> 2)] = vals[ss_ours_sub_offset(p, 2 * G + 1)];
        }
    }
}

void ss_ours_model_gemm(const ss_ours_geom *g, ss_dtype dt, const uint8_t *img, const uint8_t *x, int64_t M,
                        int32_t *acc_i, double *acc_d) {
    const int fp8 = dt == SS_DT_F8_E4M3;
    for (int64_t b = 0; b < g->blocks; b++)
        for (int p = 0; p < SS_OURS_ROWS; p++) {
            const int64_t n = b * SS_OURS_ROWS + ss_ours_row_channel(p);
            if (n >= g->N) continue;
            for (int64_t m = 0; m < M; m++) {
                int64_t si = 0;
                double sd = 0;
                for (int64_t s = 0; s < g->k_steps; s++) {
                    const uint8_t *chunk = img + (size_t)(b * g->k_steps + s) * g->chunk_bytes;
                    uint8_t row[SS_OURS_BK];
                    if (g->sparse) {
                        sparse_row(chunk, p, 0, row);
                        sparse_row(chunk, p, 1, row + 64);
                    } else {
                        for (int kk = 0; kk < SS_OURS_BK; kk++)
                            row[kk] = chunk[(kk / 32) * SS_OURS_SUB_BYTES + ss_ours_sub_offset(p, kk % 32)];
                    }
                    for (int kk = 0; kk < SS_OURS_BK; kk++) {
                        const int64_t k = s * SS_OURS_BK + kk;
                        const uint8_t xc = k < g->K ? x[m * g->K + k] : 0;
                        if (fp8) sd += (double)ss_fp8e4m3_to_f32(row[kk]) * (double)ss_fp8e4m3_to_f32(xc);
                        else si += (int64_t)(int8_t)row[kk] * (int8_t)xc;
                    }
                }
                if (acc_i) acc_i[m * g->N + n] = (int32_t)si;
                if (acc_d) acc_d[m * g->N + n] = fp8 ? sd : (double)si;
            }
        }
}
