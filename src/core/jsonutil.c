#include "core/jsonutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fsutil.h"

ss_status ss_json_load(const char *path, json_t **out) {
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        if (errno == ENOENT) return ss_fail(SS_ERR_IO, "%s: no such file", path);
        return ss_fail_errno("cannot stat %s", path);
    }
    /* a FIFO would block the open; a huge file would be read whole */
    if (!S_ISREG(sb.st_mode)) return ss_fail(SS_ERR_FORMAT, "%s: not a regular file", path);
    if ((int64_t)sb.st_size > SS_JSON_MAX_BYTES)
        return ss_fail(SS_ERR_FORMAT, "%s: %lld bytes, above the %lld-byte limit for a JSON file", path,
                       (long long)sb.st_size, (long long)SS_JSON_MAX_BYTES);
    json_error_t err;
    *out = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    if (!*out) {
        if (!ss_path_exists(path)) return ss_fail(SS_ERR_IO, "%s: no such file", path);
        return ss_fail(SS_ERR_FORMAT, "%s:%d:%d: bad JSON: %s", path, err.line, err.column, err.text);
    }
    return SS_OK;
}

ss_status ss_json_save(const char *path, const json_t *j) {
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(9));
    if (!text) return ss_fail(SS_ERR_NOMEM, "%s: cannot serialise JSON", path);
    size_t n = strlen(text);
    text[n] = '\n'; /* json_dumps leaves room for the NUL; reuse it for a final newline */
    ss_status st = ss_write_file_atomic(path, text, n + 1);
    free(text);
    return st;
}

static ss_status field(const json_t *obj, const char *key, const char *what, json_t **v, int required) {
    *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
    if (!*v && required) return ss_fail(SS_ERR_FORMAT, "%s: missing field '%s'", what, key);
    return SS_OK;
}

ss_status ss_json_int(const json_t *obj, const char *key, const char *what, int64_t *out) {
    json_t *v;
    SS_TRY(field(obj, key, what, &v, 1));
    if (!json_is_integer(v)) return ss_fail(SS_ERR_FORMAT, "%s: field '%s' is not an integer", what, key);
    *out = (int64_t)json_integer_value(v);
    return SS_OK;
}

ss_status ss_json_num(const json_t *obj, const char *key, const char *what, double *out) {
    json_t *v;
    SS_TRY(field(obj, key, what, &v, 1));
    if (!json_is_number(v)) return ss_fail(SS_ERR_FORMAT, "%s: field '%s' is not a number", what, key);
    *out = json_number_value(v);
    return SS_OK;
}

ss_status ss_json_str(const json_t *obj, const char *key, const char *what, const char **out) {
    json_t *v;
    SS_TRY(field(obj, key, what, &v, 1));
    if (!json_is_string(v)) return ss_fail(SS_ERR_FORMAT, "%s: field '%s' is not a string", what, key);
    *out = json_string_value(v);
    return SS_OK;
}

ss_status ss_json_int_opt(const json_t *obj, const char *key, const char *what, int64_t *out) {
    json_t *v;
    SS_TRY(field(obj, key, what, &v, 0));
    if (!v || json_is_null(v)) return SS_OK;
    if (!json_is_integer(v)) return ss_fail(SS_ERR_FORMAT, "%s: field '%s' is not an integer", what, key);
    *out = (int64_t)json_integer_value(v);
    return SS_OK;
}

ss_status ss_json_num_opt(const json_t *obj, const char *key, const char *what, double *out) {
    json_t *v;
    SS_TRY(field(obj, key, what, &v, 0));
    if (!v || json_is_null(v)) return SS_OK;
    if (!json_is_number(v)) return ss_fail(SS_ERR_FORMAT, "%s: field '%s' is not a number", what, key);
    *out = json_number_value(v);
    return SS_OK;
}

ss_status ss_json_bool_opt(const json_t *obj, const char *key, const char *what, int *out) {
    json_t *v;
    SS_TRY(field(obj, key, what, &v, 0));
    if (!v || json_is_null(v)) return SS_OK;
    if (!json_is_boolean(v)) return ss_fail(SS_ERR_FORMAT, "%s: field '%s' is not a boolean", what, key);
    *out = json_is_true(v);
    return SS_OK;
}
