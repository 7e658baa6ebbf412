/* RoPE keys of config.json, in both layouts transformers reads, resolved the
 * way its RotaryEmbeddingConfigMixin resolves them (modeling_rope_utils.py,
 * transformers 5.x; 4.x reads the same keys the same way):
 *
 *   4.x: top-level "rope_theta" and "rope_scaling": {"rope_type" | "type", ...}
 *   5.x: "rope_parameters": {"rope_theta", "rope_type", ...}
 *
 * - The parameter dict is "rope_scaling" when it is a non-empty object, else
 *   "rope_parameters" (transformers: `rope_scaling or rope_parameters`).
 * - rope_theta: the dict's, else the top-level key, else the family's
 *   default_theta (BitNet 500000, Llama and Qwen2 10000).
 * - rope_type: the dict's "rope_type", else its legacy "type", else "default".
 * - original_max_position_embeddings (llama3, yarn): a top-level key wins
 *   (transformers' Phi3 rule), else the dict's, else max_position_embeddings.
 * - partial_rotary_factor (dict or top level) other than 1 is refused: the
 *   three families rotate the whole head.
 * - Keys of the dict that transformers does not define for the rope_type are
 *   refused by name rather than ignored, as are rope types not implemented
 *   here (longrope, proportional, per-layer dicts, ...). Refusals are
 *   SS_ERR_UNSUPPORTED (exit code 3).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/jsonutil.h"
#include "io/config_keys.h"

const char *ss_rope_type_name(ss_rope_type t) {
    switch (t) {
    case SS_ROPE_DEFAULT: return "default";
    case SS_ROPE_LINEAR: return "linear";
    case SS_ROPE_DYNAMIC: return "dynamic";
    case SS_ROPE_YARN: return "yarn";
    case SS_ROPE_LLAMA3: return "llama3";
    }
    return "?";
}

static int rope_type_parse(const char *s, ss_rope_type *t) {
    for (int i = SS_ROPE_DEFAULT; i <= SS_ROPE_LLAMA3; i++)
        if (!strcmp(s, ss_rope_type_name((ss_rope_type)i))) {
            *t = (ss_rope_type)i;
            return 1;
        }
    return 0;
}

/* Keys transformers' _validate_<type>_rope_parameters accepts for a type,
 * beside rope_type, type, rope_theta and partial_rotary_factor. */
static const char *const *known_keys(ss_rope_type t) {
    static const char *const none[] = {NULL};
    static const char *const factor_only[] = {"factor", NULL};
    static const char *const yarn[] = {"factor", "original_max_position_embeddings", "attention_factor", "beta_fast",
                                       "beta_slow", "mscale", "mscale_all_dim", "truncate", NULL};
    static const char *const llama3[] = {"factor", "original_max_position_embeddings", "low_freq_factor",
                                         "high_freq_factor", NULL};
    switch (t) {
    case SS_ROPE_DEFAULT: return none;
    case SS_ROPE_LINEAR:
    case SS_ROPE_DYNAMIC: return factor_only;
    case SS_ROPE_YARN: return yarn;
    case SS_ROPE_LLAMA3: return llama3;
    }
    return none;
}

static ss_status check_known_keys(const json_t *d, const char *dict_name, ss_rope_type t, const char *path) {
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)d, key, v) {
        if (!strcmp(key, "rope_type") || !strcmp(key, "type") || !strcmp(key, "rope_theta") ||
            !strcmp(key, "partial_rotary_factor"))
            continue;
        int known = 0;
        for (const char *const *k = known_keys(t); *k && !known; k++) known = !strcmp(*k, key);
        if (!known)
            return ss_fail(SS_ERR_UNSUPPORTED, "%s: %s key '%s' is not supported for rope_type '%s'", path, dict_name,
                           key, ss_rope_type_name(t));
    }
    return SS_OK;
}

