/* Offline weight quantization (SPEC section 1).
 *   ternary: one scale per tensor s = max(mean|W|, 1e-5); q = clamp(round(W/s), -1, 1)
 *   absmax:  per output channel s = max|w_row| / 127 (INT8, round half to even,
 *            clamp +-127) or / 448 (FP8 E4M3, round to nearest even, saturate)
 * The scale is always returned per channel, F32 [N]. */
#ifndef SS_CONVERT_QUANTIZE_H
#define SS_CONVERT_QUANTIZE_H

#include <stdint.h>

#include "core/dtype.h"
#include "core/status.h"

typedef enum ss_qscheme { SS_SCHEME_TERNARY = 0, SS_SCHEME_ABSMAX } ss_qscheme;
const char *ss_qscheme_name(ss_qscheme s);
ss_status ss_qscheme_parse(const char *s, ss_qscheme *out);

/* w: [N, K] of src dtype (BF16/F16/F32). out: [N, K] of qdtype (I8 or F8_E4M3). scale: [N]. */
ss_status ss_quantize_weight(const void *w, ss_dtype src, int64_t N, int64_t K, ss_qscheme scheme,
                             ss_dtype qdtype, void *out, float *scale, const char *what);

#endif
