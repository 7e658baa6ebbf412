#include "core/fault.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

void ss_fault_point(const char *name) {
    const char *want = getenv("SS_FAULT");
    if (!want || !*want) return;
    size_t n = strlen(name);
    if (strncmp(want, name, n) != 0 || (want[n] != '\0' && want[n] != ':')) return;
    long nth = want[n] == ':' ? strtol(want + n + 1, NULL, 10) : 1;
    static long hits; /* one point per process is armed at a time */
    if (++hits >= nth) raise(SIGKILL);
}
