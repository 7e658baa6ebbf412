/* slidesparse.json: the loader on arbitrary bytes; what it accepts saves
 * and loads back to the same record. */
#include "fuzz_common.h"
#include "io/checkpoint.h"

static const ss_ckpt_linear *find(const ss_ckpt_meta *m, const char *name) {
    for (int i = 0; i < m->n_linear; i++)
        if (!strcmp(m->linear[i].name, name)) return &m->linear[i];
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[4096], again[4096];
    fuzz_write("slidesparse.json", data, size, path, sizeof path);
    ss_ckpt_meta m;
    if (ss_ckpt_meta_load(path, &m) != SS_OK) {
        FUZZ_CHECK(ss_errmsg()[0] != '\0');
        return 0;
    }
    fuzz_path(again, sizeof again, "again/slidesparse.json");
    /* a source that is not valid UTF-8 cannot be written back: refused with a message */
    if (ss_ckpt_meta_save(again, &m) == SS_OK) {
        ss_ckpt_meta back;
        FUZZ_CHECK(ss_ckpt_meta_load(again, &back) == SS_OK);
        FUZZ_CHECK(back.quant == m.quant && back.slid == m.slid && back.synthetic == m.synthetic);
        FUZZ_CHECK(!strcmp(back.source, m.source) && !strcmp(back.sparsity, m.sparsity));
        FUZZ_CHECK(back.n_linear == m.n_linear);
        for (int i = 0; i < m.n_linear; i++) {
            const ss_ckpt_linear *a = &m.linear[i], *b = find(&back, a->name);
            FUZZ_CHECK(b && a->N == b->N && a->K == b->K && a->K_padded == b->K_padded && a->K_slid == b->K_slid);
        }
        ss_ckpt_meta_free(&back);
    } else {
        FUZZ_CHECK(ss_errmsg()[0] != '\0');
    }
    ss_ckpt_meta_free(&m);
    return 0;
}
