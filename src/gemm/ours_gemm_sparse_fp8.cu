/* Our Hopper GEMM, the sparse fp8 family (kernel: ours_kernel.cuh). */
#include "gemm/ours_kernel.cuh"

SS_OURS_FAMILY_DECL(ss_ours_launch_sparse_fp8) { return ss_ours::launch_family<true, true>(rows, bn, cluster, map, p, sm, s, what); }
