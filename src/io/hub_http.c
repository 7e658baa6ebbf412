/* The hub client's HTTP side: one libcurl handle, GETs, and what to do when
 * one fails.
 *
 * Retry policy (what huggingface_hub's http_backoff does, plus fast failure
 * when nothing answers):
 *   - network failures, 408, 429 and 5xx are retried with a doubling backoff
 *     (max_retries times);
 *   - a Retry-After header (seconds or an HTTP date) replaces the backoff
 *     with exactly the wait the server asks for, without a cap per wait but
 *     within max_wait_s for the whole download, after which the message says
 *     to run again later;
 *   - until some server has answered in this run, a host that cannot be
 *     resolved or refuses connections gets one quick retry, and a connect
 *     timeout none: "no network" is reported in seconds, not after minutes
 *     of backoff. Once the hub has answered, such failures are a network
 *     blip mid-download and get the full retries.
 * Errors carry X-Error-Code (RepoNotFound, GatedRepo, EntryNotFound,
 * RevisionNotFound) and X-Error-Message headers; messages name the host that
 * answered (after redirects: a CDN is not the hub). */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "io/hub_internal.h"

#define MAX_JSON_BYTES ((size_t)256 << 20) /* one API answer; real ones are KBs */
#define MAX_BACKOFF_MS 60000L               /* our own backoff; a server's Retry-After is not capped */
#define QUICK_RETRY_MS 500L
#define DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define DEFAULT_MAX_WAIT_S 900L
#define DEFAULT_PROGRESS_PERIOD_S 5.0

/* ---------------------------------------------------------------- headers */

