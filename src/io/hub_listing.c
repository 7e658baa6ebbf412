/* What a repo holds at one commit: the revision (branch, tag) resolved to a
 * commit first, then that commit's tree, so that a push during a long
 * download cannot mix files of two commits.
 *
 * Hub facts this relies on (huggingface_hub's repo_info, list_repo_tree and
 * snapshot_download do the same):
 *   GET {endpoint}/api/models/{repo}/revision/{quote(revision, safe="")}
 *     -> {"id", "sha": "<40 hex>", ...}; a 40-hex revision is a commit
 *        already and is not asked about.
 *   GET {endpoint}/api/models/{repo}/tree/{commit}?recursive=true
 *     -> JSON array of {"type": "file"|"directory", "path", "size", "oid",
 *        "lfs": {"oid": "<sha256>", "size": N}}, paginated GitHub-style with a
 *        `Link: <url>; rel="next"` header.
 *   Top-level "oid" of a non-LFS file is its git blob SHA-1, i.e.
 *   SHA-1("blob <size>\0" + content); of an LFS file it is the pointer's, so
 *   there we check lfs.oid = SHA-256 of the content instead. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/jsonutil.h"
#include "io/hub_internal.h"

#define MAX_PAGES 100000

int hub_is_hex(const char *s, size_t n) {
    if (strlen(s) != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i])) return 0;
    return 1;
}

int hub_is_commit(const char *s) { return hub_is_hex(s, 40); }

void hub_set_commit(hub *h, const char *sha) {
    for (int i = 0; i < 40; i++) h->commit[i] = (char)tolower((unsigned char)sha[i]);
    h->commit[40] = '\0';
}

ss_status hub_resolve_commit(hub *h) {
    if (hub_is_commit(h->revision)) {
        hub_set_commit(h, h->revision);
        return SS_OK;
    }
    char rev[512], url[8192];
    SS_TRY(hub_url_escape(h, h->revision, 0, rev, sizeof rev));
    if ((size_t)snprintf(url, sizeof url, "%s/api/models/%s/revision/%s", h->endpoint, h->repo, rev) >= sizeof url)
        return ss_fail(SS_ERR_ARG, "%s@%s: URL too long", h->repo, h->revision);
    json_t *info = NULL;
    resp r;
    SS_TRY(hub_get_json(h, url, h->repo, &info, &r));
    const char *sha = json_string_value(json_object_get(info, "sha"));
    ss_status st = SS_OK;
    if (!sha || !hub_is_commit(sha))
        st = ss_fail(SS_ERR_FORMAT, "%s: the hub's answer for revision '%s' has no 40-hex 'sha' (%s)", h->repo,
                     h->revision, url);
    else
        hub_set_commit(h, sha);
    json_decref(info);
    return st;
}

/* A listed path must stay inside the output folder. */
static int safe_rel_path(const char *p) {
    if (!p[0] || p[0] == '/' || strchr(p, '\\')) return 0;
    for (const char *seg = p; seg;) {
        const char *slash = strchr(seg, '/');
        size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
        if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.')) return 0;
        seg = slash ? slash + 1 : NULL;
    }
    return strcmp(p, HUB_MANIFEST_NAME) != 0;
}

