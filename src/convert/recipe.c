/* Per-layer sparsity recipes: parsing and resolution (see recipe.h). */
#include "convert/recipe.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "convert/sparsity.h"
#include "core/fsutil.h"

/* Linear names and groups, as bit sets over ss_linear_role. */
static const struct {
    const char *name;
    unsigned roles;
} g_linears[] = {
    {"q", 1u << SS_LIN_Q},
    {"k", 1u << SS_LIN_K},
    {"v", 1u << SS_LIN_V},
    {"o", 1u << SS_LIN_O},
    {"gate", 1u << SS_LIN_GATE},
    {"up", 1u << SS_LIN_UP},
    {"down", 1u << SS_LIN_DOWN},
    {"qkv", 1u << SS_LIN_Q | 1u << SS_LIN_K | 1u << SS_LIN_V},
    {"attn", 1u << SS_LIN_Q | 1u << SS_LIN_K | 1u << SS_LIN_V | 1u << SS_LIN_O},
    {"gate_up", 1u << SS_LIN_GATE | 1u << SS_LIN_UP},
    {"mlp", 1u << SS_LIN_GATE | 1u << SS_LIN_UP | 1u << SS_LIN_DOWN},
    {"all", (1u << SS_LIN_COUNT) - 1},
};

static ss_status parse_sparsity(const json_t *v, const char *what, int *L) {
    if (!json_is_string(v)) return ss_fail(SS_ERR_FORMAT, "%s: 'sparsity' must be a string (\"dense\", \"2_L\" or \"2_inf\")", what);
    const char *s = json_string_value(v);
    if (!strcmp(s, "dense")) {
        *L = SS_RECIPE_DENSE;
        return SS_OK;
    }
    if (ss_sparsity_parse(s, 1, L) != SS_OK) { /* a bad file is a format error, not a bad argument */
        char why[1024];
        snprintf(why, sizeof why, "%s", ss_errmsg());
        return ss_fail(SS_ERR_FORMAT, "%s: %s (or \"dense\")", what, why);
    }
    return SS_OK;
}

static ss_status linear_name(const char *s, const char *what, unsigned *roles) {
    for (size_t i = 0; i < sizeof g_linears / sizeof g_linears[0]; i++)
        if (!strcmp(s, g_linears[i].name)) {
            *roles |= g_linears[i].roles;
            return SS_OK;
        }
    return ss_fail(SS_ERR_FORMAT,
                   "%s: unknown linear '%s' (q, k, v, o, gate, up, down, or qkv, attn, gate_up, mlp, all)", what, s);
}

static ss_status parse_linears(const json_t *v, const char *what, unsigned *roles) {
    *roles = 0;
    if (!v) return ss_fail(SS_ERR_FORMAT, "%s: missing 'linears'", what);
    if (json_is_string(v)) return linear_name(json_string_value(v), what, roles);
    if (!json_is_array(v) || json_array_size(v) == 0)
        return ss_fail(SS_ERR_FORMAT, "%s: 'linears' must be a name or a non-empty list of names", what);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e)) return ss_fail(SS_ERR_FORMAT, "%s: 'linears' entry %zu is not a string", what, i);
        SS_TRY(linear_name(json_string_value(e), what, roles));
    }
    return SS_OK;
}

static ss_status mark_layer(long long a, long long b, int n_layers, const char *what, unsigned char *sel) {
    if (a < 0 || b < a)
        return ss_fail(SS_ERR_FORMAT, "%s: layer range %lld-%lld is empty or negative", what, a, b);
    if (b >= n_layers)
        return ss_fail(SS_ERR_FORMAT, "%s: layer %lld does not exist (the model has layers 0-%d)", what, b,
                       n_layers - 1);
    for (long long l = a; l <= b; l++) sel[l] = 1;
    return SS_OK;
}

/* "all", "3", "0-3,8,10-11" */
static ss_status parse_layer_string(const char *s, int n_layers, const char *what, unsigned char *sel) {
    if (!strcmp(s, "all")) return mark_layer(0, n_layers - 1, n_layers, what, sel);
    const char *p = s;
    for (;;) {
        char *end;
        errno = 0;
        long long a = strtoll(p, &end, 10), b;
        if (!isdigit((unsigned char)*p) || end == p || errno) goto bad;
        p = end;
        b = a;
        if (*p == '-') {
            const char *q = p + 1;
            errno = 0;
            b = strtoll(q, &end, 10);
            if (!isdigit((unsigned char)*q) || end == q || errno) goto bad;
            p = end;
        }
        SS_TRY(mark_layer(a, b, n_layers, what, sel));
        if (*p == 0) return SS_OK;
        if (*p != ',') goto bad;
        p++;
    }
bad:
    return ss_fail(SS_ERR_FORMAT, "%s: 'layers' \"%s\" is not \"all\" or a list like \"0-3,8\"", what, s);
}

static ss_status parse_layers(const json_t *v, int n_layers, const char *what, unsigned char *sel) {
    if (!v) return mark_layer(0, n_layers - 1, n_layers, what, sel);
    if (json_is_string(v)) return parse_layer_string(json_string_value(v), n_layers, what, sel);
    if (json_is_integer(v)) return mark_layer(json_integer_value(v), json_integer_value(v), n_layers, what, sel);
    if (!json_is_array(v) || json_array_size(v) == 0)
        return ss_fail(SS_ERR_FORMAT, "%s: 'layers' must be \"all\", a range string, an integer or a list of integers", what);
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        if (!json_is_integer(e)) return ss_fail(SS_ERR_FORMAT, "%s: 'layers' entry %zu is not an integer", what, i);
        SS_TRY(mark_layer(json_integer_value(e), json_integer_value(e), n_layers, what, sel));
    }
    return SS_OK;
}

