/* Per-layer sparsity recipes (`convert --recipe FILE`): which block linears
 * get which sparsity. The grammar (docs/RECIPES.md):
 *
 *   {
 *     "default": "dense",                 optional: what no rule names ("dense" when absent)
 *     "rules": [                          applied in order; a later rule overrides an earlier one
 *       {"linears": "mlp", "sparsity": "2_8"},
 *       {"layers": "0-1,7", "linears": ["q", "k", "v"], "sparsity": "dense"}
 *     ],
 *     "description": "free text"          optional, kept in slidesparse.json
 *   }
 *
 *   sparsity  "dense" (left as is: not pruned, not slid), "2_L" (L even,
 *             4..64) or "2_inf" (slid, not pruned)
 *   linears   one name or a list of: q k v o gate up down, or the groups
 *             qkv (q,k,v), attn (q,k,v,o), gate_up (gate,up), mlp
 *             (gate,up,down), all
 *   layers    "all" (the default), an integer, or a string of comma-separated
 *             indices and inclusive ranges "A-B"; or a list of integers
 *
 * Refused by name: an unknown key, a linear name outside the list, a layer
 * beyond the model's layers or a range A > B (a rule that would match
 * nothing), an unknown sparsity, a duplicate key. */
#ifndef SS_CONVERT_RECIPE_H
#define SS_CONVERT_RECIPE_H

#include "core/status.h"
#include "io/checkpoint.h"

#define SS_RECIPE_DENSE 0 /* the L of a linear left dense */

typedef struct ss_recipe {
    int n_layers;
    int *L;     /* [n_layers * SS_LIN_COUNT]: SS_RECIPE_DENSE, SS_L_INF or 4..SS_L_MAX */
    char *json; /* the recipe as compact JSON (recorded in slidesparse.json) */
} ss_recipe;

/* Parses text (what: the file name, for messages) for a model of n_layers. */
ss_status ss_recipe_parse(const char *text, const char *what, int n_layers, ss_recipe *r);
/* Reads and parses a recipe file. */
ss_status ss_recipe_load(const char *path, int n_layers, ss_recipe *r);
void ss_recipe_free(ss_recipe *r);
/* L of one linear. */
static inline int ss_recipe_L(const ss_recipe *r, int layer, ss_linear_role role) {
    return r->L[layer * SS_LIN_COUNT + (int)role];
}
/* 1 if every linear has the same L (then the checkpoint is not mixed). */
int ss_recipe_uniform(const ss_recipe *r);

#endif
