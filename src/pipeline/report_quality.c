/* The report's quality section: perplexity (results/quality, written by the
 * pipeline's eval jobs, see pipeline.h) next to the speedups of the same
 * dtype and sparsity, so that each row reads "speedup x at quality y". The
 * numbers are the eval result files as they are (eval_results.h reads
 * them); a file whose model was not pruned the way its name says is shown
 * as a mismatch, not as that method's number. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "pipeline/eval_results.h"
#include "pipeline/report_internal.h"

enum { Q_MAGNITUDE, Q_WANDA, Q_METHODS };
static const char *const k_methods[Q_METHODS] = {"magnitude", "wanda"};
static const char *const k_method_titles[Q_METHODS] = {"magnitude", "Wanda"};

typedef struct q_cell {
    int have;
    int mismatch;       /* the checkpoint records another pruning method */
    ss_eval_record rec;
} q_cell;

typedef struct q_row {
    char sparsity[16]; /* "" dense */
    q_cell m[Q_METHODS];
} q_row;

typedef struct q_table {
    char dtype[16]; /* "INT8", "FP8" */
    char model[128];
    q_row rows[RP_MAX_ROWS];
    int nrows;
} q_table;

static q_row *row_of(q_table *t, const char *sp) {
    for (int i = 0; i < t->nrows; i++)
        if (!strcmp(t->rows[i].sparsity, sp)) return &t->rows[i];
    if (t->nrows == RP_MAX_ROWS) return NULL;
    q_row *r = &t->rows[t->nrows++];
    memset(r, 0, sizeof *r);
    snprintf(r->sparsity, sizeof r->sparsity, "%s", sp);
    return r;
}

static int cmp_rows(const void *a, const void *b) {
    return rp_sparsity_order(((const q_row *)a)->sparsity) - rp_sparsity_order(((const q_row *)b)->sparsity);
}

/* "<dense|2_L>_<method>.json" -> sparsity ("" dense), method; 0 if not such a name. */
static int parse_name(const char *name, char *sp, size_t cap, int *method) {
    const char *us = strrchr(name, '_'), *dot = strrchr(name, '.');
    if (!us || !dot || strcmp(dot, ".json") || dot < us) return 0;
    for (int m = 0; m < Q_METHODS; m++) {
        const size_t len = strlen(k_methods[m]);
        if ((size_t)(dot - us - 1) != len || strncmp(us + 1, k_methods[m], len)) continue;
        const size_t n = (size_t)(us - name);
        if (n >= cap) return 0;
        memcpy(sp, name, n);
        sp[n] = '\0';
        if (!strcmp(sp, "dense")) sp[0] = '\0';
        *method = m;
        return 1;
    }
    return 0;
}

static void load_table(const char *dir, q_table *t) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char sp[16], path[4600];
        int m;
        if (!parse_name(e->d_name, sp, sizeof sp, &m)) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        ss_eval_record rec;
        if (ss_eval_read_json(path, &rec) != SS_OK) { /* a damaged file is no number (the job failed or reruns) */
            ss_clear_error();
            continue;
        }
        q_row *r = row_of(t, sp);
        if (!r) continue;
        r->m[m].have = 1;
        r->m[m].rec = rec;
        /* dense models are not pruned; a pruned one must say it was pruned this way */
        r->m[m].mismatch = sp[0] && rec.prune_method[0] && strcmp(rec.prune_method, k_methods[m]);
    }
    closedir(d);
    qsort(t->rows, (size_t)t->nrows, sizeof t->rows[0], cmp_rows);
}

/* Speedup of sparsity sp over dense for one stage at the largest M both have
 * (dense: 1 where dense was measured); 0 if none. */
static double speedup(const rctx *c, int decode, const char *dtype, const char *model, const char *sp, int64_t *M) {
    *M = 0;
    const char *folder_dt = !strcmp(dtype, "FP8") ? "FP8E4M3" : dtype;
    for (int g = 0; g < c->d.ntg; g++) {
        const rp_tgroup *tg = &c->d.tg[g];
        if (tg->decode != decode || strcmp(tg->dtype, folder_dt) || strcmp(tg->model, model)) continue;
        const rp_series *dense = NULL, *sparse = NULL;
        for (int i = 0; i < tg->ns; i++) {
            if (!tg->s[i].sparsity[0]) dense = &tg->s[i];
            else if (!strcmp(tg->s[i].sparsity, sp)) sparse = &tg->s[i];
        }
        if (dense && dense->n && !sp[0]) return 1.0;
        if (!dense || !sparse) continue;
        for (int a = sparse->n - 1; a >= 0; a--) /* points are sorted by M: the largest first */
            for (int b = 0; b < dense->n; b++)
                if (dense->pts[b].M == sparse->pts[a].M && dense->pts[b].tps > 0) {
                    *M = dense->pts[b].M;
                    return sparse->pts[a].tps / dense->pts[b].tps;
                }
    }
    return 0;
}

