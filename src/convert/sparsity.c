#include "convert/sparsity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ss_status ss_sparsity_parse(const char *s, int allow_inf, int *L) {
    if (s && strcmp(s, "2_inf") == 0) {
        if (!allow_inf) return ss_fail(SS_ERR_ARG, "sparsity 2_inf means no pruning; use it with convert only");
        *L = SS_L_INF;
        return SS_OK;
    }
    char *end = NULL;
    long l = (s && strncmp(s, "2_", 2) == 0) ? strtol(s + 2, &end, 10) : 0;
    if (!end || *end || l < 4 || l > SS_L_MAX || l % 2)
        return ss_fail(SS_ERR_ARG, "unknown sparsity '%s': expected 2_L with L even in 4..%d%s", s ? s : "(null)",
                       SS_L_MAX, allow_inf ? ", or 2_inf" : "");
    *L = (int)l;
    return SS_OK;
}

const char *ss_sparsity_name(int L, char *buf, int cap) {
    if (L == SS_L_INF) snprintf(buf, (size_t)cap, "2_inf");
    else snprintf(buf, (size_t)cap, "2_%d", L);
    return buf;
}

static int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

ss_status ss_slide_geometry(int64_t K, int L, ss_slide_geom *g) {
    memset(g, 0, sizeof *g);
    if (K <= 0) return ss_fail(SS_ERR_ARG, "cannot slide a row of K=%lld columns", (long long)K);
    if (L != SS_L_INF && (L < 4 || L > SS_L_MAX || L % 2))
        return ss_fail(SS_ERR_ARG, "bad group length L=%d", L);
    g->K = K;
    if (L == SS_L_INF) {
        /* One group of the whole row plus two zero columns: its K/2 windows
         * hold 2 values each, i.e. every column exactly once (K_slid = 2K). */
        g->K_padded = round_up(K, 2) + 2;
        g->L = (int)g->K_padded;
        if ((int64_t)g->L != g->K_padded) return ss_fail(SS_ERR_ARG, "K=%lld too large for 2_inf", (long long)K);
    } else {
        g->L = L;
        g->K_padded = round_up(K, L);
    }
    g->groups = g->K_padded / g->L;
    g->windows = g->L / 2 - 1;
    g->K_slid = round_up(g->groups * g->windows * 4, SS_KSLID_ALIGN);
    return SS_OK;
}

double ss_slide_expansion(int L) { return L == SS_L_INF ? 2.0 : 2.0 * (L - 2) / L; }
