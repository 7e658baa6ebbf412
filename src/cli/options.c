#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

ss_status cli_parse_i64(const char *opt, const char *s, int64_t min, int64_t max, int64_t *out) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return ss_fail(SS_ERR_ARG, "%s: '%s' is not an integer in [%lld, %lld]", opt, s, (long long)min,
                       (long long)max);
    *out = v;
    return SS_OK;
}

ss_status cli_parse_u64(const char *opt, const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        return ss_fail(SS_ERR_ARG, "%s: '%s' is not a non-negative integer", opt, s);
    *out = v;
    return SS_OK;
}

ss_status cli_parse_int_list(const char *opt, const char *s, int64_t min, int64_t max, int64_t **out, int *n) {
    *out = NULL;
    *n = 0;
    int cap = 1;
    for (const char *p = s; *p; p++) cap += *p == ',';
    int64_t *v = malloc((size_t)cap * sizeof *v);
    char *copy = strdup(s);
    if (!v || !copy) {
        free(v);
        free(copy);
        return ss_fail(SS_ERR_NOMEM, "%s: out of memory", opt);
    }
    ss_status st = SS_OK;
    int k = 0;
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok && st == SS_OK; tok = strtok_r(NULL, ",", &save))
        st = cli_parse_i64(opt, tok, min, max, &v[k++]);
    free(copy);
    if (st == SS_OK && k == 0) st = ss_fail(SS_ERR_ARG, "%s: empty list", opt);
    if (st != SS_OK) {
        free(v);
        return st;
    }
    *out = v;
    *n = k;
    return SS_OK;
}

ss_status cli_require(const char *cmd, const char *opt, const char *value) {
    if (!value || !*value) return ss_fail(SS_ERR_ARG, "%s: missing %s (see slidesparse %s --help)", cmd, opt, cmd);
    return SS_OK;
}

ss_status cli_bad_usage(const char *cmd, int argc, char **argv) {
    if (optind < argc) return ss_fail(SS_ERR_ARG, "%s: unexpected argument '%s'", cmd, argv[optind]);
    return ss_fail(SS_ERR_ARG, "%s: bad option '%s' (see slidesparse %s --help)", cmd,
                   optind > 0 && optind <= argc ? argv[optind - 1] : "?", cmd);
}
