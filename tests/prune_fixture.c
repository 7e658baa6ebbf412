/* See prune_fixture.h. */
#include "prune_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>

#include "convert/convert.h"
#include "core/fsutil.h"

char g_tmp[256];

json_t *prune_reference_load(const char *method) {
    const char *d = getenv("SS_TEST_DATA");
    assert_non_null(d);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/fixture.json", d, method);
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err);
    if (!j) fail_msg("%s: %s", path, err.text);
    return j;
}

int prune_tmp_create(const char *name) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ss_test_%s_XXXXXX", name);
    return mkdtemp(g_tmp) ? 0 : -1;
}

int prune_tmp_remove(void **state) {
    (void)state;
    return ss_rm_rf(g_tmp) == SS_OK ? 0 : -1;
}

void prune_fixture_make(prune_fixture *f, const prune_fixture_opts *o) {
    assert_true(o->tokens >= 0 && o->tokens <= PRUNE_FIXTURE_MAX_TOKENS);
    snprintf(f->bf16, sizeof f->bf16, "%s/bf16", g_tmp);
    snprintf(f->q8, sizeof f->q8, "%s/int8", g_tmp);
    OK(ss_synth("tiny", f->bf16, o->seed));
    OK(ss_quantize_checkpoint(f->bf16, f->q8, SS_QUANT_INT8, -1));
    OK(ss_model_load(f->q8, &f->m));
    for (int i = 0; i < o->tokens; i++) f->tok[i] = (i * o->tok_step + o->tok_offset) % f->m.cfg.vocab;
    OK(ss_calib_collect(&f->m, f->tok, o->tokens, o->ctx, o->with_gram, &f->cs));
}
