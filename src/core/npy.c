/* .npy writer (see npy.h). Format: the magic "\x93NUMPY", version 1.0, a
 * little-endian uint16 header length, then a Python dict literal padded with
 * spaces and ending in '\n' so that the data starts at a multiple of 64. */
#include "core/npy.h"

#include <stdio.h>
#include <string.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ss_npy writes native floats as '<f4': little-endian hosts only"
#endif

static void header(char out[SS_NPY_HEADER_BYTES], int64_t rows, int64_t cols) {
    memset(out, ' ', SS_NPY_HEADER_BYTES);
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    const unsigned len = SS_NPY_HEADER_BYTES - 10;
    out[8] = (char)(len & 0xff);
    out[9] = (char)(len >> 8);
    char dict[SS_NPY_HEADER_BYTES];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%lld, %lld), }",
                     (long long)rows, (long long)cols);
    memcpy(out + 10, dict, (size_t)n); /* at most 60 + 2 * 20 characters: fits in 117 */
    out[SS_NPY_HEADER_BYTES - 1] = '\n';
}

ss_status ss_npy_f32_open(ss_npy_writer *w, const char *path, int64_t cols) {
    memset(w, 0, sizeof *w);
    if (cols <= 0) return ss_fail(SS_ERR_ARG, "%s: an .npy file needs rows of at least one float", path);
    w->cols = cols;
    SS_TRY(ss_afile_open(&w->f, path));
    char h[SS_NPY_HEADER_BYTES];
    header(h, 0, cols);
    ss_status st = ss_afile_write(&w->f, h, sizeof h);
    if (st != SS_OK) ss_afile_abort(&w->f);
    return st;
}

ss_status ss_npy_f32_append(ss_npy_writer *w, const float *row) {
    SS_TRY(ss_afile_write(&w->f, row, (size_t)w->cols * sizeof(float)));
    w->rows++;
    return SS_OK;
}

ss_status ss_npy_f32_commit(ss_npy_writer *w) {
    char h[SS_NPY_HEADER_BYTES];
    header(h, w->rows, w->cols);
    if (fflush(w->f.fp) != 0 || fseek(w->f.fp, 0, SEEK_SET) != 0) {
        ss_status st = ss_fail_errno("%s: cannot rewrite the .npy header", w->f.path);
        ss_afile_abort(&w->f);
        return st;
    }
    ss_status st = ss_afile_write(&w->f, h, sizeof h);
    if (st != SS_OK) {
        ss_afile_abort(&w->f);
        return st;
    }
    return ss_afile_commit(&w->f);
}

void ss_npy_f32_abort(ss_npy_writer *w) { ss_afile_abort(&w->f); }
