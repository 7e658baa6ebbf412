/* One listed file onto disk: from the Hugging Face cache when it holds the
 * file, else streamed from {endpoint}/{repo}/resolve/{commit}/{quote(path)}
 * (for LFS files a 302 to a CDN host), resuming with Range, checking the
 * size and hash the listing gives. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/log.h"
#include "core/timer.h"
#include "io/hub_internal.h"

#define TTY_PERIOD_S 0.25

/* ---------------------------------------------------------------- hashes */

int hub_can_verify(const ss_hub_file *f) { return f->lfs_sha256 || (f->git_oid && f->size >= 0); }

ss_status hub_hash_init(EVP_MD_CTX *md, const ss_hub_file *f) {
    const EVP_MD *alg = f->lfs_sha256 ? EVP_sha256() : EVP_sha1();
    if (EVP_DigestInit_ex(md, alg, NULL) != 1) return ss_fail(SS_ERR_INTERNAL, "%s: EVP_DigestInit failed", f->path);
    if (!f->lfs_sha256) {
        char hdr[64];
        int n = snprintf(hdr, sizeof hdr, "blob %lld", (long long)f->size);
        EVP_DigestUpdate(md, hdr, (size_t)n + 1); /* the NUL is part of git's header */
    }
    return SS_OK;
}

int hub_hash_matches(EVP_MD_CTX *md, const ss_hub_file *f, char *got, size_t cap) {
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_DigestFinal_ex(md, d, &n);
    if (2 * (size_t)n + 1 > cap) return 0;
    for (unsigned i = 0; i < n; i++) snprintf(got + 2 * i, 3, "%02x", d[i]);
    const char *want = f->lfs_sha256 ? f->lfs_sha256 : f->git_oid;
    return want && strcasecmp(got, want) == 0;
}

/* Feeds the first n bytes of the file at path into md. */
static ss_status hash_prefix(EVP_MD_CTX *md, const char *path, int64_t n) {
    FILE *in = fopen(path, "rb");
    if (!in) return ss_fail_errno("cannot open %s", path);
    enum { CHUNK = 1 << 20 };
    char *buf = malloc(CHUNK);
    if (!buf) {
        fclose(in);
        return ss_fail(SS_ERR_NOMEM, "%s: no memory for a read buffer", path);
    }
    int64_t left = n;
    while (left > 0) {
        size_t want = left < CHUNK ? (size_t)left : CHUNK, got = fread(buf, 1, want, in);
        if (got == 0) break;
        EVP_DigestUpdate(md, buf, got);
        left -= (int64_t)got;
    }
    free(buf);
    int bad = ferror(in) || left != 0;
    fclose(in);
    return bad ? ss_fail(SS_ERR_IO, "cannot read %s", path) : SS_OK;
}

ss_status hub_hash_file(const char *path, const ss_hub_file *f, int *match) {
    *match = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md) return ss_fail(SS_ERR_NOMEM, "%s: cannot create a hash context", f->path);
    char got[2 * EVP_MAX_MD_SIZE + 1];
    int64_t size = ss_file_size(path);
    ss_status st = size == f->size ? hub_hash_init(md, f) : SS_OK;
    if (st == SS_OK && size == f->size) st = hash_prefix(md, path, size);
    if (st == SS_OK && size == f->size) *match = hub_hash_matches(md, f, got, sizeof got);
    EVP_MD_CTX_free(md);
    return st;
}

/* ---------------------------------------------------------------- progress */

/* "512 B", "12.3 KB", "4.5 MB", "1.23 GB" */
const char *hub_human(double bytes, char *buf, size_t cap) {
    if (bytes < 1e3)
        snprintf(buf, cap, "%.0f B", bytes);
    else if (bytes < 1e6)
        snprintf(buf, cap, "%.1f KB", bytes / 1e3);
    else if (bytes < 1e9)
        snprintf(buf, cap, "%.1f MB", bytes / 1e6);
    else
        snprintf(buf, cap, "%.2f GB", bytes / 1e9);
    return buf;
}

