/* ss_hub_download: resolve the revision to a commit, list that commit, fill
 * "<out>.partial" file by file (cache or network, see hub_file.c), and
 * rename it to <out> once every file is verified. The folder's manifest
 * (.slidesparse-download.json) records repo, revision, commit and every
 * file's size and hash, so a later run can say "already complete" without
 * the network. */
#include "io/hub.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/fsutil.h"
#include "core/jsonutil.h"
#include "core/log.h"
#include "core/timer.h"
#include "io/hub_internal.h"

/* Where the listing came from, as the manifest records it. A snapshot
 * folder of the cache may hold fewer files than the repo. */
#define SOURCE_HUB "hub"
#define SOURCE_CACHE_TREE "cache-tree"
#define SOURCE_CACHE_SNAPSHOT "cache-snapshot"
/* the one object resolve_and_list points at for a snapshot-only listing (compared by address) */
static const char k_source_snapshot[] = SOURCE_CACHE_SNAPSHOT;

static json_t *manifest_json(const hub *h, const ss_hub_listing *l, const char *source) {
    json_t *files = json_array();
    for (int i = 0; i < l->n; i++) {
        const ss_hub_file *f = &l->files[i];
        json_t *e = json_pack("{s:s, s:I}", "path", f->path, "size", (json_int_t)f->size);
        if (f->lfs_sha256) json_object_set_new(e, "sha256", json_string(f->lfs_sha256));
        if (f->git_oid) json_object_set_new(e, "git_oid", json_string(f->git_oid));
        json_array_append_new(files, e);
    }
    return json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:o}", "format_version", 1, "repo", h->repo, "revision",
                     h->revision, "commit", h->commit, "endpoint", h->endpoint, "listing", source, "files", files);
}

/* Does a manifest say this folder is h's repo at h's revision (the same
 * name, or the commit it was resolved to)? */
static int manifest_is_ours(const hub *h, const json_t *m) {
    const char *repo = json_string_value(json_object_get(m, "repo"));
    const char *rev = json_string_value(json_object_get(m, "revision"));
    const char *commit = json_string_value(json_object_get(m, "commit"));
    if (!repo || strcmp(repo, h->repo) != 0) return 0;
    return (rev && strcmp(rev, h->revision) == 0) ||
           (commit && hub_is_commit(h->revision) && strcasecmp(commit, h->revision) == 0);
}

/* The listing for h, online or from the cache; *source says which. */
static ss_status resolve_and_list(hub *h, ss_hub_listing *l, const char **source) {
    if (!h->offline) {
        *source = SOURCE_HUB;
        SS_TRY(hub_resolve_commit(h));
        return hub_list_files(h, l);
    }
    int complete = 0;
    SS_TRY(hub_cache_resolve_commit(h));
    SS_TRY(hub_cache_list(h, l, &complete));
    *source = complete ? SOURCE_CACHE_TREE : k_source_snapshot;
    return SS_OK;
}

/* The files a manifest lists (its entries have the listing's shape). */
static ss_status manifest_listing(const json_t *m, const char *mpath, ss_hub_listing *l) {
    const json_t *files = json_object_get(m, "files");
    if (!json_is_array(files)) return ss_fail(SS_ERR_FORMAT, "%s: no 'files' array", mpath);
    size_t i;
    json_t *e;
    int cap = 0;
    ss_status st = SS_OK;
    json_array_foreach(files, i, e) {
        json_t *entry = json_pack("{s:s, s:O?, s:O?}", "type", "file", "path", json_object_get(e, "path"), "size",
                                  json_object_get(e, "size"));
        if (st == SS_OK)
            st = entry ? hub_listing_add_json(l, &cap, entry, mpath) : ss_fail(SS_ERR_FORMAT, "%s: bad entry", mpath);
        json_decref(entry);
    }
    if (st != SS_OK) ss_hub_listing_free(l);
    return st;
}

/* out_dir exists: succeed if it holds every file of the download at its
 * recorded size. Uses the manifest when there is one (no network needed),
 * except that a copy of a cache snapshot (maybe not the whole repo) is
 * checked against the hub's listing when online. */
static ss_status check_existing(hub *h, const char *out_dir) {
    char mpath[4096];
    SS_TRY(ss_path_join(mpath, sizeof mpath, out_dir, HUB_MANIFEST_NAME));
    ss_hub_listing l = {0};
    json_t *m = NULL;
    const char *source = NULL;
    int use_manifest = 0;
    if (ss_path_exists(mpath)) {
        SS_TRY(ss_json_load(mpath, &m));
        const char *repo = json_string_value(json_object_get(m, "repo"));
        const char *rev = json_string_value(json_object_get(m, "revision"));
        if (!manifest_is_ours(h, m)) {
            ss_status st = ss_fail(SS_ERR_ARG, "%s already holds %s@%s, not %s@%s; remove it or choose another folder",
                                   out_dir, repo ? repo : "?", rev ? rev : "?", h->repo, h->revision);
            json_decref(m);
            return st;
        }
        const char *was = json_string_value(json_object_get(m, "listing"));
        const char *commit = json_string_value(json_object_get(m, "commit"));
        if (commit && hub_is_commit(commit)) hub_set_commit(h, commit);
        use_manifest = h->offline || !was || strcmp(was, SOURCE_CACHE_SNAPSHOT) != 0;
    }
    ss_status st = use_manifest ? manifest_listing(m, mpath, &l) : resolve_and_list(h, &l, &source);
    json_decref(m);
    if (st != SS_OK) return st;
    for (int i = 0; i < l.n && st == SS_OK; i++) {
        char p[4096];
        st = ss_path_join(p, sizeof p, out_dir, l.files[i].path);
        int64_t sz = ss_file_size(p);
        if (st == SS_OK && (sz < 0 || (l.files[i].size >= 0 && sz != l.files[i].size)))
            st = ss_fail(SS_ERR_IO,
                         "%s exists but is not a complete download of %s: %s is %s; remove it to download again",
                         out_dir, h->repo, l.files[i].path, sz < 0 ? "missing" : "the wrong size");
    }
    if (st == SS_OK && !h->quiet)
        ss_info("%s: already complete (%s@%s%s%.12s, %d file%s)", out_dir, h->repo, h->revision,
                h->commit[0] ? ", commit " : "", h->commit, l.n, l.n == 1 ? "" : "s");
    ss_hub_listing_free(&l);
    return st;
}

