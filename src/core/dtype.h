/* Element types and exact scalar conversions.
 *
 * Names follow safetensors ("BF16", "F8_E4M3", ...). The float formats are
 * converted with round-to-nearest-even, as the GPU's cvt.rn instructions do:
 *   BF16  1-8-7   f32 truncated to 16 bits, rounded
 *   F16   1-5-10  IEEE half, with subnormals and inf
 *   F8_E4M3 (OCP "E4M3FN") 1-4-3, bias 7, no inf, NaN = S.1111.111,
 *         max 448, subnormals m * 2^-9; encoding saturates to +-448.
 */
#ifndef SS_CORE_DTYPE_H
#define SS_CORE_DTYPE_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef enum ss_dtype {
    SS_DT_UNKNOWN = 0,
    SS_DT_BOOL, SS_DT_U8, SS_DT_I8, SS_DT_F8_E5M2, SS_DT_F8_E4M3,
    SS_DT_I16, SS_DT_U16, SS_DT_F16, SS_DT_BF16,
    SS_DT_I32, SS_DT_U32, SS_DT_F32, SS_DT_F64, SS_DT_I64, SS_DT_U64,
    SS_DT_COUNT
} ss_dtype;

size_t ss_dtype_size(ss_dtype t);                /* bytes per element, 0 if unknown */
const char *ss_dtype_name(ss_dtype t);           /* safetensors name, "?" if unknown */
ss_dtype ss_dtype_from_name(const char *name);   /* SS_DT_UNKNOWN if not a safetensors dtype */
int ss_dtype_is_float(ss_dtype t);               /* F32, F16, BF16, F8_E4M3 (convertible to f32) */

#define SS_FP8_E4M3_MAX 448.0f
#define SS_INT8_QMAX 127.0f

static inline uint32_t ss_f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float ss_bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static inline float ss_bf16_to_f32(uint16_t h) { return ss_bits_f32((uint32_t)h << 16); }
static inline uint16_t ss_f32_to_bf16(float f) {
    uint32_t u = ss_f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);                                         /* RNE */
    return (uint16_t)(u >> 16);
}
/* f rounded to the nearest BF16 value, as a float (what a BF16 output holds). */
static inline float ss_round_bf16(float f) { return ss_bf16_to_f32(ss_f32_to_bf16(f)); }

float ss_f16_to_f32(uint16_t h);
uint16_t ss_f32_to_f16(float f);

extern const float ss_fp8e4m3_table[256];       /* decode table, all 256 codes */
static inline float ss_fp8e4m3_to_f32(uint8_t c) { return ss_fp8e4m3_table[c]; }
uint8_t ss_f32_to_fp8e4m3(float f);             /* RNE, saturating, NaN -> 0x7f|sign */

/* Round half to even, clamped to [-127, 127] (symmetric INT8). */
static inline int8_t ss_f32_to_i8_sym(float f) {
    float r = nearbyintf(f); /* default rounding mode: nearest, ties to even */
    if (!(r > -127.0f)) r = (r != r) ? 0.0f : -127.0f;
    if (r > 127.0f) r = 127.0f;
    return (int8_t)r;
}

/* Element i of a float-like array of type t, as f32 (t must satisfy ss_dtype_is_float or be I8). */
float ss_load_f32(const void *data, ss_dtype t, size_t i);
/* Converts n elements between float-like types (F32/F16/BF16/F8_E4M3/I8 as integers). */
void ss_convert(void *dst, ss_dtype dt, const void *src, ss_dtype st, size_t n);

#endif
