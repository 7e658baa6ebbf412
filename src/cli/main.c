/* slidesparse: entry point and subcommand dispatch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"

static const ss_command g_commands[] = {
    {"download", "--repo ID --out DIR [--revision R]   fetch a Hugging Face model", cmd_download},
    {"synth", "--arch NAME --out DIR [--seed S]        synthetic BF16 checkpoint of an architecture", cmd_synth},
    {"quantize", "--in DIR --out DIR --dtype int8|fp8 [--scheme ternary|absmax]", cmd_quantize},
    {"prune", "--in DIR --out DIR --sparsity 2_L [--method magnitude|wanda|sparsegpt]   prune to 2:L (K unchanged)", cmd_prune},
    {"convert", "--in DIR --out DIR --sparsity 2_L|--recipe FILE [--method ...]   prune + slide (K -> K_slid)", cmd_convert},
    {"generate", "--model DIR --prompt-ids 1,2,3 --max-new N [--backend cpu|cuda]", cmd_generate},
    {"tokenize", "--tokenizer PATH --text FILE [--out FILE]  text to token ids (tokenizer.json)", cmd_tokenize},
    {"eval", "--model DIR --text|--tokens FILE [--ctx N] [--stride S]   sliding-window perplexity", cmd_eval},
    {"info", "--model DIR | --gpu [--cc X.Y]           a checkpoint; or the GPU and each operation's path", cmd_info},
    {"tune", "--model DIR [--out RESULTS]               offline GEMM algorithm search (task 3)", cmd_tune},
    {"bench", "prefill|decode|kernel --model DIR --m LIST --out DIR   throughput (tasks 4-5), GEMMs (6-8)", cmd_bench},
    {"pipeline", "[--preset bitnet-2b|tiny] [--tasks 1-8] [--out DIR] [--resume]   the whole run, report at the end", cmd_pipeline},
    {"report", "DIR [--no-charts]                      rebuild report.md, report.json and charts from results", cmd_report},
    {"gpu-info", "                                         the CUDA device as one JSON line (fails without one)", cmd_gpu_info},
};
#define N_COMMANDS (int)(sizeof g_commands / sizeof g_commands[0])

static void usage(FILE *fp) {
    fprintf(fp, "usage: slidesparse [-q|-v] <command> [options]   (slidesparse <command> --help)\n\ncommands:\n");
    for (int i = 0; i < N_COMMANDS; i++) fprintf(fp, "  %-9s %s\n", g_commands[i].name, g_commands[i].synopsis);
}

int main(int argc, char **argv) {
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-q") || !strcmp(argv[i], "--quiet")) ss_log_set_level(SS_LOG_QUIET);
        else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) ss_log_set_level(SS_LOG_DEBUG);
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "error: unknown option '%s' (try slidesparse --help)\n", argv[i]);
            return 2;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    for (int c = 0; c < N_COMMANDS; c++) {
        if (strcmp(argv[i], g_commands[c].name) != 0) continue;
        ss_status st = g_commands[c].run(argc - i, argv + i);
        if (st == SS_OK) return 0;
        fprintf(stderr, "error: %s\n", ss_errmsg()[0] ? ss_errmsg() : ss_status_name(st));
        /* 3: a valid request this build or GPU cannot run (the pipeline records it as skipped) */
        return st == SS_ERR_ARG ? 2 : st == SS_ERR_UNSUPPORTED ? 3 : 1;
    }
    fprintf(stderr, "error: unknown command '%s' (try slidesparse --help)\n", argv[i]);
    return 2;
}
