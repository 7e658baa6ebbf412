/* What the hub client's files share; not part of the io layer's interface.
 *
 *   hub_http.c     one libcurl handle: GETs, the retry policy (Retry-After,
 *                  unreachable hosts), error messages naming the host
 *   hub_listing.c  the revision resolved to a commit, the tree listing
 *   hub_file.c     one file streamed to disk: Range resume, hashes, progress
 *   hub_cache.c    files reused from the user's Hugging Face cache, and the
 *                  cache as the only source when HF_HUB_OFFLINE is set
 *   hub.c          ss_hub_download: the folder, the manifest, the order */
#ifndef SS_IO_HUB_INTERNAL_H
#define SS_IO_HUB_INTERNAL_H

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#include "io/hub.h"

#define HUB_MANIFEST_NAME ".slidesparse-download.json"

typedef struct hub {
    CURL *curl;
    const char *repo;
    const char *revision; /* as the user gave it */
    char commit[41];      /* revision resolved to a commit; every URL uses it */
    char endpoint[1024];  /* no trailing slash */
    char auth[4096];      /* "Authorization: Bearer ..." or "" */
    int max_retries;
    long backoff_ms;
    long connect_timeout_ms;
    long max_wait_s, waited_s; /* Retry-After waits: their bound and their sum so far */
    int reached;               /* some server has answered in this run */
    int offline;               /* HF_HUB_OFFLINE */
    char cache_root[4096];     /* the Hugging Face hub cache folder (may not exist) */
    char cache_repo[4200];     /* cache_root/models--org--name */
    int quiet;
    int tty; /* stderr is a terminal: live progress lines */
    double progress_period_s;
    char errbuf[CURL_ERROR_SIZE];
} hub;

/* What we keep of one HTTP response. Redirect responses come first; each
 * status line resets the record, so after the transfer it describes the
 * final response. */
typedef struct resp {
    long status;                      /* 0: no response at all */
    int64_t content_length;           /* -1 if absent */
    int64_t range_start, range_total; /* from Content-Range; -1 if absent */
    long retry_after_s;               /* from Retry-After (seconds or HTTP date); -1 if absent */
    char host[256];                   /* host of the last URL asked (after redirects) */
    char link[8192];
    char err_code[128];
    char err_msg[512];
} resp;

/* ---- hub_http.c */
ss_status hub_open(hub *h, const char *repo_id, const ss_hub_options *opt);
void hub_close(hub *h);
/* One GET (no retries). `range` is "N-" or NULL. */
CURLcode hub_get(hub *h, const char *url, const char *range, curl_write_callback on_body, void *body_ud, resp *r);
/* After a failed GET (rc != CURLE_OK, or an HTTP status that is not the
 * answer): SS_OK once it has waited and the caller should try again
 * (attempt is 0 for the first failure), else the error, message recorded.
 * `what` names the repo or "repo/path". */
ss_status hub_retry_or_fail(hub *h, const char *url, CURLcode rc, const resp *r, int attempt, const char *what);
/* GET a JSON document with retries; *r describes the final response. */
ss_status hub_get_json(hub *h, const char *url, const char *what, json_t **out, resp *r);
/* curl_easy_escape of s, or with keep_slash of each '/'-separated segment. */
ss_status hub_url_escape(hub *h, const char *s, int keep_slash, char *out, size_t cap);

/* ---- hub_listing.c */
ss_status hub_resolve_commit(hub *h);             /* online: sets h->commit */
ss_status hub_list_files(hub *h, ss_hub_listing *out); /* the tree at h->commit */
/* Appends one file; takes copies of the strings. */
ss_status hub_listing_add(ss_hub_listing *l, int *cap, const char *path, int64_t size, const char *git_oid,
                          const char *lfs_sha256, const char *where);
/* A tree-API entry (or a manifest entry, same shape): files are appended,
 * directories skipped, unsafe paths refused. */
ss_status hub_listing_add_json(ss_hub_listing *l, int *cap, const json_t *e, const char *where);
int hub_is_hex(const char *s, size_t n);
int hub_is_commit(const char *s); /* 40 hex digits */
void hub_set_commit(hub *h, const char *sha); /* lower case, as the cache's folder names */

/* ---- hub_file.c */
/* Into folder/<f->path>: reuses the cache when it can, else downloads (or
 * finishes, or just verifies what a previous run left). i/n: its place in
 * the listing, for progress lines. */
ss_status hub_fetch_file(hub *h, const ss_hub_file *f, const char *folder, int i, int n);
/* Hash of a file's content as the listing states it: SHA-256 for LFS files,
 * the git blob SHA-1 ("blob <size>\0" + content) otherwise. A file without
 * either has nothing to check (hub_can_verify is 0). */
int hub_can_verify(const ss_hub_file *f);
ss_status hub_hash_init(EVP_MD_CTX *md, const ss_hub_file *f);
/* *match = 1 if the file at path has f's size and listed hash. */
ss_status hub_hash_file(const char *path, const ss_hub_file *f, int *match);
/* Finishes md into hex `got`; 1 if it is the listed hash. */
int hub_hash_matches(EVP_MD_CTX *md, const ss_hub_file *f, char *got, size_t cap);
const char *hub_human(double bytes, char *buf, size_t cap); /* "4.5 MB" */

/* ---- hub_cache.c */
/* Sets h->cache_root / cache_repo from HF_HUB_CACHE, HF_HOME, XDG_CACHE_HOME, HOME. */
ss_status hub_cache_locate(hub *h);
/* If the cache holds f (the snapshot of h->commit, or the blob its hash
 * names), places a verified copy or hard link at disk, sets *taken and *how
 * ("hard-linked" or "copied"). The cache is only read. */
ss_status hub_cache_take(hub *h, const ss_hub_file *f, const char *disk, int *taken, const char **how);
/* Offline: h->commit from refs/<revision> (or the revision itself when it is
 * a commit the cache has). */
ss_status hub_cache_resolve_commit(hub *h);
/* Offline: the files of h->commit from the cache's trees/<commit>.json, or
 * else from its snapshot folder (then *complete = 0: the repo may hold more). */
ss_status hub_cache_list(hub *h, ss_hub_listing *out, int *complete);

#endif
