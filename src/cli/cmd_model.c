/* Model preparation commands: download, synth, quantize, info (prune and convert: cmd_prune.c). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "convert/convert.h"
#include "convert/sparsity.h"
#include "core/log.h"
#include "core/timer.h"
#include "io/checkpoint.h"
#include "io/hub.h"

/* Options shared by the conversion commands. */
typedef struct model_opts {
    const char *in, *out, *repo, *arch, *dtype, *scheme, *sparsity, *revision, *model;
    uint64_t seed;
    int force; /* --force: an existing --out that is one of our checkpoints may be replaced */
} model_opts;

enum { OPT_HELP = 'h' };

static ss_status parse(const char *cmd, int argc, char **argv, const char *help, model_opts *o, int *want_help) {
    static const struct option longopts[] = {
        {"in", required_argument, 0, 'i'},     {"out", required_argument, 0, 'o'},
        {"repo", required_argument, 0, 'r'},   {"arch", required_argument, 0, 'a'},
        {"dtype", required_argument, 0, 'd'},  {"scheme", required_argument, 0, 'c'},
        {"sparsity", required_argument, 0, 's'}, {"seed", required_argument, 0, 'S'},
        {"revision", required_argument, 0, 'R'}, {"model", required_argument, 0, 'm'},
        {"force", no_argument, 0, 'f'},        {"help", no_argument, 0, OPT_HELP},
        {0, 0, 0, 0},
    };
    memset(o, 0, sizeof *o);
    *want_help = 0;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'i': o->in = optarg; break;
        case 'o': o->out = optarg; break;
        case 'r': o->repo = optarg; break;
        case 'a': o->arch = optarg; break;
        case 'd': o->dtype = optarg; break;
        case 'c': o->scheme = optarg; break;
        case 's': o->sparsity = optarg; break;
        case 'R': o->revision = optarg; break;
        case 'm': o->model = optarg; break;
        case 'f': o->force = 1; break;
        case 'S': SS_TRY(cli_parse_u64("--seed", optarg, &o->seed)); break;
        case OPT_HELP:
            printf("usage: slidesparse %s %s\n", cmd, help);
            *want_help = 1;
            return SS_OK;
        default: return cli_bad_usage(cmd, argc, argv);
        }
    }
    if (optind < argc) return cli_bad_usage(cmd, argc, argv);
    return SS_OK;
}

/* The output policy (ss_ckpt_out_check), before any work is done. */
static ss_status check_out(const char *cmd, const model_opts *o) {
    SS_TRY(cli_require(cmd, "--out", o->out));
    return ss_ckpt_out_check(o->out, o->force);
}

ss_status cmd_download(int argc, char **argv) {
    model_opts o;
    int help;
    SS_TRY(parse("download", argc, argv, "--repo ID --out DIR [--revision R]", &o, &help));
    if (help) return SS_OK;
    SS_TRY(cli_require("download", "--repo", o.repo));
    SS_TRY(cli_require("download", "--out", o.out));
    ss_hub_options hub = {.revision = o.revision, .quiet = ss_log_get_level() == SS_LOG_QUIET};
    double t0 = ss_now();
    SS_TRY(ss_hub_download(o.repo, o.out, &hub));
    ss_info("downloaded %s into %s in %.1f s", o.repo, o.out, ss_now() - t0);
    return SS_OK;
}

ss_status cmd_synth(int argc, char **argv) {
    model_opts o;
    int help;
    SS_TRY(parse("synth", argc, argv, "--arch NAME --out DIR [--seed S] [--force]\n  NAME: bitnet-2b, llama-3.2-1b, llama-3.2-3b, qwen2.5-7b, qwen2.5-14b, tiny", &o, &help));
    if (help) return SS_OK;
    SS_TRY(cli_require("synth", "--arch", o.arch));
    SS_TRY(check_out("synth", &o));
    double t0 = ss_now();
    SS_TRY(ss_synth(o.arch, o.out, o.seed));
    ss_info("synthesised %s (seed %llu) into %s in %.1f s", o.arch, (unsigned long long)o.seed, o.out, ss_now() - t0);
    return SS_OK;
}

