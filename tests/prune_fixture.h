/* What the pruning tests (test_wanda.c, test_sparsegpt.c) build alike: the
 * numpy reference file of a method, a fresh folder per test program, and in
 * it the tiny synthetic model quantized to INT8, loaded, with calibration
 * statistics collected on a fixed token sequence. */
#ifndef SS_TESTS_PRUNE_FIXTURE_H
#define SS_TESTS_PRUNE_FIXTURE_H

#include <jansson.h>
#include <stdint.h>

#include "core/status.h"
#include "engine/calib.h"
#include "engine/model.h"

/* Fails the test with the call, its status and the error message unless it returns SS_OK. */
#define OK(expr)                                                                             \
    do {                                                                                     \
        ss_status st_ = (expr);                                                              \
        if (st_ != SS_OK) fail_msg("%s -> %s: %s", #expr, ss_status_name(st_), ss_errmsg()); \
    } while (0)

/* $SS_TEST_DATA/<method>/fixture.json, which scripts/<method>_reference.py
 * writes; fails the test when it does not load. The caller decrefs it. */
json_t *prune_reference_load(const char *method);

extern char g_tmp[256]; /* this test program's fresh folder */

/* For a cmocka group setup: g_tmp becomes a new /tmp/ss_test_<name>_XXXXXX
 * folder; 0 on success. */
int prune_tmp_create(const char *name);
/* cmocka group teardown: removes g_tmp and all in it. */
int prune_tmp_remove(void **state);

#define PRUNE_FIXTURE_MAX_TOKENS 64

typedef struct prune_fixture_opts {
    uint64_t seed;             /* of the synthetic weights */
    int tokens, ctx;           /* calibration tokens (at most PRUNE_FIXTURE_MAX_TOKENS), context length */
    int tok_step, tok_offset;  /* token i is (i * tok_step + tok_offset) % vocab */
    int with_gram;             /* also collect X^T X (SparseGPT needs it) */
} prune_fixture_opts;

typedef struct prune_fixture {
    char bf16[400], q8[400];             /* <g_tmp>/bf16 (ss_synth "tiny") and <g_tmp>/int8 (its INT8 quantization) */
    ss_model m;                          /* the INT8 checkpoint, loaded: the caller frees it */
    int32_t tok[PRUNE_FIXTURE_MAX_TOKENS]; /* the calibration tokens */
    ss_calib_stats cs;                   /* collected on m from tok: the caller frees it */
} prune_fixture;

/* Builds *f as o says, in g_tmp (prune_tmp_create first); fails the test on any error. */
void prune_fixture_make(prune_fixture *f, const prune_fixture_opts *o);

#endif
