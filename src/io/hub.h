/* A Hugging Face hub client on libcurl: list a model repository at one
 * commit and download every file into a folder, resumably and verified.
 *
 *     ss_hub_options opt = {.revision = "main"};
 *     SS_TRY(ss_hub_download("microsoft/bitnet-b1.58-2B-4T-bf16", "models/BitNet-2B-BF16", &opt));
 *
 * The revision (branch or tag) is resolved to a commit first; the listing,
 * every file and the folder's manifest use that commit. Files are streamed
 * into "<out_dir>.partial/<path>"; only when every file has its listed size
 * (and, for LFS files, its listed SHA-256; for small git files, its git blob
 * SHA-1) is the folder renamed to out_dir, so a half downloaded model never
 * appears there. Running again after an interruption continues each file
 * with an HTTP Range request.
 *
 * A file the user's Hugging Face cache already holds (huggingface_hub's
 * layout under $HF_HUB_CACHE, else $HF_HOME/hub, else
 * ~/.cache/huggingface/hub) is verified against the listing and hard-linked
 * (LFS files, same file system) or copied instead of downloaded; the cache is
 * never written. With HF_HUB_OFFLINE=1 nothing touches the network: the
 * files come from the cache or the download fails saying so.
 *
 * Environment: HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE),
 * HF_HUB_CACHE / HUGGINGFACE_HUB_CACHE / HF_HOME / XDG_CACHE_HOME; and
 * SS_HUB_MAX_WAIT_S, SS_HUB_BACKOFF_MS, SS_HUB_PROGRESS_S (see below). */
#ifndef SS_IO_HUB_H
#define SS_IO_HUB_H

#include <stdint.h>

#include "core/status.h"

typedef struct ss_hub_options {
    const char *revision;   /* branch, tag or commit; default "main" */
    const char *endpoint;   /* default: $HF_ENDPOINT, else https://huggingface.co */
    const char *token;      /* default: $HF_TOKEN (sent as "Authorization: Bearer ...") */
    int max_retries;        /* default 5 (0 = default; negative = no retries) */
    int backoff_ms;         /* first retry delay, doubling; default 1000; $SS_HUB_BACKOFF_MS overrides */
    int connect_timeout_ms; /* name lookup + connect + TLS, per attempt; default 10000 */
    int max_wait_s;         /* the most one download waits in all on servers' Retry-After; default 900;
                               $SS_HUB_MAX_WAIT_S overrides */
    int quiet;              /* no progress output; otherwise, when stderr is not a terminal, a progress
                               line every $SS_HUB_PROGRESS_S seconds (default 5) or 10% of a file */
} ss_hub_options;

/* One file of a repository listing. */
typedef struct ss_hub_file {
    char *path;       /* relative path inside the repo, '/'-separated */
    int64_t size;     /* bytes; -1 if the listing did not say */
    char *git_oid;    /* git blob SHA-1 (hex) of a non-LFS file, or NULL */
    char *lfs_sha256; /* SHA-256 (hex) of an LFS file's content, or NULL */
} ss_hub_file;

typedef struct ss_hub_listing {
    ss_hub_file *files; /* [n] */
    int n;
    char commit[41]; /* the commit listed (ss_hub_list sets it) */
} ss_hub_listing;

/* Downloads every file of repo_id at opt->revision into out_dir (see above).
 * If out_dir already holds a complete download of the same repo, says so and
 * returns SS_OK without touching the network. Errors: SS_ERR_NET (no network,
 * HTTP error, size or checksum mismatch, offline and not in the cache),
 * SS_ERR_IO, SS_ERR_FORMAT (an answer that is not the hub's JSON), SS_ERR_ARG. */
ss_status ss_hub_download(const char *repo_id, const char *out_dir, const ss_hub_options *opt /* may be NULL */);

/* Lists the files of repo_id at the commit opt->revision resolves to (all
 * pages of the hub's tree API, recursive; offline: from the cache). */
ss_status ss_hub_list(const char *repo_id, const ss_hub_options *opt, ss_hub_listing *out);
void ss_hub_listing_free(ss_hub_listing *l);

#endif
