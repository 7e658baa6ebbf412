/* Our own Hopper GEMM (sm_90a): Y = X' . W^T with the weight 2:4 sparse
 * (wgmma.mma_async.sp, the "ours" backend) or dense (the "ours_dense" twin,
 * same pipeline with dense wgmma), INT8 or FP8 E4M3, the dequant epilogue
 * fused: y = bf16(((acc * s_x[token]) * s_w[channel]) + bias[channel]).
 *
 * Roles (384 threads, one CTA per SM, persistent over tiles):
 *   warpgroup 0  producer: one thread moves each pipeline stage in, the
 *                X' tile by TMA (128-byte swizzle, rows past M zero-filled)
 *                and the two weight chunks by bulk copies (the weight image
 *                is stored as shared memory wants it: ours_layout.h);
 *                registers given back (setmaxnreg 40)
 *   warpgroups 1, 2  consumers (m64nBNk64 sparse, k32 dense wgmmas, one
 *                group in flight, the epilogue straight from registers):
 *                128-row tiles ping-pong: each takes every other tile whole
 *                (two m64 blocks), its epilogue running while the other
 *                warpgroup's wgmmas keep the tensor cores busy. The first
 *                version split each 128-row tile between the two (64 rows
 *                each): the epilogue then left the tensor cores idle, ~35% of
 *                the time at M = 16384 (H200, 2026-12-01, docs/BENCHMARKS.md).
 *                256-row tiles cooperative: both on one tile, two blocks each,
 *                so each stage's X' tile feeds 256 rows: 2/3 (dense 3/4) of
 *                the L2 traffic per MAC of a 128-row tile, which ncu showed
 *                to be the limit (L2 69% busy, tensor pipe 35%)
 * Stage s: [X' tile: BN rows x 128 bytes][weight chunk of block 0]..[of
 * block RM/64 - 1], full[s] / empty[s] mbarriers.
 *
 * Variants (ours_kernel.cuh): 128 or 256 rows x 64 or 128 tokens a tile;
 * the plan picks one (ours_run in gemm_ctx.cu: the tuning table's, else
 * ss_ours_cfg_default), SS_OURS_ROWS / SS_OURS_BN override it for
 * experiments.
 *
 * Why this shape: at the sparse rate one m64nNk64 8-bit wgmma reads N*64
 * bytes of B per N/2 cycles, 128 B/clk, the shared-memory port's width;
 * larger N cannot lower that (bytes and cycles both scale with N), so the
 * weight, the operand the instruction reads per 64 rows only, is the one to
 * keep small (compressed, 2 KB a sub-tile). Tried and dropped (H200,
 * 2026-12-01): 256-token tiles (wrong sums in whole warps' rows; most likely
 * the metadata hazard ours_kernel.cuh's k-step describes, found on 256-row
 * tiles the next day, when a group in flight had its metadata registers
 * overwritten). Clusters of two CTAs are built as an EXPERIMENTAL
 * configuration (256 x 128 in pairs sharing the weight chunks by TMA
 * multicast, ss_ours_cfg.cluster = 2): correct, and 4 % slower than single
 * CTAs although it cut the L2 traffic (H200, 2026-12-02), so never the
 * default nor tuned. What had held the kernel back was its epilogue: a
 * third of the consumers' time in per-element tests and token-scale loads
 * that could not be hoisted past the stores; with the interior epilogue
 * (ours_kernel.cuh) the tensor pipe went from 39 % to 60 % busy and the
 * next limit is the shared-memory data pipe (89 %; docs/BENCHMARKS.md).
 */
#include <cuda.h>
#include <cudaTypedefs.h>
#include <stdio.h>
#include <stdlib.h>

#include "gemm/ours_kernel.cuh"

namespace {

/* ---- host ---- */

PFN_cuTensorMapEncodeTiled_v12000 tensor_map_encoder() {
    static PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
        void *f = nullptr;
        cudaDriverEntryPointQueryResult q;
        if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &f, 12000, cudaEnableDefault, &q) !=
                cudaSuccess ||
            q != cudaDriverEntryPointSuccess)
            f = nullptr;
        return (PFN_cuTensorMapEncodeTiled_v12000)f;
    }();
    return fn;
}

} // namespace

