/* safetensors: the reader on arbitrary bytes; what it accepts is written
 * back with the streamed writer (sharded when the first byte says so) and
 * must read back identical: names, dtypes, shapes and bytes. */
#include "fuzz_common.h"
#include "io/safetensors.h"

static void round_trip(const ss_tensors *in, uint64_t shard_bytes) {
    char dir[4096];
    fuzz_path(dir, sizeof dir, "rt/x");
    dir[strlen(dir) - 2] = '\0';
    ss_rm_rf(dir);
    FUZZ_CHECK(ss_mkdir_p(dir) == SS_OK);
    ss_st_spec *specs = calloc((size_t)in->ntensors + 1, sizeof *specs);
    FUZZ_CHECK(specs != NULL);
    for (int i = 0; i < in->ntensors; i++) {
        const ss_st_tensor *t = &in->tensors[i];
        specs[i] = (ss_st_spec){.name = t->name, .dtype = t->dtype, .ndim = t->ndim};
        memcpy(specs[i].shape, t->shape, sizeof t->shape);
    }
    ss_st_writer *w;
    ss_status st = ss_st_writer_begin(&w, dir, specs, in->ntensors, shard_bytes, in->metadata);
    if (st == SS_OK) {
        for (int i = 0; i < in->ntensors && st == SS_OK; i++)
            st = ss_st_writer_append(w, in->tensors[i].data, (size_t)in->tensors[i].nbytes);
        if (st == SS_OK) st = ss_st_writer_finish(w);
        else ss_st_writer_abort(w);
    }
    /* the writer may refuse what the reader took (a header past its limit); it must say why */
    if (st != SS_OK) {
        FUZZ_CHECK(ss_errmsg()[0] != '\0');
        free(specs);
        return;
    }
    ss_tensors back;
    FUZZ_CHECK(ss_st_open_dir(dir, &back) == SS_OK);
    FUZZ_CHECK(back.ntensors == in->ntensors);
    for (int i = 0; i < in->ntensors; i++) { /* both tables are sorted by name */
        const ss_st_tensor *a = &in->tensors[i], *b = &back.tensors[i];
        FUZZ_CHECK(!strcmp(a->name, b->name) && a->dtype == b->dtype && a->ndim == b->ndim);
        FUZZ_CHECK(!memcmp(a->shape, b->shape, sizeof a->shape) && a->nbytes == b->nbytes);
        FUZZ_CHECK(a->nbytes == 0 || !memcmp(a->data, b->data, (size_t)a->nbytes));
    }
    ss_st_close(&back);
    free(specs);
    ss_rm_rf(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    char path[4096];
    fuzz_write("in.safetensors", data + 1, size - 1, path, sizeof path);
    ss_tensors t;
    ss_status st = ss_st_open_file(path, &t);
    if (st != SS_OK) {
        FUZZ_CHECK(ss_errmsg()[0] != '\0'); /* every refusal says why */
        return 0;
    }
    uint64_t sum = 0; /* every byte the table points at is readable */
    for (int i = 0; i < t.ntensors; i++)
        for (uint64_t k = 0; k < t.tensors[i].nbytes; k++) sum += ((const uint8_t *)t.tensors[i].data)[k];
    FUZZ_CHECK(ss_st_find(&t, t.ntensors ? t.tensors[0].name : "x") != NULL || t.ntensors == 0);
    round_trip(&t, data[0] & 1 ? 64 : 0);
    ss_st_close(&t);
    return (int)(sum & 0); /* keeps the reads */
}
