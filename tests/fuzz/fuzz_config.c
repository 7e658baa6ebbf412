/* config.json: the loader on arbitrary bytes; what it accepts is within
 * bounds, has a parameter count, and saves and loads back to the same
 * configuration. */
#include "fuzz_common.h"
#include "io/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[4096], again[4096];
    fuzz_write("config.json", data, size, path, sizeof path);
    ss_model_config c;
    if (ss_config_load(path, &c) != SS_OK) {
        FUZZ_CHECK(ss_errmsg()[0] != '\0');
        return 0;
    }
    FUZZ_CHECK(ss_config_validate(&c, "fuzz") == SS_OK);
    FUZZ_CHECK(c.n_layers <= SS_CONFIG_MAX_LAYERS);
    FUZZ_CHECK(ss_config_param_count(&c) > 0);
    fuzz_path(again, sizeof again, "again/config.json");
    FUZZ_CHECK(ss_config_save(again, &c) == SS_OK);
    ss_model_config back;
    FUZZ_CHECK(ss_config_load(again, &back) == SS_OK);
    FUZZ_CHECK(!memcmp(&c, &back, sizeof c));
    return 0;
}
