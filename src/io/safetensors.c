/* safetensors reader (mmap + full header validation) and streamed writer.
 *
 * Reader: one table (ss_tensors) can hold the tensors of several files (the
 * shards of a model); add_file() maps one file and appends its tensors, then
 * finish_table() sorts by name and rejects a name present twice.
 *
 * Writer: every tensor is declared up front, so each shard's header (and so
 * every data offset) is known before the first byte of data; the bytes then
 * stream through in declaration order straight into stdio (large fwrite calls
 * bypass its buffer), with no staging copy.
 */
#include "io/safetensors.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fault.h"
#include "core/fsutil.h"
#include "core/jsonutil.h"

/* ------------------------------------------------------------------ reader */

/* Grows *arr (elements of `size` bytes) so that it holds at least `need`
 * elements; capacity doubles so n appends cost O(n). */
static ss_status grow(void **arr, int *cap, int need, size_t size, const char *what) {
    if (need <= *cap) return SS_OK;
    int ncap = *cap ? *cap : 16;
    while (ncap < need) ncap *= 2;
    void *p = realloc(*arr, (size_t)ncap * size);
    if (!p) return ss_fail(SS_ERR_NOMEM, "cannot grow the %s table to %d entries", what, ncap);
    *arr = p;
    *cap = ncap;
    return SS_OK;
}

/* Capacities live here rather than in the public struct; they are only
 * needed while a table is being built. */
typedef struct table_builder {
    ss_tensors *t;
    int cap_files, cap_tensors, cap_copies;
} table_builder;

int64_t ss_st_numel(const ss_st_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

/* One tensor entry of a header, as parsed, before it is placed in the table. */
typedef struct header_entry {
    const char *name; /* owned by the JSON */
    ss_dtype dtype;
    int ndim;
    int64_t shape[SS_ST_MAX_DIMS];
    uint64_t begin, end; /* relative to the data section */
} header_entry;

static ss_status parse_u64(const json_t *v, uint64_t *out) {
    if (!json_is_integer(v) || json_integer_value(v) < 0) return SS_ERR_FORMAT;
    *out = (uint64_t)json_integer_value(v);
    return SS_OK;
}

/* Formats a shape as "[a,b,c]" for messages. */
static const char *shape_str(char *buf, size_t cap, int ndim, const int64_t *shape) {
    size_t n = 0;
    n += (size_t)snprintf(buf + n, cap - n, "[");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? "," : "", (long long)shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
    return buf;
}

/* Validates one "<name>": {dtype, shape, data_offsets} entry. */
static ss_status parse_entry(const char *path, const char *name, const json_t *v, uint64_t data_len,
                             header_entry *e) {
    memset(e, 0, sizeof *e);
    e->name = name;
    if (!json_is_object(v)) return ss_fail(SS_ERR_FORMAT, "%s: tensor '%s': entry is not a JSON object", path, name);

    const json_t *dt = json_object_get(v, "dtype");
    if (!json_is_string(dt)) return ss_fail(SS_ERR_FORMAT, "%s: tensor '%s': missing or non-string 'dtype'", path, name);
    e->dtype = ss_dtype_from_name(json_string_value(dt));
    if (e->dtype == SS_DT_UNKNOWN)
        return ss_fail(SS_ERR_FORMAT, "%s: tensor '%s': unknown dtype '%s'", path, name, json_string_value(dt));

    const json_t *shape = json_object_get(v, "shape");
    if (!json_is_array(shape)) return ss_fail(SS_ERR_FORMAT, "%s: tensor '%s': missing or non-array 'shape'", path, name);
    size_t nd = json_array_size(shape);
    if (nd > SS_ST_MAX_DIMS)
        return ss_fail(SS_ERR_FORMAT, "%s: tensor '%s': %zu dimensions, at most %d supported", path, name, nd,
                       SS_ST_MAX_DIMS);
    e->ndim = (int)nd;
    uint64_t nbytes = ss_dtype_size(e->dtype);
    for (size_t i = 0; i < nd; i++) {
        const json_t *d = json_array_get(shape, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return ss_fail(SS_ERR_FORMAT, "%s: tensor '%s': dimension %zu is not a non-negative integer", path, name, i);
        e->shape[i] = (int64_t)json_integer_value(d);
        if (__builtin_mul_overflow(nbytes, (uint64_t)e->shape[i], &nbytes))
            return ss_fail(SS_ERR_FORMAT, "%s: tensor '%s': shape overflows 64 bits", path, name);
    }

    const json_t *off = json_object_get(v, "data_offsets");
    if (!json_is_array(off) || json_array_size(off) != 2 || parse_u64(json_array_get(off, 0), &e->begin) ||
        parse_u64(json_array_get(off, 1), &e->end))
        return ss_fail(SS_ERR_FORMAT, "%s: tensor '%s': 'data_offsets' is not [begin, end] of non-negative integers",
                       path, name);
    if (e->begin > e->end)
        return ss_fail(SS_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] end before begin", path, name,
                       (unsigned long long)e->begin, (unsigned long long)e->end);
    if (e->end - e->begin != nbytes) {
        char sb[160];
        return ss_fail(SS_ERR_FORMAT, "%s: tensor '%s': shape %s x %s = %llu bytes but data_offsets span %llu", path,
                       name, shape_str(sb, sizeof sb, e->ndim, e->shape), ss_dtype_name(e->dtype),
                       (unsigned long long)nbytes, (unsigned long long)(e->end - e->begin));
    }
    if (e->end > data_len)
        return ss_fail(SS_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] past the data section (%llu bytes)",
                       path, name, (unsigned long long)e->begin, (unsigned long long)e->end,
                       (unsigned long long)data_len);
    return SS_OK;
}

