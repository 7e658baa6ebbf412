/* Fault injection for the suite's crash tests: a process whose environment
 * says SS_FAULT=<point>[:<n>] kills itself with SIGKILL the n-th time (the
 * first by default) it passes ss_fault_point("<point>"), so a test can stop
 * `convert` or the pipeline at an exact place and check what is left and
 * that a rerun recovers. Without SS_FAULT it costs one getenv per call.
 * Points: "st-append" (each append to a safetensors shard),
 * "ckpt-begin" (the scratch folder exists), "scratch-commit" (everything
 * written, before the rename), "scratch-exchanged" (the new folder is in
 * place, the old one not yet removed), "scratch-moved-aside",
 * "pipeline-job" (the pipeline, before each job). */
#ifndef SS_CORE_FAULT_H
#define SS_CORE_FAULT_H

void ss_fault_point(const char *name);

#endif