/* A file being downloaded: bytes [0, have) are on disk and in the hash. */
typedef struct fsink {
    const ss_hub_file *file;
    const char *disk_path;
    hub *h;
    int index, count;  /* [index/count] in progress lines */
    FILE *fp;          /* opened for appending */
    EVP_MD_CTX *md;    /* SHA-256 (LFS) or git blob SHA-1; NULL: size only */
    int64_t have;
    const resp *r;     /* the response being received */
    int body_started;  /* first body bytes of this response seen */
    int writing;       /* this response's body goes to the file */
    ss_status err;     /* a local failure inside the callback */
    double t0, last_print;
    int64_t last_have; /* have at the last progress line */
    int64_t bytes_this_run;
} fsink;

/* On a terminal one live line, redrawn every TTY_PERIOD_S; otherwise (the
 * pipeline's log) a line every progress period or every tenth of the file,
 * whichever comes first, but not more often than a fifth of the period. */
static void print_progress(fsink *s) {
    const hub *h = s->h;
    if (h->quiet) return;
    double now = ss_now(), since = now - s->last_print, dt = now - s->t0;
    int64_t size = s->file->size;
    if (size >= 0 && s->have >= size) return; /* the final line follows */
    if (h->tty) {
        if (since < TTY_PERIOD_S) return;
    } else {
        int tenth = size > 0 && (s->have - s->last_have) * 10 >= size;
        if (since < h->progress_period_s && !(tenth && since >= h->progress_period_s / 5)) return;
    }
    s->last_print = now;
    s->last_have = s->have;
    double rate = dt > 0 ? (double)s->bytes_this_run / dt : 0.0;
    char done[32], total[32], speed[32], left[48] = "";
    hub_human(rate, speed, sizeof speed);
    hub_human((double)s->have, done, sizeof done);
    hub_human((double)(size >= 0 ? size : s->have), total, sizeof total);
    if (size > 0 && rate > 0) snprintf(left, sizeof left, ", %.0f s left", (double)(size - s->have) / rate);
    double pct = size > 0 ? 100.0 * (double)s->have / (double)size : 0.0;
    if (h->tty) {
        fprintf(stderr, "\r  [%d/%d] %s  %s / %s (%.0f%%)  %s/s%s\033[K", s->index, s->count, s->file->path, done,
                total, pct, speed, left);
        fflush(stderr);
    } else {
        ss_info("  [%d/%d] %s  %s / %s (%.0f%%)  %s/s%s", s->index, s->count, s->file->path, done, total, pct, speed,
                left);
    }
}

static void print_done(const fsink *s) {
    const hub *h = s->h;
    if (h->quiet) return;
    double dt = ss_now() - s->t0;
    char total[32], speed[32];
    hub_human((double)(s->file->size >= 0 ? s->file->size : s->have), total, sizeof total);
    hub_human(dt > 0 ? (double)s->bytes_this_run / dt : 0.0, speed, sizeof speed);
    if (h->tty) fprintf(stderr, "\r\033[K");
    if (s->bytes_this_run == 0)
        ss_info("  [%d/%d] %s  %s  already here, verified", s->index, s->count, s->file->path, total);
    else
        ss_info("  [%d/%d] %s  %s  done, %s/s%s", s->index, s->count, s->file->path, total, speed,
                s->bytes_this_run < s->have ? "  (resumed)" : "");
}

/* ---------------------------------------------------------------- transfer */

static ss_status hash_restart(fsink *s) { return s->md ? hub_hash_init(s->md, s->file) : SS_OK; }

/* Empties the file and the hash: the next bytes are the file's first. */
static ss_status sink_truncate(fsink *s) {
    if (fflush(s->fp) != 0 || ftruncate(fileno(s->fp), 0) != 0)
        return ss_fail_errno("cannot truncate %s", s->disk_path);
    s->have = 0;
    return hash_restart(s);
}

