#include "core/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

ss_status ss_afile_open(ss_afile *f, const char *path) {
    memset(f, 0, sizeof *f);
    if (strlen(path) >= sizeof f->path) return ss_fail(SS_ERR_ARG, "%s: path too long", path);
    strcpy(f->path, path);
    SS_TRY(ss_scratch_begin(&f->scratch, path));
    f->fp = fopen(f->scratch.path, "wbx");
    if (!f->fp) {
        ss_status st = ss_fail_errno("cannot create %s", f->scratch.path);
        ss_scratch_abort(&f->scratch);
        return st;
    }
    return SS_OK;
}

ss_status ss_afile_write(ss_afile *f, const void *data, size_t n) {
    if (f->failed) return ss_fail(SS_ERR_IO, "%s: earlier write failed", f->path);
    if (n && fwrite(data, 1, n, f->fp) != n) {
        f->failed = 1;
        return ss_fail_errno("writing %s", f->path);
    }
    return SS_OK;
}

ss_status ss_afile_printf(ss_afile *f, const char *fmt, ...) {
    if (f->failed) return ss_fail(SS_ERR_IO, "%s: earlier write failed", f->path);
    va_list ap;
    va_start(ap, fmt);
    int r = vfprintf(f->fp, fmt, ap);
    va_end(ap);
    if (r < 0) {
        f->failed = 1;
        return ss_fail_errno("writing %s", f->path);
    }
    return SS_OK;
}

ss_status ss_afile_commit(ss_afile *f) {
    ss_status st = SS_OK;
    if (!f->fp) return ss_fail(SS_ERR_INTERNAL, "%s: not open", f->path);
    if (f->failed) st = ss_fail(SS_ERR_IO, "%s: write failed", f->path);
    else if (fflush(f->fp) != 0) st = ss_fail_errno("writing %s", f->path);
    else if (fsync(fileno(f->fp)) != 0) st = ss_fail_errno("syncing %s", f->path);
    if (fclose(f->fp) != 0 && st == SS_OK) st = ss_fail_errno("closing %s", f->path);
    f->fp = NULL;
    if (st == SS_OK) st = ss_scratch_commit_file(&f->scratch);
    if (st != SS_OK) ss_scratch_abort(&f->scratch);
    return st;
}

void ss_afile_abort(ss_afile *f) {
    if (!f->fp) return;
    fclose(f->fp);
    f->fp = NULL;
    ss_scratch_abort(&f->scratch);
}

ss_status ss_write_file_atomic(const char *path, const void *data, size_t n) {
    ss_afile f;
    SS_TRY(ss_afile_open(&f, path));
    ss_status st = ss_afile_write(&f, data, n);
    if (st != SS_OK) {
        ss_afile_abort(&f);
        return st;
    }
    return ss_afile_commit(&f);
}

ss_status ss_read_file(const char *path, char **data, size_t *n) {
    *data = NULL;
    if (n) *n = 0;
    struct stat pre;
    if (stat(path, &pre) == 0 && !S_ISREG(pre.st_mode)) /* a FIFO would block the open */
        return ss_fail(SS_ERR_IO, "%s: not a regular file", path);
    FILE *fp = fopen(path, "rb");
    if (!fp) return ss_fail_errno("cannot open %s", path);
    struct stat sb;
    if (fstat(fileno(fp), &sb) != 0) {
        fclose(fp);
        return ss_fail_errno("cannot stat %s", path);
    }
    char *buf = malloc((size_t)sb.st_size + 1);
    if (!buf) {
        fclose(fp);
        return ss_fail(SS_ERR_NOMEM, "%s: cannot allocate %lld bytes", path, (long long)sb.st_size);
    }
    size_t got = fread(buf, 1, (size_t)sb.st_size, fp);
    int err = ferror(fp);
    fclose(fp);
    if (err || got != (size_t)sb.st_size) {
        free(buf);
        return ss_fail(SS_ERR_IO, "%s: short read", path);
    }
    buf[got] = '\0';
    *data = buf;
    if (n) *n = got;
    return SS_OK;
}

