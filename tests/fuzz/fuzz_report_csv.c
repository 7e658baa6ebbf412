/* The report's result readers: one CSV (the rest of the input) placed where
 * the report looks for kernel, prefill or decode results (the first byte
 * chooses), then the whole result tree scanned. What is read is in range. */
#include "fuzz_common.h"
#include "pipeline/report_data.h"

static const char *const k_places[] = {
    "benchmark_kernel/cuBLASLt/alg_search_results/H100_cc90_gcc12_cu130/INT8/alg_search_BitNet-2B-INT8.csv",
    "benchmark_kernel/cuSPARSELt/alg_search_results/H100_cc90_gcc12_cu130/FP8/alg_search_BitNet-2B-FP8_2_6.csv",
    "throughput_benchmark_results/prefill/H100_cc90_INT8_gcc12_cu130/cublaslt/BitNet-2B-INT8_prefill.csv",
    "throughput_benchmark_results/decode/H100_cc90_FP8E4M3_gcc12_cu130/cusparselt/2_8/BitNet-2B-FP8_decode.csv",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char root[4096], rel[4200], path[4400];
    fuzz_path(root, sizeof root, "results/x");
    root[strlen(root) - 2] = '\0';
    ss_rm_rf(root);
    snprintf(rel, sizeof rel, "results/%s", k_places[data[0] % 4]);
    fuzz_write(rel, data + 1, size - 1, path, sizeof path);
    rp_data d;
    if (rp_scan(root, &d) != SS_OK) {
        FUZZ_CHECK(ss_errmsg()[0] != '\0');
        return 0;
    }
    for (int i = 0; i < d.nks; i++)
        for (int r = 0; r < d.ks[i].n; r++) {
            const rp_krow *k = &d.ks[i].rows[r];
            FUZZ_CHECK(k->M >= 1 && k->N >= 1 && k->K >= 1 && k->lat_us > 0 && k->lat_us <= 1e12);
        }
    for (int i = 0; i < d.ntg; i++)
        for (int s = 0; s < d.tg[i].ns; s++)
            for (int p = 0; p < d.tg[i].s[s].n; p++) {
                const rp_point *pt = &d.tg[i].s[s].pts[p];
                FUZZ_CHECK(pt->M >= 1 && pt->M <= (1 << 24) && pt->tps >= 0 && pt->tps <= 1e15);
            }
    rp_free(&d);
    return 0;
}
