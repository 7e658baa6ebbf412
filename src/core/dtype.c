#include "core/dtype.h"

static const struct { const char *name; size_t size; } g_dtypes[SS_DT_COUNT] = {
    [SS_DT_UNKNOWN] = {"?", 0},       [SS_DT_BOOL] = {"BOOL", 1},   [SS_DT_U8] = {"U8", 1},
    [SS_DT_I8] = {"I8", 1},           [SS_DT_F8_E5M2] = {"F8_E5M2", 1},
    [SS_DT_F8_E4M3] = {"F8_E4M3", 1}, [SS_DT_I16] = {"I16", 2},     [SS_DT_U16] = {"U16", 2},
    [SS_DT_F16] = {"F16", 2},         [SS_DT_BF16] = {"BF16", 2},   [SS_DT_I32] = {"I32", 4},
    [SS_DT_U32] = {"U32", 4},         [SS_DT_F32] = {"F32", 4},     [SS_DT_F64] = {"F64", 8},
    [SS_DT_I64] = {"I64", 8},         [SS_DT_U64] = {"U64", 8},
};

size_t ss_dtype_size(ss_dtype t) { return (t > 0 && t < SS_DT_COUNT) ? g_dtypes[t].size : 0; }
const char *ss_dtype_name(ss_dtype t) { return (t > 0 && t < SS_DT_COUNT) ? g_dtypes[t].name : "?"; }

ss_dtype ss_dtype_from_name(const char *name) {
    for (int t = 1; t < SS_DT_COUNT; t++)
        if (strcmp(name, g_dtypes[t].name) == 0) return (ss_dtype)t;
    return SS_DT_UNKNOWN;
}

int ss_dtype_is_float(ss_dtype t) {
    return t == SS_DT_F32 || t == SS_DT_F16 || t == SS_DT_BF16 || t == SS_DT_F8_E4M3;
}

/* ---- IEEE half ---- */
float ss_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ffu;
    if (exp == 0) { /* zero or subnormal: man * 2^-24 */
        float v = ldexpf((float)man, -24);
        return sign ? -v : v;
    }
    if (exp == 31) return ss_bits_f32(sign | 0x7f800000u | (man << 13));
    return ss_bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t ss_f32_to_f16(float f) {
    uint32_t u = ss_f32_bits(f), sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u); /* NaN */
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* >= 65520 rounds to inf */
    if (a < 0x38800000u) { /* below 2^-14: subnormal, value = m * 2^-24 */
        float m = nearbyintf(ldexpf(ss_bits_f32(a), 24)); /* exact scaling, RNE */
        return (uint16_t)(sign | (uint32_t)m);         /* m == 1024 is the smallest normal */
    }
    a += 0xfffu + ((a >> 13) & 1u); /* RNE at bit 13 */
    return (uint16_t)(sign | ((a - (112u << 23)) >> 13));
}

/* ---- FP8 E4M3 (OCP) ---- */
/* Decode straight from the OCP definition, as a constant expression so the
 * table is plain read-only data: exponent field e, mantissa m,
 *   e == 0:          m * 2^-9                (subnormal)
 *   e == 15, m == 7: NaN
 *   otherwise:       (1 + m/8) * 2^(e-7) == (8 + m) * 2^e / 1024            */
#define E4M3_E(c) (((c) >> 3) & 15)
#define E4M3_M(c) ((c) & 7)
#define E4M3_MAG(c) (E4M3_E(c) == 0 ? E4M3_M(c) / 512.0f : (8 + E4M3_M(c)) * (float)(1u << E4M3_E(c)) / 1024.0f)
#define E4M3(c) ((E4M3_E(c) == 15 && E4M3_M(c) == 7) ? NAN : ((c) & 0x80 ? -E4M3_MAG(c) : E4M3_MAG(c)))
#define E4M3_4(c) E4M3(c), E4M3(c + 1), E4M3(c + 2), E4M3(c + 3)
#define E4M3_16(c) E4M3_4(c), E4M3_4(c + 4), E4M3_4(c + 8), E4M3_4(c + 12)
#define E4M3_64(c) E4M3_16(c), E4M3_16(c + 16), E4M3_16(c + 32), E4M3_16(c + 48)
const float ss_fp8e4m3_table[256] = {E4M3_64(0), E4M3_64(64), E4M3_64(128), E4M3_64(192)};

uint8_t ss_f32_to_fp8e4m3(float f) {
    uint32_t u = ss_f32_bits(f), sign = (u >> 24) & 0x80u;
    float a = fabsf(f);
    if (a != a) return (uint8_t)(sign | 0x7f);
    if (a >= SS_FP8_E4M3_MAX) return (uint8_t)(sign | 0x7e); /* saturate (inf too) */
    if (a < 0.015625f) {                                  /* below 2^-6: subnormal, m * 2^-9 */
        float m = nearbyintf(a * 512.0f);                 /* exact scaling, RNE; m == 8 is 2^-6 */
        return (uint8_t)(sign | (uint32_t)m);
    }
    uint32_t b = ss_f32_bits(a);
    b += 0x7ffffu + ((b >> 20) & 1u); /* RNE to 3 mantissa bits */
    uint32_t e = (b >> 23) - 127 + 7, m = (b >> 20) & 7u;
    if (e > 15 || (e == 15 && m == 7)) return (uint8_t)(sign | 0x7e); /* rounding overflowed past 448 */
    return (uint8_t)(sign | (e << 3) | m);
}

float ss_load_f32(const void *data, ss_dtype t, size_t i) {
    switch (t) {
    case SS_DT_F32: return ((const float *)data)[i];
    case SS_DT_BF16: return ss_bf16_to_f32(((const uint16_t *)data)[i]);
    case SS_DT_F16: return ss_f16_to_f32(((const uint16_t *)data)[i]);
    case SS_DT_F8_E4M3: return ss_fp8e4m3_to_f32(((const uint8_t *)data)[i]);
    case SS_DT_I8: return (float)((const int8_t *)data)[i];
    default: return NAN;
    }
}

void ss_convert(void *dst, ss_dtype dt, const void *src, ss_dtype st, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float v = ss_load_f32(src, st, i);
        switch (dt) {
        case SS_DT_F32: ((float *)dst)[i] = v; break;
        case SS_DT_BF16: ((uint16_t *)dst)[i] = ss_f32_to_bf16(v); break;
        case SS_DT_F16: ((uint16_t *)dst)[i] = ss_f32_to_f16(v); break;
        case SS_DT_F8_E4M3: ((uint8_t *)dst)[i] = ss_f32_to_fp8e4m3(v); break;
        case SS_DT_I8: ((int8_t *)dst)[i] = ss_f32_to_i8_sym(v); break;
        default: break;
        }
    }
}
