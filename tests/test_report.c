/* report: the final report rendered from a fixed result tree
 * (tests/data/report/run, written by make_fixture.py) against a golden
 * report.md, its JSON numbers checked against values computed here from the
 * fixture's CSVs, a bare result tree without a state, charts through gnuplot,
 * and bad input.
 *
 * To regenerate the golden file after an intended change of the report:
 *   SS_UPDATE_GOLDEN=1 ./test_report   (then review the diff by hand) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/jsonutil.h"
#include "pipeline/charts.h"
#include "pipeline/report.h"

#define NOW "2026-11-26 12:00:00"

static char g_data[4096], g_tmp[256];

static int setup(void **state) {
    (void)state;
    const char *d = getenv("SS_TEST_DATA");
    snprintf(g_data, sizeof g_data, "%s/report", d ? d : "tests/data");
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ss_test_report_XXXXXX");
    return mkdtemp(g_tmp) ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    return ss_rm_rf(g_tmp) == SS_OK ? 0 : -1;
}

static char *slurp(const char *path) {
    char *text = NULL;
    assert_int_equal(ss_read_file(path, &text, NULL), SS_OK);
    return text;
}

/* Writes the fixture's report (no charts) to <tmp>/<name>.md and .json. */
static void render(const char *dir, const char *name, int charts, const char *gnuplot) {
    char md[512], js[512], ch[512];
    snprintf(md, sizeof md, "%s/%s.md", g_tmp, name);
    snprintf(js, sizeof js, "%s/%s.json", g_tmp, name);
    snprintf(ch, sizeof ch, "%s/%s_charts", g_tmp, name);
    ss_report_opts o;
    ss_report_defaults(&o);
    o.dir = dir;
    o.out_md = md;
    o.out_json = js;
    o.charts_dir = ch;
    o.charts = charts;
    o.gnuplot = gnuplot;
    o.now = NOW;
    ss_status st = ss_report_write(&o);
    if (st != SS_OK) fprintf(stderr, "report: %s\n", ss_errmsg());
    assert_int_equal(st, SS_OK);
}

static void test_golden_report(void **state) {
    (void)state;
    char run[4200], golden[4200], out[512];
    snprintf(run, sizeof run, "%s/run", g_data);
    snprintf(golden, sizeof golden, "%s/golden_report.md", g_data);
    render(run, "golden", 0, NULL);
    snprintf(out, sizeof out, "%s/golden.md", g_tmp);
    char *got = slurp(out);
    if (getenv("SS_UPDATE_GOLDEN")) {
        assert_int_equal(ss_write_file_atomic(golden, got, strlen(got)), SS_OK);
        fprintf(stderr, "updated %s\n", golden);
    }
    char *want = slurp(golden);
    if (strcmp(got, want) != 0) {
        /* point at the first difference */
        size_t i = 0, line = 1;
        while (got[i] && got[i] == want[i]) line += got[i++] == '\n';
        fprintf(stderr, "report differs from %s at line %zu:\n got: %.120s\nwant: %.120s\n", golden, line, got + i,
                want + i);
    }
    assert_string_equal(got, want);
    /* the seed's sections, in order */
    const char *sections[] = {"## 📊 Summary", "## 1. Model preparation", "## 2. Offline tuning",
                              "## 3. Prefill Benchmark", "## 4. Decode Benchmark", "## 5. Kernel Benchmark",
                              "## 6. Error summary", "## 7. Result file layout", "## 8. Data completeness",
                              "## 9. Conclusion"};
    const char *at = got;
    for (size_t k = 0; k < sizeof sections / sizeof sections[0]; k++) {
        const char *s = strstr(at, sections[k]);
        assert_non_null(s);
        at = s;
    }
    free(got);
    free(want);
}

