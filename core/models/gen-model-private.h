/* gen-model-private.h — what the model files share: the weight loader and
 * the diffusers building blocks (ResnetBlock2D, Attention, Downsample2D,
 * Upsample2D, UNetMidBlock2D).  Not installed; not for front ends. */
#pragma once

#include "gen-model.h"
#include "gen-config.h"
#include "gen-ops.h"
#include "gen-safetensors.h"
#include "gen-single-file.h"

#include <stdbool.h>

G_BEGIN_DECLS

/* ---- weights -------------------------------------------------------------- */

typedef struct
{
  GenSafetensors *st;
  GenSingleFile  *single;   /* or a single-file checkpoint seen through its key map (a ref) */
  GenSingleFilePart part;   /* which component of SINGLE */
  GPtrArray      *owned;    /* converted float buffers (g_free) */
  GPtrArray      *keeps;    /* the convs' Winograd slots (gen_conv2d_keep_free) */
  char           *where;    /* the weights file, for messages */
  gsize           n_params;
  gsize           bytes;    /* what the tensors take in memory: mapped or converted */
  gsize           mapped;   /* the part of BYTES used in place from the file's mapping */
  gsize           convert;  /* the F32 bytes of the largest conv or linear weight kept in
                               16-bit floats: what a product converts at once */
} GenWeights;

gboolean gen_weights_open (GenWeights *w, const char *dir, GError **error);
/* PART of the single-file checkpoint SF, looked up by diffusers names. */
void     gen_weights_open_single (GenWeights *w, GenSingleFile *sf, GenSingleFilePart part);
void     gen_weights_clear (GenWeights *w);

/* Fetches NAME (printf-style) with exactly the expected shape (dims of
 * size 1 at the end may be omitted in the file, e.g. [C, C] for a 1×1 conv
 * written as [C, C, 1, 1] or the reverse).  OUT becomes a [1..4]-d view.
 * An absent tensor is GEN_ERROR_MISSING, a wrong shape GEN_ERROR_SHAPE; both
 * messages name the file and the tensor. */
gboolean gen_weights_get (GenWeights *w, GenTensor *out, int ndim, const int64_t *shape,
                          GError **error, const char *fmt, ...) G_GNUC_PRINTF (6, 7);
/* The same for a large matrix (a conv's or a linear layer's weight, an
 * embedding table): an F16 or BF16 tensor stays in the file, in its dtype,
 * viewed by HALF, and OUT (the shape) has data NULL; any other is as
 * gen_weights_get gives it, HALF's data NULL.  Small tensors (biases, norm
 * scales) go through gen_weights_get: converted once, they cost little. */
gboolean gen_weights_get_matrix (GenWeights *w, GenTensor *out, GenHalf *half, int ndim,
                                 const int64_t *shape, GError **error,
                                 const char *fmt, ...) G_GNUC_PRINTF (7, 8);
