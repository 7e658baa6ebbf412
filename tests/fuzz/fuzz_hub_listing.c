/* The hub's JSON listing (one page of /api/models/<repo>/tree/<rev>), as
 * the client parses it (hub_listing_add_json per entry): every accepted file
 * has a safe relative path and well-formed hashes, every refusal a message. */
#include "fuzz_common.h"
#include "io/hub_internal.h"

/* Relative, '/'-separated, no empty, "." or ".." segment: it cannot leave the download folder. */
static int stays_inside(const char *p) {
    if (!p || !p[0] || p[0] == '/') return 0;
    for (const char *seg = p; seg;) {
        const char *slash = strchr(seg, '/');
        size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
        if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.')) return 0;
        seg = slash ? slash + 1 : NULL;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_dir(); /* quiet logging */
    json_t *arr = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_array(arr)) {
        json_decref(arr);
        return 0;
    }
    ss_hub_listing l = {0};
    int cap = 0;
    ss_status st = SS_OK;
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        if (st == SS_OK) st = hub_listing_add_json(&l, &cap, e, "fuzz");
    }
    if (st != SS_OK) FUZZ_CHECK(ss_errmsg()[0] != '\0');
    for (int k = 0; k < l.n; k++) {
        FUZZ_CHECK(stays_inside(l.files[k].path));
        FUZZ_CHECK(!l.files[k].lfs_sha256 || hub_is_hex(l.files[k].lfs_sha256, 64));
        FUZZ_CHECK(!l.files[k].git_oid || hub_is_commit(l.files[k].git_oid));
    }
    ss_hub_listing_free(&l);
    json_decref(arr);
    return 0;
}