/* The fixture's CSV values, read here independently of the report code. */
static double csv_value(const char *rel, const char *mcol, long M, const char *col) {
    char path[4400];
    snprintf(path, sizeof path, "%s/run/results/%s", g_data, rel);
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char line[1024], header[1024] = "";
    double value = NAN;
    while (fgets(line, sizeof line, fp)) {
        if (line[0] == '#') continue;
        if (!header[0]) {
            snprintf(header, sizeof header, "%s", line);
            continue;
        }
        int ci = 0, mi = -1, vi = -1;
        char hb[1024];
        snprintf(hb, sizeof hb, "%s", header);
        for (char *save = NULL, *t = strtok_r(hb, ",\n", &save); t; t = strtok_r(NULL, ",\n", &save), ci++) {
            if (!strcmp(t, mcol)) mi = ci;
            if (!strcmp(t, col)) vi = ci;
        }
        double cells[32];
        int n = 0;
        for (char *save = NULL, *t = strtok_r(line, ",\n", &save); t && n < 32; t = strtok_r(NULL, ",\n", &save))
            cells[n++] = atof(t);
        assert_true(mi >= 0 && vi >= 0);
        if ((long)cells[mi] == M) value = isnan(value) ? cells[vi] : value + cells[vi]; /* kernels: sum over (N,K) */
    }
    fclose(fp);
    assert_false(isnan(value));
    return value;
}

static json_t *section(json_t *arr, const char *dtype) {
    size_t i;
    json_t *s;
    json_array_foreach(arr, i, s) if (!strcmp(json_string_value(json_object_get(s, "dtype")), dtype)) return s;
    fail_msg("no section %s", dtype);
    return NULL;
}

static json_t *row(json_t *sec, const char *sparsity) {
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(sec, "rows"), i, r) if (!strcmp(json_string_value(json_object_get(r, "sparsity")), sparsity)) return r;
    fail_msg("no row %s", sparsity);
    return NULL;
}

static json_t *point(json_t *r, long M) {
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(r, "points"), i, p) if (json_integer_value(json_object_get(p, "M")) == M) return p;
    return NULL;
}

/* The header names the cuSPARSELt that loaded (0.10.0, not "1.0.0") and,
 * for a state from a build that records its CUDA architectures, which path
 * each GPU operation took on the run's GPU and what was skipped there. */
static void test_header_versions_and_paths(void **state) {
    (void)state;
    char src[4300], dir[512], dst[600], link[600], res[4300];
    snprintf(src, sizeof src, "%s/run/pipeline_state.json", g_data);
    snprintf(dir, sizeof dir, "%s/paths_run", g_tmp);
    assert_int_equal(ss_mkdir_p(dir), SS_OK);
    json_error_t err;
    json_t *st = json_load_file(src, 0, &err);
    assert_non_null(st);
    json_t *gpu = json_object_get(st, "gpu");
    json_object_set_new(gpu, "cusparselt_version", json_integer(1000));
    json_object_set_new(gpu, "cublaslt_version", json_integer(130100));
    json_object_set_new(gpu, "cuda_archs", json_string("80-real,86-real,89-real,90a-real,100a-real,120a-real,120-virtual"));
    snprintf(dst, sizeof dst, "%s/pipeline_state.json", dir);
    assert_int_equal(json_dump_file(st, dst, JSON_INDENT(2)), 0);
    json_decref(st);
    snprintf(res, sizeof res, "%s/run/results", g_data);
    snprintf(link, sizeof link, "%s/results", dir);
    assert_int_equal(symlink(res, link), 0);
    render(dir, "paths", 0, NULL);
    char out[512];
    snprintf(out, sizeof out, "%s/paths.md", g_tmp);
    char *all = NULL;
    assert_int_equal(ss_read_file(out, &all, NULL), SS_OK);
    const char *rule = strstr(all, "\n---\n"); /* the header ends at the first rule */
    assert_non_null(rule);
    const size_t head = (size_t)(rule - all);
    char *got = strndup(all, head);
    free(all);
    assert_non_null(got);
    assert_non_null(strstr(got, "cuBLASLt 13.1.0, cuSPARSELt 0.10.0"));
    assert_null(strstr(got, "cuSPARSELt 1.0.0"));
    assert_non_null(strstr(got, "**CUDA build**: architectures `80-real,86-real,89-real,90a-real,100a-real,120a-real,120-virtual`"));
    assert_non_null(strstr(got, "engine kernels: ours (sm_90a)"));
    assert_non_null(strstr(got, "sparse GEMM int8: cuSPARSELt"));
    assert_non_null(strstr(got, "**Skipped on this GPU**: "));
    assert_non_null(strstr(got, "dense GEMM fp4e2m1 (FP4"));
    assert_non_null(strstr(got, "sparse GEMM fp16 (cuSPARSELt 0.8.0's FP16 search failed"));
    free(got);
}