/* A number of the dict: required (absent -> error) or optional (absent or null keeps *out). */
static ss_status dict_num(const json_t *d, const char *dict_name, const char *key, int required, const char *path,
                          double *out) {
    const json_t *v = json_object_get(d, key);
    if (!v || json_is_null(v)) {
        if (required) return ss_fail(SS_ERR_FORMAT, "%s: %s has no '%s' (required for this rope_type)", path, dict_name, key);
        return SS_OK;
    }
    if (!json_is_number(v)) return ss_fail(SS_ERR_FORMAT, "%s: %s field '%s' is not a number", path, dict_name, key);
    double x = json_number_value(v);
    if (!isfinite(x)) return ss_fail(SS_ERR_FORMAT, "%s: %s field '%s' is not finite", path, dict_name, key);
    *out = x;
    return SS_OK;
}

static ss_status positive(double x, const char *dict_name, const char *key, const char *path) {
    if (!(x > 0)) return ss_fail(SS_ERR_FORMAT, "%s: %s field '%s' = %g must be positive", path, dict_name, key, x);
    return SS_OK;
}

/* original_max_position_embeddings of llama3 / yarn (see the header comment). */
static ss_status orig_max_pos(const json_t *j, const json_t *d, const char *dict_name, const char *path,
                              ss_model_config *c) {
    const json_t *top = json_object_get(j, "original_max_position_embeddings");
    const json_t *v = top && !json_is_null(top) ? top : json_object_get(d, "original_max_position_embeddings");
    const char *where = v == top ? "top-level" : dict_name;
    if (!v || json_is_null(v)) {
        c->rope_orig_max_pos = c->max_pos;
        return SS_OK;
    }
    if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > INT32_MAX)
        return ss_fail(SS_ERR_FORMAT, "%s: %s field 'original_max_position_embeddings' is not a positive integer", path,
                       where);
    c->rope_orig_max_pos = (int)json_integer_value(v);
    return SS_OK;
}

/* partial_rotary_factor: absent, null or 1 only. */
static ss_status check_partial_rotary(const json_t *obj, const char *where, const char *path) {
    const json_t *v = obj ? json_object_get(obj, "partial_rotary_factor") : NULL;
    if (!v || json_is_null(v)) return SS_OK;
    if (!json_is_number(v))
        return ss_fail(SS_ERR_FORMAT, "%s: %sfield 'partial_rotary_factor' is not a number", path, where);
    if (json_number_value(v) != 1.0)
        return ss_fail(SS_ERR_UNSUPPORTED,
                       "%s: %spartial_rotary_factor = %g is not supported (RoPE over the whole head only)", path, where,
                       json_number_value(v));
    return SS_OK;
}

static ss_status parse_yarn(const json_t *j, const json_t *d, const char *dn, const char *path, ss_model_config *c) {
    SS_TRY(orig_max_pos(j, d, dn, path, c));
    const json_t *f = json_object_get(d, "factor");
    if (f && json_is_null(f)) {
        /* transformers: factor None -> max_position_embeddings / original_max_position_embeddings */
        c->rope_factor = (double)c->max_pos / c->rope_orig_max_pos;
    } else {
        SS_TRY(dict_num(d, dn, "factor", 1, path, &c->rope_factor));
    }
    SS_TRY(positive(c->rope_factor, dn, "factor", path));
    SS_TRY(dict_num(d, dn, "attention_factor", 0, path, &c->rope_attn_factor));
    if (json_object_get(d, "attention_factor") && !json_is_null(json_object_get(d, "attention_factor")))
        SS_TRY(positive(c->rope_attn_factor, dn, "attention_factor", path));
    /* `get("beta_fast") or 32`: 0 and null both mean the default, kept as 0 here */
    SS_TRY(dict_num(d, dn, "beta_fast", 0, path, &c->rope_beta_fast));
    SS_TRY(dict_num(d, dn, "beta_slow", 0, path, &c->rope_beta_slow));
    SS_TRY(dict_num(d, dn, "mscale", 0, path, &c->rope_mscale));
    SS_TRY(dict_num(d, dn, "mscale_all_dim", 0, path, &c->rope_mscale_all_dim));
    const json_t *t = json_object_get(d, "truncate");
    if (t && !json_is_null(t)) {
        if (!json_is_boolean(t)) return ss_fail(SS_ERR_FORMAT, "%s: %s field 'truncate' is not a boolean", path, dn);
        c->rope_untruncated = json_is_false(t);
    }
    return SS_OK;
}

