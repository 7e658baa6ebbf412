/* Error handling shared by every layer.
 *
 * A failing function records one human-readable message (naming the file,
 * tensor or shape involved) in a thread-local buffer and returns a non-zero
 * ss_status. Callers either handle the code or add context and pass it up:
 *
 *     if (n % 32) return ss_fail(SS_ERR_ARG, "%s: N=%lld is not a multiple of 32", name, n);
 *     SS_TRY_CTX(st_open(path, &f), "loading %s", dir);   // "loading DIR: <inner message>"
 *
 * The CLI prints the final message as one `error:` line.
 */
#ifndef SS_CORE_STATUS_H
#define SS_CORE_STATUS_H

typedef enum ss_status {
    SS_OK = 0,
    SS_ERR_ARG,         /* bad argument or option value */
    SS_ERR_IO,          /* file system: open, read, write, rename, full disk */
    SS_ERR_FORMAT,      /* malformed input: safetensors header, JSON, shapes */
    SS_ERR_UNSUPPORTED, /* valid request this build/GPU/library cannot run */
    SS_ERR_NOMEM,       /* host or device allocation */
    SS_ERR_NET,         /* network unreachable, HTTP error, checksum mismatch */
    SS_ERR_CUDA,        /* CUDA runtime error or no device */
    SS_ERR_LIB,         /* cuBLASLt / cuSPARSELt status */
    SS_ERR_INTERNAL,    /* a broken invariant: a bug */
} ss_status;

/* Records the message and returns `code`. */
ss_status ss_fail(ss_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* If `code` is an error, prefixes the recorded message with "<context>: ". */
ss_status ss_context(ss_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Records strerror(errno) after a formatted prefix and returns SS_ERR_IO (or SS_ERR_NOMEM/ENOSPC-aware). */
ss_status ss_fail_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

const char *ss_errmsg(void);          /* last message on this thread ("" if none) */
void ss_clear_error(void);
const char *ss_status_name(ss_status code);

#define SS_TRY(expr)                                \
    do {                                            \
        ss_status ss_try_st_ = (expr);              \
        if (ss_try_st_ != SS_OK) return ss_try_st_; \
    } while (0)

#define SS_TRY_CTX(expr, ...)                                           \
    do {                                                                \
        ss_status ss_try_st_ = (expr);                                  \
        if (ss_try_st_ != SS_OK) return ss_context(ss_try_st_, __VA_ARGS__); \
    } while (0)

#endif
