/* core: dtype conversions (exhaustive where the format is small), errors,
 * atomic files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/dtype.h"
#include "core/fsutil.h"
#include "core/rng.h"
#include "core/status.h"

/* The OCP E4M3 definition, written independently of dtype.c. */
static double ocp_e4m3(int c) {
    int s = (c >> 7) & 1, e = (c >> 3) & 15, m = c & 7;
    if (e == 15 && m == 7) return NAN;
    double v = e == 0 ? (m / 8.0) * pow(2.0, -6) : (1.0 + m / 8.0) * pow(2.0, e - 7);
    return s ? -v : v;
}

static void test_fp8_decode_all_codes(void **state) {
    (void)state;
    for (int c = 0; c < 256; c++) {
        double want = ocp_e4m3(c);
        float got = ss_fp8e4m3_to_f32((uint8_t)c);
        if (isnan(want)) {
            assert_true(isnan(got));
        } else {
            assert_true((double)got == want);
            assert_int_equal(signbit(got) != 0, (c & 0x80) != 0);
        }
    }
    assert_true(ss_fp8e4m3_to_f32(0x7e) == 448.0f);
    assert_true(ss_fp8e4m3_to_f32(0x01) == 0x1p-9f);
}

static void test_fp8_encode_roundtrip_and_ties(void **state) {
    (void)state;
    for (int c = 0; c < 256; c++) {
        if ((c & 0x7f) == 0x7f) {
            assert_int_equal(ss_f32_to_fp8e4m3(ss_fp8e4m3_to_f32((uint8_t)c)) & 0x7f, 0x7f);
            continue;
        }
        assert_int_equal(ss_f32_to_fp8e4m3(ss_fp8e4m3_to_f32((uint8_t)c)), c);
    }
    /* Every midpoint between adjacent positive codes rounds to the even code;
     * just above/below a midpoint rounds to the nearer one. */
    for (int c = 0; c < 0x7e; c++) {
        float lo = ss_fp8e4m3_to_f32((uint8_t)c), hi = ss_fp8e4m3_to_f32((uint8_t)(c + 1));
        float mid = (float)(((double)lo + (double)hi) / 2);
        int even = (c & 1) ? c + 1 : c;
        assert_int_equal(ss_f32_to_fp8e4m3(mid), even);
        assert_int_equal(ss_f32_to_fp8e4m3(nextafterf(mid, 0.0f)), c);
        assert_int_equal(ss_f32_to_fp8e4m3(nextafterf(mid, 1e9f)), c + 1);
        assert_int_equal(ss_f32_to_fp8e4m3(-mid), even | 0x80);
    }
    /* saturation: no infinities in E4M3 */
    assert_int_equal(ss_f32_to_fp8e4m3(449.0f), 0x7e);
    assert_int_equal(ss_f32_to_fp8e4m3(1e30f), 0x7e);
    assert_int_equal(ss_f32_to_fp8e4m3(-INFINITY), 0xfe);
    assert_int_equal(ss_f32_to_fp8e4m3(NAN) & 0x7f, 0x7f);
    assert_int_equal(ss_f32_to_fp8e4m3(1e-30f), 0x00);
}

static void test_f16_all_codes(void **state) {
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = ss_f16_to_f32((uint16_t)h);
        if (isnan(f)) {
            assert_true(((h >> 10) & 0x1f) == 31 && (h & 0x3ff));
            continue;
        }
        assert_int_equal(ss_f32_to_f16(f), h);
    }
    assert_true(ss_f16_to_f32(0x3c00) == 1.0f);
    assert_true(ss_f16_to_f32(0x0001) == 0x1p-24f);
    assert_int_equal(ss_f32_to_f16(65520.0f), 0x7c00); /* rounds to inf */
    assert_int_equal(ss_f32_to_f16(65519.0f), 0x7bff);
    assert_int_equal(ss_f32_to_f16(1.0f + 0x1p-11f), 0x3c00); /* tie to even */
    assert_int_equal(ss_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);
}

static void test_bf16(void **state) {
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = ss_bf16_to_f32((uint16_t)h);
        if (isnan(f)) continue;
        assert_int_equal(ss_f32_to_bf16(f), h);
    }
    assert_int_equal(ss_f32_to_bf16(1.0f + 0x1p-8f), 0x3f80);          /* tie -> even */
    assert_int_equal(ss_f32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3f82);      /* tie -> even (up) */
    assert_int_equal(ss_f32_to_bf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81);
    assert_true(isnan(ss_bf16_to_f32(ss_f32_to_bf16(NAN))));
}

