/* A NumPy .npy file (format version 1.0) of float32 rows, written as rows
 * arrive: any tool reads it (numpy.load gives an array [rows, cols] of
 * dtype '<f4', C order). The header is 128 bytes and is rewritten with the
 * final row count on commit; the file goes through ss_afile, so it appears
 * under its name only when complete. */
#ifndef SS_CORE_NPY_H
#define SS_CORE_NPY_H

#include <stdint.h>

#include "core/fsutil.h"
#include "core/status.h"

typedef struct ss_npy_writer {
    ss_afile f;
    int64_t cols, rows;
} ss_npy_writer;

ss_status ss_npy_f32_open(ss_npy_writer *w, const char *path, int64_t cols);
ss_status ss_npy_f32_append(ss_npy_writer *w, const float *row); /* cols floats */
ss_status ss_npy_f32_commit(ss_npy_writer *w);
void ss_npy_f32_abort(ss_npy_writer *w);

#define SS_NPY_HEADER_BYTES 128

#endif
