/* "quantization_config" of config.json. Only BitNet's own formats are read
 * (transformers' BitNetQuantConfig, integrations/bitnet.py); any other
 * quant_method is refused by name (SS_ERR_UNSUPPORTED, exit code 3).
 *
 *   linear_class    quantization_mode  weights                       here
 *   autobitlinear   online             BF16/F16/F32 master weights   ternarized per tensor at load
 *                                                                    (WeightQuant), activations per token
 *   bitlinear       (any)              uint8 [N/4, K], 2-bit packed  unpacked at load, W = q / weight_scale
 *   autobitlinear   offline            uint8 [N/4, K], 2-bit packed  unpacked at load, W = q * weight_scale
 *
 * Defaults as BitNetQuantConfig: linear_class "bitlinear", quantization_mode
 * "offline". use_rms_norm = true (an extra RMSNorm inside every linear) is
 * refused. modules_to_not_convert: null lets transformers skip lm_head (its
 * default); a list must name lm_head ("lm_head" or "lm_head$") and nothing
 * else, since this engine quantizes exactly the block linears: transformers
 * adds no default skip when a list is given.
 */
#include <string.h>

#include "io/config_keys.h"

const char *ss_hf_quant_name(ss_hf_quant q) {
    switch (q) {
    case SS_HFQ_NONE: return "none";
    case SS_HFQ_BITNET_ONLINE: return "bitnet online (autobitlinear)";
    case SS_HFQ_BITNET_PACKED_DIV: return "bitnet packed 2-bit (bitlinear)";
    case SS_HFQ_BITNET_PACKED_MUL: return "bitnet packed 2-bit (autobitlinear offline)";
    }
    return "?";
}

static ss_status opt_string(const json_t *q, const char *key, const char *path, const char **out) {
    const json_t *v = json_object_get(q, key);
    if (!v || json_is_null(v)) return SS_OK;
    if (!json_is_string(v)) return ss_fail(SS_ERR_FORMAT, "%s: quantization_config field '%s' is not a string", path, key);
    *out = json_string_value(v);
    return SS_OK;
}

static ss_status check_not_converted(const json_t *q, const char *path) {
    const json_t *list = json_object_get(q, "modules_to_not_convert");
    if (!list || json_is_null(list)) return SS_OK;
    if (!json_is_array(list))
        return ss_fail(SS_ERR_FORMAT, "%s: quantization_config field 'modules_to_not_convert' is not a list", path);
    int lm_head = 0;
    size_t i;
    const json_t *e;
    json_array_foreach(list, i, e) {
        const char *s = json_is_string(e) ? json_string_value(e) : NULL;
        if (s && (!strcmp(s, "lm_head") || !strcmp(s, "lm_head$"))) {
            lm_head = 1;
            continue;
        }
        return ss_fail(SS_ERR_UNSUPPORTED,
                       "%s: quantization_config modules_to_not_convert entry %zu ('%s') is not supported (only "
                       "lm_head may stay unquantized)",
                       path, i, s ? s : "not a string");
    }
    if (!lm_head)
        return ss_fail(SS_ERR_UNSUPPORTED,
                       "%s: quantization_config modules_to_not_convert does not name lm_head, so transformers "
                       "quantizes lm_head too, which is not supported",
                       path);
    return SS_OK;
}

ss_status ss_config_parse_quantization(const json_t *j, const char *path, ss_model_config *c) {
    c->hf_quant = SS_HFQ_NONE;
    const json_t *q = json_object_get(j, "quantization_config");
    if (!q || json_is_null(q)) return SS_OK;
    if (!json_is_object(q)) return ss_fail(SS_ERR_FORMAT, "%s: field 'quantization_config' is not an object", path);
    const char *method = NULL, *cls = "bitlinear", *mode = "offline";
    SS_TRY(opt_string(q, "quant_method", path, &method));
    if (!method) return ss_fail(SS_ERR_FORMAT, "%s: quantization_config has no string 'quant_method'", path);
    if (strcmp(method, "bitnet") != 0)
        return ss_fail(SS_ERR_UNSUPPORTED, "%s: quantization_config quant_method '%s' is not supported (only bitnet)",
                       path, method);
    if (c->arch != SS_ARCH_BITNET)
        return ss_fail(SS_ERR_UNSUPPORTED, "%s: quantization_config quant_method 'bitnet' is supported for model_type "
                       "bitnet only, not '%s'", path, ss_arch_name(c->arch));
    SS_TRY(opt_string(q, "linear_class", path, &cls));
    SS_TRY(opt_string(q, "quantization_mode", path, &mode));
    if (strcmp(cls, "bitlinear") != 0 && strcmp(cls, "autobitlinear") != 0)
        return ss_fail(SS_ERR_UNSUPPORTED, "%s: quantization_config linear_class '%s' is not supported (bitlinear, "
                       "autobitlinear)", path, cls);
    if (strcmp(mode, "online") != 0 && strcmp(mode, "offline") != 0)
        return ss_fail(SS_ERR_UNSUPPORTED, "%s: quantization_config quantization_mode '%s' is not supported (online, "
                       "offline)", path, mode);
    const json_t *rms = json_object_get(q, "use_rms_norm");
    if (rms && !json_is_null(rms) && !json_is_boolean(rms))
        return ss_fail(SS_ERR_FORMAT, "%s: quantization_config field 'use_rms_norm' is not a boolean", path);
    if (json_is_true(rms))
        return ss_fail(SS_ERR_UNSUPPORTED,
                       "%s: quantization_config use_rms_norm = true (an RMSNorm inside every linear) is not supported",
                       path);
    SS_TRY(check_not_converted(q, path));
    if (!strcmp(cls, "bitlinear")) c->hf_quant = SS_HFQ_BITNET_PACKED_DIV; /* BitLinear ignores the mode */
    else if (!strcmp(mode, "online")) c->hf_quant = SS_HFQ_BITNET_ONLINE;
    else c->hf_quant = SS_HFQ_BITNET_PACKED_MUL;
    return SS_OK;
}

json_t *ss_config_quant_json(const ss_model_config *c) {
    const char *cls = c->hf_quant == SS_HFQ_BITNET_PACKED_DIV ? "bitlinear" : "autobitlinear";
    const char *mode = c->hf_quant == SS_HFQ_BITNET_ONLINE ? "online" : "offline";
    if (c->hf_quant == SS_HFQ_NONE) return json_null();
    return json_pack("{s:s, s:s, s:s}", "linear_class", cls, "quant_method", "bitnet", "quantization_mode", mode);
}