static void resp_reset(resp *r) {
    memset(r, 0, sizeof *r);
    r->content_length = r->range_start = r->range_total = r->retry_after_s = -1;
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

/* Retry-After is delay-seconds or an HTTP date (RFC 9110 10.2.3); -1 if
 * neither. A date in the past means now. */
static long parse_retry_after(const char *v) {
    if (isdigit((unsigned char)v[0])) {
        char *end;
        errno = 0;
        long long s = strtoll(v, &end, 10);
        if (*end != '\0') return -1;
        return errno == ERANGE || s > INT_MAX ? INT_MAX : (long)s;
    }
    time_t when = curl_getdate(v, NULL), now = time(NULL);
    if (when == (time_t)-1) return -1;
    return when > now ? (long)(when - now) : 0;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata) {
    resp *r = userdata;
    size_t len = size * nitems;
    char line[8192 + 64], v[8192];
    size_t n = len < sizeof line - 1 ? len : sizeof line - 1;
    memcpy(line, buf, n);
    line[n] = '\0';
    if (strncmp(line, "HTTP/", 5) == 0) {
        char host[sizeof r->host];
        memcpy(host, r->host, sizeof host);
        resp_reset(r);
        memcpy(r->host, host, sizeof host);
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
        r->retry_after_s = parse_retry_after(v);
    } else if (header_value(line, "link", r->link, sizeof r->link)) {
    } else if (header_value(line, "x-error-code", r->err_code, sizeof r->err_code)) {
    } else if (header_value(line, "x-error-message", r->err_msg, sizeof r->err_msg)) {
    }
    return len;
}

/* scheme://host:port of url into out ("" if it does not parse); with
 * host_only just the host. */
static void url_part(const char *url, int host_only, char *out, size_t cap) {
    out[0] = '\0';
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        if (host_only)
            snprintf(out, cap, "%s", host);
        else
            snprintf(out, cap, "%s://%s:%s", scheme, host, port);
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
}

/* ---------------------------------------------------------------- GET */

CURLcode hub_get(hub *h, const char *url, const char *range, curl_write_callback on_body, void *body_ud, resp *r) {
    resp_reset(r);
    url_part(url, 1, r->host, sizeof r->host);
    h->errbuf[0] = '\0';
    if (h->offline) { /* callers check first; this is the guarantee */
        snprintf(h->errbuf, sizeof h->errbuf, "HF_HUB_OFFLINE is set");
        return CURLE_UNSUPPORTED_PROTOCOL;
    }
    /* The token goes only to the endpoint's own origin (an explicit
     * next-page URL could name another host; libcurl drops a custom
     * Authorization header when a redirect changes host, port or scheme, so
     * a CDN's signed URL never sees it). */
    char want[1100], have[1100];
    url_part(h->endpoint, 0, want, sizeof want);
    url_part(url, 0, have, sizeof have);
    struct curl_slist *headers = NULL;
    if (h->auth[0] && want[0] && strcmp(want, have) == 0) headers = curl_slist_append(headers, h->auth);
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
    char *last = NULL;
    if (curl_easy_getinfo(h->curl, CURLINFO_EFFECTIVE_URL, &last) == CURLE_OK && last)
        url_part(last, 1, r->host, sizeof r->host);
    if (r->status > 0) h->reached = 1;
    if (rc != CURLE_OK && !h->errbuf[0]) snprintf(h->errbuf, sizeof h->errbuf, "%s", curl_easy_strerror(rc));
    return rc;
}

/* ---------------------------------------------------------------- failures */

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

/* The host was never reached (as opposed to a transfer that broke). A
 * timeout with no response at all is a connect timeout (a stalled transfer
 * has its status line). */
static int never_reached(CURLcode rc, const resp *r) {
    return rc == CURLE_COULDNT_RESOLVE_HOST || rc == CURLE_COULDNT_RESOLVE_PROXY || rc == CURLE_COULDNT_CONNECT ||
           rc == CURLE_SSL_CONNECT_ERROR || (rc == CURLE_OPERATION_TIMEDOUT && r->status == 0);
}

static int http_retryable(long status) { return status == 408 || status == 429 || status >= 500; }

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* The message for a request that failed for good, after `retries` retries. */
static ss_status request_error(const hub *h, const char *url, CURLcode rc, const resp *r, const char *what,
                               int retries) {
    char after[48] = "";
    if (retries > 0) snprintf(after, sizeof after, " after %d retr%s", retries, retries == 1 ? "y" : "ies");
    char ep_host[256];
    url_part(h->endpoint, 1, ep_host, sizeof ep_host);
    if (rc != CURLE_OK) {
        if (h->offline) return ss_fail(SS_ERR_NET, "%s: needs the network, and HF_HUB_OFFLINE is set", what);
        /* Name the endpoint the user configured when that is what failed. */
        char origin[1100], ep[1100];
        url_part(url, 0, origin, sizeof origin);
        url_part(h->endpoint, 0, ep, sizeof ep);
        const char *shown = strcmp(origin, ep) == 0 ? h->endpoint : origin;
        if (never_reached(rc, r) && !h->reached)
            return ss_fail(SS_ERR_NET,
                           "cannot reach %s (%s): no network? (HF_HUB_OFFLINE=1 uses only the Hugging Face cache; "
                           "use `slidesparse synth` for synthetic weights)",
                           shown, h->errbuf);
        return ss_fail(SS_ERR_NET, "%s: transfer from %s failed%s (%s)", what, r->host, after, h->errbuf);
    }
    const char *host = r->host[0] ? r->host : "?";
    const char *detail = r->err_msg[0] ? r->err_msg : "";
    const char *sep = r->err_msg[0] ? ": " : "";
    /* " for <repo>/<file>" when a file failed; the repo is named first anyway. */
    char for_what[4200] = "";
    if (strcmp(what, h->repo) != 0) snprintf(for_what, sizeof for_what, " for %s", what);
    long s = r->status;
    if (s == 401 || s == 403) {
        if (strcasecmp(host, ep_host) != 0)
            return ss_fail(SS_ERR_NET,
                           "%s: refused by %s (HTTP %ld%s%s), the host the hub sent the download to, not the hub "
                           "itself: a proxy, or an expired signed link? run the same command again (it resumes)",
                           what, host, s, sep, detail);
        if (strcasecmp(r->err_code, "RepoNotFound") == 0)
            return ss_fail(SS_ERR_NET,
                           "%s: no such repo on %s, or it is private and needs a token (set HF_TOKEN) (HTTP %ld from "
                           "%s%s%s)",
                           h->repo, h->endpoint, s, host, sep, detail);
        int gated = strcasecmp(r->err_code, "GatedRepo") == 0;
        if (!h->auth[0] && gated)
            return ss_fail(SS_ERR_NET,
                           "%s: a gated repo, it needs a token (set HF_TOKEN) of an account that has accepted its "
                           "terms at %s/%s (HTTP %ld from %s%s%s%s)",
                           h->repo, h->endpoint, h->repo, s, host, for_what, sep, detail);
        if (!h->auth[0])
            return ss_fail(SS_ERR_NET, "%s: needs a token (set HF_TOKEN) (HTTP %ld from %s%s%s%s)", h->repo, s, host,
                           for_what, sep, detail);
        return ss_fail(SS_ERR_NET,
                       "%s: access denied with the given HF_TOKEN (HTTP %ld from %s%s%s%s); a gated repo also needs "
                       "its terms accepted on %s/%s by the token's account",
                       h->repo, s, host, for_what, sep, detail, h->endpoint, h->repo);
    }
    if (s == 429)
        return ss_fail(SS_ERR_NET, "%s: rate limited by %s (HTTP 429%s%s)%s; run the same command later, it resumes%s",
                       what, host, sep, detail, after, h->auth[0] ? "" : " (a token, HF_TOKEN, gets higher limits)");
    if (s == 404) {
        if (strcasecmp(r->err_code, "RevisionNotFound") == 0)
            return ss_fail(SS_ERR_NET, "%s: no such revision '%s' (HTTP 404 from %s%s%s)", h->repo, h->revision,
                           host, sep, detail);
        if (strcasecmp(r->err_code, "RepoNotFound") == 0)
            return ss_fail(SS_ERR_NET, "%s: no such repo on %s (HTTP 404%s%s)", h->repo, h->endpoint, sep, detail);
        if (strcmp(what, h->repo) == 0)
            return ss_fail(SS_ERR_NET, "%s: no such repo or revision '%s' on %s (HTTP 404%s%s)", h->repo, h->revision,
                           h->endpoint, sep, detail);
        return ss_fail(SS_ERR_NET, "%s: no such file at revision '%s' (commit %s) (HTTP 404 from %s%s%s)", what,
                       h->revision, h->commit[0] ? h->commit : "?", host, sep, detail);
    }
    if (http_retryable(s))
        return ss_fail(SS_ERR_NET, "%s: HTTP %ld from %s%s%s%s; run the same command again later (it resumes)", what, s, host, sep,
                       detail, after);
    return ss_fail(SS_ERR_NET, "%s: HTTP %ld from %s%s%s", what, s, url, sep, detail);
}

ss_status hub_retry_or_fail(hub *h, const char *url, CURLcode rc, const resp *r, int attempt, const char *what) {
    int retry = rc != CURLE_OK ? curl_retryable(rc) : http_retryable(r->status);
    if (!retry || h->offline) return request_error(h, url, rc, r, what, attempt);
    char reason[CURL_ERROR_SIZE + 300];
    if (rc != CURLE_OK)
        snprintf(reason, sizeof reason, "%s", h->errbuf);
    else
        snprintf(reason, sizeof reason, "HTTP %ld from %s%s", r->status, r->host,
                 r->status == 429 ? " (rate limited)" : r->status >= 500 ? " (server busy)" : "");
    if (h->tty && !h->quiet) fprintf(stderr, "\r\033[K");

    if (rc != CURLE_OK && never_reached(rc, r) && !h->reached) {
        /* A connect timeout has waited long enough already. */
        if (rc == CURLE_OPERATION_TIMEDOUT || attempt >= 1) return request_error(h, url, rc, r, what, attempt);
        long ms = h->backoff_ms < QUICK_RETRY_MS ? h->backoff_ms : QUICK_RETRY_MS;
        if (!h->quiet) ss_warn("%s: %s; one quick retry", what, reason);
        sleep_ms(ms);
        return SS_OK;
    }
    if (attempt >= h->max_retries) return request_error(h, url, rc, r, what, attempt);

    long ms = h->backoff_ms;
    for (int i = 0; i < attempt && ms < MAX_BACKOFF_MS; i++) ms *= 2;
    if (ms > MAX_BACKOFF_MS) ms = MAX_BACKOFF_MS;
    if (rc == CURLE_OK && r->retry_after_s >= 0) {
        long ask = r->retry_after_s;
        if (h->waited_s + ask > h->max_wait_s)
            return ss_fail(SS_ERR_NET,
                           "%s: %s asks to wait %ld s (Retry-After) before trying again; this download waits at most "
                           "%ld s in all for servers (%ld s so far; SS_HUB_MAX_WAIT_S sets it); run the same command "
                           "later, it resumes",
                           what, reason, ask, h->max_wait_s, h->waited_s);
        h->waited_s += ask;
        if (!h->quiet)
            ss_warn("%s: %s; waiting %ld s as its Retry-After asks, retry %d/%d", what, reason, ask, attempt + 1,
                    h->max_retries);
        sleep_ms(ask * 1000);
        return SS_OK;
    }
    if (!h->quiet) ss_warn("%s: %s; retry %d/%d in %.1f s", what, reason, attempt + 1, h->max_retries, ms / 1e3);
    sleep_ms(ms);
    return SS_OK;
}

/* ---------------------------------------------------------------- JSON */

typedef struct membuf {
    char *data;
    size_t len, cap;
    int overflow;
} membuf;

static size_t on_body_mem(char *ptr, size_t size, size_t nmemb, void *userdata) {
    membuf *m = userdata;
    size_t n = size * nmemb;
    if (m->len + n + 1 > MAX_JSON_BYTES) {
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

ss_status hub_get_json(hub *h, const char *url, const char *what, json_t **out, resp *r) {
    membuf m = {0};
    ss_status st = SS_OK;
    *out = NULL;
    for (int attempt = 0;; attempt++) {
        m.len = 0;
        m.overflow = 0;
        CURLcode rc = hub_get(h, url, NULL, on_body_mem, &m, r);
        if (m.overflow) {
            st = ss_fail(SS_ERR_FORMAT, "%s: answer larger than %zu MB (or out of memory)", url, MAX_JSON_BYTES >> 20);
            break;
        }
        if (rc == CURLE_OK && r->status == 200) {
            json_error_t jerr;
            *out = json_loadb(m.data ? m.data : "", m.len, 0, &jerr);
            if (!*out)
                st = ss_fail(SS_ERR_FORMAT, "%s: not JSON (%d:%d: %s)", url, jerr.line, jerr.column, jerr.text);
            break;
        }
        if ((st = hub_retry_or_fail(h, url, rc, r, attempt, what)) != SS_OK) break;
    }
    free(m.data);
    return st;
}

ss_status hub_url_escape(hub *h, const char *s, int keep_slash, char *out, size_t cap) {
    size_t used = 0;
    out[0] = '\0';
    for (const char *seg = s; seg;) {
        const char *slash = keep_slash ? strchr(seg, '/') : NULL;
        int n = slash ? (int)(slash - seg) : (int)strlen(seg);
        char *e = curl_easy_escape(h->curl, seg, n);
        if (!e) return ss_fail(SS_ERR_NOMEM, "cannot escape '%s'", s);
        int w = snprintf(out + used, cap - used, "%s%s", e, slash ? "/" : "");
        curl_free(e);
        if (w < 0 || (size_t)w >= cap - used) return ss_fail(SS_ERR_ARG, "'%s': URL too long", s);
        used += (size_t)w;
        seg = slash ? slash + 1 : NULL;
    }
    return SS_OK;
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

/* HF_HUB_OFFLINE (else the older TRANSFORMERS_OFFLINE) as huggingface_hub
 * reads it: 1/ON/YES/TRUE, any case; a value that is neither on nor off is
 * refused rather than guessed. */
static ss_status read_offline(int *offline) {
    static const char *const on[] = {"1", "on", "yes", "true"}, *const off[] = {"0", "off", "no", "false"};
    const char *name = "HF_HUB_OFFLINE", *v = getenv(name);
    if (!v || !v[0]) v = getenv(name = "TRANSFORMERS_OFFLINE");
    *offline = 0;
    if (!v || !v[0]) return SS_OK;
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(v, on[i]) == 0 || strcasecmp(v, off[i]) == 0) {
            *offline = strcasecmp(v, on[i]) == 0;
            return SS_OK;
        }
    }
    return ss_fail(SS_ERR_ARG, "%s='%s': expected 1 or 0 (or on/off, yes/no, true/false)", name, v);
}

static long env_long(const char *name, long dflt) {
    const char *v = getenv(name);
    return v && v[0] && atol(v) > 0 ? atol(v) : dflt;
}

ss_status hub_open(hub *h, const char *repo_id, const ss_hub_options *opt) {
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
    h->backoff_ms = env_long("SS_HUB_BACKOFF_MS", opt->backoff_ms > 0 ? opt->backoff_ms : 1000);
    h->connect_timeout_ms = opt->connect_timeout_ms > 0 ? opt->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
    h->max_wait_s = env_long("SS_HUB_MAX_WAIT_S", opt->max_wait_s > 0 ? opt->max_wait_s : DEFAULT_MAX_WAIT_S);
    const char *period = getenv("SS_HUB_PROGRESS_S");
    h->progress_period_s = period && atof(period) > 0 ? atof(period) : DEFAULT_PROGRESS_PERIOD_S;
    h->quiet = opt->quiet;
    h->tty = isatty(STDERR_FILENO);
    SS_TRY(read_offline(&h->offline));
    SS_TRY(hub_cache_locate(h));

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
    /* Name lookup, TCP and TLS handshakes; a host that does not answer at
     * all is reported after this, once. */
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
    /* A stalled transfer (under 1 KB/s for a minute) is aborted and resumed. */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#endif
    return SS_OK;
}

void hub_close(hub *h) {
    if (h->curl) {
        curl_easy_cleanup(h->curl);
        curl_global_cleanup();
    }
    h->curl = NULL;
}