static int cmp_entry_offset(const void *a, const void *b) {
    const header_entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* The reference implementation's rule: sorted by offset, each tensor starts
 * where the previous one ended, and the last one ends the file. */
static ss_status check_layout(const char *path, header_entry *e, size_t n, uint64_t data_len) {
    qsort(e, n, sizeof *e, cmp_entry_offset);
    uint64_t pos = 0;
    const char *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        if (e[i].begin < pos)
            return ss_fail(SS_ERR_FORMAT, "%s: tensor '%s' (bytes %llu..%llu) overlaps tensor '%s' (ending at %llu)",
                           path, e[i].name, (unsigned long long)e[i].begin, (unsigned long long)e[i].end, prev,
                           (unsigned long long)pos);
        if (e[i].begin > pos)
            return ss_fail(SS_ERR_FORMAT, "%s: hole of %llu bytes before tensor '%s' (data_offsets begin %llu)", path,
                           (unsigned long long)(e[i].begin - pos), e[i].name, (unsigned long long)e[i].begin);
        pos = e[i].end;
        prev = e[i].name;
    }
    if (pos != data_len)
        return ss_fail(SS_ERR_FORMAT, "%s: tensors cover %llu bytes but the data section holds %llu", path,
                       (unsigned long long)pos, (unsigned long long)data_len);
    return SS_OK;
}

static ss_status check_metadata(const char *path, const json_t *meta) {
    if (!json_is_object(meta)) return ss_fail(SS_ERR_FORMAT, "%s: '__metadata__' is not a JSON object", path);
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)meta, k, v) {
        if (!json_is_string(v)) return ss_fail(SS_ERR_FORMAT, "%s: '__metadata__' value '%s' is not a string", path, k);
    }
    return SS_OK;
}

/* Places parsed entries into the table: names copied, data pointing into the
 * mapping, or into an aligned copy when the file leaves it misaligned. */