static char *dup_str(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

ss_status hub_listing_add(ss_hub_listing *l, int *cap, const char *path, int64_t size, const char *git_oid,
                          const char *lfs_sha256, const char *where) {
    if (!safe_rel_path(path)) return ss_fail(SS_ERR_FORMAT, "%s: refusing unsafe file path '%s'", where, path);
    if (l->n == *cap) {
        int ncap = *cap ? *cap * 2 : 16;
        ss_hub_file *f = realloc(l->files, (size_t)ncap * sizeof *f);
        if (!f) return ss_fail(SS_ERR_NOMEM, "%s: out of memory for the listing", where);
        l->files = f;
        *cap = ncap;
    }
    ss_hub_file *f = &l->files[l->n];
    *f = (ss_hub_file){dup_str(path), size, dup_str(git_oid), dup_str(lfs_sha256)};
    if (!f->path || (git_oid && !f->git_oid) || (lfs_sha256 && !f->lfs_sha256)) {
        free(f->path);
        free(f->git_oid);
        free(f->lfs_sha256);
        return ss_fail(SS_ERR_NOMEM, "%s: out of memory for the listing", where);
    }
    l->n++;
    return SS_OK;
}

ss_status hub_listing_add_json(ss_hub_listing *l, int *cap, const json_t *e, const char *where) {
    const char *type = json_string_value(json_object_get(e, "type"));
    if (!type) return ss_fail(SS_ERR_FORMAT, "%s: listing entry without a 'type'", where);
    if (strcmp(type, "file") != 0) return SS_OK; /* directories */
    const char *path;
    SS_TRY(ss_json_str(e, "path", where, &path));
    int64_t size = -1;
    SS_TRY(ss_json_int_opt(e, "size", path, &size));
    const char *oid = json_string_value(json_object_get(e, "oid"));
    const json_t *lfs = json_object_get(e, "lfs");
    const char *sha = NULL;
    if (json_is_object(lfs)) {
        sha = json_string_value(json_object_get(lfs, "oid"));
        if (sha && strncmp(sha, "sha256:", 7) == 0) sha += 7;
        if (sha && !hub_is_hex(sha, 64))
            return ss_fail(SS_ERR_FORMAT, "%s: '%s' has a malformed lfs.oid '%s'", where, path, sha);
        SS_TRY(ss_json_int_opt(lfs, "size", path, &size));
        oid = NULL; /* the pointer file's blob id, not the content's */
    }
    if (oid && !hub_is_commit(oid)) oid = NULL; /* not a git SHA-1: nothing to check against */
    return hub_listing_add(l, cap, path, size, oid, sha, where);
}
/* From a Link header, the URL marked rel="next" (resolved against base), or "". */
static void link_next(const char *link, const char *base, char *out, size_t cap) {
    out[0] = '\0';
    const char *p = link;
    while ((p = strchr(p, '<')) != NULL) {
        const char *end = strchr(p, '>');
        if (!end) return;
        const char *params = end + 1, *stop = strchr(params, '<');
        size_t plen = stop ? (size_t)(stop - params) : strlen(params);
        char pbuf[512];
        snprintf(pbuf, sizeof pbuf, "%.*s", (int)(plen < sizeof pbuf ? plen : sizeof pbuf - 1), params);
        if (strstr(pbuf, "rel=\"next\"") || strstr(pbuf, "rel=next")) {
            char rel[8192];
            snprintf(rel, sizeof rel, "%.*s", (int)(end - p - 1), p + 1);
            CURLU *u = curl_url();
            char *full = NULL;
            if (u && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
                curl_url_set(u, CURLUPART_URL, rel, 0) == CURLUE_OK &&
                curl_url_get(u, CURLUPART_URL, &full, 0) == CURLUE_OK)
                snprintf(out, cap, "%s", full);
            curl_free(full);
            curl_url_cleanup(u);
            return;
        }
        p = end + 1;
    }
}

ss_status hub_list_files(hub *h, ss_hub_listing *out) {
    char url[8192], next[8192];
    memset(out, 0, sizeof *out);
    if ((size_t)snprintf(url, sizeof url, "%s/api/models/%s/tree/%s?recursive=true", h->endpoint, h->repo,
                         h->commit) >= sizeof url)
        return ss_fail(SS_ERR_ARG, "%s: URL too long", h->repo);
    int cap = 0;
    ss_status st = SS_OK;
    for (int page = 0; st == SS_OK && url[0]; page++) {
        if (page >= MAX_PAGES) {
            st = ss_fail(SS_ERR_FORMAT, "%s: listing has more than %d pages", h->repo, MAX_PAGES);
            break;
        }
        json_t *arr = NULL;
        resp r;
        st = hub_get_json(h, url, h->repo, &arr, &r);
        if (st != SS_OK) break;
        if (!json_is_array(arr)) st = ss_fail(SS_ERR_FORMAT, "%s: listing is not a JSON array", url);
        size_t i;
        json_t *e;
        json_array_foreach(arr, i, e) {
            if (st == SS_OK) st = hub_listing_add_json(out, &cap, e, url);
        }
        json_decref(arr);
        link_next(r.link, url, next, sizeof next);
        snprintf(url, sizeof url, "%s", next);
    }
    if (st != SS_OK) ss_hub_listing_free(out);
    return st;
}

void ss_hub_listing_free(ss_hub_listing *l) {
    for (int i = 0; i < l->n; i++) {
        free(l->files[i].path);
        free(l->files[i].git_oid);
        free(l->files[i].lfs_sha256);
    }
    free(l->files);
    l->files = NULL;
    l->n = 0;
}

ss_status ss_hub_list(const char *repo_id, const ss_hub_options *opt, ss_hub_listing *out) {
    memset(out, 0, sizeof *out);
    hub h;
    ss_status st = hub_open(&h, repo_id, opt);
    if (st == SS_OK && h.offline) {
        int complete = 0;
        st = hub_cache_resolve_commit(&h);
        if (st == SS_OK) st = hub_cache_list(&h, out, &complete);
    } else if (st == SS_OK) {
        st = hub_resolve_commit(&h);
        if (st == SS_OK) st = hub_list_files(&h, out);
    }
    if (st == SS_OK) memcpy(out->commit, h.commit, sizeof out->commit);
    hub_close(&h);
    return st;
}
