/* Child processes of the pipeline: start, stream output to the log, time
 * out, and tell how they ended. */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/timer.h"
#include "pipeline/pipeline.h"

/* In the child between fork and exec: only async-signal-safe calls. */
static void exec_child(const char *bin, char *const argv[], int out_fd, pid_t parent) {
    /* Die with the pipeline: a killed pipeline must not leave a job running
     * that would race with the job a resumed run starts in its place. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(out_fd, STDOUT_FILENO);
    dup2(out_fd, STDERR_FILENO);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    execv(bin, argv);
    static const char msg[] = "error: cannot execute the slidesparse binary\n";
    if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) _exit(127);
    _exit(127);
}

/* Scans complete lines for the last "error: " line and the last "skipped: " reason. */
static void scan_line(const char *line, size_t n, ss_child_result *r) {
    static const char prefix[] = "error: ", skip[] = "skipped: ";
    const char *s = memmem(line, n, skip, sizeof skip - 1);
    if (s) {
        size_t off = (size_t)(s - line) + sizeof skip - 1, m = n - off;
        if (m >= sizeof r->skipped) m = sizeof r->skipped - 1;
        memcpy(r->skipped, line + off, m);
        r->skipped[m] = '\0';
    }
    if (n >= sizeof prefix - 1 && !memcmp(line, prefix, sizeof prefix - 1)) {
        size_t m = n - (sizeof prefix - 1);
        if (m >= sizeof r->error) m = sizeof r->error - 1;
        memcpy(r->error, line + sizeof prefix - 1, m);
        r->error[m] = '\0';
    }
}

ss_status ss_run_child(const char *bin, char *const argv[], FILE *log, double timeout_s, char *capture, size_t cap,
                       ss_child_result *r) {
    memset(r, 0, sizeof *r);
    if (capture && cap) capture[0] = '\0';
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return ss_fail_errno("cannot create a pipe for %s", argv[0]);
    if (log) fflush(log);
    double t0 = ss_now();
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return ss_fail_errno("cannot start %s", bin);
    }
    if (pid == 0) exec_child(bin, argv, fds[1], parent);
    close(fds[1]);

    char buf[8192], line[2048];
    size_t line_n = 0, cap_n = 0;
    int killed = 0;
    for (;;) {
        int wait_ms = -1;
        if (timeout_s > 0 && !killed) {
            double left = timeout_s - (ss_now() - t0);
            if (left <= 0) {
                kill(pid, SIGKILL);
                killed = 1;
                r->timed_out = 1;
                continue;
            }
            wait_ms = left > 1e6 ? 1000000000 : (int)(left * 1000) + 1;
        }
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        int pr = poll(&p, 1, wait_ms);
        if (pr < 0 && errno == EINTR) continue;
        if (pr == 0) continue; /* the timeout check above kills it */
        ssize_t n = read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break; /* EOF: the child (and anything holding the pipe) is gone */
        if (log) fwrite(buf, 1, (size_t)n, log);
        if (capture && cap_n + 1 < cap) {
            size_t k = (size_t)n < cap - 1 - cap_n ? (size_t)n : cap - 1 - cap_n;
            memcpy(capture + cap_n, buf, k);
            cap_n += k;
            capture[cap_n] = '\0';
        }
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                scan_line(line, line_n, r);
                line_n = 0;
            } else if (line_n < sizeof line) {
                line[line_n++] = buf[i];
            }
        }
    }
    if (line_n) scan_line(line, line_n, r);
    close(fds[0]);
    if (log) fflush(log);

    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return ss_fail_errno("waiting for %s", argv[0]);
    }
    r->duration_s = ss_now() - t0;
    if (WIFEXITED(status)) {
        r->exit_code = WEXITSTATUS(status);
        if (r->exit_code != 0 && !r->error[0])
            snprintf(r->error, sizeof r->error, "exited with status %d without an error line", r->exit_code);
    } else if (WIFSIGNALED(status)) {
        r->exit_code = -1;
        r->term_signal = WTERMSIG(status);
        if (r->timed_out)
            snprintf(r->error, sizeof r->error, "timed out after %.0f s and was killed", timeout_s);
        else {
            char last[sizeof r->error];
            snprintf(last, sizeof last, "%s", r->error);
            snprintf(r->error, sizeof r->error, "killed by signal %d (%s)%s%s", r->term_signal,
                     strsignal(r->term_signal), last[0] ? "; last error: " : "", last);
        }
    }
    return SS_OK;
}

int ss_csv_data_rows(const char *path) {
    FILE *fp = fopen(path, "r");
    if (!fp) return -1;
    char line[4096];
    int rows = 0, header_seen = 0;
    while (fgets(line, sizeof line, fp)) {
        size_t n = strlen(line);
        int complete = n > 0 && line[n - 1] == '\n';
        while (!complete && fgets(line, sizeof line, fp)) { /* skip the rest of a very long line */
            n = strlen(line);
            complete = n > 0 && line[n - 1] == '\n';
        }
        if (line[0] == '#' || line[0] == '\n' || line[0] == '\r' || line[0] == '\0') continue;
        if (!header_seen) {
            header_seen = 1;
            continue;
        }
        if (rows < INT_MAX) rows++;
    }
    fclose(fp);
    return rows;
}

void ss_format_duration(double s, char *out, size_t cap) {
    if (!(s >= 0)) s = 0; /* NaN too: durations come from state files */
    if (s >= 1e9) { /* 31 years: not a duration this tool measured; and beyond long's range for the cast below */
        snprintf(out, cap, "%.3gs", s);
        return;
    }
    if (s < 60) {
        snprintf(out, cap, "%.1fs", s);
        return;
    }
    long t = (long)(s + 0.5);
    if (t < 3600) snprintf(out, cap, "%ldm %02lds", t / 60, t % 60);
    else snprintf(out, cap, "%ldh %02ldm %02lds", t / 3600, (t / 60) % 60, t % 60);
}