static ss_status add_entries(table_builder *b, int file, const header_entry *e, size_t n, const uint8_t *data) {
    ss_tensors *t = b->t;
    SS_TRY(grow((void **)&t->tensors, &b->cap_tensors, t->ntensors + (int)n, sizeof *t->tensors, "tensor"));
    for (size_t i = 0; i < n; i++) {
        ss_st_tensor *d = &t->tensors[t->ntensors];
        memset(d, 0, sizeof *d);
        d->name = strdup(e[i].name);
        if (!d->name) return ss_fail(SS_ERR_NOMEM, "cannot copy tensor name '%s'", e[i].name);
        t->ntensors++;
        d->dtype = e[i].dtype;
        d->ndim = e[i].ndim;
        memcpy(d->shape, e[i].shape, sizeof d->shape);
        d->nbytes = e[i].end - e[i].begin;
        d->file = file;
        const uint8_t *p = data + e[i].begin;
        size_t align = ss_dtype_size(d->dtype);
        d->data = p;
        if (d->nbytes && ((uintptr_t)p % align) != 0) {
            /* Typed loads from a misaligned pointer are undefined behaviour;
             * such files are rare (odd header lengths), so copy. */
            SS_TRY(grow((void **)&t->copies, &b->cap_copies, t->ncopies + 1, sizeof *t->copies, "copy"));
            size_t cap = (size_t)((d->nbytes + 63) / 64 * 64);
            void *c = aligned_alloc(64, cap);
            if (!c)
                return ss_fail(SS_ERR_NOMEM, "tensor '%s': cannot allocate %llu bytes for an aligned copy", d->name,
                               (unsigned long long)d->nbytes);
            memcpy(c, p, (size_t)d->nbytes);
            t->copies[t->ncopies++] = c;
            d->data = c;
        }
    }
    return SS_OK;
}

/* Maps `path`, validates its header and appends its tensors to the table. */
static ss_status add_file(table_builder *b, const char *path, int *file_index) {
    ss_tensors *t = b->t;
    /* O_NONBLOCK: a FIFO under a safetensors name must not block the open; a regular file ignores it */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return ss_fail_errno("cannot open %s", path);
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        ss_status st = ss_fail_errno("cannot stat %s", path);
        close(fd);
        return st;
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return ss_fail(SS_ERR_FORMAT, "%s: not a regular file", path);
    }
    uint64_t size = (uint64_t)sb.st_size;
    if (size < 8) {
        close(fd);
        return ss_fail(SS_ERR_FORMAT, "%s: file is %llu bytes, too short for the 8-byte header length", path,
                       (unsigned long long)size);
    }
    void *map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    ss_status st = map == MAP_FAILED ? ss_fail_errno("cannot map %s", path) : SS_OK;
    close(fd); /* the mapping keeps the file alive */
    if (st != SS_OK) return st;

    /* Record the mapping first, so ss_st_close unmaps it on any error below. */
    st = grow((void **)&t->files, &b->cap_files, t->nfiles + 1, sizeof *t->files, "file");
    char *path_copy = st == SS_OK ? strdup(path) : NULL;
    if (!path_copy) {
        munmap(map, (size_t)size);
        return st != SS_OK ? st : ss_fail(SS_ERR_NOMEM, "cannot copy path %s", path);
    }
    int fi = t->nfiles++;
    t->files[fi] = (ss_st_mapping){.path = path_copy, .map = map, .size = (size_t)size};
    if (file_index) *file_index = fi;

    const uint8_t *bytes = map;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | bytes[i]; /* little-endian u64 */
    if (hlen > SS_ST_MAX_HEADER)
        return ss_fail(SS_ERR_FORMAT, "%s: header length %llu exceeds the %u-byte limit", path,
                       (unsigned long long)hlen, SS_ST_MAX_HEADER);
    if (hlen > size - 8)
        return ss_fail(SS_ERR_FORMAT, "%s: header length %llu runs past the end of the %llu-byte file", path,
                       (unsigned long long)hlen, (unsigned long long)size);
    uint64_t data_len = size - 8 - hlen;

    json_error_t jerr;
    json_t *root = json_loadb((const char *)bytes + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return ss_fail(SS_ERR_FORMAT, "%s: header is not valid JSON: %s (at byte %d)", path, jerr.text, jerr.position);
    if (!json_is_object(root)) {
        json_decref(root);
        return ss_fail(SS_ERR_FORMAT, "%s: header is not a JSON object", path);
    }

    size_t n = json_object_size(root);
    if (n > (size_t)(SS_ST_MAX_TENSORS - t->ntensors)) {
        json_decref(root);
        return ss_fail(SS_ERR_FORMAT, "%s: %zu header entries; a model holds at most %d tensors", path, n,
                       SS_ST_MAX_TENSORS);
    }
    header_entry *entries = calloc(n ? n : 1, sizeof *entries);
    if (!entries) {
        json_decref(root);
        return ss_fail(SS_ERR_NOMEM, "%s: cannot allocate %zu header entries", path, n);
    }
    size_t ne = 0;
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (!strcmp(key, "__metadata__")) {
            st = check_metadata(path, val);
            if (st == SS_OK && !t->metadata) t->metadata = json_incref(val);
        } else {
            st = parse_entry(path, key, val, data_len, &entries[ne++]);
        }
        if (st != SS_OK) break;
    }
    if (st == SS_OK) st = check_layout(path, entries, ne, data_len);
    if (st == SS_OK) st = add_entries(b, fi, entries, ne, bytes + 8 + hlen);
    free(entries);
    json_decref(root);
    return st;
}