static ss_status check_keys(const json_t *obj, const char *const *allowed, const char *what) {
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        int ok = 0;
        for (int i = 0; allowed[i] && !ok; i++) ok = !strcmp(key, allowed[i]);
        if (!ok) return ss_fail(SS_ERR_FORMAT, "%s: unknown key '%s'", what, key);
    }
    return SS_OK;
}

static ss_status apply_rule(const json_t *rule, size_t idx, const char *file, ss_recipe *r) {
    char what[4300];
    snprintf(what, sizeof what, "%s: rule %zu", file, idx);
    if (!json_is_object(rule)) return ss_fail(SS_ERR_FORMAT, "%s: not an object", what);
    static const char *const keys[] = {"layers", "linears", "sparsity", NULL};
    SS_TRY(check_keys(rule, keys, what));
    const json_t *sp = json_object_get(rule, "sparsity");
    if (!sp) return ss_fail(SS_ERR_FORMAT, "%s: missing 'sparsity'", what);
    int L;
    unsigned roles;
    SS_TRY(parse_sparsity(sp, what, &L));
    SS_TRY(parse_linears(json_object_get(rule, "linears"), what, &roles));
    unsigned char *sel = calloc((size_t)r->n_layers, 1);
    if (!sel) return ss_fail(SS_ERR_NOMEM, "%s: out of memory", what);
    ss_status st = parse_layers(json_object_get(rule, "layers"), r->n_layers, what, sel);
    for (int l = 0; l < r->n_layers && st == SS_OK; l++)
        for (int k = 0; k < SS_LIN_COUNT; k++)
            if (sel[l] && (roles >> k & 1u)) r->L[l * SS_LIN_COUNT + k] = L;
    free(sel);
    return st;
}

static ss_status parse_root(const json_t *j, const char *what, ss_recipe *r) {
    if (!json_is_object(j)) return ss_fail(SS_ERR_FORMAT, "%s: a recipe is a JSON object", what);
    static const char *const keys[] = {"default", "rules", "description", NULL};
    SS_TRY(check_keys(j, keys, what));
    const json_t *desc = json_object_get(j, "description");
    if (desc && !json_is_string(desc)) return ss_fail(SS_ERR_FORMAT, "%s: 'description' is not a string", what);
    int def = SS_RECIPE_DENSE;
    const json_t *d = json_object_get(j, "default");
    if (d) {
        char w[4300];
        snprintf(w, sizeof w, "%s: 'default'", what);
        SS_TRY(parse_sparsity(d, w, &def));
    }
    for (int i = 0; i < r->n_layers * SS_LIN_COUNT; i++) r->L[i] = def;
    const json_t *rules = json_object_get(j, "rules");
    if (!rules) {
        if (!d) return ss_fail(SS_ERR_FORMAT, "%s: a recipe needs 'rules', 'default' or both", what);
        return SS_OK;
    }
    if (!json_is_array(rules)) return ss_fail(SS_ERR_FORMAT, "%s: 'rules' is not a list", what);
    size_t i;
    json_t *rule;
    json_array_foreach(rules, i, rule) SS_TRY(apply_rule(rule, i, what, r));
    return SS_OK;
}

ss_status ss_recipe_parse(const char *text, const char *what, int n_layers, ss_recipe *r) {
    memset(r, 0, sizeof *r);
    what = what ? what : "recipe";
    if (n_layers <= 0) return ss_fail(SS_ERR_ARG, "%s: a model of %d layers", what, n_layers);
    json_error_t err;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    if (!j) return ss_fail(SS_ERR_FORMAT, "%s:%d:%d: bad JSON: %s", what, err.line, err.column, err.text);
    r->n_layers = n_layers;
    r->L = malloc((size_t)n_layers * SS_LIN_COUNT * sizeof *r->L);
    ss_status st = r->L ? parse_root(j, what, r) : ss_fail(SS_ERR_NOMEM, "%s: out of memory", what);
    if (st == SS_OK) {
        r->json = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        if (!r->json) st = ss_fail(SS_ERR_NOMEM, "%s: out of memory", what);
    }
    json_decref(j);
    if (st != SS_OK) ss_recipe_free(r);
    return st;
}

ss_status ss_recipe_load(const char *path, int n_layers, ss_recipe *r) {
    memset(r, 0, sizeof *r);
    char *text;
    size_t n;
    SS_TRY(ss_read_file(path, &text, &n));
    ss_status st = strlen(text) != n ? ss_fail(SS_ERR_FORMAT, "%s: holds a NUL byte; not a JSON recipe", path)
                                     : ss_recipe_parse(text, path, n_layers, r);
    free(text);
    return st;
}

void ss_recipe_free(ss_recipe *r) {
    if (!r) return;
    free(r->L);
    free(r->json);
    memset(r, 0, sizeof *r);
}

int ss_recipe_uniform(const ss_recipe *r) {
    for (int i = 1; i < r->n_layers * SS_LIN_COUNT; i++)
        if (r->L[i] != r->L[0]) return 0;
    return 1;
}
