/* File-system helpers. Every output is written to a temporary name and
 * renamed into place only when complete, so a crash, a full disk or a bad
 * input never leaves a half-written file that looks finished. */
#ifndef SS_CORE_FSUTIL_H
#define SS_CORE_FSUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/scratch.h"
#include "core/status.h"

/* A file being written: data goes to "<path>.tmp.<pid>" (a scratch entry,
 * see scratch.h: locked, removed by a later run if we are killed); commit
 * fsyncs and renames it to <path>; abort (or a failed write) removes it. */
typedef struct ss_afile {
    FILE *fp;
    char path[4096];
    ss_scratch scratch;
    int failed;
} ss_afile;

ss_status ss_afile_open(ss_afile *f, const char *path);
ss_status ss_afile_write(ss_afile *f, const void *data, size_t n);
ss_status ss_afile_printf(ss_afile *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
ss_status ss_afile_commit(ss_afile *f); /* fsync + rename; on failure the temp file is removed */
void ss_afile_abort(ss_afile *f);       /* safe to call after commit (no-op) */

/* Whole-file helpers built on ss_afile. */
ss_status ss_write_file_atomic(const char *path, const void *data, size_t n);
ss_status ss_read_file(const char *path, char **data, size_t *n); /* malloc'd, NUL-terminated */

/* Folder outputs without an owner lock (see scratch.h for folders with one):
 * build everything in ss_tmpdir_for(out), then ss_dir_commit renames it to
 * `out`, exchanging it atomically with an existing `out`, which is removed. */
ss_status ss_tmpdir_for(const char *out, char *tmp, size_t cap); /* creates "<out>.tmp.<pid>" */
ss_status ss_dir_commit(const char *tmp, const char *out);

ss_status ss_mkdir_p(const char *path);
ss_status ss_rm_rf(const char *path);
ss_status ss_copy_file(const char *src, const char *dst); /* atomic at dst */
int ss_path_exists(const char *path);
int ss_is_dir(const char *path);
int64_t ss_file_size(const char *path); /* -1 if missing */
/* Joins a/b into out (cap bytes); fails if it does not fit. */
ss_status ss_path_join(char *out, size_t cap, const char *a, const char *b);

#endif