int rp_has_quality(const rctx *c) {
    char dir[4400];
    snprintf(dir, sizeof dir, "%s/quality", c->results);
    return ss_is_dir(dir);
}

/* What was evaluated and what Wanda was calibrated on, from the state (the run's options.quality). */
static void inputs_paragraph(rctx *c, const q_table *t, int nt) {
    FILE *fp = c->md;
    const json_t *q = json_object_get(json_object_get(c->state, "options"), "quality");
    const json_t *tok = rp_find_job(c, "tokens-eval");
    const int bytes = tok && strstr(rp_jstr(tok, "command"), " --bytes ");
    const ss_eval_record *any = NULL, *wanda = NULL;
    for (int i = 0; i < nt; i++)
        for (int r = 0; r < t[i].nrows; r++) {
            if (!any && t[i].rows[r].m[Q_MAGNITUDE].have) any = &t[i].rows[r].m[Q_MAGNITUDE].rec;
            if (!wanda && t[i].rows[r].m[Q_WANDA].have) wanda = &t[i].rows[r].m[Q_WANDA].rec;
        }
    fprintf(fp, "Perplexity (`slidesparse eval`: sliding windows");
    if (any) fprintf(fp, " of %d tokens, %s engine", any->r.ctx, !strcmp(any->backend, "cuda") ? "CUDA" : "CPU reference");
    fprintf(fp, ") of each model next to its speedup over dense of the same dtype (tokens/s ratio at the largest M "
                "measured in both; the change of perplexity against dense in brackets). ");
    if (q) {
        const char *ev = rp_jstr(q, "eval");
        if (!json_is_true(json_object_get(q, "eval_is_text"))) fprintf(fp, "Evaluated: the token file `%s`. ", ev);
        else if (bytes) fprintf(fp, "Evaluated: `%s`, one id per byte (the base model has no tokenizer). ", ev);
        else fprintf(fp, "Evaluated: `%s`, encoded with the base model's `tokenizer.json`. ", ev);
    }
    fprintf(fp, "Magnitude: task 2's models; Wanda: `convert --method wanda` of the dense model of the same dtype, ");
    const json_t *calib = q ? json_object_get(q, "calib") : NULL;
    if (json_is_string(calib))
        fprintf(fp, "calibrated on `%s`", json_string_value(calib));
    else
        fprintf(fp, "calibrated on **the evaluated text itself** (no `--calib-text` was given: the first tokens of "
                    "it, so the Wanda numbers are not on held-out text and favour Wanda)");
    if (wanda && wanda->calib_tokens > 0) fprintf(fp, " (%lld tokens)", (long long)wanda->calib_tokens);
    fprintf(fp, ".\n\n");
}

static void ppl_cell(FILE *fp, const q_cell *cell, const q_cell *dense) {
    if (!cell->have) {
        fprintf(fp, " — |");
        return;
    }
    if (cell->mismatch) {
        fprintf(fp, " — (the checkpoint says %s) |", cell->rec.prune_method);
        return;
    }
    const double ppl = cell->rec.r.perplexity;
    if (dense && dense != cell && dense->have && dense->rec.r.perplexity > 0)
        fprintf(fp, " %.3f (%+.1f%%) |", ppl, 100.0 * (ppl / dense->rec.r.perplexity - 1.0));
    else
        fprintf(fp, " %.3f |", ppl);
}

