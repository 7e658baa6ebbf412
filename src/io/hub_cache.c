/* The user's Hugging Face cache, read and never written: huggingface_hub's
 * layout (file_download.py, _snapshot_download.py, _tree_cache.py):
 *
 *   <root>/models--<org>--<name>/
 *       blobs/<hash>                     the content; <hash> is the file's ETag:
 *                                        the SHA-256 of an LFS file, the git
 *                                        blob SHA-1 of any other
 *       snapshots/<commit>/<path>        -> ../../blobs/<hash> (a copy where the
 *                                        file system has no symlinks)
 *       refs/<revision>                  the commit a branch or tag had when
 *                                        it was last downloaded
 *       trees/<commit>.json              the commit's listing (recent
 *                                        huggingface_hub versions)
 *
 * <root> is $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub,
 * else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
 *
 * A cached file is used only once its size and hash match the listing's.
 * LFS files (the weights) are hard-linked when the cache is on the same file
 * system, so 4.8 GB are not copied; our tools never write a file in place,
 * and hub_fetch_file never writes through a file with other links. Small
 * files (config.json, the tokenizer: what a user may edit) are copied. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/jsonutil.h"
#include "core/log.h"
#include "io/hub_internal.h"

#define TREE_CACHE_FORMAT_VERSION 1
#define MAX_SNAPSHOT_DEPTH 32
#define VERIFY_NOTE_BYTES ((int64_t)64 << 20) /* hashing this much takes a noticeable while: say so */

/* ---------------------------------------------------------------- where */

/* "~/x" with $HOME; other values as they are. */
static ss_status expand_home(const char *v, const char *what, char *out, size_t cap) {
    const char *home = getenv("HOME");
    int n = v[0] == '~' && (v[1] == '/' || v[1] == '\0') && home ? snprintf(out, cap, "%s%s", home, v + 1)
                                                                  : snprintf(out, cap, "%s", v);
    if (n < 0 || (size_t)n >= cap) return ss_fail(SS_ERR_ARG, "%s: path too long", what);
    return SS_OK;
}

ss_status hub_cache_locate(hub *h) {
    char base[4096];
    const char *v;
    h->cache_root[0] = h->cache_repo[0] = '\0';
    if ((v = getenv("HF_HUB_CACHE")) && v[0]) {
        SS_TRY(expand_home(v, "HF_HUB_CACHE", h->cache_root, sizeof h->cache_root));
    } else if ((v = getenv("HUGGINGFACE_HUB_CACHE")) && v[0]) {
        SS_TRY(expand_home(v, "HUGGINGFACE_HUB_CACHE", h->cache_root, sizeof h->cache_root));
    } else {
        if ((v = getenv("HF_HOME")) && v[0]) {
            SS_TRY(expand_home(v, "HF_HOME", base, sizeof base));
        } else if ((v = getenv("XDG_CACHE_HOME")) && v[0]) {
            char xdg[4096];
            SS_TRY(expand_home(v, "XDG_CACHE_HOME", xdg, sizeof xdg));
            SS_TRY(ss_path_join(base, sizeof base, xdg, "huggingface"));
        } else if ((v = getenv("HOME")) && v[0]) {
            SS_TRY(ss_path_join(base, sizeof base, v, ".cache/huggingface"));
        } else {
            return SS_OK; /* no cache to look in */
        }
        SS_TRY(ss_path_join(h->cache_root, sizeof h->cache_root, base, "hub"));
    }
    char folder[512];
    int n = snprintf(folder, sizeof folder, "models--%s", h->repo);
    if (n < 0 || (size_t)n >= sizeof folder) return ss_fail(SS_ERR_ARG, "%s: repo id too long", h->repo);
    /* "org/name" -> "models--org--name" */
    char name[600] = "";
    size_t used = 0;
    for (const char *p = folder; *p && used + 3 < sizeof name; p++) {
        if (*p == '/') {
            memcpy(name + used, "--", 2);
            used += 2;
        } else {
            name[used++] = *p;
        }
    }
    name[used] = '\0';
    return ss_path_join(h->cache_repo, sizeof h->cache_repo, h->cache_root, name);
}

