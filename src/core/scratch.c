/* Scratch entries with owner locks (see scratch.h). */
#include "core/scratch.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fault.h"
#include "core/fsutil.h"

/* The lock file's whole content; a file without it is not ours. */
#define LOCK_MAGIC "slidesparse scratch lock, pid "

static int ends_with(const char *s, const char *suffix) {
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && !strcmp(s + ls - lx, suffix);
}

/* Length of `name` without a trailing ".<tag>.<digits>", or 0 if it has none. */
static size_t strip_tag_pid(const char *name, size_t len, const char *tag) {
    size_t k = len;
    while (k > 0 && isdigit((unsigned char)name[k - 1])) k--;
    if (k == len) return 0;
    size_t lt = strlen(tag);
    if (k < lt + 2 || name[k - 1] != '.' || strncmp(name + k - 1 - lt, tag, lt) != 0 || name[k - 2 - lt] != '.')
        return 0;
    return k - 2 - lt;
}

int ss_is_scratch_name(const char *name) {
    size_t n = strlen(name);
    if (ends_with(name, ".lock")) n -= 5;
    if (n > 8 && !strncmp(name + n - 8, ".partial", 8)) return 1;
    return strip_tag_pid(name, n, "tmp") > 0 || strip_tag_pid(name, n, "old") > 0;
}

/* Unlinks the lock file, then drops the lock (in that order: a cleaner
 * that takes the lock finds no file to act on). */
static void release(ss_scratch *s) {
    if (s->fd < 0) return;
    unlink(s->lock);
    close(s->fd);
    s->fd = -1;
}

/* Opens and locks `lock`. A cleaner may unlink the file between our open
 * and our flock; then we hold a lock on a file nobody sees, so try again. */
static ss_status take_lock(const char *lock, int *fd_out) {
    for (int attempt = 0; attempt < 8; attempt++) {
        int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) return ss_fail_errno("cannot create %s", lock);
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int err = errno;
            close(fd);
            if (err == EWOULDBLOCK)
                return ss_fail(SS_ERR_IO, "%s: another writer of the same output holds this lock", lock);
            errno = err;
            return ss_fail_errno("cannot lock %s", lock);
        }
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(lock, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
            *fd_out = fd;
            return SS_OK;
        }
        close(fd);
    }
    return ss_fail(SS_ERR_IO, "%s: cannot take the lock (the file keeps disappearing)", lock);
}

ss_status ss_scratch_begin(ss_scratch *s, const char *final) {
    memset(s, 0, sizeof *s);
    s->fd = -1;
    size_t n = strlen(final);
    while (n > 1 && final[n - 1] == '/') n--; /* "models/x/" -> "models/x": the scratch is a sibling */
    if (n == 0 || n >= sizeof s->final) return ss_fail(SS_ERR_ARG, "%s: bad or too long output path", final);
    memcpy(s->final, final, n);
    s->final[n] = '\0';
    long pid = (long)getpid();
    snprintf(s->path, sizeof s->path, "%s.tmp.%ld", s->final, pid);
    snprintf(s->lock, sizeof s->lock, "%s.lock", s->path);
    SS_TRY(take_lock(s->lock, &s->fd));
    char text[64];
    int len = snprintf(text, sizeof text, LOCK_MAGIC "%ld\n", pid);
    if (ftruncate(s->fd, 0) != 0 || write(s->fd, text, (size_t)len) != len) {
        ss_status st = ss_fail_errno("writing %s", s->lock);
        release(s);
        return st;
    }
    /* a dead process that had our pid may have left this very name */
    ss_status st = ss_rm_rf(s->path);
    if (st != SS_OK) release(s);
    return st;
}

/* Replaces `final` with the folder at `path` when exchange is not
 * supported: final is moved aside to "<final>.old.<pid>" for a moment
 * (ss_scratch_clean moves it back if we die in between). */
static ss_status replace_by_two_renames(ss_scratch *s) {
    char old[4200];
    snprintf(old, sizeof old, "%s.old.%ld", s->final, (long)getpid());
    SS_TRY(ss_rm_rf(old));
    if (rename(s->final, old) != 0) return ss_fail_errno("cannot move %s aside", s->final);
    ss_fault_point("scratch-moved-aside");
    if (rename(s->path, s->final) != 0) {
        ss_status st = ss_fail_errno("cannot rename %s to %s", s->path, s->final);
        rename(old, s->final);
        return st;
    }
    ss_rm_rf(old);
    ss_clear_error();
    return SS_OK;
}

