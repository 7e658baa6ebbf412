/* SM clock and board power sampled while a benchmark point runs, through
 * NVML loaded at run time (libnvidia-ml.so.1 comes with the driver; no
 * header or link dependency). Without NVML every reading is 0 and
 * ss_gpu_monitor_available() says why. */
#ifndef SS_BENCH_GPU_MONITOR_H
#define SS_BENCH_GPU_MONITOR_H

typedef struct ss_gpu_monitor ss_gpu_monitor;

typedef struct ss_gpu_reading {
    double sm_mhz_mean, sm_mhz_min; /* over the samples */
    double power_w_mean, power_w_max;
    int samples;
} ss_gpu_reading;

/* Starts a thread sampling device `nvml_index` every period_ms. Never fails:
 * returns NULL when NVML is missing (readings then stay 0). */
ss_gpu_monitor *ss_gpu_monitor_start(int nvml_index, int period_ms);
/* Stops sampling and returns what was seen since start (or since the last stop). */
void ss_gpu_monitor_stop(ss_gpu_monitor *m, ss_gpu_reading *r);
void ss_gpu_monitor_free(ss_gpu_monitor *m);
/* 1 if NVML loaded; else 0 and *why (static string) says why. */
int ss_gpu_monitor_available(const char **why);

#endif