/* TRUE if a tensor NAME exists (printf-style). */
gboolean gen_weights_has (GenWeights *w, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

gboolean gen_weights_conv (GenWeights *w, GenConv2d *conv, int64_t ci, int64_t co, int k,
                           int stride, int pad, bool bias, GError **error,
                           const char *fmt, ...) G_GNUC_PRINTF (10, 11);
gboolean gen_weights_group_norm (GenWeights *w, GenGroupNorm *gn, int64_t c, int groups,
                                 float eps, GError **error,
                                 const char *fmt, ...) G_GNUC_PRINTF (7, 8);
gboolean gen_weights_linear (GenWeights *w, GenLinear *lin, int64_t in, int64_t out,
                             bool bias, GError **error,
                             const char *fmt, ...) G_GNUC_PRINTF (7, 8);

/* ---- blocks ---------------------------------------------------------------- */

typedef struct
{
  int64_t      in_ch, out_ch;
  GenGroupNorm norm1, norm2;
  GenConv2d    conv1, conv2;
  bool         has_temb;
  bool         scale_shift;        /* resnet_time_scale_shift == "scale_shift" */
  GenLinear    time_emb_proj;
  bool         has_shortcut;
  GenConv2d    conv_shortcut;
  float        output_scale_factor;
} GenResnet;

typedef struct
{
  int64_t      channels;
  int          heads;        /* channels / dim_head, floored, as diffusers */
  int64_t      dim_head;
  int64_t      inner;        /* heads · dim_head: width of q, k, v */
  bool         has_norm;
  GenGroupNorm group_norm;
  GenLinear    to_q, to_k, to_v, to_out;
  float        rescale_output_factor;
} GenAttn;

typedef struct
{
  GenResnet resnets[2];
  bool      has_attn;
  GenAttn   attn;
} GenMidBlock;

/* Block loading.  PREFIX is the module path ("down_blocks.0.resnets.1").
 * TEMB_CH 0 means no time embedding. */
gboolean gen_resnet_load (GenWeights *w, GenResnet *r, const char *prefix, int64_t in_ch,
                          int64_t out_ch, int64_t temb_ch, int groups, float eps,
                          bool scale_shift, float output_scale_factor, GError **error);
/* Attention in its UNet2D / VAE form (residual, optional group norm), also
 * under the legacy names query/key/value/proj_attn.  GROUPS 0: no norm. */
gboolean gen_attn_load (GenWeights *w, GenAttn *a, const char *prefix, int64_t channels,
                        int64_t dim_head, int groups, float eps, float rescale, GError **error);
gboolean gen_mid_block_load (GenWeights *w, GenMidBlock *m, const char *prefix, int64_t ch,
                             int64_t temb_ch, int groups, int attn_groups, float eps,
                             bool scale_shift, bool add_attention, int64_t dim_head,
                             float output_scale_factor, GError **error);

/* Forward passes.  Y is allocated by the caller (before any arena mark the
 * block makes), TEMB_SILU is silu(temb) [N, temb_ch] or NULL. */
void gen_resnet_forward (const GenResnet *r, const GenTensor *x, const float *temb_silu,
                         GenTensor *y, GenArena *arena);
/* The same on the channel concatenation [X, X2] (the UNet's up blocks:
 * the skip connection), never made whole; X2 may be NULL. */
void gen_resnet_forward_cat (const GenResnet *r, const GenTensor *x, const GenTensor *x2,
                             const float *temb_silu, GenTensor *y, GenArena *arena);
void gen_attn_forward (const GenAttn *a, const GenTensor *x, GenTensor *y, GenArena *arena);
void gen_mid_block_forward (const GenMidBlock *m, const GenTensor *x, const float *temb_silu,
                            GenTensor *y, GenArena *arena);

/* Downsample2D: the stride-2 conv on H into a new arena tensor.
 * Upsample2D: nearest ×2 then the conv, into a new arena tensor (the
 * upsampled intermediate is released). */
GenTensor gen_downsample_forward (const GenConv2d *conv, const GenTensor *h, GenArena *arena);
GenTensor gen_upsample_forward (const GenConv2d *conv, const GenTensor *h, GenArena *arena);

/* ---- UNet levels (gen-unet-levels.c) --------------------------------------
 * The config keys UNet2DModel and UNet2DConditionModel both read, with
 * diffusers' defaults (IO_DEFAULT in and out channels), checked: as many
 * block types of each kind as block_out_channels, 1 to GEN_UNET_MAX_LEVELS;
 * resnet_time_scale_shift "default" or "scale_shift"; channels, groups and
 * downsample_padding in range.  Clear it whatever the result. */
#define GEN_UNET_MAX_LEVELS 8

typedef struct
{
  gint64   in_ch, out_ch, groups, down_pad, sample_size;
  double   eps, mid_scale, freq_shift;
  gboolean center, flip;        /* center_input_sample, flip_sin_to_cos */
  bool     scale_shift;         /* resnet_time_scale_shift == "scale_shift" */
  char   **down_types;          /* [n_levels] */
  char   **up_types;            /* [n_levels] */
  gint64  *chans;               /* block_out_channels [n_levels] */
  guint    n_levels;
} GenUNetConfig;

gboolean gen_unet_config_read (GenConfig *cfg, const char *class_name, gint64 io_default,
                               GenUNetConfig *c, GError **error);
void     gen_unet_config_clear (GenUNetConfig *c);

/* One level of a diffusers UNet: the resnets of a {,Attn,CrossAttn}DownBlock2D
 * or …UpBlock2D and its Downsample2D / Upsample2D; the attention after each
 * resnet belongs to the model and is run through a GenUNetAttnFunc. */

typedef struct
{
  int        n_layers;
  GenResnet *resnets;          /* [n_layers] */
  bool       has_downsampler;  /* down blocks: downsamplers.0 (Downsample2D) */
  GenConv2d  downsampler;      /* its conv: downsamplers.0.conv */
  bool       has_upsampler;    /* up blocks: upsamplers.0 (Upsample2D) */
  GenConv2d  upsampler;        /* its conv: upsamplers.0.conv */
  int64_t    out_ch;
} GenUNetLevel;

typedef struct
{
  int64_t temb_ch;
  int     groups;
  float   eps;
  bool    scale_shift;
  int     downsample_padding;  /* 0: F.pad (0, 1, 0, 1) before the stride-2 conv */
} GenUNetLevelArgs;

/* Runs the attention after resnet LAYER on H, in place. */
typedef void (*GenUNetAttnFunc) (int layer, GenTensor *h, GenArena *arena, gpointer data);

/* Level INDEX of "down_blocks" (or "up_blocks" if UP): N_LAYERS resnets from
 * IN_CH (down) or from PREV_OUT_CH plus the skips (up) to OUT_CH, and a
 * resampler when ADD_RESAMPLER. */
gboolean  gen_unet_level_load (GenWeights *w, GenUNetLevel *l, bool up, int index, int n_layers,
                               int64_t in_ch, int64_t out_ch, int64_t prev_out_ch,
                               bool add_resampler, const GenUNetLevelArgs *a, GError **error);
void      gen_unet_level_clear (GenUNetLevel *l);
/* Down: every layer's output (and the downsampler's) pushed onto SKIPS.
 * Up: each layer takes the skip popped from SKIPS; the upsampler goes to the
 * size of the skip the next level meets when SKIP_SIZE (diffusers'
 * forwarded upsample size), else doubles.  Both return the new H, in ARENA. */
GenTensor gen_unet_level_down (const GenUNetLevel *l, GenTensor h, const float *temb_silu,
                               GenUNetAttnFunc attn, gpointer attn_data, GenTensor *skips,
                               int *n_skip, GenArena *arena);
GenTensor gen_unet_level_up (const GenUNetLevel *l, GenTensor h, const float *temb_silu,
                             GenUNetAttnFunc attn, gpointer attn_data, const GenTensor *skips,
                             int *n_skip, bool skip_size, GenArena *arena);
/* TEMB [N, dim] = linear_2 (silu (linear_1 (T_IN))), TEMB_SILU = silu (TEMB). */
void      gen_unet_time_mlp (const GenLinear *linear_1, const GenLinear *linear_2,
                             const float *t_in, int64_t n, GenTensor *temb, GenTensor *temb_silu,
                             GenArena *arena);
/* H = conv_in (X), on 2 X − 1 when CENTER (center_input_sample). */
void      gen_unet_conv_in (const GenConv2d *conv, const GenTensor *x, bool center, GenTensor *h,
                            GenArena *arena);
/* X and OUT fit the model's channels, the same N, H, W, contiguous. */
gboolean  gen_unet_check_io (GenModel *m, const GenTensor *x, const GenTensor *out,
                             GError **error);

/* Calls TAP (if any) with T under the printf-style name. */
void gen_tap (GenTapFunc tap, gpointer data, const GenTensor *t, const char *fmt, ...)
  G_GNUC_PRINTF (4, 5);

/* Reads block_out_channels and checks each is in range and divisible into
 * GROUPS norm groups; *CHANS is g_free'd by the caller. */
gboolean gen_config_get_channels (GenConfig *cfg, gint64 groups, gint64 **chans, guint *n,
                                  GError **error);

/* ---- the model object ---------------------------------------------------- */

typedef struct _GenUNet GenUNet;
typedef struct _GenUNetCond GenUNetCond;
typedef struct _GenVaeKL GenVaeKL;
typedef struct _GenVaeTiny GenVaeTiny;
typedef struct _GenClipText GenClipText;

struct _GenModel
{
  GenModelInfo info;
  char        *class_name;
  GenWeights   weights;
  GenUNet     *unet;
  GenUNetCond *unet_cond;
  GenVaeKL    *vae_kl;
  GenVaeTiny  *vae_tiny;
  GenClipText *clip_text;
  int          vae_downs;       /* stride-2 convs in the VAE encoder */
  int          vae_pad[2];      /* their padding before / after */
};

gboolean gen_unet_build (GenModel *m, GenConfig *cfg, GError **error);
void     gen_unet_free (GenUNet *u);
gboolean gen_unet_cond_build (GenModel *m, GenConfig *cfg, GError **error);
void     gen_unet_cond_free (GenUNetCond *u);
gboolean gen_vae_kl_build (GenModel *m, GenConfig *cfg, GError **error);
void     gen_vae_kl_free (GenVaeKL *v);
gboolean gen_vae_kl_encode (GenModel *m, const GenTensor *x, GenTensor *mean, GenTensor *logvar,
                            GenArena *arena, GenTapFunc tap, gpointer tap_data);
gboolean gen_vae_kl_decode (GenModel *m, const GenTensor *z, GenTensor *out,
                            GenArena *arena, GenTapFunc tap, gpointer tap_data);
gboolean gen_vae_tiny_build (GenModel *m, GenConfig *cfg, GError **error);
void     gen_vae_tiny_free (GenVaeTiny *v);
gboolean gen_vae_tiny_encode (GenModel *m, const GenTensor *x, GenTensor *latent,
                              GenArena *arena, GenTapFunc tap, gpointer tap_data);
gboolean gen_vae_tiny_decode (GenModel *m, const GenTensor *z, GenTensor *out,
                              GenArena *arena, GenTapFunc tap, gpointer tap_data);

/* CLIPTextModel (gen-clip-text.c): a transformers config.json of
 * "architectures" CLIPTextModel[WithProjection] or "model_type"
 * clip_text_model (which has no "_class_name"). */
gboolean gen_clip_text_is_config (GenConfig *cfg);
gboolean gen_clip_text_build (GenModel *m, GenConfig *cfg, GError **error);
void     gen_clip_text_free (GenClipText *c);

/* Sets GEN_ERROR_UNSUPPORTED "PATH: KEY = VALUE is not supported by this
 * CLASS_NAME implementation"; returns FALSE. */
gboolean gen_config_unsupported (GenConfig *cfg, const char *class_name, const char *key,
                                 const char *value, GError **error);
/* FALSE (the error above, VALUE "(set)") if any of the N KEYS is set. */
gboolean gen_config_check_null (GenConfig *cfg, const char *class_name,
                                const char *const *keys, guint n, GError **error);

/* Config helpers shared by the builders: an activation name must be
 * "silu"/"swish" (or, where the caller allows, "relu"). */
gboolean gen_config_check_act (GenConfig *cfg, const char *key, const char *def,
                               bool allow_relu, bool *is_relu, GError **error);

G_END_DECLS
