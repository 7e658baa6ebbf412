/* Hugging Face hub client: list a repo through the tree API, then stream each
 * file from /resolve/ into "<out>.partial/<path>", resuming with Range,
 * verifying size and hash, and rename the folder into place at the end.
 *
 * Hub facts this relies on (huggingface_hub's HfApi.list_repo_tree and
 * file_download.py do the same):
 *   GET {endpoint}/api/models/{repo}/tree/{quote(revision, safe="")}?recursive=true
 *     -> JSON array of {"type": "file"|"directory", "path", "size", "oid",
 *        "lfs": {"oid": "<sha256>", "size": N}}, paginated GitHub-style with a
 *        `Link: <url>; rel="next"` header.
 *   GET {endpoint}/{repo}/resolve/{quote(revision, safe="")}/{quote(path)}
 *     -> the file, or for LFS files a 302 to a CDN host (a signed URL: the
 *        token must not follow it there; libcurl drops a custom Authorization
 *        header when a redirect changes host, port or scheme).
 *   Top-level "oid" of a non-LFS file is its git blob SHA-1, i.e.
 *   SHA-1("blob <size>\0" + content); of an LFS file it is the pointer's, so
 *   there we check lfs.oid = SHA-256 of the content instead.
 *   Errors carry X-Error-Code (RepoNotFound, GatedRepo, EntryNotFound,
 *   RevisionNotFound) and X-Error-Message headers.
 */
#include "io/hub.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "core/jsonutil.h"
#include "core/log.h"
#include "core/timer.h"

#define MANIFEST_NAME ".slidesparse-download.json"
#define MAX_LISTING_BYTES ((size_t)256 << 20) /* one listing page; real ones are KBs */
#define MAX_PAGES 100000
#define MAX_BACKOFF_MS 60000
#define PROGRESS_PERIOD_S 0.25

/* ---------------------------------------------------------------- client */

typedef struct hub {
    CURL *curl;
    const char *repo;
    const char *revision;
    char endpoint[1024]; /* no trailing slash */
    char auth[4096];     /* "Authorization: Bearer ..." or "" */
    int max_retries;
    long backoff_ms;
    int quiet;
    int tty; /* stderr is a terminal: live progress lines */
    char errbuf[CURL_ERROR_SIZE];
} hub;

/* What we keep of one HTTP response's headers. Redirect responses come first;
 * each status line resets the record, so after the transfer it describes the
 * final response. */
typedef struct resp {
    long status;
    int64_t content_length;           /* -1 if absent */
    int64_t range_start, range_total; /* from Content-Range; -1 if absent */
    int retry_after_s;
    char link[8192];
    char err_code[128];
    char err_msg[512];
} resp;

static void resp_reset(resp *r) {
    memset(r, 0, sizeof *r);
    r->content_length = r->range_start = r->range_total = -1;
}

/* If the header line `line` is "<name>: value", copies the trimmed value. */
static int header_value(const char *line, const char *name, char *out, size_t cap) {
    size_t nl = strlen(name);
    if (strncasecmp(line, name, nl) != 0 || line[nl] != ':') return 0;
    const char *v = line + nl + 1;
    while (*v == ' ' || *v == '\t') v++;
    size_t n = strcspn(v, "\r\n");
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
    if (n >= cap) n = cap - 1;
    memcpy(out, v, n);
    out[n] = '\0';
    return 1;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata) {
    resp *r = userdata;
    size_t len = size * nitems;
    char line[8192 + 64], v[8192];
    size_t n = len < sizeof line - 1 ? len : sizeof line - 1;
    memcpy(line, buf, n);
    line[n] = '\0';
    if (strncmp(line, "HTTP/", 5) == 0) {
        resp_reset(r);
        const char *sp = strchr(line, ' ');
        if (sp) r->status = strtol(sp + 1, NULL, 10);
    } else if (header_value(line, "content-length", v, sizeof v)) {
        r->content_length = strtoll(v, NULL, 10);
    } else if (header_value(line, "content-range", v, sizeof v)) {
        /* "bytes 100-199/200", or "bytes (star)/200" on a 416 */
        long long a = -1, b = -1, total = -1;
        if (sscanf(v, "bytes %lld-%lld/%lld", &a, &b, &total) == 3) {
            r->range_start = a;
            r->range_total = total;
        } else if (sscanf(v, "bytes */%lld", &total) == 1) {
            r->range_total = total;
        }
    } else if (header_value(line, "retry-after", v, sizeof v)) {
        r->retry_after_s = atoi(v);
    } else if (header_value(line, "link", r->link, sizeof r->link)) {
    } else if (header_value(line, "x-error-code", r->err_code, sizeof r->err_code)) {
    } else if (header_value(line, "x-error-message", r->err_msg, sizeof r->err_msg)) {
    }
    return len;
}