static void test_int8_rounding(void **state) {
    (void)state;
    assert_int_equal(ss_f32_to_i8_sym(2.5f), 2);
    assert_int_equal(ss_f32_to_i8_sym(3.5f), 4);
    assert_int_equal(ss_f32_to_i8_sym(-2.5f), -2);
    assert_int_equal(ss_f32_to_i8_sym(200.0f), 127);
    assert_int_equal(ss_f32_to_i8_sym(-200.0f), -127);
    assert_int_equal(ss_f32_to_i8_sym(NAN), 0);
}

static void test_dtype_names(void **state) {
    (void)state;
    const char *names[] = {"BF16", "F16", "F32", "I8", "F8_E4M3", "I64", "BOOL"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        assert_string_equal(ss_dtype_name(ss_dtype_from_name(names[i])), names[i]);
    assert_int_equal(ss_dtype_from_name("F8"), SS_DT_UNKNOWN);
    assert_int_equal(ss_dtype_size(SS_DT_BF16), 2);
    assert_int_equal(ss_dtype_size(SS_DT_F8_E4M3), 1);
}

static void test_errors_carry_context(void **state) {
    (void)state;
    ss_status st = ss_fail(SS_ERR_FORMAT, "tensor %s: shape [%d]", "w", 3);
    st = ss_context(st, "loading %s", "dir");
    assert_int_equal(st, SS_ERR_FORMAT);
    assert_string_equal(ss_errmsg(), "loading dir: tensor w: shape [3]");
    assert_int_equal(ss_context(SS_OK, "x"), SS_OK);
}

static void test_atomic_file(void **state) {
    (void)state;
    char dir[] = "/tmp/ss_test_core_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[512], tmpname[600];
    snprintf(path, sizeof path, "%s/out.bin", dir);
    ss_afile f;
    assert_int_equal(ss_afile_open(&f, path), SS_OK);
    assert_int_equal(ss_afile_write(&f, "abc", 3), SS_OK);
    snprintf(tmpname, sizeof tmpname, "%s", f.scratch.path);
    assert_true(ss_path_exists(f.scratch.lock)); /* the owner lock announces the scratch */
    assert_false(ss_path_exists(path)); /* not visible before commit */
    ss_afile_abort(&f);
    assert_false(ss_path_exists(path));
    assert_false(ss_path_exists(tmpname));
    assert_int_equal(ss_write_file_atomic(path, "hello", 5), SS_OK);
    char *data;
    size_t n;
    assert_int_equal(ss_read_file(path, &data, &n), SS_OK);
    assert_int_equal(n, 5);
    assert_string_equal(data, "hello");
    free(data);
    /* a write into a missing folder fails with a message naming it */
    assert_int_equal(ss_write_file_atomic("/nonexistent-dir/x", "a", 1), SS_ERR_IO);
    assert_non_null(strstr(ss_errmsg(), "/nonexistent-dir/x"));
    assert_int_equal(ss_rm_rf(dir), SS_OK);
    assert_false(ss_path_exists(dir));
}

/* Lists dir's entries (sorted, '\n'-joined) into out. */
static void list_names(const char *dir, char *out, size_t cap) {
    struct dirent **v;
    int n = scandir(dir, &v, NULL, alphasort);
    assert_true(n >= 0);
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (strcmp(v[i]->d_name, ".") && strcmp(v[i]->d_name, ".."))
            snprintf(out + strlen(out), cap - strlen(out), "%s\n", v[i]->d_name);
        free(v[i]);
    }
    free(v);
}

/* A child that starts a scratch folder for `final`, writes a file in it and
 * is killed (SS_FAULT at `point`, or by itself when point is NULL). */