static size_t on_body_file(char *ptr, size_t size, size_t nmemb, void *userdata) {
    fsink *s = userdata;
    size_t n = size * nmemb;
    if (!s->body_started) {
        s->body_started = 1;
        long status = s->r->status;
        int64_t total = status == 206 ? s->r->range_total : status == 200 ? s->r->content_length : -1;
        if (total >= 0 && s->file->size >= 0 && total != s->file->size) {
            s->err = ss_fail(SS_ERR_NET, "%s/%s: the listing says %lld bytes but the server sends %lld", s->h->repo,
                             s->file->path, (long long)s->file->size, (long long)total);
            return 0;
        }
        if (status == 206 && s->r->range_start != s->have) {
            /* Not the range asked for: usable only if it starts the file over. */
            if (s->r->range_start != 0) {
                s->err = ss_fail(SS_ERR_NET, "%s/%s: server sent bytes from %lld, asked for %lld", s->h->repo,
                                 s->file->path, (long long)s->r->range_start, (long long)s->have);
                return 0;
            }
            if ((s->err = sink_truncate(s)) != SS_OK) return 0;
        }
        if (status == 206) {
            s->writing = 1;
        } else if (status == 200) {
            if (s->have > 0 && (s->err = sink_truncate(s)) != SS_OK) return 0; /* no Range support: restart */
            s->writing = 1;
        }
    }
    if (!s->writing) return n; /* an error page: its headers say enough */
    if (s->file->size >= 0 && s->have + (int64_t)n > s->file->size) {
        s->err = ss_fail(SS_ERR_NET, "%s: server sent more than the listed %lld bytes", s->file->path,
                         (long long)s->file->size);
        return 0;
    }
    if (fwrite(ptr, 1, n, s->fp) != n) {
        s->err = ss_fail_errno("cannot write %s", s->disk_path);
        return 0;
    }
    if (s->md) EVP_DigestUpdate(s->md, ptr, n);
    s->have += (int64_t)n;
    s->bytes_this_run += (int64_t)n;
    print_progress(s);
    return n;
}

/* Transfers until the file on disk is complete (size known) or the server
 * says it sent everything; retries network failures, resuming with Range. */
static ss_status transfer(fsink *s, const char *url) {
    hub *h = s->h;
    int failures = 0;
    int64_t best = s->have;
    char what[4096];
    snprintf(what, sizeof what, "%s/%s", h->repo, s->file->path);
    for (;;) {
        if (s->file->size >= 0 && s->have == s->file->size) return SS_OK;
        if (h->offline)
            return ss_fail(SS_ERR_NET, "%s: not in the Hugging Face cache (%s), and HF_HUB_OFFLINE is set", what,
                           h->cache_repo);
        char range[64] = "";
        if (s->have > 0) snprintf(range, sizeof range, "%lld-", (long long)s->have);
        resp r;
        s->r = &r;
        s->body_started = s->writing = 0;
        CURLcode rc = hub_get(h, url, range[0] ? range : NULL, on_body_file, s, &r);
        if (fflush(s->fp) != 0) return ss_fail_errno("cannot write %s", s->disk_path);
        if (s->err != SS_OK) return s->err;
        if (rc == CURLE_OK && r.status == 416 && s->have > 0) {
            /* The range starts at or past the end: done if the sizes agree. */
            if (r.range_total == s->have) return SS_OK;
            SS_TRY(sink_truncate(s));
            continue;
        }
        if (rc == CURLE_OK && (r.status == 200 || r.status == 206)) {
            if (s->file->size < 0) return SS_OK; /* unknown size: curl checked Content-Length */
            if (s->have == s->file->size) return SS_OK;
            rc = CURLE_PARTIAL_FILE; /* a clean end, but short: treat as a broken transfer */
            snprintf(h->errbuf, sizeof h->errbuf, "server ended the file at %lld of %lld bytes", (long long)s->have,
                     (long long)s->file->size);
        }
        /* Progress earns the transfer fresh retries; the file is finite, so
         * this cannot loop forever. */
        if (s->have > best) {
            best = s->have;
            failures = 0;
        }
        SS_TRY(hub_retry_or_fail(h, url, rc, &r, failures, what));
        s->last_print = ss_now(); /* the wait is not progress to report */
        failures++;
    }
}

/* ---------------------------------------------------------------- one file */

