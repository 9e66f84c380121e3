/* experiments/xb_configs.h: the shipped configs of experiments/configs/, embedded in the
 * binary at build time (experiments/embed.sh). "default" is the main job's config. */
#ifndef XB_CONFIGS_H
#define XB_CONFIGS_H

typedef struct xb_embedded_config { const char *name, *text; } xb_embedded_config;
extern const xb_embedded_config xb_embedded_configs[];     /* ends with { NULL, NULL } */
/* Text of a shipped config by name (file name without .ini), or NULL. */
const char *xb_embedded_config_text(const char *name);

#endif
