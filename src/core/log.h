/* Progress and diagnostics on stderr. stdout is kept for results (generate
 * prints token ids there), so everything chatty goes through these. */
#ifndef SS_CORE_LOG_H
#define SS_CORE_LOG_H

#include <stdio.h>

typedef enum { SS_LOG_QUIET = 0, SS_LOG_INFO = 1, SS_LOG_DEBUG = 2 } ss_log_level;

void ss_log_set_level(ss_log_level level);
ss_log_level ss_log_get_level(void);
/* Also append every message to this file (NULL stops it). */
void ss_log_set_file(FILE *fp);
void ss_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ss_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Warnings always print (unless quiet) with a "warning: " prefix. */
void ss_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