static ss_status parse_llama3(const json_t *j, const json_t *d, const char *dn, const char *path,
                              ss_model_config *c) {
    SS_TRY(dict_num(d, dn, "factor", 1, path, &c->rope_factor));
    SS_TRY(dict_num(d, dn, "low_freq_factor", 1, path, &c->rope_low_freq));
    SS_TRY(dict_num(d, dn, "high_freq_factor", 1, path, &c->rope_high_freq));
    SS_TRY(orig_max_pos(j, d, dn, path, c));
    return positive(c->rope_factor, dn, "factor", path);
}

ss_status ss_config_parse_rope(const json_t *j, const char *path, double default_theta, ss_model_config *c) {
    const json_t *rs = json_object_get(j, "rope_scaling"), *rp = json_object_get(j, "rope_parameters");
    if (rs && !json_is_null(rs) && !json_is_object(rs))
        return ss_fail(SS_ERR_FORMAT, "%s: field 'rope_scaling' is not an object", path);
    if (rp && !json_is_null(rp) && !json_is_object(rp))
        return ss_fail(SS_ERR_FORMAT, "%s: field 'rope_parameters' is not an object", path);
    const json_t *d = NULL;
    const char *dn = NULL;
    if (json_is_object(rs) && json_object_size(rs) > 0) d = rs, dn = "rope_scaling";
    else if (json_is_object(rp) && json_object_size(rp) > 0) d = rp, dn = "rope_parameters";

    c->rope_type = SS_ROPE_DEFAULT;
    c->rope_theta = default_theta;
    SS_TRY(ss_json_num_opt(j, "rope_theta", path, &c->rope_theta));
    SS_TRY(check_partial_rotary(j, "", path));
    if (!d) return positive(c->rope_theta, "config", "rope_theta", path);

    /* per-layer-type dicts ({"full_attention": {...}, "sliding_attention": {...}}) */
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)d, key, v) {
        if (json_is_object(v))
            return ss_fail(SS_ERR_UNSUPPORTED, "%s: %s holds per-layer RoPE parameters ('%s'), which are not supported",
                           path, dn, key);
    }
    SS_TRY(dict_num(d, dn, "rope_theta", 0, path, &c->rope_theta));
    SS_TRY(positive(c->rope_theta, dn, "rope_theta", path));
    char where[64];
    snprintf(where, sizeof where, "%s ", dn);
    SS_TRY(check_partial_rotary(d, where, path));

    const json_t *type = json_object_get(d, "rope_type");
    const char *type_key = "rope_type";
    if (!type || json_is_null(type)) type = json_object_get(d, "type"), type_key = "type";
    const char *tname = "default";
    if (type && !json_is_null(type)) {
        if (!json_is_string(type)) return ss_fail(SS_ERR_FORMAT, "%s: %s field '%s' is not a string", path, dn, type_key);
        tname = json_string_value(type);
    }
    if (!rope_type_parse(tname, &c->rope_type))
        return ss_fail(SS_ERR_UNSUPPORTED,
                       "%s: %s %s '%s' is not supported (default, linear, dynamic, yarn, llama3)", path, dn, type_key,
                       tname);
    SS_TRY(check_known_keys(d, dn, c->rope_type, path));
    switch (c->rope_type) {
    case SS_ROPE_DEFAULT: return SS_OK;
    case SS_ROPE_LINEAR:
    case SS_ROPE_DYNAMIC:
        SS_TRY(dict_num(d, dn, "factor", 1, path, &c->rope_factor));
        return positive(c->rope_factor, dn, "factor", path);
    case SS_ROPE_YARN: return parse_yarn(j, d, dn, path, c);
    case SS_ROPE_LLAMA3: return parse_llama3(j, d, dn, path, c);
    }
    return SS_OK;
}