static int cmp_tensor_name(const void *a, const void *b) {
    return strcmp(((const ss_st_tensor *)a)->name, ((const ss_st_tensor *)b)->name);
}

/* Sorts by name (for bsearch) and rejects a name held by two files. */
static ss_status finish_table(ss_tensors *t) {
    if (t->ntensors > 1) qsort(t->tensors, (size_t)t->ntensors, sizeof *t->tensors, cmp_tensor_name);
    for (int i = 1; i < t->ntensors; i++)
        if (!strcmp(t->tensors[i - 1].name, t->tensors[i].name))
            return ss_fail(SS_ERR_FORMAT, "tensor '%s' is present in both %s and %s", t->tensors[i].name,
                           t->files[t->tensors[i - 1].file].path, t->files[t->tensors[i].file].path);
    return SS_OK;
}

void ss_st_close(ss_tensors *t) {
    if (!t) return;
    for (int i = 0; i < t->nfiles; i++) {
        if (t->files[i].map) munmap(t->files[i].map, t->files[i].size);
        free(t->files[i].path);
    }
    for (int i = 0; i < t->ntensors; i++) free(t->tensors[i].name);
    for (int i = 0; i < t->ncopies; i++) free(t->copies[i]);
    free(t->files);
    free(t->tensors);
    free(t->copies);
    json_decref(t->metadata);
    memset(t, 0, sizeof *t);
}

ss_status ss_st_open_file(const char *path, ss_tensors *out) {
    memset(out, 0, sizeof *out);
    table_builder b = {.t = out};
    ss_status st = add_file(&b, path, NULL);
    if (st == SS_OK) st = finish_table(out);
    if (st != SS_OK) ss_st_close(out);
    return st;
}

const ss_st_tensor *ss_st_find(const ss_tensors *t, const char *name) {
    if (!t || !t->ntensors) return NULL;
    ss_st_tensor key = {.name = (char *)name};
    return bsearch(&key, t->tensors, (size_t)t->ntensors, sizeof *t->tensors, cmp_tensor_name);
}

/* Opens every shard named in an index's weight_map once, then checks that
 * each listed name lives in the shard the index names, and that no shard
 * holds a tensor the index does not list. */