/* ---------------------------------------------------------------- reuse */

/* Copies src to dst hashing on the way: *ok once dst holds exactly the
 * listed content (else dst is removed). dst is our own partial file. */
static ss_status copy_verified(const char *src, const ss_hub_file *f, const char *dst, int *ok) {
    *ok = 0;
    FILE *in = fopen(src, "rb");
    if (!in) return ss_fail_errno("cannot open %s", src);
    FILE *out = fopen(dst, "wb");
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    enum { CHUNK = 1 << 20 };
    char *buf = malloc(CHUNK);
    ss_status st = SS_OK;
    if (!out)
        st = ss_fail_errno("cannot create %s", dst);
    else if (!md || !buf)
        st = ss_fail(SS_ERR_NOMEM, "%s: no memory to copy it", dst);
    else
        st = hub_hash_init(md, f);
    int64_t n = 0;
    size_t got;
    while (st == SS_OK && (got = fread(buf, 1, CHUNK, in)) > 0) {
        EVP_DigestUpdate(md, buf, got);
        n += (int64_t)got;
        if (fwrite(buf, 1, got, out) != got) st = ss_fail_errno("cannot write %s", dst);
    }
    if (st == SS_OK && ferror(in)) st = ss_fail(SS_ERR_IO, "cannot read %s", src);
    if (out && fclose(out) != 0 && st == SS_OK) st = ss_fail_errno("cannot write %s", dst);
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    if (st == SS_OK) *ok = n == f->size && hub_hash_matches(md, f, hex, sizeof hex);
    if (out && !*ok) unlink(dst);
    fclose(in);
    free(buf);
    EVP_MD_CTX_free(md);
    return st;
}

ss_status hub_cache_take(hub *h, const ss_hub_file *f, const char *disk, int *taken, const char **how) {
    *taken = 0;
    *how = "";
    if (!h->cache_repo[0] || !hub_can_verify(f) || f->size < 0 || !ss_is_dir(h->cache_repo)) return SS_OK;
    char cand[2][8400];
    int nc = 0;
    if (h->commit[0] && snprintf(cand[nc], sizeof cand[nc], "%s/snapshots/%s/%s", h->cache_repo, h->commit,
                                 f->path) < (int)sizeof cand[nc])
        nc++;
    if (snprintf(cand[nc], sizeof cand[nc], "%s/blobs/%s", h->cache_repo, f->lfs_sha256 ? f->lfs_sha256 : f->git_oid) <
        (int)sizeof cand[nc])
        nc++;
    dev_t seen_dev = 0;
    ino_t seen_ino = 0;
    for (int c = 0; c < nc; c++) {
        struct stat sb;
        if (stat(cand[c], &sb) != 0 || !S_ISREG(sb.st_mode) || (int64_t)sb.st_size != f->size) continue;
        if (c > 0 && sb.st_dev == seen_dev && sb.st_ino == seen_ino) continue; /* the snapshot's blob, again */
        seen_dev = sb.st_dev;
        seen_ino = sb.st_ino;
        int match = 0;
        char size[32];
        if (!h->quiet && f->size >= VERIFY_NOTE_BYTES)
            ss_info("  %s: verifying the Hugging Face cache's copy (%s)", f->path,
                    hub_human((double)f->size, size, sizeof size));
        SS_TRY(hub_hash_file(cand[c], f, &match));
        if (!match) {
            if (!h->quiet)
                ss_warn("%s: the Hugging Face cache's %s does not match the listing's %s; not using it", f->path,
                        cand[c], f->lfs_sha256 ? "SHA-256" : "git blob SHA-1");
            continue;
        }
        /* What a previous run left at disk is ours: replaced. */
        if (unlink(disk) != 0 && errno != ENOENT) return ss_fail_errno("cannot remove %s", disk);
        if (f->lfs_sha256 && linkat(AT_FDCWD, cand[c], AT_FDCWD, disk, AT_SYMLINK_FOLLOW) == 0) {
            *taken = 1;
            *how = "hard-linked";
            return SS_OK;
        }
        /* Another file system, or not allowed to link (fs.protected_hardlinks):
         * copy, verifying again what is written. */
        int ok = 0;
        SS_TRY(copy_verified(cand[c], f, disk, &ok));
        if (ok) {
            *taken = 1;
            *how = "copied";
            return SS_OK;
        }
        if (!h->quiet) ss_warn("%s: %s changed while it was copied; not using it", f->path, cand[c]);
    }
    return SS_OK;
}