/* scheme://host[:port] of url into out ("" if it does not parse). */
static void url_origin(const char *url, char *out, size_t cap) {
    out[0] = '\0';
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK)
        snprintf(out, cap, "%s://%s:%s", scheme, host, port);
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
}

/* One GET. The token goes only to the endpoint's own origin (an explicit
 * next-page URL could name another host; redirects are libcurl's business). */
static CURLcode hub_get(hub *h, const char *url, const char *range, curl_write_callback on_body, void *body_ud,
                        resp *r) {
    char want[1100], have[1100];
    url_origin(h->endpoint, want, sizeof want);
    url_origin(url, have, sizeof have);
    struct curl_slist *headers = NULL;
    if (h->auth[0] && want[0] && strcmp(want, have) == 0) headers = curl_slist_append(headers, h->auth);
    resp_reset(r);
    h->errbuf[0] = '\0';
    curl_easy_setopt(h->curl, CURLOPT_URL, url);
    curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h->curl, CURLOPT_RANGE, range);
    curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, body_ud);
    curl_easy_setopt(h->curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h->curl, CURLOPT_HEADERDATA, r);
    CURLcode rc = curl_easy_perform(h->curl);
    curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK && !h->errbuf[0]) snprintf(h->errbuf, sizeof h->errbuf, "%s", curl_easy_strerror(rc));
    return rc;
}

/* Failures worth another try: the network, not the request. */
static int curl_retryable(CURLcode rc) {
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
        return 1;
    default:
        return 0;
    }
}

/* Failures that mean the host was never reached (as opposed to a transfer
 * that broke): these get the "no network?" hint. */
static int curl_unreachable(CURLcode rc) {
    return rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY || rc == CURLE_COULDNT_CONNECT ||
           rc == CURLE_SSL_CONNECT_ERROR;
}

static int http_retryable(long status) { return status == 408 || status == 429 || status >= 500; }

