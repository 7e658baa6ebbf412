#include "core/status.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define SS_ERRMSG_CAP 2048
static _Thread_local char g_errmsg[SS_ERRMSG_CAP];

/* g_errmsg = "<a>: <b>", truncated to fit (a and b may alias g_errmsg). */
static void set_joined(const char *a, const char *b) {
    char tmp[SS_ERRMSG_CAP];
    size_t la = strnlen(a, SS_ERRMSG_CAP - 1), n = la;
    memcpy(tmp, a, la);
    if (n + 2 < SS_ERRMSG_CAP) {
        memcpy(tmp + n, ": ", 2);
        n += 2;
    }
    size_t lb = strnlen(b, SS_ERRMSG_CAP - 1 - n);
    memcpy(tmp + n, b, lb);
    tmp[n + lb] = '\0';
    memcpy(g_errmsg, tmp, n + lb + 1);
}

ss_status ss_fail(ss_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_errmsg, sizeof g_errmsg, fmt, ap);
    va_end(ap);
    return code;
}

ss_status ss_context(ss_status code, const char *fmt, ...) {
    if (code == SS_OK) return code;
    char prefix[SS_ERRMSG_CAP], old[SS_ERRMSG_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, g_errmsg, sizeof old);
    set_joined(prefix, old);
    return code;
}

ss_status ss_fail_errno(const char *fmt, ...) {
    int err = errno;
    char prefix[SS_ERRMSG_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    set_joined(prefix, strerror(err));
    return err == ENOMEM ? SS_ERR_NOMEM : SS_ERR_IO;
}

const char *ss_errmsg(void) { return g_errmsg; }
void ss_clear_error(void) { g_errmsg[0] = '\0'; }

const char *ss_status_name(ss_status code) {
    switch (code) {
    case SS_OK: return "ok";
    case SS_ERR_ARG: return "bad argument";
    case SS_ERR_IO: return "I/O error";
    case SS_ERR_FORMAT: return "bad format";
    case SS_ERR_UNSUPPORTED: return "unsupported";
    case SS_ERR_NOMEM: return "out of memory";
    case SS_ERR_NET: return "network error";
    case SS_ERR_CUDA: return "CUDA error";
    case SS_ERR_LIB: return "library error";
    case SS_ERR_INTERNAL: return "internal error";
    }
    return "unknown error";
}
