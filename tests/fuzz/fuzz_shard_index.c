/* model.safetensors.index.json: the index on arbitrary bytes, over a folder
 * holding three valid shards (written once, with the project's writer); what
 * opens names every tensor in the shard the index says. */
#include "fuzz_common.h"
#include "io/safetensors.h"

static char g_dir[4096];

static void make_shards(void) {
    fuzz_path(g_dir, sizeof g_dir, "model/x");
    g_dir[strlen(g_dir) - 2] = '\0';
    ss_st_writer *w;
    FUZZ_CHECK(ss_st_writer_begin(&w, g_dir, k_fuzz_shard_specs, 4, FUZZ_SHARD_MAX_BYTES, NULL) == SS_OK);
    uint8_t bytes[FUZZ_SHARD_DATA_BYTES] = {0};
    FUZZ_CHECK(ss_st_writer_append(w, bytes, sizeof bytes) == SS_OK);
    FUZZ_CHECK(ss_st_writer_finish(w) == SS_OK);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!g_dir[0]) make_shards();
    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", g_dir);
    FILE *fp = fopen(path, "wb");
    FUZZ_CHECK(fp && (size == 0 || fwrite(data, 1, size, fp) == size) && fclose(fp) == 0);
    ss_tensors t;
    if (ss_st_open_dir(g_dir, &t) != SS_OK) {
        FUZZ_CHECK(ss_errmsg()[0] != '\0');
        return 0;
    }
    FUZZ_CHECK(t.ntensors >= 1 && t.ntensors <= 4 && t.nfiles >= 1 && t.nfiles <= 3);
    for (int i = 0; i < t.ntensors; i++) FUZZ_CHECK(ss_st_find(&t, t.tensors[i].name) == &t.tensors[i]);
    ss_st_close(&t);
    return 0;
}