static void test_report_json_numbers(void **state) {
    (void)state;
    char run[4200], path[512];
    snprintf(run, sizeof run, "%s/run", g_data);
    render(run, "numbers", 0, NULL);
    snprintf(path, sizeof path, "%s/numbers.json", g_tmp);
    json_t *j;
    assert_int_equal(ss_json_load(path, &j), SS_OK);

    /* prefill INT8, 2_4 over dense at M=512 and M=1024 */
    const char *pre = "throughput_benchmark_results/prefill/H100-80GB-HBM3_cc90_INT8_gcc12_cu130_x86_64";
    char dense[512], sp24[512];
    snprintf(dense, sizeof dense, "%s/cublaslt/BitNet-2B-INT8_prefill.csv", pre);
    snprintf(sp24, sizeof sp24, "%s/cusparselt/2_4/BitNet-2B-INT8_prefill.csv", pre);
    json_t *sec = section(json_object_get(j, "prefill"), "INT8");
    for (long M = 512; M <= 1024; M *= 2) {
        double want = csv_value(sp24, "M_prefill", M, "tokens_per_s") / csv_value(dense, "M_prefill", M, "tokens_per_s");
        json_t *p = point(row(sec, "2_4"), M);
        assert_non_null(p);
        assert_true(fabs(json_real_value(json_object_get(p, "speedup")) - want) < 1e-6);
        assert_true(fabs(json_real_value(json_object_get(p, "tokens_per_s")) -
                         csv_value(sp24, "M_prefill", M, "tokens_per_s")) < 1e-6);
    }
    assert_true(fabs(json_real_value(json_object_get(row(sec, "2_6"), "ideal_speedup")) - 1.5) < 1e-12);
    /* FP8 2_10 failed: no points, and the completeness says 8 of 10 */
    json_t *fp8 = section(json_object_get(j, "prefill"), "FP8");
    assert_int_equal(json_array_size(json_object_get(row(fp8, "2_10"), "points")), 0);
    assert_int_equal(json_integer_value(json_object_get(fp8, "points_present")), 8);
    assert_int_equal(json_integer_value(json_object_get(fp8, "points_expected")), 10);

    /* decode output tokens/s comes from the CSV's own column */
    const char *dec = "throughput_benchmark_results/decode/H100-80GB-HBM3_cc90_FP8E4M3_gcc12_cu130_x86_64";
    char dd[512];
    snprintf(dd, sizeof dd, "%s/cublaslt/BitNet-2B-FP8_decode.csv", dec);
    json_t *dp = point(row(section(json_object_get(j, "decode"), "FP8"), ""), 128);
    assert_true(fabs(json_real_value(json_object_get(dp, "output_tokens_per_s")) -
                     csv_value(dd, "M_decode", 128, "output_tokens_per_s")) < 1e-6);

    /* kernels: latency summed over the (N,K) rows, dense over sparse */
    const char *kb = "benchmark_kernel/cuBLASLt/alg_search_results/H100-80GB-HBM3_cc90_gcc12_cu130_x86_64/INT8/"
                     "alg_search_BitNet-2B-INT8.csv";
    const char *ks = "benchmark_kernel/cuSPARSELt/alg_search_results/H100-80GB-HBM3_cc90_gcc12_cu130_x86_64/INT8/"
                     "alg_search_BitNet-2B-INT8_2_4.csv";
    double d_lat = csv_value(kb, "M", 1024, "lat_us"), s_lat = csv_value(ks, "M", 1024, "lat_us");
    json_t *kint8 = section(json_object_get(j, "kernels"), "INT8");
    json_t *kp = json_array_get(json_object_get(kint8, "points"), 0);
    assert_int_equal(json_integer_value(json_object_get(kp, "M")), 1024);
    assert_true(fabs(json_real_value(json_object_get(kp, "cublaslt_us")) - d_lat) < 1e-6);
    json_t *k24 = json_object_get(kp, "2_4");
    assert_true(fabs(json_real_value(json_object_get(k24, "lat_us")) - s_lat) < 1e-6);
    assert_true(fabs(json_real_value(json_object_get(k24, "speedup")) - d_lat / s_lat) < 1e-7); /* JSON keeps 9 digits */

    /* errors: the two planted failures, and FP4 skipped on Hopper */
    json_t *failed = json_object_get(j, "failed_jobs");
    assert_int_equal(json_array_size(failed), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(failed, 0), "key")), "prefill-fp8-2_10");
    assert_string_equal(json_string_value(json_object_get(json_array_get(failed, 1), "key")),
                        "kernel-cusparselt-fp16-2_inf");
    size_t i;
    json_t *sk;
    int fp4 = 0;
    json_array_foreach(json_object_get(j, "skipped_jobs"), i, sk) fp4 += (int)json_integer_value(json_object_get(sk, "jobs")) *
                                                                    (strstr(json_string_value(json_object_get(sk, "reason")), "Blackwell") != NULL);
    assert_int_equal(fp4, 9);
    /* task 3's tables, counted per library */
    json_t *tables = json_object_get(j, "tuning_tables");
    assert_int_equal(json_array_size(tables), 2);
    json_t *t0 = json_array_get(tables, 0); /* natural order: FP8 before INT8 */
    assert_string_equal(json_string_value(json_object_get(t0, "model")), "BitNet-2B-FP8");
    assert_int_equal(json_integer_value(json_object_get(t0, "cublaslt_entries")), 1);
    assert_int_equal(json_integer_value(json_object_get(t0, "cusparselt_entries")), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(tables, 1), "cublaslt_entries")), 2);
    /* the run's facts are carried over */
    json_t *run_info = json_object_get(j, "run");
    assert_string_equal(json_string_value(json_object_get(json_object_get(run_info, "gpu"), "name")),
                        "NVIDIA H100 80GB HBM3");
    assert_true(json_is_false(json_object_get(run_info, "synthetic")));
    json_decref(j);
}

