/* A checkpoint folder: config.json, slidesparse.json and model.safetensors
 * from one input (length-prefixed parts, see fuzz_split; an empty part means
 * the file is absent), opened as `info` opens it: ss_ckpt_open, then the
 * tensors against config.json. What opens has tensors where slidesparse.json
 * says and a configuration within bounds. */
#include "fuzz_common.h"
#include "io/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *part[3];
    size_t len[3];
    int n = fuzz_split(data, size, part, len, 3);
    static const char *const names[3] = {"ckpt/config.json", "ckpt/slidesparse.json", "ckpt/model.safetensors"};
    char path[4096], dir[4096];
    fuzz_path(dir, sizeof dir, "ckpt/x");
    dir[strlen(dir) - 2] = '\0';
    ss_rm_rf(dir);
    for (int i = 0; i < 3; i++)
        if (i < n && len[i]) fuzz_write(names[i], part[i], len[i], path, sizeof path);
    ss_mkdir_p(dir);
    ss_checkpoint c;
    if (ss_ckpt_open(dir, &c) != SS_OK) {
        FUZZ_CHECK(ss_errmsg()[0] != '\0');
        return 0;
    }
    FUZZ_CHECK(c.cfg.n_layers >= 1 && c.cfg.n_layers <= SS_CONFIG_MAX_LAYERS);
    for (int i = 0; i < c.meta.n_linear; i++) {
        const ss_ckpt_linear *l = &c.meta.linear[i];
        const ss_st_tensor *t = ss_st_find(&c.st, l->name);
        FUZZ_CHECK(t && t->ndim == 2 && t->shape[0] == l->N && t->shape[1] == l->K_slid);
    }
    if (ss_ckpt_check_config(&c) == SS_OK) {
        const ss_st_tensor *e = ss_st_find(&c.st, "model.embed_tokens.weight");
        FUZZ_CHECK(e && e->shape[0] == c.cfg.vocab && e->shape[1] == c.cfg.hidden);
        FUZZ_CHECK(ss_config_param_count(&c.cfg) > 0);
    } else {
        FUZZ_CHECK(ss_errmsg()[0] != '\0');
    }
    ss_ckpt_close(&c);
    return 0;
}
