/* test-util.h — writing small diffusers model folders for the C tests. */
#pragma once

#include <glib.h>
#include <stdint.h>

typedef struct
{
  GPtrArray *names, *data, *shapes;
  GArray    *ndims;
  float      scale;   /* amplitude of the values tensors_add writes (default 0.05) */
} Tensors;

Tensors *tensors_new (void);
void     tensors_free (Tensors *t);
/* Adds a tensor of NDIM dims (A, B, C, D) with small deterministic values. */
void     tensors_add (Tensors *t, const char *name, int ndim, int64_t a, int64_t b, int64_t c,
                      int64_t d);
void     add_conv (Tensors *t, const char *prefix, int64_t ci, int64_t co, int k, gboolean bias);
void     add_vec (Tensors *t, const char *prefix, const char *what, int64_t c);
void     add_norm (Tensors *t, const char *prefix, int64_t c);
void     add_linear (Tensors *t, const char *prefix, int64_t in, int64_t out);
void     add_resnet (Tensors *t, const char *prefix, int64_t in, int64_t out, int64_t temb);

/* A one-level UNet2DModel, 3 → 4 channels, DownBlock2D / UpBlock2D; its
 * config is tiny_unet_config with one printf %s for extra keys. */
Tensors *tiny_unet_weights (void);
Tensors *tiny_unet_weights_ch (int channels);   /* CHANNELS in and out */
/* The same with weights of amplitude SCALE (0.05 elsewhere): a model whose
 * output depends strongly on its input and on the zero padding. */
Tensors *tiny_unet_weights_scaled (int channels, float scale);
extern const char *tiny_unet_config;

/* An AutoencoderTiny: 3 → 4 latent channels, downscale 2; tiny_vae_config. */
Tensors *tiny_vae_weights (void);
extern const char *tiny_vae_config;

/* A temporary folder holding CONFIG_JSON and (if T) the weights; remove
 * with tmp_dir_remove. */
char    *make_model (const char *config_json, Tensors *t);

/* Loads DIR, expects failure with CODE (a GEN_ERROR) and NEEDLE1 and
 * NEEDLE2 (either may be NULL) in the message; removes DIR (tmp_dir_remove). */
void     expect_load_error (char *dir, int code, const char *needle1, const char *needle2);

/* Temporary folders: a new empty one (g_free'd by tmp_dir_remove), the
 * number of entries in one, and removing one with its files and (empty)
 * subfolders, which also frees DIR. */
/* TRUE when PATH holds exactly N bytes, read into BUF (the dump tools' raw inputs). */
gboolean read_exact (const char *path, void *buf, gsize n);

char    *tmp_dir_new (void);
guint    tmp_dir_count (const char *dir);
void     tmp_dir_remove (char *dir);
