/* Thin helpers over jansson: load/save files with clear errors, and typed
 * field access that names the file and key when something is missing. */
#ifndef SS_CORE_JSONUTIL_H
#define SS_CORE_JSONUTIL_H

#include <jansson.h>
#include <stdint.h>

#include "core/status.h"

/* The largest JSON file loaded: config, index, state and tuning files are kilobytes. */
#define SS_JSON_MAX_BYTES ((int64_t)256 << 20)
ss_status ss_json_load(const char *path, json_t **out);           /* names file, line, column on error; regular files only */
ss_status ss_json_save(const char *path, const json_t *j);        /* pretty, atomic (temp + rename) */

/* Required fields: fail with "<what>: missing or non-<type> field '<key>'". */
ss_status ss_json_int(const json_t *obj, const char *key, const char *what, int64_t *out);
ss_status ss_json_num(const json_t *obj, const char *key, const char *what, double *out);
ss_status ss_json_str(const json_t *obj, const char *key, const char *what, const char **out);
/* Optional fields: keep *out when absent, fail only on a wrong type. */
ss_status ss_json_int_opt(const json_t *obj, const char *key, const char *what, int64_t *out);
ss_status ss_json_num_opt(const json_t *obj, const char *key, const char *what, double *out);
ss_status ss_json_bool_opt(const json_t *obj, const char *key, const char *what, int *out);

#endif