static ss_status open_index(const char *dir, const char *index_path, ss_tensors *out) {
    json_t *root;
    SS_TRY(ss_json_load(index_path, &root));
    ss_status st = SS_OK;
    const json_t *map = json_object_get(root, "weight_map");
    if (!json_is_object(map)) {
        json_decref(root);
        return ss_fail(SS_ERR_FORMAT, "%s: missing or non-object 'weight_map'", index_path);
    }
    if (json_object_size(map) == 0) {
        json_decref(root);
        return ss_fail(SS_ERR_FORMAT, "%s: 'weight_map' is empty", index_path);
    }
    /* shard file name -> index into out->files, as a JSON object */
    json_t *shard_ids = json_object();
    table_builder b = {.t = out};
    const char *name;
    json_t *file;
    json_object_foreach((json_t *)map, name, file) {
        if (!json_is_string(file)) {
            st = ss_fail(SS_ERR_FORMAT, "%s: weight_map entry '%s' is not a file name", index_path, name);
            break;
        }
        const char *fname = json_string_value(file);
        if (json_object_get(shard_ids, fname)) continue;
        if (strchr(fname, '/') || !strcmp(fname, "..") || !fname[0]) {
            st = ss_fail(SS_ERR_FORMAT, "%s: weight_map names shard '%s' outside the folder", index_path, fname);
            break;
        }
        if (out->nfiles >= SS_ST_MAX_SHARDS) {
            st = ss_fail(SS_ERR_FORMAT, "%s: weight_map names more than %d shards", index_path, SS_ST_MAX_SHARDS);
            break;
        }
        char shard_path[4096];
        st = ss_path_join(shard_path, sizeof shard_path, dir, fname);
        if (st != SS_OK) break;
        if (!ss_path_exists(shard_path)) {
            st = ss_fail(SS_ERR_IO, "%s: shard %s (holding tensor '%s') is missing", index_path, shard_path, name);
            break;
        }
        int fi = -1;
        st = add_file(&b, shard_path, &fi);
        if (st != SS_OK) break;
        json_object_set_new(shard_ids, fname, json_integer(fi));
    }
    if (st == SS_OK) st = finish_table(out);
    json_object_foreach((json_t *)map, name, file) {
        if (st != SS_OK) break;
        int fi = (int)json_integer_value(json_object_get(shard_ids, json_string_value(file)));
        const ss_st_tensor *tt = ss_st_find(out, name);
        if (!tt || tt->file != fi)
            st = ss_fail(SS_ERR_FORMAT, "%s: tensor '%s' is listed in %s but missing from %s", dir, name,
                         index_path, out->files[fi].path);
    }
    for (int i = 0; st == SS_OK && i < out->ntensors; i++)
        if (!json_object_get(map, out->tensors[i].name))
            st = ss_fail(SS_ERR_FORMAT, "%s: tensor '%s' of %s is not listed in %s", dir, out->tensors[i].name,
                         out->files[out->tensors[i].file].path, index_path);
    json_decref(shard_ids);
    json_decref(root);
    return st;
}

static int ends_with(const char *s, const char *suffix) {
    size_t ls = strlen(s), lx = strlen(suffix);
    return ls >= lx && !strcmp(s + ls - lx, suffix);
}

/* The single *.safetensors file of dir, for folders that name it otherwise. */
static ss_status find_single_file(const char *dir, char *path, size_t cap) {
    DIR *d = opendir(dir);
    if (!d) return ss_fail_errno("cannot open model folder %s", dir);
    int count = 0;
    char first[1024] = "", second[1024] = "";
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !ends_with(e->d_name, ".safetensors")) continue;
        if (count == 0) snprintf(first, sizeof first, "%s", e->d_name);
        else if (count == 1) snprintf(second, sizeof second, "%s", e->d_name);
        count++;
    }
    closedir(d);
    if (count == 0)
        return ss_fail(SS_ERR_IO, "%s: no model.safetensors, model.safetensors.index.json or other *.safetensors file",
                       dir);
    if (count > 1)
        return ss_fail(SS_ERR_FORMAT, "%s: %d *.safetensors files (%s, %s, ...) but no model.safetensors.index.json", dir,
                       count, first, second);
    return ss_path_join(path, cap, dir, first);
}

ss_status ss_st_open_dir(const char *dir, ss_tensors *out) {
    memset(out, 0, sizeof *out);
    char path[4096];
    SS_TRY(ss_path_join(path, sizeof path, dir, "model.safetensors.index.json"));
    if (ss_path_exists(path)) {
        ss_status st = open_index(dir, path, out);
        if (st != SS_OK) ss_st_close(out);
        return st;
    }
    SS_TRY(ss_path_join(path, sizeof path, dir, "model.safetensors"));
    if (!ss_path_exists(path)) SS_TRY(find_single_file(dir, path, sizeof path));
    return ss_st_open_file(path, out);
}

/* ------------------------------------------------------------------ writer */

typedef struct writer_tensor {
    char *name;
    ss_dtype dtype;
    int ndim;
    int64_t shape[SS_ST_MAX_DIMS];
    uint64_t nbytes;
    int shard;
} writer_tensor;

typedef struct writer_shard {
    char name[64];   /* "model.safetensors" or "model-0000i-of-0000n.safetensors" */
    ss_afile file;
    int opened, committed;
} writer_shard;

struct ss_st_writer {
    char dir[4096];
    int n;
    writer_tensor *tensors; /* [n], declaration order */
    int nshards;
    writer_shard *shards;   /* [nshards] */
    int cur;                /* tensor receiving bytes */
    uint64_t cur_written;   /* bytes of tensors[cur] written so far */
    uint64_t total_bytes;
    int failed;
};

/* Large stdio buffer: appends of a few bytes (a scale, a norm) do not turn
 * into system calls; large appends bypass it anyway. */
#define WRITER_BUFFER_BYTES (1u << 20)

static void writer_free(ss_st_writer *w) {
    for (int i = 0; i < w->n; i++) free(w->tensors[i].name);
    free(w->tensors);
    free(w->shards);
    free(w);
}

static ss_status check_spec(const ss_st_spec *s, int i, uint64_t *nbytes) {
    if (!s->name || !s->name[0]) return ss_fail(SS_ERR_ARG, "safetensors writer: tensor %d has no name", i);
    if (!strcmp(s->name, "__metadata__"))
        return ss_fail(SS_ERR_ARG, "safetensors writer: '__metadata__' is reserved, not a tensor name");
    if (ss_dtype_size(s->dtype) == 0)
        return ss_fail(SS_ERR_ARG, "safetensors writer: tensor '%s' has no valid dtype", s->name);
    if (s->ndim < 0 || s->ndim > SS_ST_MAX_DIMS)
        return ss_fail(SS_ERR_ARG, "safetensors writer: tensor '%s' has %d dimensions (0..%d allowed)", s->name,
                       s->ndim, SS_ST_MAX_DIMS);
    uint64_t b = ss_dtype_size(s->dtype);
    for (int d = 0; d < s->ndim; d++) {
        if (s->shape[d] < 0)
            return ss_fail(SS_ERR_ARG, "safetensors writer: tensor '%s' dimension %d is negative (%lld)", s->name, d,
                           (long long)s->shape[d]);
        if (__builtin_mul_overflow(b, (uint64_t)s->shape[d], &b))
            return ss_fail(SS_ERR_ARG, "safetensors writer: tensor '%s' is too large", s->name);
    }
    *nbytes = b;
    return SS_OK;
}

/* Builds the header of shard s, padded with spaces so the data section
 * starts 8-aligned (8 + len is a multiple of 8). *text is malloc'd. */
static ss_status shard_header(const ss_st_writer *w, int s, const json_t *metadata, char **text, size_t *len) {
    json_t *root = json_object();
    if (metadata) json_object_set(root, "__metadata__", (json_t *)metadata);
    uint64_t off = 0;
    for (int i = 0; i < w->n; i++) {
        const writer_tensor *t = &w->tensors[i];
        if (t->shard != s) continue;
        json_t *shape = json_array();
        for (int d = 0; d < t->ndim; d++) json_array_append_new(shape, json_integer(t->shape[d]));
        json_t *e = json_pack("{s:s, s:o, s:[I,I]}", "dtype", ss_dtype_name(t->dtype), "shape", shape,
                              "data_offsets", (json_int_t)off, (json_int_t)(off + t->nbytes));
        if (!e || json_object_set_new(root, t->name, e) != 0) {
            json_decref(root);
            return ss_fail(SS_ERR_NOMEM, "safetensors writer: cannot build the header entry of '%s'", t->name);
        }
        off += t->nbytes;
    }
    char *j = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    if (!j) return ss_fail(SS_ERR_NOMEM, "safetensors writer: cannot serialise the header");
    size_t n = strlen(j), padded = (n + 7) / 8 * 8;
    char *p = realloc(j, padded + 1);
    if (!p) {
        free(j);
        return ss_fail(SS_ERR_NOMEM, "safetensors writer: cannot pad the header");
    }
    memset(p + n, ' ', padded - n);
    p[padded] = '\0';
    *text = p;
    *len = padded;
    return SS_OK;
}

static ss_status open_shard(ss_st_writer *w, int s, const json_t *metadata) {
    writer_shard *sh = &w->shards[s];
    char path[4096];
    SS_TRY(ss_path_join(path, sizeof path, w->dir, sh->name));
    char *header = NULL;
    size_t hlen = 0;
    SS_TRY(shard_header(w, s, metadata, &header, &hlen));
    if (hlen > SS_ST_MAX_HEADER) {
        free(header);
        return ss_fail(SS_ERR_ARG, "%s: header of %zu bytes exceeds the %u-byte limit", path, hlen, SS_ST_MAX_HEADER);
    }
    ss_status st = ss_afile_open(&sh->file, path);
    if (st != SS_OK) {
        free(header);
        return st;
    }
    sh->opened = 1;
    setvbuf(sh->file.fp, NULL, _IOFBF, WRITER_BUFFER_BYTES);
    uint8_t len_le[8];
    for (int i = 0; i < 8; i++) len_le[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    st = ss_afile_write(&sh->file, len_le, 8);
    if (st == SS_OK) st = ss_afile_write(&sh->file, header, hlen);
    free(header);
    return st;
}

/* Removes temp files, and any shard already renamed into place. */
static void writer_cleanup(ss_st_writer *w) {
    for (int s = 0; s < w->nshards; s++) {
        writer_shard *sh = &w->shards[s];
        if (sh->committed) unlink(sh->file.path);
        else if (sh->opened) ss_afile_abort(&sh->file);
    }
}

/* Assigns tensors to shards in declaration order: a new shard starts when the
 * next tensor would push the current one past max_bytes (a larger tensor gets
 * a shard of its own). */
static ss_status plan_shards(ss_st_writer *w, uint64_t max_bytes) {
    int nshards = 1;
    uint64_t in_shard = 0;
    for (int i = 0; i < w->n; i++) {
        if (in_shard > 0 && in_shard + w->tensors[i].nbytes > max_bytes) {
            nshards++;
            in_shard = 0;
        }
        in_shard += w->tensors[i].nbytes;
        w->tensors[i].shard = nshards - 1;
    }
    if (nshards > 99999) return ss_fail(SS_ERR_ARG, "%s: %d shards is too many", w->dir, nshards);
    w->shards = calloc((size_t)nshards, sizeof *w->shards);
    if (!w->shards) return ss_fail(SS_ERR_NOMEM, "safetensors writer: cannot allocate %d shards", nshards);
    w->nshards = nshards;
    for (int s = 0; s < nshards; s++) {
        if (nshards == 1) snprintf(w->shards[s].name, sizeof w->shards[s].name, "model.safetensors");
        else snprintf(w->shards[s].name, sizeof w->shards[s].name, "model-%05d-of-%05d.safetensors", s + 1, nshards);
    }
    return SS_OK;
}

/* Skips tensors of zero bytes, which take no append. */
static void skip_empty(ss_st_writer *w) {
    while (w->cur < w->n && w->tensors[w->cur].nbytes == 0) w->cur++;
}

ss_status ss_st_writer_begin(ss_st_writer **out, const char *dir, const ss_st_spec *specs, int n,
                             uint64_t max_shard_bytes, const json_t *metadata) {
    *out = NULL;
    if (n < 0 || (n > 0 && !specs)) return ss_fail(SS_ERR_ARG, "safetensors writer: bad tensor list (n=%d)", n);
    if (max_shard_bytes == 0) max_shard_bytes = SS_ST_DEFAULT_SHARD_BYTES;
    if (metadata) {
        if (!json_is_object(metadata)) return ss_fail(SS_ERR_ARG, "safetensors writer: metadata is not a JSON object");
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)metadata, k, v) {
            if (!json_is_string(v))
                return ss_fail(SS_ERR_ARG, "safetensors writer: metadata value '%s' is not a string", k);
        }
    }
    if (!ss_is_dir(dir)) return ss_fail(SS_ERR_IO, "%s: output folder does not exist", dir);

    ss_st_writer *w = calloc(1, sizeof *w);
    if (!w) return ss_fail(SS_ERR_NOMEM, "safetensors writer: out of memory");
    if ((size_t)snprintf(w->dir, sizeof w->dir, "%s", dir) >= sizeof w->dir) {
        free(w);
        return ss_fail(SS_ERR_ARG, "%s: path too long", dir);
    }
    w->tensors = calloc(n ? (size_t)n : 1, sizeof *w->tensors);
    if (!w->tensors) {
        free(w);
        return ss_fail(SS_ERR_NOMEM, "safetensors writer: cannot allocate %d tensors", n);
    }
    ss_status st = SS_OK;
    json_t *names = json_object(); /* duplicate detection */
    for (int i = 0; i < n && st == SS_OK; i++) {
        writer_tensor *t = &w->tensors[i];
        st = check_spec(&specs[i], i, &t->nbytes);
        if (st != SS_OK) break;
        if (json_object_get(names, specs[i].name)) {
            st = ss_fail(SS_ERR_ARG, "safetensors writer: tensor '%s' declared twice", specs[i].name);
            break;
        }
        json_object_set_new(names, specs[i].name, json_true());
        t->name = strdup(specs[i].name);
        if (!t->name) st = ss_fail(SS_ERR_NOMEM, "safetensors writer: out of memory");
        w->n = i + 1;
        t->dtype = specs[i].dtype;
        t->ndim = specs[i].ndim;
        memcpy(t->shape, specs[i].shape, sizeof t->shape);
        w->total_bytes += t->nbytes;
    }
    json_decref(names);
    if (st == SS_OK) st = plan_shards(w, max_shard_bytes);
    for (int s = 0; st == SS_OK && s < w->nshards; s++) st = open_shard(w, s, metadata);
    if (st != SS_OK) {
        writer_cleanup(w);
        writer_free(w);
        return st;
    }
    skip_empty(w);
    *out = w;
    return SS_OK;
}

ss_status ss_st_writer_append(ss_st_writer *w, const void *data, size_t nbytes) {
    ss_fault_point("st-append");
    if (w->failed) return ss_fail(SS_ERR_IO, "%s: safetensors writer already failed", w->dir);
    const uint8_t *p = data;
    while (nbytes > 0) {
        if (w->cur >= w->n) {
            w->failed = 1;
            return ss_fail(SS_ERR_ARG, "%s: %zu bytes appended past the last declared tensor", w->dir, nbytes);
        }
        writer_tensor *t = &w->tensors[w->cur];
        uint64_t room = t->nbytes - w->cur_written;
        size_t take = nbytes < room ? nbytes : (size_t)room;
        ss_status st = ss_afile_write(&w->shards[t->shard].file, p, take);
        if (st != SS_OK) {
            w->failed = 1;
            return ss_context(st, "tensor '%s'", t->name);
        }
        p += take;
        nbytes -= take;
        w->cur_written += take;
        if (w->cur_written == t->nbytes) {
            w->cur++;
            w->cur_written = 0;
            skip_empty(w);
        }
    }
    return SS_OK;
}

static ss_status write_index(const ss_st_writer *w) {
    json_t *map = json_object();
    for (int i = 0; i < w->n; i++)
        json_object_set_new(map, w->tensors[i].name, json_string(w->shards[w->tensors[i].shard].name));
    json_t *root = json_pack("{s:{s:I}, s:o}", "metadata", "total_size", (json_int_t)w->total_bytes, "weight_map", map);
    if (!root) return ss_fail(SS_ERR_NOMEM, "%s: cannot build the safetensors index", w->dir);
    char path[4096];
    ss_status st = ss_path_join(path, sizeof path, w->dir, "model.safetensors.index.json");
    if (st == SS_OK) st = ss_json_save(path, root);
    json_decref(root);
    return st;
}

ss_status ss_st_writer_finish(ss_st_writer *w) {
    ss_status st = SS_OK;
    if (w->failed) st = ss_fail(SS_ERR_IO, "%s: an earlier append failed; nothing written", w->dir);
    else if (w->cur < w->n)
        st = ss_fail(SS_ERR_ARG, "%s: tensor '%s' got %llu of its %llu bytes (%d of %d tensors complete)", w->dir,
                     w->tensors[w->cur].name, (unsigned long long)w->cur_written,
                     (unsigned long long)w->tensors[w->cur].nbytes, w->cur, w->n);
    for (int s = 0; st == SS_OK && s < w->nshards; s++) {
        st = ss_afile_commit(&w->shards[s].file);
        w->shards[s].committed = st == SS_OK;
        if (st != SS_OK) w->shards[s].opened = 0; /* commit removed its temp file */
    }
    if (st == SS_OK && w->nshards > 1) st = write_index(w);
    if (st != SS_OK) writer_cleanup(w);
    writer_free(w);
    return st;
}

void ss_st_writer_abort(ss_st_writer *w) {
    if (!w) return;
    writer_cleanup(w);
    writer_free(w);
}