ss_status cmd_quantize(int argc, char **argv) {
    model_opts o;
    int help;
    SS_TRY(parse("quantize", argc, argv, "--in DIR --out DIR --dtype int8|fp8 [--scheme ternary|absmax] [--force]", &o, &help));
    if (help) return SS_OK;
    SS_TRY(cli_require("quantize", "--in", o.in));
    SS_TRY(check_out("quantize", &o));
    SS_TRY(cli_require("quantize", "--dtype", o.dtype));
    ss_quant q;
    SS_TRY(ss_quant_parse(o.dtype, &q));
    if (q == SS_QUANT_NONE) return ss_fail(SS_ERR_ARG, "quantize: --dtype must be int8 or fp8");
    int scheme = -1;
    if (o.scheme) {
        ss_qscheme s;
        SS_TRY(ss_qscheme_parse(o.scheme, &s));
        scheme = (int)s;
    }
    double t0 = ss_now();
    SS_TRY(ss_quantize_checkpoint(o.in, o.out, q, scheme));
    ss_info("quantized %s -> %s (%s) in %.1f s", o.in, o.out, ss_quant_name(q), ss_now() - t0);
    return SS_OK;
}

/* What info states must hold: tensors that match config.json, a parameter
 * count that fits, a sparsity this build knows. */
static ss_status info_checks(const char *dir, const ss_checkpoint *c) {
    SS_TRY(ss_ckpt_check_config(c));
    if (ss_config_param_count(&c->cfg) < 0)
        return ss_fail(SS_ERR_FORMAT, "%s/config.json: the parameter count overflows 64 bits", dir);
    if (c->meta.sparsity[0]) {
        int L;
        if (ss_sparsity_parse(c->meta.sparsity, 1, &L) != SS_OK) /* a bad file, not a bad argument */
            return ss_context(SS_ERR_FORMAT, "%s/slidesparse.json: field 'sparsity'", dir);
    } else if (c->meta.slid) {
        return ss_fail(SS_ERR_FORMAT, "%s/slidesparse.json: 'slid' is true but 'sparsity' is null", dir);
    }
    return SS_OK;
}

ss_status cmd_info(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--gpu")) return cmd_info_gpu(argc, argv);
    model_opts o;
    int help;
    SS_TRY(parse("info", argc, argv, "--model DIR | --gpu [--cc X.Y]", &o, &help));
    if (help) return SS_OK;
    SS_TRY(cli_require("info", "--model", o.model));
    ss_checkpoint c;
    SS_TRY(ss_ckpt_open(o.model, &c));
    ss_status st = info_checks(o.model, &c);
    if (st != SS_OK) {
        ss_ckpt_close(&c);
        return st;
    }
    const ss_model_config *m = &c.cfg;
    printf("model      %s\narch       %s (%d layers, hidden %d, intermediate %d, heads %d/%d, vocab %d)\n", o.model,
           ss_arch_name(m->arch), m->n_layers, m->hidden, m->intermediate, m->n_heads, m->n_kv_heads, m->vocab);
    printf("params     %lld\nsource     %s%s\nquant      %s%s%s\nsparsity   %s%s\ntensors    %d in %d file(s)\n",
           (long long)ss_config_param_count(m), c.meta.source, c.meta.synthetic ? " (synthetic weights)" : "",
           ss_quant_name(c.meta.quant), c.meta.scheme[0] ? ", scheme " : "", c.meta.scheme,
           c.meta.mixed ? "mixed, per layer" : c.meta.sparsity[0] ? c.meta.sparsity : "none", c.meta.slid ? " (slid)" : "",
           c.st.ntensors, c.st.nfiles);
    if (c.meta.prune_method[0]) printf("pruning    %s%s\n", c.meta.prune_method, c.meta.calib_tokens > 0 ? " (calibrated)" : "");
    if (c.meta.recipe) printf("recipe     %s\n", c.meta.recipe);
    if (m->hf_quant != SS_HFQ_NONE)
        printf("hf quant   %s (config.json quantization_config: loaded as INT8 ternary codes; quantize converts it)\n",
               ss_hf_quant_name(m->hf_quant));
    ss_ckpt_close(&c);
    return SS_OK;
}
