/* Running the real binary ($SS_BIN) from a test: stdout and stderr into a
 * buffer, an optional SS_FAULT point, file-size limit, user id and time
 * limit for the child. Header-only: each test includes it once. */
#ifndef SS_TESTS_RUN_CLI_H
#define SS_TESTS_RUN_CLI_H

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static char g_bin[4096];
static char g_out[1 << 16]; /* output of the last run */

/* How a child is run. */
typedef struct run_env {
    const char *fault; /* SS_FAULT point (core/fault.h) */
    rlim_t fsize;      /* file-size limit in bytes; 0: none */
    uid_t uid;         /* run as this user; 0: unchanged */
    unsigned seconds;  /* killed by SIGALRM after this long; 0: 600 */
} run_env;

/* Finds $SS_BIN; 0 on success. */
static inline int find_bin(void) {
    const char *bin = getenv("SS_BIN");
    if (!bin || access(bin, X_OK) != 0) {
        fprintf(stderr, "SS_BIN does not name the slidesparse binary\n");
        return -1;
    }
    snprintf(g_bin, sizeof g_bin, "%s", bin);
    return 0;
}

/* Runs slidesparse with args (NULL-terminated, without argv[0]); output in
 * g_out. Returns the exit code, or 128 + the signal that ended it. */
static inline int run_argv(const run_env *env, char **args) {
    char *argv[64];
    int n = 0;
    argv[n++] = "slidesparse";
    for (int i = 0; args[i] && n < 63; i++) argv[n++] = args[i];
    argv[n] = NULL;
    int fds[2];
    if (pipe(fds) != 0) return -1;
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]);
        close(fds[1]);
        if (env && env->fault) setenv("SS_FAULT", env->fault, 1);
        else unsetenv("SS_FAULT");
        if (env && env->fsize) {
            struct rlimit rl = {env->fsize, env->fsize};
            signal(SIGXFSZ, SIG_IGN); /* a write past the limit fails with EFBIG, as on a full disk */
            setrlimit(RLIMIT_FSIZE, &rl);
        }
        if (env && env->uid && (setgid(env->uid) != 0 || setuid(env->uid) != 0)) _exit(126);
        alarm(env && env->seconds ? env->seconds : 600); /* an input must never hang the program */
        execv(g_bin, argv);
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0;
    ssize_t got;
    while ((got = read(fds[0], g_out + len, sizeof g_out - 1 - len)) > 0) len += (size_t)got;
    g_out[len] = '\0';
    close(fds[0]);
    int status;
    if (waitpid(pid, &status, 0) != pid) return -1;
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

static inline int run(const run_env *env, ...) {
    char *args[48];
    int n = 0;
    va_list ap;
    va_start(ap, env);
    char *a;
    while ((a = va_arg(ap, char *)) != NULL && n < 47) args[n++] = a;
    va_end(ap);
    args[n] = NULL;
    return run_argv(env, args);
}

/* The last run exited `want` and printed `msg` (NULL: anything). */
#define expect(rc, want, msg)                                                                                   \
    do {                                                                                                        \
        int rc_ = (rc);                                                                                         \
        const char *msg_ = (msg);                                                                               \
        if (rc_ != (want) || (msg_ && !strstr(g_out, msg_)))                                                    \
            fail_msg("exit %d (want %d), output:\n%s\n(want it to contain '%s')", rc_, (want), g_out,          \
                     msg_ ? msg_ : "");                                                                         \
    } while (0)

#endif
