/* The weight image of our own Hopper GEMM ("ours", src/gemm/ours_gemm.cu),
 * its index math, and a CPU model of what the tensor cores read from it.
 *
 * The GEMM is Y[M, N] = X'[M, K] . W[N, K]^T with the WEIGHT as wgmma's
 * operand A (the only operand a sparse wgmma can take as structured: 64 rows
 * a warpgroup) and the tokens X' as operand B, both K-major. The weight is
 * prepared once, so it is stored on the device exactly as shared memory
 * wants it: the kernel moves it with plain bulk copies, no tensor map and no
 * index arithmetic in the main loop.
 *
 * Image of one weight (8-bit codes: int8 or fp8 e4m3):
 *   blocks of 64 rows (rows_img = N rounded up to 256, zero rows after N,
 *   so that either tile height, 128 or 256 rows, reads whole blocks)
 *   x k-steps of SS_OURS_BK = 128 logical K (K_img = K rounded up to 128,
 *   zero columns after K), block-major: chunk(b, s) at (b * k_steps + s) *
 *   chunk_bytes. One chunk:
 *     sparse: 2 sub-tiles (k64 each) of compressed A, 64 rows x 32 bytes,
 *             then 2 metadata tiles of 128 words (512 bytes), one word per
 *             thread of the consumer warpgroup, in thread order  = 5120 B
 *     dense:  4 sub-tiles (k32 each) of A, 64 rows x 32 bytes    = 8192 B
 *   A sub-tile (64 rows x 32 bytes), wgmma's K-major "interleave" (no
 *   swizzle) canonical layout: 8x16-byte core matrices, 128 contiguous bytes
 *   each, core (row/8, byte/16) at ((row/8) * 2 + byte/16) * 128; so the
 *   descriptor's leading (K) byte offset is 128 and its stride (M) offset 256.
 *
 * Rows are permuted inside each block of 64 so that the two accumulator rows
 * a thread holds (r and r+8 of the wgmma D fragment) are two ADJACENT output
 * channels: the epilogue then stores channel pairs (bf16x2) and a warp
 * writes whole 32-byte sectors. Physical row p holds channel
 *   16*(p/16) + 2*(p%8) + (p%16)/8.
 *
 * Sparse metadata (PTX sparse wgmma, 8-bit types, 2:4): per group of 4
 * logical K a nibble idx0 | idx1 << 2 (the two kept positions, idx0 < idx1;
 * a group with fewer nonzeros still names two distinct positions, its
 * stored values then 0). Thread t of the warpgroup supplies the word for
 * physical row 16*(t/32) + (t%32)/4 % 8 + 8*(t%2) and logical K [32*((t/2)%2),
 * +32) of the k64 sub-tile, nibble j = group j (CUTLASS's ELayout_64x64).
 * The compressed row holds the kept values group by group, in K order.
 */