json_t *ss_config_rope_json(const ss_model_config *c) {
    json_t *d;
    switch (c->rope_type) {
    case SS_ROPE_LINEAR:
    case SS_ROPE_DYNAMIC:
        return json_pack("{s:f, s:s}", "factor", c->rope_factor, "rope_type", ss_rope_type_name(c->rope_type));
    case SS_ROPE_LLAMA3:
        return json_pack("{s:f, s:f, s:f, s:i, s:s}", "factor", c->rope_factor, "high_freq_factor", c->rope_high_freq,
                         "low_freq_factor", c->rope_low_freq, "original_max_position_embeddings",
                         c->rope_orig_max_pos, "rope_type", "llama3");
    case SS_ROPE_YARN:
        d = json_pack("{s:f, s:i, s:s}", "factor", c->rope_factor, "original_max_position_embeddings",
                      c->rope_orig_max_pos, "rope_type", "yarn");
        if (c->rope_attn_factor > 0) json_object_set_new(d, "attention_factor", json_real(c->rope_attn_factor));
        if (c->rope_beta_fast != 0) json_object_set_new(d, "beta_fast", json_real(c->rope_beta_fast));
        if (c->rope_beta_slow != 0) json_object_set_new(d, "beta_slow", json_real(c->rope_beta_slow));
        if (c->rope_mscale != 0) json_object_set_new(d, "mscale", json_real(c->rope_mscale));
        if (c->rope_mscale_all_dim != 0) json_object_set_new(d, "mscale_all_dim", json_real(c->rope_mscale_all_dim));
        if (c->rope_untruncated) json_object_set_new(d, "truncate", json_false());
        return d;
    case SS_ROPE_DEFAULT: break;
    }
    return json_null();
}

ss_status ss_config_validate_rope(const ss_model_config *c, const char *what) {
    if (!(c->rope_theta > 0)) return ss_fail(SS_ERR_FORMAT, "%s: rope_theta %g must be positive", what, c->rope_theta);
    if ((unsigned)c->rope_type > SS_ROPE_LLAMA3)
        return ss_fail(SS_ERR_FORMAT, "%s: unknown rope type %d", what, (int)c->rope_type);
    if (c->rope_type == SS_ROPE_DEFAULT) {
        if (c->rope_factor != 0)
            return ss_fail(SS_ERR_FORMAT, "%s: a RoPE factor (%g) needs a rope_type other than default", what,
                           c->rope_factor);
        return SS_OK;
    }
    if (!(c->rope_factor > 0))
        return ss_fail(SS_ERR_FORMAT, "%s: rope_type %s needs a positive factor (got %g)", what,
                       ss_rope_type_name(c->rope_type), c->rope_factor);
    if (c->rope_type == SS_ROPE_LLAMA3 && (!(c->rope_low_freq > 0) || !(c->rope_high_freq > c->rope_low_freq)))
        return ss_fail(SS_ERR_FORMAT, "%s: llama3 RoPE needs 0 < low_freq_factor (%g) < high_freq_factor (%g)", what,
                       c->rope_low_freq, c->rope_high_freq);
    if ((c->rope_type == SS_ROPE_LLAMA3 || c->rope_type == SS_ROPE_YARN) && c->rope_orig_max_pos <= 0)
        return ss_fail(SS_ERR_FORMAT, "%s: %s RoPE needs original_max_position_embeddings > 0 (got %d)", what,
                       ss_rope_type_name(c->rope_type), c->rope_orig_max_pos);
    if (c->rope_type == SS_ROPE_YARN && (c->rope_attn_factor < 0 || c->rope_beta_fast < 0 || c->rope_beta_slow < 0))
        return ss_fail(SS_ERR_FORMAT, "%s: yarn attention_factor, beta_fast and beta_slow must not be negative", what);
    return SS_OK;
}
