/* Library version numbers (see lib_version.h). */
#include "gemm/lib_version.h"

#include <stdio.h>

void ss_cusparselt_version_split(int v, int *major, int *minor, int *patch) {
    if (v < 0) v = 0;
    if (major) *major = v / 1000000;
    if (minor) *minor = v % 1000000 / 100;
    if (patch) *patch = v % 100;
}

const char *ss_cusparselt_version_str(int v, char *buf, size_t cap) {
    if (v <= 0) {
        snprintf(buf, cap, "none");
        return buf;
    }
    int a, b, c;
    ss_cusparselt_version_split(v, &a, &b, &c);
    snprintf(buf, cap, "%d.%d.%d", a, b, c);
    return buf;
}

const char *ss_cublaslt_version_str(size_t v, char *buf, size_t cap) {
    if (v == 0) snprintf(buf, cap, "none");
    else snprintf(buf, cap, "%zu.%zu.%zu", v / 10000, v / 100 % 100, v % 100);
    return buf;
}
