/* Scratch: temporary outputs that clean up after a killed owner.
 *
 * A temporary output "<final>.tmp.<pid>" (a file or a folder) is announced
 * by a lock file "<final>.tmp.<pid>.lock" beside it, created before it and
 * held with flock(LOCK_EX) by its writer for as long as the scratch lives.
 * The kernel drops that lock when the owner dies, however it dies, so a later
 * run that can take the lock knows the owner is gone (whatever process now
 * has its pid) and removes the scratch with ss_scratch_clean. Only entries
 * announced by such a lock file are ever removed: a user's "notes.tmp.12"
 * is not ours and is left alone.
 *
 * Folders are replaced with one atomic rename(2) exchange, so <final> is
 * never missing: after a kill it holds either the old or the new version. */
#ifndef SS_CORE_SCRATCH_H
#define SS_CORE_SCRATCH_H

#include <stddef.h>

#include "core/status.h"

typedef struct ss_scratch {
    char final[4096]; /* where the output goes when complete */
    char path[4200];  /* "<final>.tmp.<pid>" */
    char lock[4300];  /* "<final>.tmp.<pid>.lock" */
    int fd;           /* the held lock; -1 once released */
} ss_scratch;

/* Takes the lock for <final>'s scratch name (a stale entry of that name,
 * left by a dead process that had our pid, is removed). Creates nothing at
 * s->path: the caller creates its file or folder there. */
ss_status ss_scratch_begin(ss_scratch *s, const char *final);
/* Moves the finished folder s->path to s->final, replacing an existing
 * folder atomically (the replaced one is removed), then releases the lock. */
ss_status ss_scratch_commit_dir(ss_scratch *s);
/* Renames the finished file s->path to s->final, then releases the lock. */
ss_status ss_scratch_commit_file(ss_scratch *s);
/* Removes whatever is at s->path and releases the lock (no-op once released). */
void ss_scratch_abort(ss_scratch *s);

/* Removes from `dir` every scratch entry whose owner is dead (and restores a
 * folder that a killed non-atomic replacement had moved aside). Entries of
 * live owners are left alone. Never fails: what cannot be removed stays.
 * Returns how many scratch entries were removed. */
int ss_scratch_clean(const char *dir);
/* Like ss_scratch_clean, in dir and its sub-folders (max_depth levels). */
int ss_scratch_clean_tree(const char *dir, int max_depth);

/* A name that only a temporary output has: "<x>.tmp.<digits>" (a writer's
 * scratch), "<x>.old.<digits>" (a folder being replaced) or "<x>.partial"
 * (an unfinished download). Readers never take such an entry for a result. */
int ss_is_scratch_name(const char *name);

#endif
