/* NVML sampler (see gpu_monitor.h). The sampling thread runs for the whole
 * life of the monitor; start/stop only switch whether samples count, so a
 * benchmark point costs no thread creation. */
#include "bench/gpu_monitor.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int (*nvml_init_fn)(void);
typedef int (*nvml_handle_fn)(unsigned int, void **);
typedef int (*nvml_clock_fn)(void *, int, unsigned int *);
typedef int (*nvml_power_fn)(void *, unsigned int *);

static struct {
    pthread_once_t once;
    int ok;
    const char *why;
    nvml_handle_fn handle;
    nvml_clock_fn clock;
    nvml_power_fn power;
} nvml = {PTHREAD_ONCE_INIT, 0, "not loaded", NULL, NULL, NULL};

static void nvml_load(void) {
    void *lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        nvml.why = "libnvidia-ml.so.1 not found";
        return;
    }
    nvml_init_fn init = (nvml_init_fn)dlsym(lib, "nvmlInit_v2");
    nvml.handle = (nvml_handle_fn)dlsym(lib, "nvmlDeviceGetHandleByIndex_v2");
    nvml.clock = (nvml_clock_fn)dlsym(lib, "nvmlDeviceGetClockInfo");
    nvml.power = (nvml_power_fn)dlsym(lib, "nvmlDeviceGetPowerUsage");
    if (!init || !nvml.handle || !nvml.clock || !nvml.power) {
        nvml.why = "libnvidia-ml.so.1 lacks the functions used";
        return;
    }
    if (init() != 0) {
        nvml.why = "nvmlInit failed";
        return;
    }
    nvml.ok = 1;
    nvml.why = "";
}

int ss_gpu_monitor_available(const char **why) {
    pthread_once(&nvml.once, nvml_load);
    if (why) *why = nvml.why;
    return nvml.ok;
}

struct ss_gpu_monitor {
    pthread_t thread;
    pthread_mutex_t mu;
    void *dev;
    int period_ms, active, quit;
    double clk_sum, clk_min, pw_sum, pw_max;
    int n;
};

enum { NVML_CLOCK_SM = 1 };

static void *sampler(void *arg) {
    ss_gpu_monitor *m = arg;
    struct timespec ts = {m->period_ms / 1000, (long)(m->period_ms % 1000) * 1000000L};
    for (;;) {
        unsigned int mhz = 0, mw = 0;
        int ok = nvml.clock(m->dev, NVML_CLOCK_SM, &mhz) == 0 && nvml.power(m->dev, &mw) == 0;
        pthread_mutex_lock(&m->mu);
        if (m->quit) {
            pthread_mutex_unlock(&m->mu);
            return NULL;
        }
        if (ok && m->active) {
            m->clk_sum += mhz;
            m->pw_sum += mw / 1000.0;
            if (m->n == 0 || mhz < m->clk_min) m->clk_min = mhz;
            if (mw / 1000.0 > m->pw_max) m->pw_max = mw / 1000.0;
            m->n++;
        }
        pthread_mutex_unlock(&m->mu);
        nanosleep(&ts, NULL);
    }
}

ss_gpu_monitor *ss_gpu_monitor_start(int nvml_index, int period_ms) {
    if (!ss_gpu_monitor_available(NULL)) return NULL;
    ss_gpu_monitor *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    if (nvml.handle((unsigned)nvml_index, &m->dev) != 0) {
        free(m);
        return NULL;
    }
    m->period_ms = period_ms > 0 ? period_ms : 10;
    m->active = 1;
    pthread_mutex_init(&m->mu, NULL);
    if (pthread_create(&m->thread, NULL, sampler, m) != 0) {
        pthread_mutex_destroy(&m->mu);
        free(m);
        return NULL;
    }
    return m;
}

/* Restarting after a stop: the next samples count again. */
static void monitor_reset(ss_gpu_monitor *m) {
    m->clk_sum = m->pw_sum = m->pw_max = m->clk_min = 0;
    m->n = 0;
}

void ss_gpu_monitor_stop(ss_gpu_monitor *m, ss_gpu_reading *r) {
    memset(r, 0, sizeof *r);
    if (!m) return;
    pthread_mutex_lock(&m->mu);
    if (m->n) {
        r->sm_mhz_mean = m->clk_sum / m->n;
        r->sm_mhz_min = m->clk_min;
        r->power_w_mean = m->pw_sum / m->n;
        r->power_w_max = m->pw_max;
        r->samples = m->n;
    }
    monitor_reset(m);
    pthread_mutex_unlock(&m->mu);
}

void ss_gpu_monitor_free(ss_gpu_monitor *m) {
    if (!m) return;
    pthread_mutex_lock(&m->mu);
    m->quit = 1;
    pthread_mutex_unlock(&m->mu);
    pthread_join(m->thread, NULL);
    pthread_mutex_destroy(&m->mu);
    free(m);
}