ss_status ss_scratch_commit_dir(ss_scratch *s) {
    if (s->fd < 0) return ss_fail(SS_ERR_INTERNAL, "%s: scratch already released", s->path);
    ss_fault_point("scratch-commit");
    struct stat sb;
    if (lstat(s->final, &sb) == 0) {
        if (renameat2(AT_FDCWD, s->path, AT_FDCWD, s->final, RENAME_EXCHANGE) == 0) {
            ss_fault_point("scratch-exchanged");
            ss_rm_rf(s->path); /* the replaced folder, now under the scratch name */
            ss_clear_error();
        } else if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
            SS_TRY(replace_by_two_renames(s));
        } else {
            return ss_fail_errno("cannot exchange %s and %s", s->path, s->final);
        }
    } else if (rename(s->path, s->final) != 0) {
        return ss_fail_errno("cannot rename %s to %s", s->path, s->final);
    }
    release(s);
    return SS_OK;
}

ss_status ss_scratch_commit_file(ss_scratch *s) {
    if (s->fd < 0) return ss_fail(SS_ERR_INTERNAL, "%s: scratch already released", s->path);
    if (rename(s->path, s->final) != 0) return ss_fail_errno("renaming %s to %s", s->path, s->final);
    release(s);
    return SS_OK;
}

void ss_scratch_abort(ss_scratch *s) {
    if (s->fd < 0) return;
    char saved[2048]; /* keep the failure that made the caller abort */
    snprintf(saved, sizeof saved, "%s", ss_errmsg());
    ss_rm_rf(s->path);
    release(s);
    ss_fail(SS_OK, "%s", saved);
}

/* ---- cleaning ---- */

/* One lock file "<stem>.lock" in dir: acts if its owner is dead. */
static int clean_one(const char *dir, const char *lock_name) {
    char lock[4400], stem[4400];
    if (ss_path_join(lock, sizeof lock, dir, lock_name) != SS_OK) return 0;
    snprintf(stem, sizeof stem, "%.*s", (int)(strlen(lock) - 5), lock);
    int fd = open(lock, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return 0;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) { /* the owner is alive */
        close(fd);
        return 0;
    }
    char text[128];
    ssize_t got = pread(fd, text, sizeof text - 1, 0);
    int removed = 0;
    if (got == 0) {
        unlink(lock); /* an owner died (or is about to retry) before writing it */
    } else if (got > 0) {
        text[got] = '\0';
        char *end;
        long pid = strncmp(text, LOCK_MAGIC, strlen(LOCK_MAGIC)) ? 0 : strtol(text + strlen(LOCK_MAGIC), &end, 10);
        if (pid > 0 && *end == '\n') {
            ss_rm_rf(stem);
            /* a replacement killed between its two renames: put the old folder back */
            size_t base_len = strip_tag_pid(stem, strlen(stem), "tmp");
            char final[4400], old[4500];
            snprintf(final, sizeof final, "%.*s", (int)base_len, stem);
            snprintf(old, sizeof old, "%s.old.%ld", final, pid);
            struct stat sb;
            if (base_len && lstat(old, &sb) == 0) {
                if (lstat(final, &sb) != 0) rename(old, final);
                else ss_rm_rf(old);
            }
            unlink(lock);
            removed = 1;
        }
    }
    ss_clear_error();
    close(fd);
    return removed;
}

int ss_scratch_clean(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    /* collect first: removing entries while reading the folder may skip some */
    char **locks = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (!ends_with(e->d_name, ".lock") || !strip_tag_pid(e->d_name, len - 5, "tmp")) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 8;
            char **p = realloc(locks, (size_t)cap * sizeof *p);
            if (!p) break;
            locks = p;
        }
        if (!(locks[n] = strdup(e->d_name))) break;
        n++;
    }
    closedir(d);
    int removed = 0;
    for (int i = 0; i < n; i++) {
        removed += clean_one(dir, locks[i]);
        free(locks[i]);
    }
    free(locks);
    return removed;
}

int ss_scratch_clean_tree(const char *dir, int max_depth) {
    int removed = ss_scratch_clean(dir);
    if (max_depth <= 0) return removed;
    DIR *d = opendir(dir);
    if (!d) return removed;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || ss_is_scratch_name(e->d_name)) continue;
        char sub[4400];
        struct stat sb;
        if (ss_path_join(sub, sizeof sub, dir, e->d_name) != SS_OK || lstat(sub, &sb) != 0 || !S_ISDIR(sb.st_mode))
            continue;
        removed += ss_scratch_clean_tree(sub, max_depth - 1);
    }
    closedir(d);
    ss_clear_error();
    return removed;
}
