/* The `slidesparse` command line: one handler per subcommand. Handlers parse
 * their own options (getopt_long), call one library function per step, and
 * return an ss_status; main prints a failure as one `error:` line. */
#ifndef SS_CLI_CLI_H
#define SS_CLI_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "core/status.h"

typedef struct ss_command {
    const char *name;
    const char *synopsis;
    ss_status (*run)(int argc, char **argv);
} ss_command;

ss_status cmd_download(int argc, char **argv);
ss_status cmd_synth(int argc, char **argv);
ss_status cmd_quantize(int argc, char **argv);
ss_status cmd_prune(int argc, char **argv);
ss_status cmd_convert(int argc, char **argv);
ss_status cmd_generate(int argc, char **argv);
ss_status cmd_eval(int argc, char **argv);     /* cmd_eval.c */
ss_status cmd_tokenize(int argc, char **argv); /* cmd_tokenize.c */
ss_status cmd_info(int argc, char **argv);
ss_status cmd_info_gpu(int argc, char **argv); /* cmd_gpu.c: info --gpu */
ss_status cmd_tune(int argc, char **argv);
ss_status cmd_bench_kernel(int argc, char **argv); /* argv[0] == "kernel" */
/* cmd_pipeline.c */
ss_status cmd_pipeline(int argc, char **argv);
ss_status cmd_report(int argc, char **argv);
ss_status cmd_gpu_info(int argc, char **argv);
ss_status cmd_bench(int argc, char **argv); /* prefill|decode on the CPU engine until the GPU bench lands */

/* Option helpers: parse or fail with a message naming the option. */
ss_status cli_parse_i64(const char *opt, const char *s, int64_t min, int64_t max, int64_t *out);
ss_status cli_parse_u64(const char *opt, const char *s, uint64_t *out);
/* Comma-separated integers ("1,2,3"), malloc'd. */
ss_status cli_parse_int_list(const char *opt, const char *s, int64_t min, int64_t max, int64_t **out, int *n);
ss_status cli_require(const char *cmd, const char *opt, const char *value);
/* Text encoded with the tokenizer at tokenizer_path (a tokenizer.json or a
 * folder holding one) with its special tokens (add_special), as
 * transformers' tokenizer(text) gives; *special_added (may be NULL): the
 * post-processor put tokens before the text (a BOS). cli/text_input.c */
ss_status cli_encode_text(const char *text, size_t len, const char *tokenizer_path, int32_t **ids, int64_t *n,
                          int *special_added);
ss_status cli_encode_file(const char *path, const char *tokenizer_path, int32_t **ids, int64_t *n,
                          int *special_added);
/* Reports an unknown option or a stray argument the way getopt left it. */
ss_status cli_bad_usage(const char *cmd, int argc, char **argv);

#endif