static void killed_writer(const char *final, const char *point) {
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (point) setenv("SS_FAULT", point, 1);
        ss_scratch s;
        if (ss_scratch_begin(&s, final) != SS_OK || ss_mkdir_p(s.path) != SS_OK) _exit(1);
        char f[4400];
        snprintf(f, sizeof f, "%s/model.safetensors", s.path);
        if (ss_write_file_atomic(f, "new", 3) != SS_OK) _exit(1);
        if (point) ss_scratch_commit_dir(&s);
        raise(SIGKILL);
        _exit(1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

static void test_scratch_names(void **state) {
    (void)state;
    assert_true(ss_is_scratch_name("Tiny-INT8.tmp.123"));
    assert_true(ss_is_scratch_name("Tiny-INT8.tmp.123.lock"));
    assert_true(ss_is_scratch_name("x.csv.old.9"));
    assert_true(ss_is_scratch_name("Model-BF16.partial"));
    assert_false(ss_is_scratch_name("Tiny-INT8"));
    assert_false(ss_is_scratch_name("a.tmp."));
    assert_false(ss_is_scratch_name("a.tmp.12x"));
    assert_false(ss_is_scratch_name(".tmp.12")); /* nothing before the tag */
    assert_false(ss_is_scratch_name("results.temp.1"));
}

/* A killed writer's scratch is removed by a later clean, a live one's and
 * a user's look-alikes are not; a replaced folder is never missing. */
static void test_scratch_cleans_after_killed_owner(void **state) {
    (void)state;
    char dir[] = "/tmp/ss_test_scratch_XXXXXX", final[512], names[4096], p[600];
    assert_non_null(mkdtemp(dir));
    snprintf(final, sizeof final, "%s/ckpt", dir);
    killed_writer(final, NULL);
    list_names(dir, names, sizeof names);
    assert_non_null(strstr(names, "ckpt.tmp.")); /* what a SIGKILL leaves */
    /* look-alikes of a user's: no lock file, so never touched */
    snprintf(p, sizeof p, "%s/notes.tmp.12", dir);
    assert_int_equal(ss_write_file_atomic(p, "mine", 4), SS_OK);
    snprintf(p, sizeof p, "%s/keep.tmp.13", dir);
    assert_int_equal(ss_mkdir_p(p), SS_OK);
    /* a live owner (this process) keeps its scratch */
    ss_scratch live;
    char other[512];
    snprintf(other, sizeof other, "%s/other", dir);
    assert_int_equal(ss_scratch_begin(&live, other), SS_OK);
    assert_int_equal(ss_mkdir_p(live.path), SS_OK);

    assert_int_equal(ss_scratch_clean(dir), 1);
    list_names(dir, names, sizeof names);
    char want[1024];
    snprintf(want, sizeof want, "keep.tmp.13\nnotes.tmp.12\nother.tmp.%ld\nother.tmp.%ld.lock\n", (long)getpid(),
             (long)getpid());
    assert_string_equal(names, want);
    assert_int_equal(ss_scratch_clean(dir), 0); /* nothing else to do */

    /* commit: a new folder in place; then replacing it exchanges atomically */
    assert_int_equal(ss_scratch_commit_dir(&live), SS_OK);
    assert_true(ss_is_dir(other));
    assert_int_equal(ss_scratch_begin(&live, other), SS_OK);
    assert_int_equal(ss_mkdir_p(live.path), SS_OK);
    snprintf(p, sizeof p, "%s/v2", live.path);
    assert_int_equal(ss_write_file_atomic(p, "2", 1), SS_OK);
    assert_int_equal(ss_scratch_commit_dir(&live), SS_OK);
    snprintf(p, sizeof p, "%s/v2", other);
    assert_true(ss_path_exists(p));
    list_names(dir, names, sizeof names);
    assert_string_equal(names, "keep.tmp.13\nnotes.tmp.12\nother\n");

    /* killed right after the exchange: the new folder is in place, the old
     * one (under the scratch name) goes with the next clean */
    snprintf(p, sizeof p, "%s/ckpt", dir);
    assert_int_equal(ss_mkdir_p(p), SS_OK);
    killed_writer(final, "scratch-exchanged");
    snprintf(p, sizeof p, "%s/ckpt/model.safetensors", dir);
    assert_true(ss_path_exists(p));
    assert_int_equal(ss_scratch_clean(dir), 1);
    list_names(dir, names, sizeof names);
    assert_string_equal(names, "ckpt\nkeep.tmp.13\nnotes.tmp.12\nother\n");
    assert_int_equal(ss_rm_rf(dir), SS_OK);
}

static void test_rng_deterministic(void **state) {
    (void)state;
    ss_rng a, b;
    ss_rng_seed(&a, 42, 7);
    ss_rng_seed(&b, 42, 7);
    double sum = 0, sq = 0;
    for (int i = 0; i < 100000; i++) {
        float x = ss_rng_normal_fast(&a);
        assert_true(x == ss_rng_normal_fast(&b));
        sum += x;
        sq += (double)x * x;
    }
    assert_true(fabs(sum / 100000) < 0.02);
    assert_true(fabs(sq / 100000 - 1.0) < 0.02);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fp8_decode_all_codes), cmocka_unit_test(test_fp8_encode_roundtrip_and_ties),
        cmocka_unit_test(test_f16_all_codes),        cmocka_unit_test(test_bf16),
        cmocka_unit_test(test_int8_rounding),        cmocka_unit_test(test_dtype_names),
        cmocka_unit_test(test_errors_carry_context), cmocka_unit_test(test_atomic_file),
        cmocka_unit_test(test_rng_deterministic),   cmocka_unit_test(test_scratch_names),
        cmocka_unit_test(test_scratch_cleans_after_killed_owner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
