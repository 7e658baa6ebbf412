#include "core/log.h"

#include <stdarg.h>

static ss_log_level g_level = SS_LOG_INFO;
static FILE *g_file;

void ss_log_set_level(ss_log_level level) { g_level = level; }
ss_log_level ss_log_get_level(void) { return g_level; }
void ss_log_set_file(FILE *fp) { g_file = fp; }

static void vlog(ss_log_level need, const char *prefix, const char *fmt, va_list ap) {
    va_list ap2;
    va_copy(ap2, ap);
    if (g_level >= need) {
        fputs(prefix, stderr);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
    }
    if (g_file) {
        fputs(prefix, g_file);
        vfprintf(g_file, fmt, ap2);
        fputc('\n', g_file);
        fflush(g_file);
    }
    va_end(ap2);
}

#define SS_LOG_FN(name, need, prefix) \
    void name(const char *fmt, ...) { \
        va_list ap;                   \
        va_start(ap, fmt);            \
        vlog(need, prefix, fmt, ap);  \
        va_end(ap);                   \
    }
SS_LOG_FN(ss_info, SS_LOG_INFO, "")
SS_LOG_FN(ss_debug, SS_LOG_DEBUG, "debug: ")
SS_LOG_FN(ss_warn, SS_LOG_INFO, "warning: ")
