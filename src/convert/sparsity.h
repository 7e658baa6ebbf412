/* Z:L sparsity names and the geometry of sliding (SPEC section 1).
 *
 * "2_L" = at least 2 zeros in every L consecutive weights along K (L even,
 * 4..SS_L_MAX); "2_inf" = no pruning (dense). Sliding maps each group of L
 * inputs onto W = L/2 - 1 overlapping windows of 4 (stride 2), so a row of K
 * columns becomes K_slid = groups * W * 4 (rounded up to SS_KSLID_ALIGN).
 * For 2_inf the whole row, padded by two zeros, is one group: L = K_padded =
 * K + 2 (K even) and K_slid = 2K.
 */
#ifndef SS_CONVERT_SPARSITY_H
#define SS_CONVERT_SPARSITY_H

#include <stdint.h>

#include "core/status.h"

#define SS_L_INF (-1)
#define SS_L_MAX 64
#define SS_KSLID_ALIGN 32 /* cuSPARSELt wants K' (and N) multiples of 32 for 8-bit types */

/* Parses "2_4", "2_6", ..., "2_inf". allow_inf: accept 2_inf (convert does, prune does not). */
ss_status ss_sparsity_parse(const char *s, int allow_inf, int *L);
/* Writes "2_L" or "2_inf" into buf. */
const char *ss_sparsity_name(int L, char *buf, int cap);

typedef struct ss_slide_geom {
    int L;            /* group length (2_inf: K_padded) */
    int windows;      /* windows per group: L/2 - 1 */
    int64_t K;        /* original columns */
    int64_t K_padded; /* K rounded up to a multiple of L (2_inf: K + 2, K rounded to even first) */
    int64_t groups;   /* K_padded / L */
    int64_t K_slid;   /* groups * windows * 4, rounded up to SS_KSLID_ALIGN */
} ss_slide_geom;

/* L is a parsed sparsity (4..SS_L_MAX even, or SS_L_INF). */
ss_status ss_slide_geometry(int64_t K, int L, ss_slide_geom *g);
/* Expansion K_slid/K before alignment: 2(L-2)/L, and 2 for 2_inf. */
double ss_slide_expansion(int L);

/* Source column of slid column p, or -1 where the slid column is padding:
 *   x'[g*4W + 4w + j] = x[g*L + 2w + j]  (g group, w window, j lane). */
static inline int64_t ss_slide_src(const ss_slide_geom *g, int64_t p) {
    int64_t per = 4 * (int64_t)g->windows, grp = p / per, r = p % per;
    if (grp >= g->groups) return -1;
    int64_t src = grp * g->L + 2 * (r / 4) + (r % 4);
    return src < g->K ? src : -1;
}

#endif