ss_status ss_tmpdir_for(const char *out, char *tmp, size_t cap) {
    if ((size_t)snprintf(tmp, cap, "%s.tmp.%ld", out, (long)getpid()) >= cap)
        return ss_fail(SS_ERR_ARG, "%s: path too long", out);
    SS_TRY(ss_rm_rf(tmp));
    return ss_mkdir_p(tmp);
}

ss_status ss_dir_commit(const char *tmp, const char *out) {
    struct stat sb;
    if (lstat(out, &sb) != 0) {
        if (rename(tmp, out) != 0) return ss_fail_errno("cannot rename %s to %s", tmp, out);
        return SS_OK;
    }
    /* one atomic exchange: `out` is never missing, whenever we are killed */
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, out, RENAME_EXCHANGE) == 0) return ss_rm_rf(tmp);
    if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
        return ss_fail_errno("cannot exchange %s and %s", tmp, out);
    char old[4200];
    snprintf(old, sizeof old, "%s.old.%ld", out, (long)getpid());
    if (rename(out, old) != 0) return ss_fail_errno("cannot move old %s aside", out);
    if (rename(tmp, out) != 0) {
        ss_status st = ss_fail_errno("cannot rename %s to %s", tmp, out);
        rename(old, out);
        return st;
    }
    return ss_rm_rf(old);
}

ss_status ss_mkdir_p(const char *path) {
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf) return ss_fail(SS_ERR_ARG, "bad folder path '%s'", path);
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return ss_fail_errno("cannot create folder %s", buf);
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) return ss_fail_errno("cannot create folder %s", buf);
    if (!ss_is_dir(buf)) return ss_fail(SS_ERR_IO, "%s exists and is not a folder", buf);
    return SS_OK;
}

ss_status ss_rm_rf(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return errno == ENOENT ? SS_OK : ss_fail_errno("cannot stat %s", path);
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        if (!d) return ss_fail_errno("cannot open folder %s", path);
        struct dirent *e;
        ss_status st = SS_OK;
        while (st == SS_OK && (e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char child[4096];
            st = ss_path_join(child, sizeof child, path, e->d_name);
            if (st == SS_OK) st = ss_rm_rf(child);
        }
        closedir(d);
        if (st != SS_OK) return st;
        if (rmdir(path) != 0) return ss_fail_errno("cannot remove folder %s", path);
        return SS_OK;
    }
    if (unlink(path) != 0) return ss_fail_errno("cannot remove %s", path);
    return SS_OK;
}

ss_status ss_copy_file(const char *src, const char *dst) {
    FILE *in = fopen(src, "rb");
    if (!in) return ss_fail_errno("cannot open %s", src);
    ss_afile f;
    ss_status st = ss_afile_open(&f, dst);
    if (st != SS_OK) {
        fclose(in);
        return st;
    }
    char buf[1 << 16];
    size_t n;
    while (st == SS_OK && (n = fread(buf, 1, sizeof buf, in)) > 0) st = ss_afile_write(&f, buf, n);
    if (st == SS_OK && ferror(in)) st = ss_fail(SS_ERR_IO, "reading %s failed", src);
    fclose(in);
    if (st != SS_OK) {
        ss_afile_abort(&f);
        return st;
    }
    return ss_afile_commit(&f);
}

int ss_path_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

int ss_is_dir(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int64_t ss_file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (int64_t)sb.st_size : -1;
}

ss_status ss_path_join(char *out, size_t cap, const char *a, const char *b) {
    size_t la = strlen(a);
    int slash = la > 0 && a[la - 1] != '/';
    if ((size_t)snprintf(out, cap, "%s%s%s", a, slash ? "/" : "", b) >= cap)
        return ss_fail(SS_ERR_ARG, "path too long: %s/%s", a, b);
    return SS_OK;
}