ss_status ss_ours_upload(const ss_gemm_weight_info *i, ss_dtype dt, const uint8_t *w_staged, void **d_img,
                         size_t *bytes, const char *what) {
    ss_ours_geom g;
    SS_TRY_CTX(ss_ours_geometry(i->N_pad, i->K_act, i->backend == SS_BACKEND_OURS, &g), "%s", what);
    uint8_t *h = (uint8_t *)malloc(g.bytes);
    if (!h) return ss_fail(SS_ERR_NOMEM, "%s: no memory for a %zu-byte weight image", what, g.bytes);
    ss_status st = ss_ours_pack(&g, dt, w_staged, h, what);
    cudaError_t e = cudaSuccess;
    if (st == SS_OK) {
        e = cudaMalloc(d_img, g.bytes);
        if (e == cudaSuccess) e = cudaMemcpy(*d_img, h, g.bytes, cudaMemcpyHostToDevice);
    }
    free(h);
    SS_TRY(st);
    if (e != cudaSuccess) {
        cudaFree(*d_img);
        *d_img = NULL;
        return ss_cuda_status(e, "cudaMalloc/cudaMemcpy of the weight image", what);
    }
    *bytes = g.bytes;
    return SS_OK;
}

ss_status ss_ours_run(ss_gemm_ctx *ctx, const ss_gemm_weight *w, const void *xq, int64_t M_rows, const float *sx,
                      const float *sw, const float *bias, int raw, void *out, int64_t ld_out, int64_t rows_out,
                      int64_t cols_out, const ss_ours_cfg *cfg, const char *what) {
    const ss_gemm_weight_info *i = &w->info;
    if (ctx->gpu.cc_major != 9 || ctx->gpu.cc_minor != 0)
        return ss_fail(SS_ERR_UNSUPPORTED, "%s: the ours GEMM is sm_90a (Hopper) code; this GPU is %d.%d", what,
                       ctx->gpu.cc_major, ctx->gpu.cc_minor);
    PFN_cuTensorMapEncodeTiled_v12000 encode = tensor_map_encoder();
    if (!encode) return ss_fail(SS_ERR_CUDA, "%s: the driver has no cuTensorMapEncodeTiled", what);
    ss_ours_geom g;
    SS_TRY_CTX(ss_ours_geometry(i->N_pad, i->K_act, i->backend == SS_BACKEND_OURS, &g), "%s", what);
    const int bn = cfg->bn;
    SS_TRY_CTX(ss_ours_cfg_check(cfg), "%s", what);

    CUtensorMap map;
    const cuuint64_t dims[2] = {(cuuint64_t)i->K_act, (cuuint64_t)M_rows};
    const cuuint64_t strides[1] = {(cuuint64_t)i->K_act};
    const cuuint32_t box[2] = {SS_OURS_BK, (cuuint32_t)bn}, estr[2] = {1, 1};
    CUresult r = encode(&map, CU_TENSOR_MAP_DATA_TYPE_UINT8, 2, (void *)xq, dims, strides, box, estr,
                        CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                        CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    if (r != CUDA_SUCCESS)
        return ss_fail(SS_ERR_CUDA, "%s: cuTensorMapEncodeTiled of X' [%lld, %lld] failed (%d)", what, (long long)M_rows,
                       (long long)i->K_act, (int)r);

    ss_ours::Params p;
    p.a_img = (const uint8_t *)w->d_w;
    p.k_steps = g.k_steps;
    p.nb_count = ss_ours_row_blocks(cfg, g.N); /* never past the image: rows_img is a multiple of 256 */
    p.tb_count = (M_rows + bn - 1) / bn;
    p.group = SS_OURS_GROUP;
    /* clusters of two walk tiles of a weight block and a pair of token blocks (ss_ours_cluster_tile) */
    p.n_tiles = p.nb_count * (cfg->cluster == 2 ? (p.tb_count + 1) / 2 : p.tb_count);
    p.out = out;
    p.ld_out = ld_out;
    p.rows_out = rows_out;
    p.cols_out = cols_out;
    p.sx = sx;
    p.sw = sw;
    p.bias = bias;
    p.raw = raw;
    const int fp8 = i->dtype == SS_GEMM_FP8E4M3, sparse = i->backend == SS_BACKEND_OURS;
    const int sm = ctx->gpu.sm_count;
    const int rows = cfg->rows, cl = cfg->cluster;
    if (sparse && fp8) return ss_ours_launch_sparse_fp8(rows, bn, cl, map, p, sm, ctx->stream, what);
    if (sparse) return ss_ours_launch_sparse_int8(rows, bn, cl, map, p, sm, ctx->stream, what);
    if (fp8) return ss_ours_launch_dense_fp8(rows, bn, cl, map, p, sm, ctx->stream, what);
    return ss_ours_launch_dense_int8(rows, bn, cl, map, p, sm, ctx->stream, what);
}