static void test_ideal_speedup(void **state) {
    (void)state;
    assert_true(ss_ideal_speedup("2_4") == 2.0);
    assert_true(ss_ideal_speedup("2_6") == 1.5);
    assert_true(fabs(ss_ideal_speedup("2_8") - 4.0 / 3.0) < 1e-15);
    assert_true(ss_ideal_speedup("2_10") == 1.25);
    assert_true(ss_ideal_speedup("2_16") == 16.0 / 14.0);
    assert_true(ss_ideal_speedup("2_inf") == 1.0);
    assert_true(ss_ideal_speedup("") == 1.0);
}

/* A bare result tree (no pipeline state) still gives grids and numbers. */
static void test_report_without_state(void **state) {
    (void)state;
    char dir[4200], path[512];
    snprintf(dir, sizeof dir, "%s/run/results", g_data);
    render(dir, "bare", 0, NULL);
    snprintf(path, sizeof path, "%s/bare.md", g_tmp);
    char *md = slurp(path);
    assert_non_null(strstr(md, "# SlideSparse Benchmark Report"));
    /* rows come from the files: FP8 has no 2_10 CSV, so 8 + 10 points */
    assert_non_null(strstr(md, "**Prefill total**: 18/18"));
    assert_non_null(strstr(md, "**Decode total**: 20/20"));
    assert_non_null(strstr(md, "| 1024 | 177.5 | 134.1 (1.32) |"));
    assert_non_null(strstr(md, "No pipeline state: job errors are unknown."));
    free(md);
}