/* ---------------------------------------------------------------- offline */

/* A revision as a path under refs/ ("main", "v1.0", "refs/pr/1"). */
static int safe_ref(const char *rev) {
    if (!rev[0] || rev[0] == '/' || strstr(rev, "..") || strchr(rev, '\\')) return 0;
    return 1;
}

static ss_status not_cached(const hub *h, const char *why) {
    return ss_fail(SS_ERR_NET,
                   "%s@%s: HF_HUB_OFFLINE is set and the Hugging Face cache %s %s; unset HF_HUB_OFFLINE to download "
                   "it (or fill the cache with `hf download %s`)",
                   h->repo, h->revision, h->cache_root[0] ? h->cache_root : "(none: HOME is not set)", why, h->repo);
}

ss_status hub_cache_resolve_commit(hub *h) {
    char p[8400];
    if (!h->cache_repo[0] || !ss_is_dir(h->cache_repo)) return not_cached(h, "has no copy of the repo");
    if (hub_is_commit(h->revision)) {
        hub_set_commit(h, h->revision);
        snprintf(p, sizeof p, "%s/snapshots/%s", h->cache_repo, h->commit);
        return ss_is_dir(p) ? SS_OK : not_cached(h, "has no snapshot of that commit");
    }
    if (!safe_ref(h->revision)) return ss_fail(SS_ERR_ARG, "revision '%s' cannot be a cache ref", h->revision);
    snprintf(p, sizeof p, "%s/refs/%s", h->cache_repo, h->revision);
    if (!ss_path_exists(p)) return not_cached(h, "has no refs/ entry for that revision");
    char *text = NULL;
    size_t n = 0;
    SS_TRY(ss_read_file(p, &text, &n));
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r' || text[n - 1] == ' ')) text[--n] = '\0';
    ss_status st = hub_is_commit(text) ? SS_OK : ss_fail(SS_ERR_FORMAT, "%s: not a commit hash", p);
    if (st == SS_OK) hub_set_commit(h, text);
    free(text);
    return st;
}

/* trees/<commit>.json into out; *found = 0 if there is none we can read. */
static ss_status list_from_tree_cache(hub *h, ss_hub_listing *out, int *found) {
    char p[8400];
    *found = 0;
    snprintf(p, sizeof p, "%s/trees/%s.json", h->cache_repo, h->commit);
    if (!ss_path_exists(p)) return SS_OK;
    json_t *j = NULL;
    SS_TRY(ss_json_load(p, &j));
    json_t *files = json_object_get(j, "files");
    if (json_integer_value(json_object_get(j, "format_version")) != TREE_CACHE_FORMAT_VERSION ||
        !json_is_object(files)) {
        if (!h->quiet) ss_warn("%s: not a tree listing this client knows (format_version 1); ignored", p);
        json_decref(j);
        return SS_OK;
    }
    int cap = 0;
    ss_status st = SS_OK;
    const char *path;
    json_t *e;
    json_object_foreach(files, path, e) {
        if (st != SS_OK) break;
        int64_t size = -1, lfs_size = -1;
        const char *blob = json_string_value(json_object_get(e, "blob_id"));
        const char *sha = json_string_value(json_object_get(e, "lfs_sha256"));
        st = ss_json_int(e, "size", p, &size);
        if (st == SS_OK) st = ss_json_int_opt(e, "lfs_size", p, &lfs_size);
        if (st == SS_OK && sha && !hub_is_hex(sha, 64))
            st = ss_fail(SS_ERR_FORMAT, "%s: '%s' has a malformed lfs_sha256", p, path);
        if (st == SS_OK)
            st = hub_listing_add(out, &cap, path, sha && lfs_size >= 0 ? lfs_size : size,
                                 !sha && blob && hub_is_commit(blob) ? blob : NULL, sha, p);
    }
    json_decref(j);
    if (st != SS_OK) {
        ss_hub_listing_free(out);
        return st;
    }
    *found = 1;
    return SS_OK;
}