ss_status hub_fetch_file(hub *h, const ss_hub_file *f, const char *folder, int i, int n) {
    char disk[4096], url[8192], path_esc[4096];
    SS_TRY(ss_path_join(disk, sizeof disk, folder, f->path));
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", disk);
    char *slash = strrchr(parent, '/');
    if (slash) {
        *slash = '\0';
        SS_TRY(ss_mkdir_p(parent));
    }
    fsink s = {.file = f, .disk_path = disk, .h = h, .index = i, .count = n, .t0 = ss_now()};
    s.last_print = s.t0;

    /* A file with other links (one hard-linked from the cache by an earlier
     * run) is never written through: it is removed, and taken again below. */
    struct stat sb;
    if (lstat(disk, &sb) == 0 && (sb.st_nlink > 1 || !S_ISREG(sb.st_mode)) && unlink(disk) != 0)
        return ss_fail_errno("cannot remove %s", disk);
    s.have = ss_file_size(disk);
    if (s.have < 0) s.have = 0;

    if (f->size < 0 || s.have != f->size) {
        int taken = 0;
        const char *how = "";
        SS_TRY(hub_cache_take(h, f, disk, &taken, &how));
        if (taken) {
            char total[32];
            if (!h->quiet)
                ss_info("  [%d/%d] %s  %s  from the Hugging Face cache (verified, %s)", i, n, f->path,
                        hub_human((double)f->size, total, sizeof total), how);
            return SS_OK;
        }
    }

    SS_TRY(hub_url_escape(h, f->path, 1, path_esc, sizeof path_esc));
    if ((size_t)snprintf(url, sizeof url, "%s/%s/resolve/%s/%s", h->endpoint, h->repo, h->commit, path_esc) >=
        sizeof url)
        return ss_fail(SS_ERR_ARG, "%s: URL too long", f->path);
    if (hub_can_verify(f) && !(s.md = EVP_MD_CTX_new()))
        return ss_fail(SS_ERR_NOMEM, "%s: cannot create a hash context", f->path);
    s.fp = fopen(disk, "ab");
    ss_status st = s.fp ? SS_OK : ss_fail_errno("cannot open %s", disk);
    if (st == SS_OK && f->size >= 0 && s.have > f->size) st = sink_truncate(&s); /* longer than listed: stale */
    if (st == SS_OK) st = hash_restart(&s);
    if (st == SS_OK && s.md && s.have > 0) st = hash_prefix(s.md, disk, s.have);
    int64_t resumed_from = s.have;
    if (st == SS_OK) st = transfer(&s, url);
    char got[2 * EVP_MAX_MD_SIZE + 1] = "";
    int hash_ok = st == SS_OK && (!s.md || hub_hash_matches(s.md, f, got, sizeof got));
    if (st == SS_OK && !hash_ok && resumed_from > 0 && !h->offline) {
        /* The bytes kept from an earlier run may be what is wrong (another
         * revision, a damaged disk): fetch the whole file once more. */
        if (!h->quiet) ss_warn("%s: checksum mismatch after resuming; downloading it again from the start", f->path);
        st = sink_truncate(&s);
        if (st == SS_OK) st = transfer(&s, url);
        hash_ok = st == SS_OK && hub_hash_matches(s.md, f, got, sizeof got);
    }
    int mismatch = st == SS_OK && !hash_ok;
    if (mismatch) {
        const int lfs = f->lfs_sha256 != NULL;
        st = ss_fail(SS_ERR_NET, "%s/%s: %s mismatch: listed %s, %s %s (%lld bytes)", h->repo, f->path,
                     lfs ? "SHA-256" : "git blob SHA-1", lfs ? f->lfs_sha256 : f->git_oid,
                     s.bytes_this_run ? "downloaded" : "found", got, (long long)s.have);
    }
    if (s.fp && fclose(s.fp) != 0 && st == SS_OK) st = ss_fail_errno("cannot write %s", disk);
    EVP_MD_CTX_free(s.md);
    if (st == SS_OK) {
        print_done(&s);
    } else if (mismatch) {
        unlink(disk); /* complete but wrong: must not be resumed from */
    }
    return st;
}
