/* Shared by the fuzz harnesses (libFuzzer entry points, see README in this
 * folder): a private scratch folder per process, on tmpfs when there is one
 * (the writers fsync), and small helpers. Header-only. */
#ifndef SS_FUZZ_COMMON_H
#define SS_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/log.h"
#include "core/status.h"
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_fuzz_dir[256];

static inline void fuzz_cleanup(void) {
    if (g_fuzz_dir[0]) ss_rm_rf(g_fuzz_dir);
}

/* The process's scratch folder, created on first use and removed at exit. */
static inline const char *fuzz_dir(void) {
    if (!g_fuzz_dir[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        snprintf(g_fuzz_dir, sizeof g_fuzz_dir, "%s/ss-fuzz-%ld", base, (long)getpid());
        ss_rm_rf(g_fuzz_dir);
        if (ss_mkdir_p(g_fuzz_dir) != SS_OK) abort();
        atexit(fuzz_cleanup);
        ss_log_set_level(SS_LOG_QUIET);
    }
    return g_fuzz_dir;
}

/* <scratch>/<rel>, its parent folders created. */
static inline const char *fuzz_path(char *buf, size_t cap, const char *rel) {
    snprintf(buf, cap, "%s/%s", fuzz_dir(), rel);
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", buf);
    char *slash = strrchr(parent, '/');
    if (slash) *slash = '\0';
    if (ss_mkdir_p(parent) != SS_OK) abort();
    return buf;
}

/* Writes data to <scratch>/<rel> (plainly: what is fuzzed is the reader). */
static inline const char *fuzz_write(const char *rel, const void *data, size_t n, char *buf, size_t cap) {
    fuzz_path(buf, cap, rel);
    FILE *fp = fopen(buf, "wb");
    if (!fp || (n && fwrite(data, 1, n, fp) != n) || fclose(fp) != 0) abort();
    return buf;
}

/* Splits "len32 | part | len32 | part | ... | rest" (little-endian lengths,
 * clamped to what is left) into up to `max` parts; the last one takes the
 * rest. Returns how many parts there are. */
static inline int fuzz_split(const uint8_t *data, size_t size, const uint8_t **part, size_t *len, int max) {
    int n = 0;
    while (n < max - 1 && size >= 4) {
        size_t l = (size_t)data[0] | (size_t)data[1] << 8 | (size_t)data[2] << 16 | (size_t)data[3] << 24;
        data += 4, size -= 4;
        if (l > size) l = size;
        part[n] = data, len[n] = l, n++;
        data += l, size -= l;
    }
    part[n] = data, len[n] = size, n++;
    return n;
}

/* The shards of the shard-index harness: 20 bytes at most each, so a | b | c,d. */
static const ss_st_spec k_fuzz_shard_specs[4] = {{"a", SS_DT_F32, 1, {4}}, {"b", SS_DT_BF16, 2, {2, 3}},
                                                 {"c", SS_DT_I8, 1, {16}}, {"d", SS_DT_F32, 0, {0}}};
#define FUZZ_SHARD_MAX_BYTES 20
#define FUZZ_SHARD_DATA_BYTES (16 + 12 + 16 + 4)

/* A property the harness checks failed: libFuzzer reports it as a crash. */
#define FUZZ_CHECK(cond)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "fuzz check failed: %s (%s:%d): %s\n", #cond, __FILE__, __LINE__, \
                    ss_errmsg());                                                          \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

#endif
