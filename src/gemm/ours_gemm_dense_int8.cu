/* Our Hopper GEMM, the dense int8 family (kernel: ours_kernel.cuh). */
#include "gemm/ours_kernel.cuh"

SS_OURS_FAMILY_DECL(ss_ours_launch_dense_int8) { return ss_ours::launch_family<false, false>(rows, bn, cluster, map, p, sm, s, what); }