static int file_starts_with(const char *path, const char *magic, size_t n) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    char buf[16] = {0};
    size_t got = fread(buf, 1, n, fp);
    fclose(fp);
    return got == n && !memcmp(buf, magic, n);
}

static void test_charts(void **state) {
    (void)state;
    char gp[4096], run[4200];
    snprintf(run, sizeof run, "%s/run", g_data);
    /* without gnuplot the report says so and draws nothing */
    render(run, "nochart", 1, "/nonexistent/gnuplot");
    char md_path[512];
    snprintf(md_path, sizeof md_path, "%s/nochart.md", g_tmp);
    char *md = slurp(md_path);
    assert_non_null(strstr(md, "gnuplot was not found"));
    assert_null(strstr(md, "](charts/"));
    free(md);
    if (!ss_gnuplot_find(NULL, gp, sizeof gp)) {
        skip(); /* gnuplot-nox is installed by scripts/setup.sh; CI has it */
        return;
    }
    render(run, "charts", 1, NULL);
    const char *names[] = {"prefill_BitNet-2B-INT8_speedup", "prefill_BitNet-2B-FP8_speedup",
                           "decode_BitNet-2B-INT8_speedup", "decode_BitNet-2B-FP8_speedup", "kernel_FP16_speedup",
                           "kernel_INT8_speedup", "kernel_FP8E4M3_speedup"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char png[600], svg[600];
        snprintf(png, sizeof png, "%s/charts_charts/%s.png", g_tmp, names[i]);
        snprintf(svg, sizeof svg, "%s/charts_charts/%s.svg", g_tmp, names[i]);
        assert_true(ss_file_size(png) > 1000);
        assert_true(file_starts_with(png, "\x89PNG\r\n\x1a\n", 8));
        char *s = slurp(svg);
        assert_non_null(strstr(s, "<svg"));
        assert_non_null(strstr(s, "</svg>"));
        free(s);
    }
    snprintf(md_path, sizeof md_path, "%s/charts.md", g_tmp);
    md = slurp(md_path);
    assert_non_null(strstr(md, "**Charts**: 14 files (PNG and SVG) in `charts/`"));
    assert_non_null(strstr(md, "![Prefill BitNet-2B-INT8: sparse over dense tokens/s](charts/prefill_BitNet-2B-INT8_speedup.png)"));
    free(md);
}

static void test_report_bad_input(void **state) {
    (void)state;
    ss_report_opts o;
    ss_report_defaults(&o);
    o.dir = "/nonexistent/ss_report_dir";
    assert_int_equal(ss_report_write(&o), SS_ERR_IO);
    assert_non_null(strstr(ss_errmsg(), "/nonexistent/ss_report_dir"));
    /* a corrupt state file is named, with its line */
    char dir[512], state_path[600];
    snprintf(dir, sizeof dir, "%s/badstate", g_tmp);
    assert_int_equal(ss_mkdir_p(dir), SS_OK);
    snprintf(state_path, sizeof state_path, "%s/pipeline_state.json", dir);
    const char bad[] = "{\"tasks\": [\n  {\"id\": 1,,}\n]}\n";
    assert_int_equal(ss_write_file_atomic(state_path, bad, sizeof bad - 1), SS_OK);
    o.dir = dir;
    o.charts = 0;
    assert_int_equal(ss_report_write(&o), SS_ERR_FORMAT);
    assert_non_null(strstr(ss_errmsg(), "pipeline_state.json:2:"));
    char md[600];
    snprintf(md, sizeof md, "%s/report.md", dir);
    assert_false(ss_path_exists(md));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_report),      cmocka_unit_test(test_report_json_numbers),
        cmocka_unit_test(test_header_versions_and_paths),
        cmocka_unit_test(test_ideal_speedup),      cmocka_unit_test(test_report_without_state),
        cmocka_unit_test(test_charts),             cmocka_unit_test(test_report_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
