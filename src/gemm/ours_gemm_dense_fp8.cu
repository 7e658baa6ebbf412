/* Our Hopper GEMM, the dense fp8 family (kernel: ours_kernel.cuh). */
#include "gemm/ours_kernel.cuh"

SS_OURS_FAMILY_DECL(ss_ours_launch_dense_fp8) { return ss_ours::launch_family<false, true>(rows, bn, cluster, map, p, sm, s, what); }
