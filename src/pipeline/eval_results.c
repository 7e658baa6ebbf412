#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/jsonutil.h"
#include "pipeline/eval_results.h"

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static double tokens_per_s(const ss_ppl_result *r) { return r->seconds > 0 ? (double)r->n_scored / r->seconds : 0.0; }

ss_status ss_eval_write_json(const char *path, const ss_eval_record *rec) {
    const ss_ppl_result *r = &rec->r;
    json_t *j = json_object();
    if (!j) return ss_fail(SS_ERR_NOMEM, "%s: no memory for the JSON result", path);
    int bad = 0;
    bad |= json_object_set_new(j, "model", json_string(rec->model));
    bad |= json_object_set_new(j, "model_name", json_string(rec->model_name));
    bad |= json_object_set_new(j, "arch", json_string(rec->arch));
    bad |= json_object_set_new(j, "quant", json_string(rec->quant));
    bad |= json_object_set_new(j, "sparsity", rec->sparsity[0] ? json_string(rec->sparsity) : json_null());
    bad |= json_object_set_new(j, "synthetic", json_boolean(rec->synthetic));
    bad |= json_object_set_new(j, "backend", json_string(rec->backend));
    bad |= json_object_set_new(j, "input", json_string(rec->input));
    bad |= json_object_set_new(j, "input_path", json_string(rec->input_path));
    bad |= json_object_set_new(j, "bos_added", json_boolean(rec->bos_added));
    bad |= json_object_set_new(j, "ctx", json_integer(r->ctx));
    bad |= json_object_set_new(j, "stride", json_integer(r->stride));
    bad |= json_object_set_new(j, "n_tokens", json_integer(r->n_tokens));
    bad |= json_object_set_new(j, "tokens_evaluated", json_integer(r->n_scored));
    bad |= json_object_set_new(j, "windows", json_integer(r->n_windows));
    bad |= json_object_set_new(j, "nll_sum", json_real(r->nll_sum));
    bad |= json_object_set_new(j, "mean_nll", json_real(r->mean_nll));
    bad |= json_object_set_new(j, "perplexity", json_real(r->perplexity));
    bad |= json_object_set_new(j, "seconds", json_real(r->seconds));
    bad |= json_object_set_new(j, "tokens_per_s", json_real(tokens_per_s(r)));
    bad |= json_object_set_new(j, "prune_method", rec->prune_method[0] ? json_string(rec->prune_method) : json_null());
    bad |= json_object_set_new(j, "calib_tokens", json_integer(rec->calib_tokens));
    bad |= json_object_set_new(j, "convention", json_string(SS_EVAL_CONVENTION));
    ss_status st = bad ? ss_fail(SS_ERR_INTERNAL, "%s: could not build the JSON result (a non-UTF-8 path?)", path)
                       : ss_json_save(path, j);
    json_decref(j);
    return st;
}

/* A CSV field: quoted when it holds a comma, quote or newline. */
static void csv_field(ss_afile *f, const char *s) {
    if (!strpbrk(s, ",\"\n\r")) {
        ss_afile_printf(f, "%s", s);
        return;
    }
    ss_afile_printf(f, "\"");
    for (const char *p = s; *p; p++) {
        if (*p == '"') ss_afile_printf(f, "\"\"");
        else ss_afile_printf(f, "%c", *p);
    }
    ss_afile_printf(f, "\"");
}

ss_status ss_eval_write_csv(const char *path, const ss_eval_record *rec) {
    const ss_ppl_result *r = &rec->r;
    ss_afile f;
    SS_TRY(ss_afile_open(&f, path));
    ss_afile_printf(&f, "model,model_name,arch,quant,sparsity,synthetic,backend,input,input_path,bos_added,ctx,stride,"
                        "n_tokens,tokens_evaluated,windows,nll_sum,mean_nll,perplexity,seconds,tokens_per_s,"
                        "prune_method,calib_tokens,convention\n");
    const char *text[] = {rec->model, rec->model_name, rec->arch, rec->quant, rec->sparsity};
    for (int i = 0; i < 5; i++) {
        csv_field(&f, text[i]);
        ss_afile_printf(&f, ",");
    }
    ss_afile_printf(&f, "%d,%s,%s,", rec->synthetic, rec->backend, rec->input);
    csv_field(&f, rec->input_path);
    ss_afile_printf(&f, ",%d,%d,%d,%lld,%lld,%lld,%.17g,%.17g,%.17g,%.6f,%.3f,%s,%lld,%s\n", rec->bos_added, r->ctx,
                    r->stride, (long long)r->n_tokens, (long long)r->n_scored, (long long)r->n_windows, r->nll_sum,
                    r->mean_nll, r->perplexity, r->seconds, tokens_per_s(r), rec->prune_method,
                    (long long)rec->calib_tokens, SS_EVAL_CONVENTION);
    return ss_afile_commit(&f);
}

ss_status ss_eval_write(const char *path, const ss_eval_record *rec) {
    if (ends_with(path, ".json")) return ss_eval_write_json(path, rec);
    if (ends_with(path, ".csv")) return ss_eval_write_csv(path, rec);
    return ss_fail(SS_ERR_ARG, "eval: --out %s: the name must end in .json or .csv (the format)", path);
}

static ss_status copy_str(const json_t *j, const char *key, const char *path, char *out, size_t cap) {
    const char *s;
    SS_TRY(ss_json_str(j, key, path, &s));
    if (strlen(s) >= cap) return ss_fail(SS_ERR_FORMAT, "%s: '%s' is too long", path, key);
    memcpy(out, s, strlen(s) + 1);
    return SS_OK;
}

static ss_status read_record(const json_t *j, const char *path, ss_eval_record *rec) {
    const char *conv;
    SS_TRY(ss_json_str(j, "convention", path, &conv));
    if (strcmp(conv, SS_EVAL_CONVENTION) != 0)
        return ss_fail(SS_ERR_FORMAT, "%s: convention '%s' is not '%s'", path, conv, SS_EVAL_CONVENTION);
    SS_TRY(copy_str(j, "model", path, rec->model, sizeof rec->model));
    SS_TRY(copy_str(j, "model_name", path, rec->model_name, sizeof rec->model_name));
    SS_TRY(copy_str(j, "arch", path, rec->arch, sizeof rec->arch));
    SS_TRY(copy_str(j, "quant", path, rec->quant, sizeof rec->quant));
    const json_t *sp = json_object_get(j, "sparsity");
    if (sp && !json_is_null(sp)) SS_TRY(copy_str(j, "sparsity", path, rec->sparsity, sizeof rec->sparsity));
    SS_TRY(copy_str(j, "backend", path, rec->backend, sizeof rec->backend));
    SS_TRY(copy_str(j, "input", path, rec->input, sizeof rec->input));
    SS_TRY(copy_str(j, "input_path", path, rec->input_path, sizeof rec->input_path));
    SS_TRY(ss_json_bool_opt(j, "synthetic", path, &rec->synthetic));
    SS_TRY(ss_json_bool_opt(j, "bos_added", path, &rec->bos_added));
    int64_t ctx, stride;
    SS_TRY(ss_json_int(j, "ctx", path, &ctx));
    SS_TRY(ss_json_int(j, "stride", path, &stride));
    rec->r.ctx = (int)ctx, rec->r.stride = (int)stride;
    SS_TRY(ss_json_int(j, "n_tokens", path, &rec->r.n_tokens));
    SS_TRY(ss_json_int(j, "tokens_evaluated", path, &rec->r.n_scored));
    SS_TRY(ss_json_int(j, "windows", path, &rec->r.n_windows));
    SS_TRY(ss_json_num(j, "nll_sum", path, &rec->r.nll_sum));
    SS_TRY(ss_json_num(j, "mean_nll", path, &rec->r.mean_nll));
    SS_TRY(ss_json_num(j, "perplexity", path, &rec->r.perplexity));
    SS_TRY(ss_json_num(j, "seconds", path, &rec->r.seconds));
    /* written since the pipeline's quality table; older results have neither */
    const json_t *pm = json_object_get(j, "prune_method");
    if (pm && !json_is_null(pm)) SS_TRY(copy_str(j, "prune_method", path, rec->prune_method, sizeof rec->prune_method));
    if (json_object_get(j, "calib_tokens")) SS_TRY(ss_json_int(j, "calib_tokens", path, &rec->calib_tokens));
    if (rec->r.n_scored <= 0 || !isfinite(rec->r.mean_nll))
        return ss_fail(SS_ERR_FORMAT, "%s: no tokens evaluated or a non-finite mean NLL", path);
    return SS_OK;
}

ss_status ss_eval_read_json(const char *path, ss_eval_record *rec) {
    memset(rec, 0, sizeof *rec);
    json_t *j;
    SS_TRY(ss_json_load(path, &j));
    ss_status st = json_is_object(j) ? read_record(j, path, rec)
                                     : ss_fail(SS_ERR_FORMAT, "%s: an eval result is a JSON object", path);
    json_decref(j);
    return st;
}