#ifndef SS_GEMM_OURS_LAYOUT_H
#define SS_GEMM_OURS_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus /* ours_gemm.cu and gemm_ctx.cu include it; the functions are C */
extern "C" {
#endif

#include "core/dtype.h"
#include "core/status.h"

#if defined(__CUDACC__)
#define SS_OURS_HD __host__ __device__
#else
#define SS_OURS_HD
#endif

#define SS_OURS_ROWS 64        /* weight rows per wgmma (its M) */
#define SS_OURS_IMG_ROWS 256   /* the image's row count is a multiple of the tallest tile */
#define SS_OURS_BK 128         /* logical K per pipeline stage (bytes of X' per token row) */
#define SS_OURS_SUB_BYTES 2048 /* one A sub-tile: 64 rows x 32 bytes */
#define SS_OURS_META_BYTES 512 /* one metadata tile: 128 words */
#define SS_OURS_CHUNK_SPARSE (2 * SS_OURS_SUB_BYTES + 2 * SS_OURS_META_BYTES)
#define SS_OURS_CHUNK_DENSE (4 * SS_OURS_SUB_BYTES)

typedef struct ss_ours_geom {
    int sparse;          /* 1: 2:4 compressed + metadata, 0: the dense twin */
    int64_t N, K;        /* rows and columns of the weight as given (K = K_act of the GEMM) */
    int64_t rows_img;    /* N rounded up to SS_OURS_IMG_ROWS */
    int64_t blocks;      /* rows_img / SS_OURS_ROWS */
    int64_t k_steps;     /* K rounded up to SS_OURS_BK, / SS_OURS_BK */
    size_t chunk_bytes;  /* SS_OURS_CHUNK_SPARSE or _DENSE */
    size_t bytes;        /* whole image */
} ss_ours_geom;

/* Fails (SS_ERR_ARG) on empty or oversized shapes. */
ss_status ss_ours_geometry(int64_t N, int64_t K, int sparse, ss_ours_geom *g);

/* Channel held by physical row p (0..63) of a block, and its inverse. */
SS_OURS_HD static inline int ss_ours_row_channel(int p) { return 16 * (p / 16) + 2 * (p % 8) + (p % 16) / 8; }
SS_OURS_HD static inline int ss_ours_channel_row(int c) { return 16 * (c / 16) + (c % 16) / 2 + 8 * (c % 2); }

/* Byte offset of (physical row, byte) inside an A sub-tile (64 x 32 bytes). */
SS_OURS_HD static inline int ss_ours_sub_offset(int row, int byte) {
    return ((row / 8) * 2 + byte / 16) * 128 + (row % 8) * 16 + byte % 16;
}

/* The metadata word of consumer thread t (0..127): its physical row and the
 * first logical K (0 or 32) it covers inside a k64 sub-tile. */
SS_OURS_HD static inline int ss_ours_meta_row(int t) { return 16 * (t / 32) + ((t % 32) / 4) % 8 + 8 * (t % 2); }
SS_OURS_HD static inline int ss_ours_meta_k0(int t) { return 32 * ((t / 2) % 2); }

/* Persistent tile schedule: tile index -> (channel block nb of 128 rows,
 * token block tb). Tiles go in strips of `group` token blocks; inside a
 * strip channel blocks advance slowest, so the CTAs running at one time
 * share a few X' tiles and a few weight blocks (L2 reuse). A bijection of
 * [0, nb_count * tb_count) for any group >= 1. */
SS_OURS_HD static inline void ss_ours_tile(int64_t tile, int64_t nb_count, int64_t tb_count, int64_t group,
                                           int64_t *nb, int64_t *tb) {
    if (group < 1) group = 1;
    const int64_t strip_tiles = group * nb_count;
    const int64_t strip = tile / strip_tiles, r = tile % strip_tiles;
    const int64_t first_tb = strip * group;
    const int64_t width = tb_count - first_tb < group ? tb_count - first_tb : group; /* the last strip may be narrow */
    *nb = r / width;
    *tb = first_tb + r % width;
}

#define SS_OURS_GROUP 8 /* token blocks per strip of the tile schedule */

/* Clusters of two CTAs: cluster tile ct -> (channel block nb, token block
 * pair tbp) by ss_ours_tile over ceil(tb_count / 2) pairs; CTA `rank` of
 * the pair takes token block 2 tbp + rank, and *load_tb, the block it
 * loads: its own, or for the odd last pair's missing second block the
 * first one again (its results are not stored: *store 0), so that every
 * TMA box it waits for holds data. */
SS_OURS_HD static inline void ss_ours_cluster_tile(int64_t ct, int64_t nb_count, int64_t tb_count, int64_t group,
                                                   int rank, int64_t *nb, int64_t *tb, int64_t *load_tb, int *store) {
    int64_t tbp;
    ss_ours_tile(ct, nb_count, (tb_count + 1) / 2, group, nb, &tbp);
    *tb = 2 * tbp + rank;
    *store = *tb < tb_count;
    *load_tb = *store ? *tb : 2 * tbp;
}

/* One launch configuration of the kernel (ours_kernel.cuh):
 *   rows  weight rows per tile: 128, ping-pong (each consumer warpgroup
 *         takes every other tile whole, as two m64 blocks, its epilogue
 *         overlapping the other's main loop), or 256, cooperative (both
 *         consumers on one tile, 128 rows each: a stage of X' feeds twice
 *         the MACs, so the operand traffic from L2 per MAC drops by a
 *         quarter dense and a third sparse, at the price of an epilogue
 *         the tensor cores wait for)
 *   bn    tokens per tile: 64 or 128; 192 with 256 rows, EXPERIMENTAL (each
 *         consumer holds 192 accumulators, 240 registers after setmaxnreg;
 *         a stage's weight chunks feed 1.5x the tokens, ~11 % less
 *         shared-memory traffic per MAC): correct, and 3-11 % slower than
 *         256 x 128 at M = 16384 in both dtypes, sparse and dense (H200,
 *         2026-12-02, docs/BENCHMARKS.md), so neither the default nor timed
 *         by the tuner; SS_OURS_BN=192 and the GPU tests reach it
 *   cluster  CTAs per cluster: 1, or 2 (256 x 128 only, EXPERIMENTAL: the
 *         pair takes one weight block and two adjacent token blocks and
 *         shares the weight chunks by TMA multicast, each CTA loading half
 *         of them into both: 26 KB a stage per CTA instead of 36; never the
 *         default nor timed by the tuner until measured, SS_OURS_CLUSTER=2
 *         and the GPU tests reach it) */
typedef struct ss_ours_cfg {
    int rows, bn, cluster;
} ss_ours_cfg;
/* The single-CTA configurations, in the order ties go to (the default's
 * candidates and the ones the tuner times; clusters are neither yet). */
#define SS_OURS_N_CFG 4
extern const ss_ours_cfg ss_ours_cfgs[SS_OURS_N_CFG];
/* Channel blocks of c->rows rows over an image of rows_img rows. */
int64_t ss_ours_row_blocks(const ss_ours_cfg *c, int64_t N);
/* The default for M tokens and N channels on sm_count SMs: the fewest
 * waves of tiles, weighted by what a tile costs (ss_ours_tile_cost), ties
 * to the larger tile. */
void ss_ours_cfg_default(int64_t N, int64_t M, int sm_count, ss_ours_cfg *c);
/* Relative cost of one tile of c (units of a 128 x 64 ping-pong tile's
 * main loop ~ MACs over how well the tile reuses its operands, plus the
 * fixed cost of fill, drain and epilogue). */
int64_t ss_ours_tile_cost(const ss_ours_cfg *c);
/* SS_ERR_ARG unless the kernel is built for it. */
ss_status ss_ours_cfg_check(const ss_ours_cfg *c);
/* As one integer (a tuning table's alg_id): bn for 128-row tiles (the
 * tables written before 256-row tiles existed), 1000 + bn for 256, 2000 +
 * bn for 256 in clusters of 2. */
int ss_ours_cfg_encode(const ss_ours_cfg *c);
ss_status ss_ours_cfg_decode(int id, ss_ours_cfg *c);

/* Packs w[N, K] (row-major 8-bit codes, I8 or F8_E4M3; -0 counts as zero)
 * into img[g->bytes]. Sparse images need every aligned group of 4 along K
 * to hold at most 2 nonzeros: otherwise SS_ERR_FORMAT naming `name`, the
 * row and the columns. */
ss_status ss_ours_pack(const ss_ours_geom *g, ss_dtype dt, const uint8_t *w, uint8_t *img, const char *name);

/* The CPU model of the tensor cores over an image: acc[M, N] (INT32 for I8
 * into acc_i, exact sums in double for F8_E4M3 into acc_d; either may be
 * NULL) of x[M, K] (8-bit codes) times the weight, read back through the
 * same sub-tile, metadata and row-permutation rules the kernel uses. */
void ss_ours_model_gemm(const ss_ours_geom *g, ss_dtype dt, const uint8_t *img, const uint8_t *x, int64_t M,
                        int32_t *acc_i, double *acc_d);

#ifdef __cplusplus
}
#endif

#endif
