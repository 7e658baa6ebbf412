/* BitNet's 2-bit packed checkpoints (see bitnet_packed.h). */
#include "io/bitnet_packed.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

ss_status ss_bitnet_unpack(const uint8_t *packed, int64_t N, int64_t K, int8_t *q, const char *what) {
    if (N <= 0 || K <= 0 || N % 4)
        return ss_fail(SS_ERR_FORMAT, "%s: cannot unpack a [%lld, %lld] ternary matrix (N must be a multiple of 4)",
                       what, (long long)N, (long long)K);
    const int64_t P = N / 4;
    int64_t bad = -1;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < P; r++) {
        const uint8_t *src = packed + r * K;
        for (int i = 0; i < 4; i++) {
            int8_t *dst = q + (i * P + r) * K;
            for (int64_t k = 0; k < K; k++) {
                const int code = (src[k] >> (2 * i)) & 3;
                dst[k] = (int8_t)(code - 1);
                if (code == 3) {
#pragma omp critical(ss_bitnet_unpack_error)
                    if (bad < 0 || r * K + k < bad) bad = r * K + k;
                }
            }
        }
    }
    if (bad >= 0)
        return ss_fail(SS_ERR_FORMAT, "%s: packed byte [%lld, %lld] holds the 2-bit code 3, which is no ternary value",
                       what, (long long)(bad / K), (long long)(bad % K));
    return SS_OK;
}

ss_status ss_ckpt_bitnet_linear(const ss_checkpoint *c, const char *weight_name, int64_t N, int64_t K, int8_t *codes,
                                float *scale) {
    const ss_hf_quant kind = c->cfg.hf_quant;
    if (kind != SS_HFQ_BITNET_PACKED_DIV && kind != SS_HFQ_BITNET_PACKED_MUL)
        return ss_fail(SS_ERR_INTERNAL, "%s: '%s' read as packed, but config.json has no packed quantization_config",
                       c->dir, weight_name);
    if (N % 4)
        return ss_fail(SS_ERR_FORMAT, "%s: '%s' has N = %lld rows, not a multiple of 4: it cannot be 2-bit packed",
                       c->dir, weight_name, (long long)N);
    const int64_t shape[2] = {N / 4, K};
    const ss_st_tensor *t, *ts;
    SS_TRY(ss_ckpt_tensor(c, weight_name, SS_DT_U8, 2, shape, &t));
    char name[320];
    if ((size_t)snprintf(name, sizeof name, "%s_scale", weight_name) >= sizeof name)
        return ss_fail(SS_ERR_FORMAT, "%s: tensor name too long: %s", c->dir, weight_name);
    SS_TRY(ss_ckpt_tensor(c, name, SS_DT_UNKNOWN, 0, NULL, &ts));
    int64_t elems = 1;
    for (int d = 0; d < ts->ndim; d++) elems *= ts->shape[d];
    if (elems != 1 || (ts->dtype != SS_DT_BF16 && ts->dtype != SS_DT_F16 && ts->dtype != SS_DT_F32))
        return ss_fail(SS_ERR_FORMAT, "%s: tensor '%s' must hold one BF16, F16 or F32 value (it has %lld %s)", c->dir,
                       name, (long long)elems, ss_dtype_name(ts->dtype));
    const double ws = ss_load_f32(ts->data, ts->dtype, 0);
    const double s = kind == SS_HFQ_BITNET_PACKED_DIV ? 1.0 / ws : ws;
    if (!(ws > 0) || !isfinite(s) || !((float)s > 0) || !isfinite((float)s))
        return ss_fail(SS_ERR_FORMAT, "%s: tensor '%s' = %g is not a usable scale (positive, finite)", c->dir, name, ws);
    *scale = (float)s;
    char what[600];
    snprintf(what, sizeof what, "%s: tensor '%s'", c->dir, weight_name);
    return ss_bitnet_unpack(t->data, N, K, codes, what);
}

int ss_is_block_linear_scale(const char *name) {
    size_t n = strlen(name);
    if (n < 7 || strcmp(name + n - 6, "_scale") != 0 || n - 6 >= 320) return 0;
    char weight[320];
    memcpy(weight, name, n - 6);
    weight[n - 6] = '\0';
    return ss_is_block_linear(weight);
}
