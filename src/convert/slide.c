/* Sliding (SPEC section 1): a row pruned to 2:L becomes a 2:4 row on K_slid
 * columns, and the activation is expanded to match.
 *
 * Zero is "all bytes zero", whatever the element type. An FP8 -0 (code 0x80)
 * or a float -0.0 therefore counts as a nonzero here: sliding never drops a
 * stored code. Our own tools never emit a negative zero (prune writes +0 for
 * every zero it leaves, quantize maps -0 to +0), so their outputs always
 * slide; ss_is_pruned uses the same byte test, so "pruned" and "slides"
 * agree on any input.
 *
 * Why the greedy assignment never overflows on a row pruned to 2:L
 * ----------------------------------------------------------------
 * Take one group of L columns: pairs P_i = {2i, 2i+1}, i = 0..W, where W =
 * L/2 - 1 is the number of windows; window w covers pairs w and w+1, so pair
 * i can only go to window i-1 or i. The greedy is earliest-deadline-first on
 * these intervals: window w first takes what is left of pair w (lanes 0,1,
 * their last chance), then fills up from pair w+1 (lanes 2,3). Let nz(a..b)
 * count the nonzeros of pairs a..b and placed(w) those placed in windows
 * 0..w (placed(-1) = 0). By induction on w, after window w:
 *   (a) every nonzero of pairs 0..w is placed;
 *   (b) placed(w) = min(2(w+1), nz(0..w+1)).
 * Before window w, pairs 0..w-1 are done (a), so what is left lives in pair
 * w: at most 2 values, and window w starts empty and visits lanes 0,1 first,
 * so it takes them all (a). It then adds min(2 - left, nz(w+1)) from pair
 * w+1, with left = nz(0..w) - placed(w-1), giving
 *   placed(w) = min(placed(w-1) + 2, nz(0..w+1))
 *             = min(2(w+1), nz(0..w) + 2, nz(0..w+1)) = min(2(w+1), nz(0..w+1))
 * since a pair adds at most 2 (b). So only the last pair P_W can be left
 * over, and after the last window placed(W-1) = min(2W, nz(0..W)) =
 * min(L-2, nz): every nonzero is placed exactly when the group holds at most
 * L-2 of them. (Hall's condition, windows vs nonzeros, binds only on the
 * whole group: any other run of pairs a..b is covered by windows whose
 * capacity is at least its 2(b-a+1) positions, while the whole group has
 * 2(W+1) = L positions and only 2W = L-2 slots.)
 * The code checks anyway and fails with SS_ERR_FORMAT, naming row and group:
 * an unpruned row is a user error, never silently truncated (the reference
 * system dropped such values without a word).
 */
#include "convert/slide.h"

#include <string.h>

static int is_zero(const unsigned char *p, size_t esize) {
    switch (esize) {
    case 1: return p[0] == 0;
    case 2: { uint16_t v; memcpy(&v, p, 2); return v == 0; }
    case 4: { uint32_t v; memcpy(&v, p, 4); return v == 0; }
    default:
        for (size_t i = 0; i < esize; i++)
            if (p[i]) return 0;
        return 1;
    }
}

/* Slides one row; returns -1 on success or the first group that overflows.
 * out must be zero-filled [K_slid]. One instance per element size, with
 * typed loads and stores (the rows are aligned: safetensors data and
 * malloc'd buffers), branch-free on the data (ternary weights would defeat
 * the branch predictor). Per window: what is pending from the shared pair
 * (lanes 0,1; values a0, a1) always fits, by (a) of the proof; lanes 2,3
 * take the room left, and what does not fit stays pending for the next
 * window. */
#define DEFINE_SLIDE_ROW(NAME, T)                                                         \
    static int64_t NAME(const ss_slide_geom *g, const T *row, T *out) {                   \
        const int64_t K = g->K, per = 4 * (int64_t)g->windows;                           \
        for (int64_t grp = 0; grp < g->groups; grp++) {                                  \
            const int64_t base = grp * g->L;                                             \
            if (base >= K) break; /* only padding left: zeros */                         \
            const T *x = row + base;                                                     \
            T *o = out + grp * per;                                                      \
            const int64_t n = K - base < g->L ? K - base : g->L; /* real columns */      \
            T a0 = x[0], a1 = n > 1 ? x[1] : (T)0;                                       \
            int pend0 = a0 != 0, pend1 = a1 != 0;                                        \
            for (int64_t w = 0; w < g->windows; w++) {                                   \
                const int64_t c = 2 * w;                                                 \
                const T v2 = c + 2 < n ? x[c + 2] : (T)0, v3 = c + 3 < n ? x[c + 3] : (T)0; \
                o[4 * w] = pend0 ? a0 : (T)0;                                            \
                o[4 * w + 1] = pend1 ? a1 : (T)0;                                        \
                const int take2 = (v2 != 0) & (pend0 + pend1 < 2);                       \
                const int take3 = (v3 != 0) & (pend0 + pend1 + take2 < 2);               \
                o[4 * w + 2] = take2 ? v2 : (T)0;                                        \
                o[4 * w + 3] = take3 ? v3 : (T)0;                                        \
                pend0 = (v2 != 0) & !take2;                                              \
                pend1 = (v3 != 0) & !take3;                                              \
                a0 = v2;                                                                 \
                a1 = v3;                                                                 \
            }                                                                            \
            if (pend0 | pend1) return grp; /* the last pair found no room */             \
        }                                                                                \
        return -1;                                                                       \
    }