ss_status ss_hub_download(const char *repo_id, const char *out_dir, const ss_hub_options *opt) {
    if (!out_dir || !out_dir[0]) return ss_fail(SS_ERR_ARG, "download: no output folder given");
    char out[4096], partial[4200], mpath[4300];
    size_t n = strlen(out_dir);
    while (n > 1 && out_dir[n - 1] == '/') n--;
    if (n >= sizeof out) return ss_fail(SS_ERR_ARG, "%s: path too long", out_dir);
    memcpy(out, out_dir, n);
    out[n] = '\0';
    snprintf(partial, sizeof partial, "%s.partial", out);
    snprintf(mpath, sizeof mpath, "%s/%s", partial, HUB_MANIFEST_NAME);

    /* a file at --out is the user's: refused as a bad argument (exit 2) before any network traffic */
    if (ss_path_exists(out) && !ss_is_dir(out))
        return ss_fail(SS_ERR_ARG, "%s exists and is not a folder; it is kept (choose another --out)", out);
    hub h;
    ss_status st = hub_open(&h, repo_id, opt);
    if (st != SS_OK) {
        hub_close(&h);
        return st;
    }
    if (ss_path_exists(out)) {
        st = check_existing(&h, out);
        hub_close(&h);
        return st;
    }
    ss_hub_listing l = {0};
    const char *source = SOURCE_HUB;
    st = resolve_and_list(&h, &l, &source);
    if (st == SS_OK && l.n == 0)
        st = ss_fail(SS_ERR_NET, "%s: the hub lists no files at revision '%s' (commit %s)", h.repo, h.revision,
                     h.commit);
    if (st == SS_OK && source == k_source_snapshot && !h.quiet)
        ss_warn("%s: the cache has no listing of commit %.12s (trees/%s.json), so the %d file%s of its snapshot are "
                "copied; the repo may hold more",
                h.repo, h.commit, h.commit, l.n, l.n == 1 ? "" : "s");

    /* Resume a partial folder unless its manifest says it holds another repo
     * or revision (without one, the files are kept: each is verified anyway). */
    int resuming = 0;
    if (st == SS_OK && ss_is_dir(partial)) {
        json_t *old = NULL;
        int other = ss_path_exists(mpath) && (ss_json_load(mpath, &old) != SS_OK || !manifest_is_ours(&h, old));
        json_decref(old);
        if (other) {
            if (!h.quiet) ss_warn("%s holds another download; starting afresh", partial);
            st = ss_rm_rf(partial);
        } else {
            resuming = 1;
        }
    }
    if (st == SS_OK) st = ss_mkdir_p(partial);
    if (st == SS_OK) {
        json_t *m = manifest_json(&h, &l, source);
        st = m ? ss_json_save(mpath, m) : ss_fail(SS_ERR_NOMEM, "%s: cannot build the manifest", mpath);
        json_decref(m);
    }
    int64_t total = 0;
    for (int i = 0; i < l.n; i++) total += l.files[i].size > 0 ? l.files[i].size : 0;
    if (st == SS_OK && !h.quiet) {
        char size[32];
        hub_human((double)total, size, sizeof size);
        if (h.offline)
            ss_info("copying %s@%s (commit %s, %d file%s, %s) from the Hugging Face cache %s (HF_HUB_OFFLINE)%s%s",
                    h.repo, h.revision, h.commit, l.n, l.n == 1 ? "" : "s", size, h.cache_repo,
                    resuming ? ", resuming in " : "", resuming ? partial : "");
        else
            ss_info("downloading %s@%s (commit %s, %d file%s, %s) from %s%s%s%s%s", h.repo, h.revision, h.commit, l.n,
                    l.n == 1 ? "" : "s", size, h.endpoint, ss_is_dir(h.cache_repo) ? ", reusing what is verified in " : "",
                    ss_is_dir(h.cache_repo) ? h.cache_repo : "", resuming ? ", resuming in " : "",
                    resuming ? partial : "");
    }
    double t0 = ss_now();
    for (int i = 0; i < l.n && st == SS_OK; i++) st = hub_fetch_file(&h, &l.files[i], partial, i + 1, l.n);
    if (st == SS_OK) st = ss_dir_commit(partial, out);
    if (st == SS_OK && !h.quiet)
        ss_info("%s: complete, %d file%s verified in %.1f s (%s@%s = commit %s)", out, l.n, l.n == 1 ? "" : "s",
                ss_now() - t0, h.repo, h.revision, h.commit);
    if (st != SS_OK && !h.quiet && ss_is_dir(partial))
        ss_info("(what was fetched is kept in %s; the same command resumes from it)", partial);
    ss_hub_listing_free(&l);
    hub_close(&h);
    return st;
}