/* Appends every file under dir (rel: its path in the repo, "" at the top).
 * A file's hash is the name of the blob its symlink points to. */
static ss_status walk_snapshot(const char *dir, const char *rel, int depth, ss_hub_listing *out, int *cap) {
    if (depth > MAX_SNAPSHOT_DEPTH) return ss_fail(SS_ERR_FORMAT, "%s: folders nested too deep", dir);
    DIR *d = opendir(dir);
    if (!d) return ss_fail_errno("cannot read %s", dir);
    ss_status st = SS_OK;
    struct dirent *de;
    while (st == SS_OK && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        char full[8400], sub[4096];
        if (snprintf(full, sizeof full, "%s/%s", dir, de->d_name) >= (int)sizeof full ||
            snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", de->d_name) >= (int)sizeof sub) {
            st = ss_fail(SS_ERR_ARG, "%s/%s: path too long", dir, de->d_name);
            break;
        }
        struct stat sb, lsb;
        if (lstat(full, &lsb) != 0 || stat(full, &sb) != 0) {
            st = ss_fail_errno("%s: a broken link in the cache", full);
            break;
        }
        if (S_ISDIR(sb.st_mode)) {
            st = walk_snapshot(full, sub, depth + 1, out, cap);
            continue;
        }
        char target[4096] = "";
        ssize_t n = S_ISLNK(lsb.st_mode) ? readlink(full, target, sizeof target - 1) : -1;
        if (n > 0) target[n] = '\0';
        const char *blob = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
        int lfs = hub_is_hex(blob, 64), git = hub_is_commit(blob);
        if (!lfs && !git) {
            st = ss_fail(SS_ERR_NET,
                         "%s in the Hugging Face cache is not a link to a blob named by its hash, so offline there "
                         "is nothing to verify it against; download it with the network once",
                         full);
            break;
        }
        st = hub_listing_add(out, cap, sub, (int64_t)sb.st_size, git ? blob : NULL, lfs ? blob : NULL, dir);
    }
    closedir(d);
    return st;
}

static int by_path(const void *a, const void *b) {
    return strcmp(((const ss_hub_file *)a)->path, ((const ss_hub_file *)b)->path);
}

ss_status hub_cache_list(hub *h, ss_hub_listing *out, int *complete) {
    memset(out, 0, sizeof *out);
    *complete = 0;
    int found = 0;
    SS_TRY(list_from_tree_cache(h, out, &found));
    if (found) {
        *complete = 1;
        return SS_OK;
    }
    char snap[8400];
    snprintf(snap, sizeof snap, "%s/snapshots/%s", h->cache_repo, h->commit);
    if (!ss_is_dir(snap)) return not_cached(h, "has no snapshot of its commit");
    int cap = 0;
    ss_status st = walk_snapshot(snap, "", 0, out, &cap);
    if (st != SS_OK) {
        ss_hub_listing_free(out);
        return st;
    }
    if (out->n == 0) return not_cached(h, "has an empty snapshot of it");
    qsort(out->files, (size_t)out->n, sizeof *out->files, by_path);
    return SS_OK;
}
