/* The report on a fuzzed pipeline_state.json over a small, fixed result
 * tree: the report is written (or refused with a message), never a crash. */
#include "fuzz_common.h"
#include "pipeline/report.h"

static const char k_prefill[] =
    "M_prefill,prompt_len,max_num_seqs,num_prompts,N_prefill,requests_per_s,tokens_per_s,elapsed_time_s,"
    "output_tokens_per_s,median_pass_s\n"
    "512,512,1,20,20,31.9571,16394.00,0.625839,31.96,0.031292\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char dir[4096], path[4400];
    fuzz_path(dir, sizeof dir, "run/x");
    dir[strlen(dir) - 2] = '\0';
    ss_rm_rf(dir);
    fuzz_write("run/results/throughput_benchmark_results/prefill/H100_cc90_INT8_gcc12_cu130/cublaslt/"
               "BitNet-2B-INT8_prefill.csv",
               k_prefill, sizeof k_prefill - 1, path, sizeof path);
    fuzz_write("run/pipeline_state.json", data, size, path, sizeof path);
    ss_report_opts o;
    ss_report_defaults(&o);
    o.dir = dir;
    o.charts = 0;
    o.now = "2026-12-01 00:00:00";
    if (ss_report_write(&o) != SS_OK) FUZZ_CHECK(ss_errmsg()[0] != '\0');
    return 0;
}
