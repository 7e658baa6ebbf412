/* Parsers of the config.json keys beyond the dimensions, shared by config.c
 * and its parts (config_rope.c, config_quant.c); not a public interface. */
#ifndef SS_IO_CONFIG_KEYS_H
#define SS_IO_CONFIG_KEYS_H

#include <jansson.h>

#include "io/config.h"

/* rope_theta, rope_scaling / rope_parameters, partial_rotary_factor into c
 * (c->max_pos must be set: it is the default original_max_position_embeddings). */
ss_status ss_config_parse_rope(const json_t *j, const char *path, double default_theta, ss_model_config *c);
/* The rope_scaling object that ss_config_save writes (4.x layout), or JSON null for default. */
json_t *ss_config_rope_json(const ss_model_config *c);
ss_status ss_config_validate_rope(const ss_model_config *c, const char *what);

/* quantization_config into c->hf_quant. */
ss_status ss_config_parse_quantization(const json_t *j, const char *path, ss_model_config *c);
/* The quantization_config object that ss_config_save writes, or JSON null for none. */
json_t *ss_config_quant_json(const ss_model_config *c);

#endif
