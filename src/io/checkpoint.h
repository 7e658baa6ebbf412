/* A checkpoint = a folder in the Hugging Face layout (SPEC section 5):
 *   config.json, model.safetensors (or shards + model.safetensors.index.json),
 *   slidesparse.json: {"format_version": 1, "source": "<repo or synthetic:seed>",
 *     "quant": "none"|"int8"|"fp8_e4m3", "sparsity": null|"2_L",
 *     "tensors": {"<weight name>": {"N":..,"K":..,"K_padded":..,"K_slid":..}}}
 *   (this project adds "slid", "scheme", "synthetic", per tensor "sparsity"
 *   and "slid", "recipe", "prune_method" and "calib_tokens"; readers
 *   ignore unknown keys)
 * Per-layer recipes (convert --recipe, docs/RECIPES.md): each tensor entry
 * says its own "sparsity" (null = dense, or "2_L") and "slid"; when a
 * checkpoint mixes sparsities the top-level "sparsity" is null, "slid" is
 * true if any tensor is slid (so a reader that knows only the top level
 * refuses the file instead of misreading it), and "recipe" holds the recipe
 * that made it. An entry without these keys (files of earlier builds)
 * inherits the top-level values.
 *   plus, copied through untouched, tokenizer and generation files.
 * Quantized linear weights: "<name>.weight" (I8 or F8_E4M3, [N,K] or
 * [N,K_slid] once slid) and "<name>.weight_scale" (F32 [N]).
 * A folder without slidesparse.json (a downloaded model) opens as quant none. */
#ifndef SS_IO_CHECKPOINT_H
#define SS_IO_CHECKPOINT_H

#include <stdint.h>

#include "core/status.h"
#include "io/config.h"
#include "io/safetensors.h"

typedef enum ss_quant { SS_QUANT_NONE = 0, SS_QUANT_INT8, SS_QUANT_FP8 } ss_quant;
const char *ss_quant_name(ss_quant q);                 /* "none", "int8", "fp8_e4m3" */
ss_status ss_quant_parse(const char *s, ss_quant *q);   /* also accepts "fp8" */
ss_dtype ss_quant_dtype(ss_quant q);                   /* I8, F8_E4M3; UNKNOWN for none */

/* Geometry of one linear weight as recorded in slidesparse.json. K_slid is
 * the number of stored columns (== K when not slid). */
typedef struct ss_ckpt_linear {
    char name[256]; /* "<prefix>.weight" */
    int64_t N, K, K_padded, K_slid;
    char sparsity[16]; /* "" = dense (not pruned), else "2_L" / "2_inf" */
    int slid;          /* stored slid, [N, K_slid] */
} ss_ckpt_linear;

typedef struct ss_ckpt_meta {
    int format_version;   /* 1 */
    char source[512];     /* hub repo id, or "synthetic:<seed>" */
    ss_quant quant;
    char scheme[16];      /* "ternary", "absmax" or "" */
    char sparsity[16];    /* "" for null (dense, or mixed: see recipe), else "2_L" */
    int slid;             /* 1: linear weights (all, or some when mixed) are stored slid ([N, K_slid]) */
    int mixed;            /* the tensors' sparsities differ (a recipe made them) */
    char *recipe;         /* malloc'd compact JSON of the recipe, or NULL */
    char prune_method[16]; /* "magnitude", "wanda", or "" (not pruned / not recorded) */
    int64_t calib_tokens; /* tokens of the calibration statistics (wanda), 0 otherwise */
    int synthetic;        /* weights are synthetic (stated in every report) */
    int n_linear;
    ss_ckpt_linear *linear;
} ss_ckpt_meta;

ss_status ss_ckpt_meta_load(const char *path, ss_ckpt_meta *m);
ss_status ss_ckpt_meta_save(const char *path, const ss_ckpt_meta *m); /* atomic */
ss_status ss_ckpt_meta_add_linear(ss_ckpt_meta *m, const ss_ckpt_linear *l);
void ss_ckpt_meta_free(ss_ckpt_meta *m);

typedef struct ss_checkpoint {
    char dir[4096];
    ss_model_config cfg;
    ss_ckpt_meta meta;
    ss_tensors st;
} ss_checkpoint;

