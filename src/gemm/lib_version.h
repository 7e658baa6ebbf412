/* Version numbers of the libraries the GEMM layer links, as one int each,
 * and their decoding (plain C: the report, the folder names and the tests
 * use it without a GPU).
 *
 * cuSPARSELt: headers up to 0.9 define CUSPARSELT_VERSION as
 * major * 1000 + minor * 100 + patch; 0.10.0's defines it as
 * major * 1000000 + minor * 100 + patch, because minor 10 would have
 * collided with major 1 (0.10.0 and 1.0.0 are both 1000 in the old form;
 * decoding 0.10.0's 1000 the old way printed "1.0.0"). Every release so far
 * has major 0, where both forms give the same number, so the new form
 * decodes all of them: 800 = 0.8.0, 901 = 0.9.1, 1000 = 0.10.0,
 * 1000000 = 1.0.0. cusparseLtGetVersion returns that number;
 * ss_gpu_info.cusparselt_version holds it (0 when the library did not
 * load). */
#ifndef SS_GEMM_LIB_VERSION_H
#define SS_GEMM_LIB_VERSION_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SS_CUSPARSELT_VERSION_OF(major, minor, patch) ((major) * 1000000 + (minor) * 100 + (patch))

/* major, minor, patch of a cuSPARSELt version number (any may be NULL). */
void ss_cusparselt_version_split(int v, int *major, int *minor, int *patch);
/* "0.10.0"; "none" for 0 (the library did not load). Returns buf. */
const char *ss_cusparselt_version_str(int v, char *buf, size_t cap);

/* The cuSPARSELt version this build compiled against (its header), 0 in a
 * build without CUDA. */
int ss_cusparselt_build_version(void);

/* cuBLASLt's cublasLtGetVersion(): major * 10000 + minor * 100 + patch
 * (130100 = 13.1.0). Returns buf ("none" for 0). */
const char *ss_cublaslt_version_str(size_t v, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif
