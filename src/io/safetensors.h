/* safetensors: read (mmap, fully validated) and write (streamed, atomic).
 *
 * File layout: u64 little-endian header length H, H bytes of JSON
 *   {"<name>": {"dtype": "BF16", "shape": [..], "data_offsets": [begin, end]},
 *    "__metadata__": {"k": "v"}}
 * then the data section; offsets are relative to its start.
 *
 * The reader rejects, each with its own message naming the file and tensor:
 * a file shorter than 8 bytes or than 8 + H; H above SS_ST_MAX_HEADER;
 * invalid JSON; an unknown dtype; a non-integer/negative dimension; a shape
 * whose element count x dtype size differs from end - begin; offsets out of
 * bounds, overlapping, or leaving holes in the data section.
 *
 * A model folder holds either model.safetensors or shards listed in
 * model.safetensors.index.json ({"weight_map": {"<name>": "<file>"}}); both
 * open through ss_st_open_dir into one name-sorted tensor table.
 */
#ifndef SS_IO_SAFETENSORS_H
#define SS_IO_SAFETENSORS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/dtype.h"
#include "core/status.h"

#define SS_ST_MAX_DIMS 8
#define SS_ST_MAX_HEADER (100u << 20) /* 100 MiB, as the reference implementation */
#define SS_ST_MAX_TENSORS (1 << 20)   /* per table: far above any model (BitNet-2B: 332), far below INT_MAX */
#define SS_ST_MAX_SHARDS 99999        /* the most "model-0000i-of-0000n" can number */

typedef struct ss_st_tensor {
    char *name;
    ss_dtype dtype;
    int ndim;
    int64_t shape[SS_ST_MAX_DIMS];
    uint64_t nbytes;
    const void *data; /* into the mapping (or an aligned copy when the file's data is misaligned) */
    int file;         /* index into ss_tensors.files */
} ss_st_tensor;

typedef struct ss_st_mapping {
    char *path;
    void *map;
    size_t size;
} ss_st_mapping;

typedef struct ss_tensors {
    int nfiles;
    ss_st_mapping *files;
    int ntensors;
    ss_st_tensor *tensors; /* sorted by name */
    json_t *metadata;      /* __metadata__ of the first file, or NULL */
    void **copies;         /* aligned copies owned by this table */
    int ncopies;
} ss_tensors;

ss_status ss_st_open_file(const char *path, ss_tensors *out);
ss_status ss_st_open_dir(const char *dir, ss_tensors *out);
void ss_st_close(ss_tensors *t);
const ss_st_tensor *ss_st_find(const ss_tensors *t, const char *name); /* NULL if absent */
int64_t ss_st_numel(const ss_st_tensor *t);

/* ---- writer ----
 * Declare every tensor up front (so the header can be written first), then
 * stream the bytes of each tensor in declaration order, in one or more
 * ss_st_writer_append calls. ss_st_writer_finish checks that every tensor got
 * exactly its byte count, fsyncs and renames. Above max_shard_bytes the
 * tensors are split across model-0000i-of-0000n.safetensors plus an index. */
typedef struct ss_st_spec {
    const char *name;
    ss_dtype dtype;
    int ndim;
    int64_t shape[SS_ST_MAX_DIMS];
} ss_st_spec;

typedef struct ss_st_writer ss_st_writer;

#define SS_ST_DEFAULT_SHARD_BYTES (UINT64_C(5) << 30) /* 5 GiB, as Hugging Face's default */

ss_status ss_st_writer_begin(ss_st_writer **w, const char *dir, const ss_st_spec *specs, int n,
                             uint64_t max_shard_bytes, const json_t *metadata /* string values; may be NULL */);
ss_status ss_st_writer_append(ss_st_writer *w, const void *data, size_t nbytes);
ss_status ss_st_writer_finish(ss_st_writer *w); /* frees w */
void ss_st_writer_abort(ss_st_writer *w);       /* removes temp files, frees w */

#endif