/* A folder with a temporary name (ss_is_scratch_name) is refused. */
ss_status ss_ckpt_open(const char *dir, ss_checkpoint *c);
void ss_ckpt_close(ss_checkpoint *c);
/* The stored tensors against config.json, in one pass over the names and
 * before any per-layer work: the embedding (and an untied lm_head) is
 * [vocab_size, hidden_size], every layer 0..num_hidden_layers-1 has tensors
 * and none lies beyond. The error names the key and the tensor. */
ss_status ss_ckpt_check_config(const ss_checkpoint *c);
const ss_ckpt_linear *ss_ckpt_find_linear(const ss_checkpoint *c, const char *weight_name);
/* Looks a tensor up and checks dtype (SS_DT_UNKNOWN = any) and shape (NULL =
 * any); the error names the checkpoint, tensor, expected and actual. */
ss_status ss_ckpt_tensor(const ss_checkpoint *c, const char *name, ss_dtype dtype, int ndim,
                         const int64_t *shape, const ss_st_tensor **out);

/* Linear layers of the transformer blocks: model.layers.<i>.self_attn.{q,k,v,o}_proj.weight
 * and model.layers.<i>.mlp.{gate,up,down}_proj.weight. These alone are quantized/pruned/slid. */
int ss_is_block_linear(const char *name);

/* Output policy: nothing a user owns is replaced. An existing `out` is
 * refused (SS_ERR_ARG, the message says why) when it is not a folder, when
 * it is a folder but not a checkpoint this tool wrote (ss_ckpt_is_ours: its
 * slidesparse.json loads), and, unless `replace`, when it is one of ours. */
ss_status ss_ckpt_out_check(const char *out, int replace);
int ss_ckpt_is_ours(const char *dir);

/* The seven block linears of a layer, in the order of the names above. */
typedef enum ss_linear_role {
    SS_LIN_Q = 0, SS_LIN_K, SS_LIN_V, SS_LIN_O, SS_LIN_GATE, SS_LIN_UP, SS_LIN_DOWN, SS_LIN_COUNT
} ss_linear_role;
const char *ss_linear_role_name(ss_linear_role r); /* "q", "k", "v", "o", "gate", "up", "down" */
/* Layer and role of a block linear's weight name; 0 if name is none. */
int ss_block_linear_parse(const char *name, int *layer, ss_linear_role *role);
/* "model.layers.<layer>.self_attn.q_proj.weight" etc. */
void ss_block_linear_name(int layer, ss_linear_role role, char *buf, size_t cap);
/* Sparsity ("" = dense) and slid flag the checkpoint records for a block
 * linear: its own entry, else the top level. */
void ss_ckpt_linear_state(const ss_checkpoint *c, const char *weight_name, const char **sparsity, int *slid);

/* Writes a checkpoint folder atomically: everything goes to "<out>.tmp.<pid>/"
 * (a locked scratch folder, see core/scratch.h; scratch folders of killed
 * writers next to <out> are removed first) and is renamed to <out> by finish,
 * which replaces an existing <out> only if it is ours (ss_ckpt_out_check with
 * replace: the CLI asks for --force before that). config.json is copied from src_dir when
 * given (keeping fields this project does not model), else written from cfg;
 * other non-weight files of src_dir (tokenizer, generation config) are copied. */
typedef struct ss_ckpt_writer ss_ckpt_writer;
ss_status ss_ckpt_writer_begin(ss_ckpt_writer **w, const char *out_dir, const char *src_dir,
                               const ss_model_config *cfg, const ss_st_spec *specs, int n);
/* Removes a top-level key from the copied config.json (quantize drops the
 * source's quantization_config: its weights are no longer in that format). */
ss_status ss_ckpt_writer_drop_config_key(ss_ckpt_writer *w, const char *key);
ss_status ss_ckpt_writer_append(ss_ckpt_writer *w, const void *data, size_t nbytes);
ss_status ss_ckpt_writer_finish(ss_ckpt_writer *w, const ss_ckpt_meta *meta); /* frees w */
void ss_ckpt_writer_abort(ss_ckpt_writer *w);                                 /* frees w */

#endif