void rp_section_quality(rctx *c, int number) {
    FILE *fp = c->md;
    const char *dts[2] = {"INT8", "FP8"};
    json_t *jq = json_array();
    fprintf(fp, "## %d. Quality: perplexity next to speedup\n\n", number);
    int synthetic = json_is_true(json_object_get(c->state, "synthetic")), any = 0;
    q_table *t = calloc(2, sizeof *t);
    if (!t) {
        fprintf(fp, "(out of memory reading results/quality)\n\n");
        json_decref(jq);
        return;
    }
    for (int q = 0; q < 2; q++) {
        snprintf(t[q].dtype, sizeof t[q].dtype, "%s", dts[q]);
        snprintf(t[q].model, sizeof t[q].model, "%s-%s", c->base[0] ? c->base : "?", dts[q]);
        char dir[4600];
        snprintf(dir, sizeof dir, "%s/quality/%s", c->results, t[q].model);
        load_table(dir, &t[q]);
        for (int r = 0; r < t[q].nrows; r++)
            for (int m = 0; m < Q_METHODS; m++) synthetic |= t[q].rows[r].m[m].have && t[q].rows[r].m[m].rec.synthetic;
        any += t[q].nrows;
    }
    if (synthetic)
        fprintf(fp, "> **Synthetic weights: these perplexities mean nothing about quality.** Random weights predict "
                    "nothing, pruned or not, and their perplexity says nothing about what sparsity costs; the numbers "
                    "are shown only as a smoke test that evaluation runs end to end on every model. For what "
                    "sparsity costs in quality, see `docs/QUALITY.md` (a trained model).\n\n");
    inputs_paragraph(c, t, 2);
    if (!any) fprintf(fp, "No perplexity results were found in `results/quality/`.\n\n");
    for (int q = 0; q < 2; q++) {
        if (!t[q].nrows) continue;
        const q_cell *dense = NULL;
        long long tokens = 0;
        for (int r = 0; r < t[q].nrows; r++) {
            if (!t[q].rows[r].sparsity[0]) dense = &t[q].rows[r].m[Q_MAGNITUDE];
            for (int m = 0; m < Q_METHODS && !tokens; m++)
                if (t[q].rows[r].m[m].have) tokens = (long long)t[q].rows[r].m[m].rec.r.n_scored;
        }
        fprintf(fp, "**%s** (%lld tokens evaluated)\n\n| sparsity | prefill speedup | decode speedup | ideal |", t[q].model,
                tokens);
        for (int m = 0; m < Q_METHODS; m++) fprintf(fp, " perplexity, %s |", k_method_titles[m]);
        fprintf(fp, "\n|---|---|---|---|---|---|\n");
        for (int r = 0; r < t[q].nrows; r++) {
            const q_row *row = &t[q].rows[r];
            int64_t Mp, Md;
            const double sp = speedup(c, 0, t[q].dtype, t[q].model, row->sparsity, &Mp),
                         sd = speedup(c, 1, t[q].dtype, t[q].model, row->sparsity, &Md);
            const double ideal = row->sparsity[0] ? ss_ideal_speedup(row->sparsity) : 1.0;
            char a[64] = "—", b[64] = "—";
            if (sp > 0) snprintf(a, sizeof a, row->sparsity[0] ? "%.2fx (M=%lld)" : "1.00", sp, (long long)Mp);
            if (sd > 0) snprintf(b, sizeof b, row->sparsity[0] ? "%.2fx (M=%lld)" : "1.00", sd, (long long)Md);
            fprintf(fp, "| %s | %s | %s | %.2f |", row->sparsity[0] ? row->sparsity : "dense", a, b, ideal);
            json_t *jr = json_pack("{s:s, s:s, s:f}", "model", t[q].model, "sparsity", row->sparsity, "ideal", ideal);
            if (sp > 0) json_object_set_new(jr, "prefill_speedup", json_real(sp));
            if (sd > 0) json_object_set_new(jr, "decode_speedup", json_real(sd));
            for (int m = 0; m < Q_METHODS; m++) {
                /* dense is one model: its perplexity stands in every method's column */
                const q_cell *cell = row->sparsity[0] ? &row->m[m] : &row->m[Q_MAGNITUDE];
                ppl_cell(fp, cell, dense);
                if (cell->have && !cell->mismatch)
                    json_object_set_new(jr, k_methods[m], json_real(cell->rec.r.perplexity));
            }
            fprintf(fp, "\n");
            json_array_append_new(jq, jr);
        }
        fprintf(fp, "\n");
    }
    free(t);
    json_object_set_new(c->js, "quality", json_pack("{s:b, s:o}", "synthetic", synthetic, "rows", jq));
}