DEFINE_SLIDE_ROW(slide_row_u8, uint8_t)
DEFINE_SLIDE_ROW(slide_row_u16, uint16_t)
DEFINE_SLIDE_ROW(slide_row_u32, uint32_t)
DEFINE_SLIDE_ROW(slide_row_u64, uint64_t)
#undef DEFINE_SLIDE_ROW

static int64_t slide_row(const ss_slide_geom *g, const void *row, size_t esize, void *out) {
    switch (esize) {
    case 1: return slide_row_u8(g, row, out);
    case 2: return slide_row_u16(g, row, out);
    case 4: return slide_row_u32(g, row, out);
    default: return slide_row_u64(g, row, out); /* esize 8; others are refused by the callers */
    }
}

static int supported_esize(size_t esize) { return esize == 1 || esize == 2 || esize == 4 || esize == 8; }

/* Nonzeros in group grp of the row (for the error message). */
static int count_group_nonzeros(const ss_slide_geom *g, const unsigned char *row, size_t esize, int64_t grp) {
    int nz = 0;
    for (int64_t k = grp * g->L; k < (grp + 1) * g->L && k < g->K; k++) nz += !is_zero(row + k * esize, esize);
    return nz;
}

ss_status ss_slide_row(const ss_slide_geom *g, const void *row, size_t esize, void *out) {
    if (!supported_esize(esize)) return ss_fail(SS_ERR_ARG, "cannot slide elements of %zu bytes", esize);
    memset(out, 0, (size_t)g->K_slid * esize);
    int64_t bad = slide_row(g, row, esize, out);
    if (bad >= 0)
        return ss_fail(SS_ERR_FORMAT,
                       "group %lld (columns %lld..%lld) holds %d nonzeros, more than the %d of 2:%d; prune the weight first",
                       (long long)bad, (long long)(bad * g->L), (long long)((bad + 1) * g->L - 1),
                       count_group_nonzeros(g, row, esize, bad), g->L - 2, g->L);
    return SS_OK;
}

ss_status ss_slide_matrix(const ss_slide_geom *g, const void *w, int64_t N, size_t esize, void *out,
                          const char *what) {
    const unsigned char *src = w;
    unsigned char *dst = out;
    if (!supported_esize(esize))
        return ss_fail(SS_ERR_ARG, "%s: cannot slide elements of %zu bytes", what ? what : "weight", esize);
    /* ss_fail's message is thread-local: workers only record the first bad
     * (row, group), in row order so the report does not depend on threads. */
    int64_t bad_row = -1, bad_group = -1;
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; n++) {
        unsigned char *orow = dst + n * g->K_slid * (int64_t)esize;
        memset(orow, 0, (size_t)g->K_slid * esize);
        int64_t grp = slide_row(g, src + n * g->K * (int64_t)esize, esize, orow);
        if (grp >= 0) {
#pragma omp critical(ss_slide_error)
            if (bad_row < 0 || n < bad_row) {
                bad_row = n;
                bad_group = grp;
            }
        }
    }
    if (bad_row >= 0) {
        const unsigned char *row = src + bad_row * g->K * (int64_t)esize;
        return ss_fail(SS_ERR_FORMAT,
                       "%s: row %lld, group %lld (columns %lld..%lld) holds %d nonzeros, more than the %d of 2:%d; "
                       "the weight is not pruned to 2:%d",
                       what ? what : "weight", (long long)bad_row, (long long)bad_group,
                       (long long)(bad_group * g->L), (long long)((bad_group + 1) * g->L - 1),
                       count_group_nonzeros(g, row, esize, bad_group), g->L - 2, g->L, g->L);
    }
    return SS_OK;
}

void ss_slide_activation(const ss_slide_geom *g, const void *in, size_t esize, void *out) {
    const unsigned char *x = in;
    unsigned char *o = out;
    const int64_t K = g->K, per = 4 * (int64_t)g->windows;
    memset(o, 0, (size_t)g->K_slid * esize);
    for (int64_t grp = 0; grp < g->groups; grp++) {
        for (int w = 0; w < g->windows; w++) {
            const int64_t src = grp * g->L + 2 * w;
            if (src >= K) break;
            const int64_t n = K - src < 4 ? K - src : 4; /* beyond K: zero */
            memcpy(o + (grp * per + 4 * w) * esize, x + src * esize, (size_t)n * esize);
        }
    }
}

int ss_row_is_2_4(const void *row, int64_t n, size_t esize) {
    const unsigned char *r = row;
    for (int64_t q = 0; q < n; q += 4) {
        int nz = 0;
        for (int64_t k = q; k < q + 4 && k < n; k++) nz += !is_zero(r + k * esize, esize);
        if (nz > 2) return 0;
    }
    return 1;
}
