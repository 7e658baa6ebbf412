/* The report's result layout section: a tree of the result folders (and
 * of the checkpoints), files summarised; and the sorted folder listing
 * the tuning section reads too. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "pipeline/report_internal.h"

typedef struct tree_out {
    FILE *fp;
    int lines;
} tree_out;

/* natural order, so 2_4 < 2_6 < 2_10 */
static int cmp_name(const void *a, const void *b) { return strverscmp(*(char *const *)a, *(char *const *)b); }

int rp_list_names(const char *dir, char ***names, int **is_dir) {
    *names = NULL;
    *is_dir = NULL;
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strstr(e->d_name, ".tmp.")) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **v = realloc(*names, (size_t)cap * sizeof *v);
            if (!v) break;
            *names = v;
        }
        if (!((*names)[n] = strdup(e->d_name))) break;
        n++;
    }
    closedir(d);
    if (n) qsort(*names, (size_t)n, sizeof **names, cmp_name);
    *is_dir = calloc((size_t)(n ? n : 1), sizeof **is_dir);
    for (int i = 0; i < n && *is_dir; i++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, (*names)[i]);
        (*is_dir)[i] = ss_is_dir(path);
    }
    return *is_dir ? n : 0;
}

void rp_free_names(char **names, int *is_dir, int n) {
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    free(is_dir);
}

static void tree(tree_out *t, const char *dir, const char *prefix, int depth, int checkpoints) {
    char **names;
    int *is_dir;
    int n = rp_list_names(dir, &names, &is_dir);
    int ndirs = 0, nfiles = 0;
    for (int i = 0; i < n; i++) {
        if (is_dir[i]) ndirs++;
        else nfiles++;
    }
    /* files of a folder on one line: a few by name, else counted */
    int shown = 0;
    if (nfiles && !checkpoints) {
        fprintf(t->fp, "%s%s ", prefix, ndirs ? "├──" : "└──");
        if (nfiles <= 4) {
            for (int i = 0; i < n; i++)
                if (!is_dir[i]) fprintf(t->fp, "%s%s", shown++ ? ", " : "", names[i]);
        } else {
            const char *first = NULL, *last = NULL;
            for (int i = 0; i < n; i++)
                if (!is_dir[i]) {
                    if (!first) first = names[i];
                    last = names[i];
                }
            fprintf(t->fp, "%d files: %s … %s", nfiles, first, last);
        }
        fputc('\n', t->fp);
        t->lines++;
    }
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (!is_dir[i]) continue;
        int last = ++k == ndirs;
        char path[4400], sub[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (!strcmp(names[i], "json") || checkpoints) {
            char **nn;
            int *dd;
            int m = rp_list_names(path, &nn, &dd);
            rp_free_names(nn, dd, m);
            fprintf(t->fp, "%s%s %s/ (%d files)\n", prefix, last ? "└──" : "├──", names[i], m);
            t->lines++;
            continue;
        }
        fprintf(t->fp, "%s%s %s/\n", prefix, last ? "└──" : "├──", names[i]);
        t->lines++;
        if (depth >= 8 || t->lines > 400) continue;
        snprintf(sub, sizeof sub, "%s%s", prefix, last ? "    " : "│   ");
        tree(t, path, sub, depth + 1, 0);
    }
    rp_free_names(names, is_dir, n);
}

void rp_section_layout(rctx *c, int number) {
    FILE *fp = c->md;
    fprintf(fp, "## %d. Result file layout\n\n", number);
    if (!ss_is_dir(c->results)) {
        fprintf(fp, "No result folder.\n\n---\n\n");
        return;
    }
    const char *rel = strcmp(c->results, c->dir) ? "results" : ".";
    fprintf(fp, "```\n%s/\n", rel);
    tree_out t = {.fp = fp};
    tree(&t, c->results, "", 0, 0);
    fprintf(fp, "```\n\n");
    const char *models = rp_jstr(c->state, "models_dir");
    char mdir[4400];
    snprintf(mdir, sizeof mdir, "%s/models", c->dir);
    if (ss_is_dir(mdir)) {
        fprintf(fp, "Checkpoints:\n\n```\nmodels/\n");
        tree(&t, mdir, "", 0, 1);
        fprintf(fp, "```\n\n");
    } else if (models[0]) {
        fprintf(fp, "Checkpoints: `%s`\n\n", models);
    }
    fprintf(fp, "---\n\n");
}
