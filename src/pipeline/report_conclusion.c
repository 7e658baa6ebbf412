/* The report's last sections: data completeness (what each category of
 * the run expected and has, and why the rest is missing) and the
 * conclusion (job totals, per-task point counts, key findings). */
#include <stdio.h>
#include <string.h>

#include "pipeline/report_internal.h"

void rp_section_completeness(rctx *c, int number) {
    FILE *fp = c->md;
    fprintf(fp, "## %d. Data completeness\n\n### ✅ Complete data\n\n", number);
    json_t *jc = json_array();
    json_object_set_new(c->js, "completeness", jc);
    int ncomplete = 0, nmissing = 0;
    for (int i = 0; i < c->ncats; i++) {
        const rp_category *k = &c->cats[i];
        json_array_append_new(jc, json_pack("{s:s, s:s, s:s, s:i, s:i, s:s, s:s}", "category", k->name, "model", k->model,
                                            "m_range", k->m_range, "have", k->have, "expected", k->expected, "missing",
                                            k->missing, "reason", k->reason));
        if (k->expected > 0 && k->have == k->expected) ncomplete++;
        else nmissing++;
    }
    if (ncomplete) {
        fprintf(fp, "| Category | Model | M range | Points |\n|----------|-------|---------|--------|\n");
        for (int i = 0; i < c->ncats; i++) {
            const rp_category *k = &c->cats[i];
            if (k->expected > 0 && k->have == k->expected)
                fprintf(fp, "| %s | %s | %s | ✅ %d/%d |\n", k->name, k->model, k->m_range, k->have, k->expected);
        }
    } else {
        fprintf(fp, "None.\n");
    }
    fprintf(fp, "\n### ⚠️ Missing data\n\n");
    if (nmissing) {
        fprintf(fp, "| Category | Have | Missing points | Reason |\n|----------|------|----------------|--------|\n");
        for (int i = 0; i < c->ncats; i++) {
            const rp_category *k = &c->cats[i];
            if (k->expected > 0 && k->have == k->expected) continue;
            fprintf(fp, "| %s | %d/%d | ", k->name, k->have, k->expected);
            rp_md_cell(fp, k->have == 0 || !k->missing[0] ? "all" : k->missing, 300);
            fprintf(fp, " | ");
            rp_md_cell(fp, k->reason[0] ? k->reason : "no job produced it", 400);
            fprintf(fp, " |\n");
        }
    } else {
        fprintf(fp, "Nothing is missing.\n");
    }
    fprintf(fp, "\n---\n\n");
}

/* Sums the categories whose name starts with prefix. */
static void cat_sum(const rctx *c, const char *prefix, int *have, int *expected) {
    *have = *expected = 0;
    for (int i = 0; i < c->ncats; i++)
        if (!strncmp(c->cats[i].name, prefix, strlen(prefix))) {
            *have += c->cats[i].have;
            *expected += c->cats[i].expected;
        }
}

void rp_section_conclusion(rctx *c, int number) {
    FILE *fp = c->md;
    int failed = 0, skipped = 0, success = 0, pending = 0;
    size_t ti, ji;
    json_t *task, *job;
    json_array_foreach(json_object_get(c->state, "tasks"), ti, task) {
        json_array_foreach(json_object_get(task, "jobs"), ji, job) {
            const char *st = rp_jstr(job, "status");
            failed += !strcmp(st, "failed");
            skipped += !strcmp(st, "skipped");
            success += !strcmp(st, "success");
            pending += !strcmp(st, "pending") || !strcmp(st, "running");
        }
    }
    const char *name = c->base[0] ? c->base : "SlideSparse";
    fprintf(fp, "## %d. Conclusion\n\n", number);
    if (!c->state) fprintf(fp, "### Results only (no pipeline state)\n\n");
    else if (!failed && !skipped && !pending)
        fprintf(fp, "### ✅ %s benchmark fully successful (%d job%s)\n\n", name, success, success == 1 ? "" : "s");
    else if (!failed && !pending) fprintf(fp, "### ✅ %s benchmark completed; %d jobs skipped (see the error summary)\n\n", name, skipped);
    else if (!failed) fprintf(fp, "### ⚠️ %s benchmark incomplete: %d jobs not run\n\n", name, pending);
    else fprintf(fp, "### ⚠️ %s benchmark completed with %d failed job%s\n\n", name, failed, failed > 1 ? "s" : "");

    int h, e;
    cat_sum(c, "Models", &h, &e);
    fprintf(fp, "1. **Model preparation**: %d/%d models (base, INT8, FP8 and the SlideSparse conversions)\n", h, e);
    cat_sum(c, "Tuning", &h, &e);
    fprintf(fp, "2. **Offline tuning**: %d/%d tuning jobs", h, e);
    if (h < e) {
        json_t *t = rp_find_job(c, "tune-int8");
        if (t && rp_jstr(t, "reason")[0]) fprintf(fp, " (%s)", rp_jstr(t, "reason"));
    }
    fprintf(fp, "\n");
    cat_sum(c, "Prefill", &h, &e);
    fprintf(fp, "3. **Prefill throughput**: %d/%d points\n", h, e);
    cat_sum(c, "Decode", &h, &e);
    fprintf(fp, "4. **Decode throughput**: %d/%d points\n", h, e);
    int h1, e1;
    cat_sum(c, "Kernel cuBLASLt", &h, &e);
    cat_sum(c, "Kernel cuSPARSELt", &h1, &e1);
    fprintf(fp, "5. **Kernel benchmark**: cuBLASLt %d/%d points, cuSPARSELt %d/%d points\n\n", h, e, h1, e1);

    fprintf(fp, "### 🔑 Key findings\n\n");
    if (c->state) {
        if (json_is_true(json_object_get(c->state, "synthetic")))
            fprintf(fp, "- ⚠️ **Synthetic weights**: %s. Throughput does not depend on the weights' values; generated "
                        "text does, and is not meaningful.\n",
                    rp_jstr(c->state, "synthetic_note"));
        else
            fprintf(fp, "- Weights: %s\n", rp_jstr(c->state, "model_source"));
    }
    size_t i;
    json_t *f;
    json_array_foreach(c->findings, i, f) fprintf(fp, "- %s\n", json_string_value(f));
    if (!strcmp(c->backend, "cpu"))
        fprintf(fp, "- Tasks 4-5 ran on the CPU reference engine (no CUDA device): a correctness run of the whole "
                    "flow, not a measure of SlideSparse's speed\n");
    if (failed) {
        fprintf(fp, "- **Rerun needed** for the failed jobs (`slidesparse pipeline --resume` reruns exactly those):");
        int k = 0;
        json_array_foreach(json_object_get(c->state, "tasks"), ti, task) {
            json_array_foreach(json_object_get(task, "jobs"), ji, job) {
                if (!strcmp(rp_jstr(job, "status"), "failed")) fprintf(fp, "%s `%s`", k++ ? "," : "", rp_jstr(job, "key"));
            }
        }
        fprintf(fp, "\n");
    } else if (c->state) {
        fprintf(fp, "- **No reruns needed**\n");
    }
    fprintf(fp, "\n---\n\n");
}