static void backoff_sleep(const hub *h, int attempt, const resp *r) {
    long ms = h->backoff_ms;
    for (int i = 0; i < attempt && ms < MAX_BACKOFF_MS; i++) ms *= 2;
    if (r && r->retry_after_s > 0 && (long)r->retry_after_s * 1000 > ms) ms = (long)r->retry_after_s * 1000;
    if (ms > MAX_BACKOFF_MS) ms = MAX_BACKOFF_MS;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* The message for a request that failed for good. `what` names the repo or
 * "repo/path" being fetched. */
static ss_status request_error(const hub *h, const char *url, CURLcode rc, const resp *r, const char *what) {
    if (rc != CURLE_OK) {
        char origin[1100];
        url_origin(url, origin, sizeof origin);
        /* Report the origin the user configured when that is what failed. */
        char ep[1100];
        url_origin(h->endpoint, ep, sizeof ep);
        const char *shown = strcmp(origin, ep) == 0 ? h->endpoint : origin;
        if (curl_unreachable(rc))
            return ss_fail(SS_ERR_NET,
                           "cannot reach %s (%s): no network? use `slidesparse synth` for synthetic weights", shown,
                           h->errbuf);
        return ss_fail(SS_ERR_NET, "%s: transfer from %s failed (%s)", what, shown, h->errbuf);
    }
    const char *detail = r->err_msg[0] ? r->err_msg : "";
    const char *sep = r->err_msg[0] ? ": " : "";
    /* " for <repo>/<file>" when a file failed; the repo is named first anyway. */
    char for_what[4200] = "";
    if (strcmp(what, h->repo) != 0) snprintf(for_what, sizeof for_what, " for %s", what);
    if (r->status == 401 || r->status == 403) {
        if (strcasecmp(r->err_code, "RepoNotFound") == 0)
            return ss_fail(SS_ERR_NET,
                           "%s: no such repo on %s, or it is private and needs a token (set HF_TOKEN) (HTTP %ld%s%s)",
                           h->repo, h->endpoint, r->status, sep, detail);
        if (!h->auth[0])
            return ss_fail(SS_ERR_NET, "%s: needs a token (set HF_TOKEN) (HTTP %ld%s%s%s)", h->repo, r->status,
                           for_what, sep, detail);
        return ss_fail(SS_ERR_NET,
                       "%s: access denied with the given HF_TOKEN (HTTP %ld%s%s%s); a gated repo also needs its terms "
                       "accepted on the hub",
                       h->repo, r->status, for_what, sep, detail);
    }
    if (r->status == 404) {
        if (strcasecmp(r->err_code, "RevisionNotFound") == 0)
            return ss_fail(SS_ERR_NET, "%s: no such revision '%s' (HTTP 404%s%s)", h->repo, h->revision, sep, detail);
        if (strcasecmp(r->err_code, "RepoNotFound") == 0)
            return ss_fail(SS_ERR_NET, "%s: no such repo on %s (HTTP 404%s%s)", h->repo, h->endpoint, sep, detail);
        if (strcmp(what, h->repo) == 0)
            return ss_fail(SS_ERR_NET, "%s: no such repo or revision '%s' on %s (HTTP 404%s%s)", h->repo, h->revision,
                           h->endpoint, sep, detail);
        return ss_fail(SS_ERR_NET, "%s: no such file at revision '%s' (HTTP 404%s%s)", what, h->revision, sep, detail);
    }
    return ss_fail(SS_ERR_NET, "%s: HTTP %ld from %s%s%s", what, r->status, url, sep, detail);
}

/* ---------------------------------------------------------------- listing */

typedef struct membuf {
    char *data;
    size_t len, cap;
    int overflow;
} membuf;

static size_t on_body_mem(char *ptr, size_t size, size_t nmemb, void *userdata) {
    membuf *m = userdata;
    size_t n = size * nmemb;
    if (m->len + n + 1 > MAX_LISTING_BYTES) {
        m->overflow = 1;
        return 0;
    }
    if (m->len + n + 1 > m->cap) {
        size_t cap = m->cap ? m->cap : 65536;
        while (cap < m->len + n + 1) cap *= 2;
        char *p = realloc(m->data, cap);
        if (!p) {
            m->overflow = 1;
            return 0;
        }
        m->data = p;
        m->cap = cap;
    }
    memcpy(m->data + m->len, ptr, n);
    m->len += n;
    m->data[m->len] = '\0';
    return n;
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

/* GETs one listing page with retries; *out is the parsed JSON. */
static ss_status get_page(hub *h, const char *url, json_t **out, char *next, size_t next_cap) {
    membuf m = {0};
    resp r;
    ss_status st = SS_OK;
    for (int attempt = 0;; attempt++) {
        m.len = 0;
        m.overflow = 0;
        CURLcode rc = hub_get(h, url, NULL, on_body_mem, &m, &r);
        if (m.overflow) {
            st = ss_fail(SS_ERR_FORMAT, "%s: listing page larger than %zu MB (or out of memory)", url,
                         MAX_LISTING_BYTES >> 20);
            break;
        }
        if (rc == CURLE_OK && r.status == 200) {
            json_error_t jerr;
            *out = json_loadb(m.data ? m.data : "", m.len, 0, &jerr);
            if (!*out)
                st = ss_fail(SS_ERR_FORMAT, "%s: listing is not JSON (%d:%d: %s)", url, jerr.line, jerr.column,
                             jerr.text);
            else
                link_next(r.link, url, next, next_cap);
            break;
        }
        int retry = rc != CURLE_OK ? curl_retryable(rc) : http_retryable(r.status);
        if (!retry || attempt >= h->max_retries) {
            st = request_error(h, url, rc, &r, h->repo);
            break;
        }
        if (!h->quiet)
            ss_warn("%s: %s; retry %d/%d", h->repo, rc != CURLE_OK ? h->errbuf : "server busy", attempt + 1,
                    h->max_retries);
        backoff_sleep(h, attempt, &r);
    }
    free(m.data);
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
    return strcmp(p, MANIFEST_NAME) != 0;
}

static int is_hex(const char *s, size_t n) {
    if (strlen(s) != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (!strchr("0123456789abcdefABCDEF", s[i])) return 0;
    return 1;
}

static char *dup_str(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static ss_status add_entry(ss_hub_listing *l, int *cap, const json_t *e, const char *where) {
    const char *type = json_string_value(json_object_get(e, "type"));
    if (!type) return ss_fail(SS_ERR_FORMAT, "%s: listing entry without a 'type'", where);
    if (strcmp(type, "file") != 0) return SS_OK; /* directories */
    const char *path;
    SS_TRY(ss_json_str(e, "path", where, &path));
    if (!safe_rel_path(path)) return ss_fail(SS_ERR_FORMAT, "%s: refusing unsafe file path '%s'", where, path);
    int64_t size = -1;
    SS_TRY(ss_json_int_opt(e, "size", path, &size));
    const char *oid = json_string_value(json_object_get(e, "oid"));
    const json_t *lfs = json_object_get(e, "lfs");
    const char *sha = NULL;
    if (json_is_object(lfs)) {
        sha = json_string_value(json_object_get(lfs, "oid"));
        if (sha && strncmp(sha, "sha256:", 7) == 0) sha += 7;
        if (sha && !is_hex(sha, 64))
            return ss_fail(SS_ERR_FORMAT, "%s: '%s' has a malformed lfs.oid '%s'", where, path, sha);
        SS_TRY(ss_json_int_opt(lfs, "size", path, &size));
        oid = NULL; /* the pointer file's blob id, not the content's */
    }
    if (oid && !is_hex(oid, 40)) oid = NULL; /* not a git SHA-1: nothing to check against */
    if (l->n == *cap) {
        int ncap = *cap ? *cap * 2 : 16;
        ss_hub_file *f = realloc(l->files, (size_t)ncap * sizeof *f);
        if (!f) return ss_fail(SS_ERR_NOMEM, "%s: out of memory for the listing", where);
        l->files = f;
        *cap = ncap;
    }
    ss_hub_file *f = &l->files[l->n];
    *f = (ss_hub_file){dup_str(path), size, dup_str(oid), dup_str(sha)};
    if (!f->path || (oid && !f->git_oid) || (sha && !f->lfs_sha256)) {
        free(f->path);
        free(f->git_oid);
        free(f->lfs_sha256);
        return ss_fail(SS_ERR_NOMEM, "%s: out of memory for the listing", where);
    }
    l->n++;
    return SS_OK;
}

/* curl_easy_escape of s, or with keep_slash each '/'-separated segment. */
static ss_status url_escape(CURL *c, const char *s, int keep_slash, char *out, size_t cap) {
    size_t used = 0;
    out[0] = '\0';
    for (const char *seg = s; seg;) {
        const char *slash = keep_slash ? strchr(seg, '/') : NULL;
        int n = slash ? (int)(slash - seg) : (int)strlen(seg);
        char *e = curl_easy_escape(c, seg, n);
        if (!e) return ss_fail(SS_ERR_NOMEM, "cannot escape '%s'", s);
        int w = snprintf(out + used, cap - used, "%s%s", e, slash ? "/" : "");
        curl_free(e);
        if (w < 0 || (size_t)w >= cap - used) return ss_fail(SS_ERR_ARG, "'%s': URL too long", s);
        used += (size_t)w;
        seg = slash ? slash + 1 : NULL;
    }
    return SS_OK;
}

static ss_status list_files(hub *h, ss_hub_listing *out) {
    char rev[512], url[8192], next[8192];
    SS_TRY(url_escape(h->curl, h->revision, 0, rev, sizeof rev));
    snprintf(url, sizeof url, "%s/api/models/%s/tree/%s?recursive=true", h->endpoint, h->repo, rev);
    memset(out, 0, sizeof *out);
    int cap = 0;
    ss_status st = SS_OK;
    for (int page = 0; st == SS_OK && url[0]; page++) {
        if (page >= MAX_PAGES) {
            st = ss_fail(SS_ERR_FORMAT, "%s: listing has more than %d pages", h->repo, MAX_PAGES);
            break;
        }
        json_t *arr = NULL;
        next[0] = '\0';
        st = get_page(h, url, &arr, next, sizeof next);
        if (st != SS_OK) break;
        if (!json_is_array(arr)) st = ss_fail(SS_ERR_FORMAT, "%s: listing is not a JSON array", url);
        size_t i;
        json_t *e;
        json_array_foreach(arr, i, e) {
            if (st == SS_OK) st = add_entry(out, &cap, e, url);
        }
        json_decref(arr);
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

/* ---------------------------------------------------------------- setup */

static int valid_repo_id(const char *id) {
    int slashes = 0;
    if (!id[0] || id[0] == '/' || id[strlen(id) - 1] == '/' || strstr(id, "..")) return 0;
    for (const char *p = id; *p; p++) {
        if (*p == '/')
            slashes++;
        else if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", *p))
            return 0;
    }
    return slashes <= 1;
}

static ss_status hub_open(hub *h, const char *repo_id, const ss_hub_options *opt) {
    static const ss_hub_options defaults = {0};
    if (!opt) opt = &defaults;
    memset(h, 0, sizeof *h);
    if (!repo_id || !valid_repo_id(repo_id))
        return ss_fail(SS_ERR_ARG, "'%s' is not a hub repo id (expected owner/name)", repo_id ? repo_id : "(null)");
    h->repo = repo_id;
    h->revision = opt->revision && opt->revision[0] ? opt->revision : "main";
    const char *ep = opt->endpoint && opt->endpoint[0] ? opt->endpoint : getenv("HF_ENDPOINT");
    if (!ep || !ep[0]) ep = "https://huggingface.co";
    size_t n = strlen(ep);
    while (n > 0 && ep[n - 1] == '/') n--;
    if (n == 0 || n >= sizeof h->endpoint) return ss_fail(SS_ERR_ARG, "bad hub endpoint '%s'", ep);
    memcpy(h->endpoint, ep, n);
    h->endpoint[n] = '\0';
    const char *token = opt->token && opt->token[0] ? opt->token : getenv("HF_TOKEN");
    if (token && token[0]) {
        if (strpbrk(token, "\r\n")) return ss_fail(SS_ERR_ARG, "HF_TOKEN contains a line break");
        if ((size_t)snprintf(h->auth, sizeof h->auth, "Authorization: Bearer %s", token) >= sizeof h->auth)
            return ss_fail(SS_ERR_ARG, "HF_TOKEN is too long");
    }
    h->max_retries = opt->max_retries > 0 ? opt->max_retries : opt->max_retries < 0 ? 0 : 5;
    h->backoff_ms = opt->backoff_ms > 0 ? opt->backoff_ms : 1000;
    const char *env_ms = getenv("SS_HUB_BACKOFF_MS");
    if (env_ms && env_ms[0]) h->backoff_ms = atol(env_ms) > 0 ? atol(env_ms) : 1;
    h->quiet = opt->quiet;
    h->tty = isatty(STDERR_FILENO);

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return ss_fail(SS_ERR_NET, "libcurl initialisation failed");
    h->curl = curl_easy_init();
    if (!h->curl) {
        curl_global_cleanup();
        return ss_fail(SS_ERR_NOMEM, "libcurl: cannot create a handle");
    }
    CURL *c = h->curl;
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "slidesparse/0.1 libcurl");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    /* A stalled transfer (under 1 KB/s for a minute) is aborted and resumed. */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
    return SS_OK;
}

static void hub_close(hub *h) {
    if (h->curl) {
        curl_easy_cleanup(h->curl);
        curl_global_cleanup();
    }
    h->curl = NULL;
}

ss_status ss_hub_list(const char *repo_id, const ss_hub_options *opt, ss_hub_listing *out) {
    memset(out, 0, sizeof *out);
    hub h;
    SS_TRY(hub_open(&h, repo_id, opt));
    ss_status st = list_files(&h, out);
    hub_close(&h);
    return st;
}

/* ---------------------------------------------------------------- one file */

/* A file being downloaded: bytes [0, have) are on disk and in the hash. */
typedef struct fsink {
    const ss_hub_file *file;
    const char *disk_path;
    hub *h;
    FILE *fp;       /* opened for appending */
    EVP_MD_CTX *md; /* SHA-256 (LFS) or git blob SHA-1; NULL: size only */
    int64_t have;
    const resp *r;         /* the response being received */
    int body_started;      /* first body bytes of this response seen */
    int writing;           /* this response's body goes to the file */
    ss_status err;         /* a local failure inside the callback */
    double t0, last_print;
    int64_t bytes_this_run;
} fsink;

static ss_status hash_restart(fsink *s) {
    if (!s->md) return SS_OK;
    const ss_hub_file *f = s->file;
    const EVP_MD *alg = f->lfs_sha256 ? EVP_sha256() : EVP_sha1();
    if (EVP_DigestInit_ex(s->md, alg, NULL) != 1) return ss_fail(SS_ERR_INTERNAL, "%s: EVP_DigestInit failed", f->path);
    if (!f->lfs_sha256) {
        char hdr[64];
        int n = snprintf(hdr, sizeof hdr, "blob %lld", (long long)f->size);
        EVP_DigestUpdate(s->md, hdr, (size_t)n + 1); /* the NUL is part of git's header */
    }
    return SS_OK;
}

/* Empties the file and the hash: the next bytes are the file's first. */
static ss_status sink_truncate(fsink *s) {
    if (fflush(s->fp) != 0 || ftruncate(fileno(s->fp), 0) != 0)
        return ss_fail_errno("cannot truncate %s", s->disk_path);
    s->have = 0;
    return hash_restart(s);
}

/* "512 B", "12.3 KB", "4.5 MB", "1.23 GB" */
static const char *human(double bytes, char *buf, size_t cap) {
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

static void print_progress(fsink *s, int final) {
    const hub *h = s->h;
    if (h->quiet) return;
    double now = ss_now(), dt = now - s->t0;
    double mbps = dt > 0 ? (double)s->bytes_this_run / dt / 1e6 : 0.0;
    char done[32], total[32];
    human((double)s->have, done, sizeof done);
    human((double)(s->file->size >= 0 ? s->file->size : s->have), total, sizeof total);
    if (!final) {
        if (!h->tty || now - s->last_print < PROGRESS_PERIOD_S) return;
        s->last_print = now;
        fprintf(stderr, "\r  %s  %s / %s  %.1f MB/s\033[K", s->file->path, done, total, mbps);
        fflush(stderr);
        return;
    }
    if (h->tty) fprintf(stderr, "\r\033[K");
    if (s->bytes_this_run == 0)
        ss_info("  %s  %s  already here, verified", s->file->path, total);
    else
        ss_info("  %s  %s  %.1f MB/s%s", s->file->path, total, mbps, s->bytes_this_run < s->have ? "  (resumed)" : "");
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
    print_progress(s, 0);
    return n;
}

/* Hashes what a previous run left on disk, so the hash covers [0, have). */
static ss_status hash_existing(fsink *s) {
    SS_TRY(hash_restart(s));
    if (!s->md || s->have == 0) return SS_OK;
    FILE *in = fopen(s->disk_path, "rb");
    if (!in) return ss_fail_errno("cannot open %s", s->disk_path);
    enum { CHUNK = 1 << 20 };
    char *buf = malloc(CHUNK);
    if (!buf) {
        fclose(in);
        return ss_fail(SS_ERR_NOMEM, "%s: no memory for a read buffer", s->disk_path);
    }
    int64_t left = s->have;
    while (left > 0) {
        size_t want = left < CHUNK ? (size_t)left : CHUNK, got = fread(buf, 1, want, in);
        if (got == 0) break;
        EVP_DigestUpdate(s->md, buf, got);
        left -= (int64_t)got;
    }
    free(buf);
    int bad = ferror(in) || left != 0;
    fclose(in);
    return bad ? ss_fail(SS_ERR_IO, "cannot read %s", s->disk_path) : SS_OK;
}

static void hex(const unsigned char *d, unsigned n, char *out) {
    for (unsigned i = 0; i < n; i++) snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* 1 if the finished file's hash matches the listing (or there is none). */
static int hash_matches(fsink *s, char *got, size_t cap) {
    if (!s->md) return 1;
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_DigestFinal_ex(s->md, d, &n);
    if (2 * (size_t)n + 1 > cap) return 0;
    hex(d, n, got);
    const char *want = s->file->lfs_sha256 ? s->file->lfs_sha256 : s->file->git_oid;
    return strcasecmp(got, want) == 0;
}

/* Transfers until the file on disk is complete (size known) or the server
 * says it sent everything; retries network failures, resuming with Range. */
static ss_status transfer(fsink *s, const char *url) {
    hub *h = s->h;
    int failures = 0;
    int64_t best = s->have;
    for (;;) {
        if (s->file->size >= 0 && s->have == s->file->size) return SS_OK;
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
        int retry = rc != CURLE_OK ? curl_retryable(rc) : http_retryable(r.status);
        /* Progress earns the transfer fresh retries; the file is finite, so
         * this cannot loop forever. */
        if (s->have > best) {
            best = s->have;
            failures = 0;
        }
        char what[4096];
        snprintf(what, sizeof what, "%s/%s", h->repo, s->file->path);
        if (!retry || failures >= h->max_retries) return request_error(h, url, rc, &r, what);
        if (!h->quiet) {
            if (h->tty) fprintf(stderr, "\r\033[K");
            ss_warn("%s: %s; retry %d/%d from byte %lld", s->file->path, rc != CURLE_OK ? h->errbuf : "server busy",
                    failures + 1, h->max_retries, (long long)s->have);
        }
        backoff_sleep(h, failures, &r);
        failures++;
    }
}

/* Downloads (or finishes, or just verifies) one listed file into folder. */
static ss_status fetch_file(hub *h, const ss_hub_file *f, const char *folder) {
    char disk[4096], url[8192], rev[512], path_esc[4096];
    SS_TRY(ss_path_join(disk, sizeof disk, folder, f->path));
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", disk);
    char *slash = strrchr(parent, '/');
    if (slash) {
        *slash = '\0';
        SS_TRY(ss_mkdir_p(parent));
    }
    SS_TRY(url_escape(h->curl, h->revision, 0, rev, sizeof rev));
    SS_TRY(url_escape(h->curl, f->path, 1, path_esc, sizeof path_esc));
    if ((size_t)snprintf(url, sizeof url, "%s/%s/resolve/%s/%s", h->endpoint, h->repo, rev, path_esc) >= sizeof url)
        return ss_fail(SS_ERR_ARG, "%s: URL too long", f->path);

    fsink s = {.file = f, .disk_path = disk, .h = h, .t0 = ss_now()};
    s.have = ss_file_size(disk);
    if (s.have < 0) s.have = 0;
    if ((f->lfs_sha256 || (f->git_oid && f->size >= 0)) && !(s.md = EVP_MD_CTX_new()))
        return ss_fail(SS_ERR_NOMEM, "%s: cannot create a hash context", f->path);
    s.fp = fopen(disk, "ab");
    ss_status st = s.fp ? SS_OK : ss_fail_errno("cannot open %s", disk);
    if (st == SS_OK && f->size >= 0 && s.have > f->size) st = sink_truncate(&s); /* longer than listed: stale */
    if (st == SS_OK) st = hash_existing(&s);
    int64_t resumed_from = s.have;
    if (st == SS_OK) st = transfer(&s, url);
    char got[2 * EVP_MAX_MD_SIZE + 1] = "";
    int hash_ok = st == SS_OK && hash_matches(&s, got, sizeof got);
    if (st == SS_OK && !hash_ok && resumed_from > 0) {
        /* The bytes kept from an earlier run may be what is wrong (another
         * revision, a damaged disk): fetch the whole file once more. */
        if (!h->quiet) ss_warn("%s: checksum mismatch after resuming; downloading it again from the start", f->path);
        st = sink_truncate(&s);
        if (st == SS_OK) st = transfer(&s, url);
        hash_ok = st == SS_OK && hash_matches(&s, got, sizeof got);
    }
    int mismatch = st == SS_OK && !hash_ok;
    if (mismatch) {
        const int lfs = f->lfs_sha256 != NULL;
        st = ss_fail(SS_ERR_NET, "%s/%s: %s mismatch: listed %s, downloaded %s (%lld bytes)", h->repo, f->path,
                     lfs ? "SHA-256" : "git blob SHA-1", lfs ? f->lfs_sha256 : f->git_oid, got, (long long)s.have);
    }
    if (s.fp && fclose(s.fp) != 0 && st == SS_OK) st = ss_fail_errno("cannot write %s", disk);
    EVP_MD_CTX_free(s.md);
    if (st == SS_OK) {
        print_progress(&s, 1);
    } else if (mismatch) {
        unlink(disk); /* complete but wrong: must not be resumed from */
    }
    return st;
}

/* ---------------------------------------------------------------- folders */

static json_t *manifest_json(const hub *h, const ss_hub_listing *l) {
    json_t *files = json_array();
    for (int i = 0; i < l->n; i++) {
        const ss_hub_file *f = &l->files[i];
        json_t *e = json_pack("{s:s, s:I}", "path", f->path, "size", (json_int_t)f->size);
        if (f->lfs_sha256) json_object_set_new(e, "sha256", json_string(f->lfs_sha256));
        if (f->git_oid) json_object_set_new(e, "git_oid", json_string(f->git_oid));
        json_array_append_new(files, e);
    }
    return json_pack("{s:i, s:s, s:s, s:s, s:o}", "format_version", 1, "repo", h->repo, "revision", h->revision,
                     "endpoint", h->endpoint, "files", files);
}

/* Does a manifest (NULL if absent) say this folder is h's repo at h's revision? */
static int manifest_is_ours(const hub *h, const json_t *m) {
    const char *repo = json_string_value(json_object_get(m, "repo"));
    const char *rev = json_string_value(json_object_get(m, "revision"));
    return repo && rev && strcmp(repo, h->repo) == 0 && strcmp(rev, h->revision) == 0;
}

/* out_dir exists: succeed if it holds every file of the download at its
 * recorded size. Uses the manifest when there is one (no network needed),
 * otherwise the hub's listing. */
static ss_status check_existing(hub *h, const char *out_dir) {
    char mpath[4096];
    SS_TRY(ss_path_join(mpath, sizeof mpath, out_dir, MANIFEST_NAME));
    ss_hub_listing l = {0};
    json_t *m = NULL;
    if (ss_path_exists(mpath)) {
        SS_TRY(ss_json_load(mpath, &m));
        if (!manifest_is_ours(h, m)) {
            const char *repo = json_string_value(json_object_get(m, "repo"));
            const char *rev = json_string_value(json_object_get(m, "revision"));
            ss_status st = ss_fail(SS_ERR_ARG, "%s already holds %s@%s, not %s@%s; remove it or choose another folder",
                                   out_dir, repo ? repo : "?", rev ? rev : "?", h->repo, h->revision);
            json_decref(m);
            return st;
        }
        /* The manifest's entries have the listing's shape, less "type". */
        size_t i;
        json_t *e;
        int cap = 0;
        ss_status st =
            json_is_array(json_object_get(m, "files")) ? SS_OK : ss_fail(SS_ERR_FORMAT, "%s: no 'files' array", mpath);
        json_array_foreach(json_object_get(m, "files"), i, e) {
            json_t *entry = json_pack("{s:s, s:O?, s:O?}", "type", "file", "path", json_object_get(e, "path"), "size",
                                      json_object_get(e, "size"));
            if (st == SS_OK)
                st = entry ? add_entry(&l, &cap, entry, mpath) : ss_fail(SS_ERR_FORMAT, "%s: bad entry", mpath);
            json_decref(entry);
        }
        json_decref(m);
        if (st != SS_OK) {
            ss_hub_listing_free(&l);
            return st;
        }
    } else {
        SS_TRY(list_files(h, &l));
    }
    ss_status st = SS_OK;
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
        ss_info("%s: already complete (%s, %d file%s)", out_dir, h->repo, l.n, l.n == 1 ? "" : "s");
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
    snprintf(mpath, sizeof mpath, "%s/%s", partial, MANIFEST_NAME);

    hub h;
    SS_TRY(hub_open(&h, repo_id, opt));
    ss_status st = SS_OK;
    ss_hub_listing l = {0};
    if (ss_path_exists(out)) {
        st = ss_is_dir(out) ? check_existing(&h, out) : ss_fail(SS_ERR_IO, "%s exists and is not a folder", out);
        hub_close(&h);
        return st;
    }
    st = list_files(&h, &l);
    if (st == SS_OK && l.n == 0)
        st = ss_fail(SS_ERR_NET, "%s: the hub lists no files at revision '%s'", h.repo, h.revision);

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
        json_t *m = manifest_json(&h, &l);
        st = m ? ss_json_save(mpath, m) : ss_fail(SS_ERR_NOMEM, "%s: cannot build the manifest", mpath);
        json_decref(m);
    }
    int64_t total = 0;
    for (int i = 0; i < l.n; i++) total += l.files[i].size > 0 ? l.files[i].size : 0;
    if (st == SS_OK && !h.quiet) {
        char size[32];
        ss_info("downloading %s@%s (%d file%s, %s) from %s%s%s", h.repo, h.revision, l.n, l.n == 1 ? "" : "s",
                human((double)total, size, sizeof size), h.endpoint, resuming ? ", resuming in " : "",
                resuming ? partial : "");
    }
    double t0 = ss_now();
    for (int i = 0; i < l.n && st == SS_OK; i++) st = fetch_file(&h, &l.files[i], partial);
    if (st == SS_OK) st = ss_dir_commit(partial, out);
    if (st == SS_OK && !h.quiet)
        ss_info("%s: complete, %d file%s verified in %.1f s", out, l.n, l.n == 1 ? "" : "s", ss_now() - t0);
    if (st != SS_OK && !h.quiet && ss_is_dir(partial))
        ss_info("(what was fetched is kept in %s; the same command resumes from it)", partial);
    ss_hub_listing_free(&l);
    hub_close(&h);
    return st;
}
