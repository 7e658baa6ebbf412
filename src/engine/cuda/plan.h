/* Host-side scheduling of one batch's attention onto the GPU kernels (pure C,
 * tested on the CPU): batch rows are cut into runs (adjacent rows of one
 * sequence at consecutive positions). Runs of two or more rows become
 * prefill tiles of up to SS_ATTN_TILE_ROWS rows for the flash kernel, largest
 * context first so the longest blocks start first; single rows (decode
 * tokens) go to the decode kernel, which splits long contexts instead. */
#ifndef SS_ENGINE_CUDA_PLAN_H
#define SS_ENGINE_CUDA_PLAN_H

#include <stdint.h>

#include "engine/cuda/kernels.h"
#include "engine/forward_cpu.h"

/* Which kernel runs single-token (decode) attention; every kind computes
 * the same function, so old and new can be timed in one process. */
typedef enum ss_attn_decode_kind {
    SS_ATTN_DECODE_AUTO = 0, /* $SS_ATTN_DECODE (old | tc | fused) if set, else fused */
    SS_ATTN_DECODE_OLD,      /* CUDA cores, q and P in float (attention_decode.cu); rope_kv separate */
    SS_ATTN_DECODE_TC,       /* tensor cores, q and P as BF16 hi + lo (attention_decode_tc.cu); rope_kv separate */
    SS_ATTN_DECODE_FUSED,    /* TC, and the decode loop's RoPE + KV write done inside it */
} ss_attn_decode_kind;
/* "old", "tc", "fused" (NULL for AUTO or out of range). */
const char *ss_attn_decode_name(ss_attn_decode_kind k);
/* Parses those names; SS_ERR_ARG naming the value otherwise. */
ss_status ss_attn_decode_parse(const char *s, ss_attn_decode_kind *out);

/* Which kernel runs prefill (flash) attention. */
typedef enum ss_attn_prefill_kind {
    SS_ATTN_PREFILL_AUTO = 0, /* $SS_ATTN_PREFILL (mma | wgmma) if set, else mma */
    SS_ATTN_PREFILL_MMA,      /* mma.sync m16n8k16 (attention_prefill.cu), any GPU from sm_80 */
    SS_ATTN_PREFILL_WGMMA,    /* wgmma (attention_prefill_wgmma.cu), sm_90a; EXPERIMENTAL; others fall back to mma */
} ss_attn_prefill_kind;
/* "mma", "wgmma" (NULL for AUTO or out of range). */
const char *ss_attn_prefill_name(ss_attn_prefill_kind k);
/* Parses those names; SS_ERR_ARG naming the value otherwise. */
ss_status ss_attn_prefill_parse(const char *s, ss_attn_prefill_kind *out);

/* The KV cache's format. */
typedef enum ss_kv_cache_kind {
    SS_KV_CACHE_AUTO = 0, /* $SS_KV_CACHE (bf16 | fp8) if set, else bf16 */
    SS_KV_CACHE_BF16,     /* K after RoPE and V rounded to BF16 (the CPU engine's cache) */
    SS_KV_CACHE_FP8,      /* E4M3 codes with one scale per row (kernels.h's ss_kv_f8): half the bytes;
                           * needs the tensor-core decode kernel (tc, fused) and the mma prefill kernel */
} ss_kv_cache_kind;
/* "bf16", "fp8" (NULL for AUTO or out of range). */
const char *ss_kv_cache_name(ss_kv_cache_kind k);
/* Parses those names; SS_ERR_ARG naming the value otherwise. */
ss_status ss_kv_cache_parse(const char *s, ss_kv_cache_kind *out);

/* Most tiles a batch of n rows can need: a run of r >= 2 rows takes
 * ceil(r / 64) <= r / 2 tiles, so n bounds the total. */
static inline int ss_attn_plan_max_tiles(int n) { return n > 0 ? n : 1; }

/* tiles: room for ss_attn_plan_max_tiles(b->n); decode_rows: room for b->n.
 * The batch must already satisfy ss_batch's rules (checked by the engine). */
void ss_attn_plan(const ss_batch *b, ss_attn_tile *tiles, int *n_tiles, int32_t *decode_rows, int *n_decode);

/* Context positions per CTA (a multiple of 64) of the tensor-core decode
 * attention (ss_k_attention_decode_tc) for n_rows rows over a cache of
 * max_len positions on a GPU of n_sms multiprocessors: the whole context
 * when the (row, KV head) pairs alone fill the GPU (about 4 CTAs per
 * multiprocessor), else the context split evenly over enough CTAs (at
 * least one 64-position tile each). */
int ss_attn_decode_chunk(int n_rows, int n_kv_heads, int max_len, int n_sms);

#endif
