/* generate: greedy decoding on the CPU reference engine or the CUDA engine. */
#include "cli/cli.h"

ss_status cmd_generate(int argc, char **argv) {
    (void)argc;
    (void)argv;
    return ss_fail(SS_ERR_UNSUPPORTED, "generate: the inference engine is not built yet");
}
