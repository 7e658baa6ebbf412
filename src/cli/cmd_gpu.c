/* `slidesparse info --gpu [--cc X.Y]`: the CUDA device, what this build
 * compiled, and which path each GPU operation takes there (gemm/arch.h);
 * with --cc, the same for any compute capability, without a device. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "gemm/arch.h"
#include "gemm/gemm.h"
#include "gemm/lib_version.h"

static void print_row(void *user, ss_gpuarch_op op, ss_gemm_dtype d, const ss_gpuarch_choice *c) {
    (void)user;
    char name[64];
    ss_gpuarch_op_name(op, d, name, sizeof name);
    if (c->runs) printf("  %-26s %s\n", name, c->path);
    else printf("  %-26s skipped: %s\n", name, c->why);
}

ss_status cmd_info_gpu(int argc, char **argv) {
    static const struct option longopts[] = {
        {"gpu", no_argument, 0, 'g'}, {"cc", required_argument, 0, 'c'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0},
    };
    const char *cc = NULL;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'g': break;
        case 'c': cc = optarg; break;
        case 'h':
            printf("usage: slidesparse info --gpu [--cc X.Y]\n"
                   "  The CUDA device, the GPU architectures this build compiled, and which path each GPU operation\n"
                   "  takes there (cuBLASLt, cuSPARSELt, our kernels from which image) or why it is skipped.\n"
                   "  --cc X.Y: the same for that compute capability (no device needed; cuSPARSELt as built).\n");
            return SS_OK;
        default: return cli_bad_usage("info", argc, argv);
        }
    }
    if (optind != argc) return cli_bad_usage("info", argc, argv);
    ss_gpu_info gi = {0};
    char ver[32], ver2[32];
    const int built_slt = ss_cusparselt_build_version();
    if (cc) {
        int major = 0, minor = 0;
        char tail = 0;
        if (sscanf(cc, "%d.%d%c", &major, &minor, &tail) != 2 || major < 1 || major > 99 || minor < 0 || minor > 9)
            return ss_fail(SS_ERR_ARG, "info --cc '%s': expected a compute capability such as 8.6 or 12.0", cc);
        snprintf(gi.name, sizeof gi.name, "the GPU");
        gi.cc_major = major;
        gi.cc_minor = minor;
        gi.cusparselt_version = built_slt;
        printf("GPU        compute capability %d.%d (given with --cc; cuSPARSELt assumed %s, as built)\n", major, minor,
               ss_cusparselt_version_str(built_slt, ver, sizeof ver));
    } else {
        ss_status st = ss_gpu_info_get(0, &gi);
        if (st) {
            char why[320];
            snprintf(why, sizeof why, "%s", ss_errmsg());
            printf("GPU        none: %s\nbuild      CUDA architectures: %s\n", why,
                   *ss_gpuarch_built() ? ss_gpuarch_built() : "none (built without CUDA)");
            return ss_fail(SS_ERR_UNSUPPORTED, "info --gpu: %s (--cc X.Y shows the paths of a compute capability)", why);
        }
        printf("GPU        %s (cc %d.%d, %d SMs, %.1f GB)\n", gi.name, gi.cc_major, gi.cc_minor, gi.sm_count,
               (double)gi.mem_total / 1e9);
        printf("libraries  driver supports CUDA %d.%d, runtime %d.%d, cuBLASLt %s, cuSPARSELt %s (loaded)\n",
               gi.driver_version / 1000, gi.driver_version % 1000 / 10, gi.runtime_version / 1000,
               gi.runtime_version % 1000 / 10, ss_cublaslt_version_str(gi.cublaslt_version, ver, sizeof ver),
               ss_cusparselt_version_str(gi.cusparselt_version, ver2, sizeof ver2));
    }
    printf("build      CUDA architectures: %s; cuSPARSELt %s (header)\n",
           *ss_gpuarch_built() ? ss_gpuarch_built() : "none (built without CUDA)",
           ss_cusparselt_version_str(built_slt, ver, sizeof ver));
    printf("paths\n");
    const ss_gpuarch_gpu g = {gi.name, gi.cc_major, gi.cc_minor, gi.cusparselt_version};
    ss_gpuarch_each(&g, NULL, print_row, NULL);
    return SS_OK;
}
