/* A main for the fuzz harnesses in builds without libFuzzer (gcc, the test
 * suite): runs the harness once on every file named on the command line, or
 * in a folder named there, so the committed seeds and the inputs of every
 * crash found (regressions/) are checked by ctest under ASan and UBSan. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fsutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
    char *data;
    size_t n;
    if (ss_read_file(path, &data, &n) != SS_OK) {
        fprintf(stderr, "%s\n", ss_errmsg());
        return 1;
    }
    LLVMFuzzerTestOneInput((const uint8_t *)data, n);
    free(data);
    return 0;
}

int main(int argc, char **argv) {
    int files = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) != 0) continue; /* a harness without regressions yet */
        if (!S_ISDIR(sb.st_mode)) {
            bad |= run_file(argv[i]);
            files++;
            continue;
        }
        struct dirent **v;
        int n = scandir(argv[i], &v, NULL, alphasort);
        for (int k = 0; k < n; k++) {
            char p[8192];
            snprintf(p, sizeof p, "%s/%s", argv[i], v[k]->d_name);
            if (v[k]->d_name[0] != '.' && stat(p, &sb) == 0 && S_ISREG(sb.st_mode)) {
                bad |= run_file(p);
                files++;
            }
            free(v[k]);
        }
        free(v);
    }
    printf("%d inputs replayed\n", files);
    return bad || files == 0;
}
