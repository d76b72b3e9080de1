/* gen-model.h — diffusers-format models loaded from a folder.
 *
 * A model folder holds config.json ("_class_name": UNet2DModel,
 * UNet2DConditionModel, AutoencoderKL or AutoencoderTiny) and its weights as
 * diffusion_pytorch_model.safetensors, a sharded
 * diffusion_pytorch_model.safetensors.index.json, or the fp16 variant; or,
 * for a pipeline's text_encoder/, transformers' config.json ("architectures":
 * ["CLIPTextModel"] or "model_type": "clip_text_model") and model.safetensors.
 * Weights are mmapped; F32 tensors are used in place, and so are the large
 * F16/BF16 matrices (converted per product); small F16/BF16 tensors are
 * converted once at load.  Forward passes take a GenArena for their activations and
 * write into caller-owned output tensors.
 */
#pragma once

#include "gen-single-file.h"
#include "gen-tensor.h"

G_BEGIN_DECLS

typedef enum
{
  GEN_MODEL_UNET,
  GEN_MODEL_UNET_COND,   /* UNet2DConditionModel (text-conditioned) */
  GEN_MODEL_VAE_KL,
  GEN_MODEL_VAE_TINY,
  GEN_MODEL_CLIP_TEXT
} GenModelKind;

typedef struct
{
  GenModelKind kind;
  const char  *class_name;
  int          in_channels;
  int          out_channels;
  int          latent_channels;   /* VAEs; 0 for a UNet */
  int          sample_size;       /* UNet config's sample_size (0 if absent) */
  int          downscale;         /* UNet: input size must be a multiple; VAE: image/latent ratio */
  gsize        n_params;
  gsize        weight_bytes;      /* what the weights take in memory (mapped from the file in
                                     their dtype, or converted to F32 once) */
  gsize        weight_mapped_bytes;  /* the part of it mapped from the file, used in place */
  gsize        weight_convert_bytes; /* a forward's scratch for the F32 form of its largest
                                        F16/BF16 weight (0 if none is kept so) */
  float        scaling_factor;    /* VAEs (1 if absent) */
  float        shift_factor;      /* VAEs (0 if absent) */
  int          vocab_size;        /* CLIPTextModel (out_channels: its hidden_size); else 0 */
  int          max_tokens;        /* CLIPTextModel: max_position_embeddings */
  int          num_layers;        /* CLIPTextModel: num_hidden_layers (clip skip's range) */
  int          cross_attention_dim; /* UNet2DConditionModel: encoder_hidden_states width */
  int          time_cond_proj_dim;  /* UNet2DConditionModel: timestep_cond width, 0 if none */
} GenModelInfo;

typedef struct _GenModel GenModel;

/* Called during a forward pass with named intermediate results (names as
 * the diffusers module tree: "down_blocks.0", "mid_block", …).  T is only
 * valid during the call. */
typedef void (*GenTapFunc) (const char *name, const GenTensor *t, gpointer user_data);

GenModel *gen_model_load (const char *dir, GError **error);
/* PART of a single-file checkpoint (see gen-single-file.h), with the config
 * SD 1.x implies; the model holds its own reference to SF. */
GenModel *gen_model_load_single (GenSingleFile *sf, GenSingleFilePart part, GError **error);
/* COMPONENT ("unet", "vae", "text_encoder") of PATH, a pipeline folder or
 * a single-file checkpoint; COMPONENT NULL: PATH is one model's folder. */
GenModel *gen_model_load_component (const char *path, const char *component, GError **error);
void      gen_model_free (GenModel *model);
void      gen_model_get_info (GenModel *model, GenModelInfo *info);

/* UNet2DModel: OUT [N, out_ch, H, W] = unet(X [N, in_ch, H, W], TIMESTEPS [N]). */
gboolean gen_unet_forward (GenModel *model, const GenTensor *x, const float *timesteps,
                           GenTensor *out, GenArena *arena,
                           GenTapFunc tap, gpointer tap_data, GError **error);

/* UNet2DConditionModel: OUT [N, out_ch, H, W] = unet (X [N, in_ch, H, W] (any
 * H, W), TIMESTEPS [N], CTX = encoder_hidden_states [N, CTX_LEN,
 * cross_attention_dim], TIMESTEP_COND [N, time_cond_proj_dim] or NULL). */
gboolean gen_unet_cond_forward (GenModel *model, const GenTensor *x, const float *timesteps,
                                const float *ctx, int64_t ctx_len, const float *timestep_cond,
                                GenTensor *out, GenArena *arena,
                                GenTapFunc tap, gpointer tap_data, GError **error);

/* The latent size the VAE encoder gives for an H×W image (any size: the
 * stride-2 convs' arithmetic, as in diffusers); 0 if the image is too small. */
void     gen_vae_latent_size (GenModel *model, int64_t h, int64_t w, int64_t *lh, int64_t *lw);

/* VAE encode: MEAN (and LOGVAR if not NULL) [N, latent_ch, H/f, W/f], unscaled.
 * AutoencoderTiny has no variance: LOGVAR must be NULL. */
gboolean gen_vae_encode (GenModel *model, const GenTensor *x, GenTensor *mean, GenTensor *logvar,
                         GenArena *arena, GenTapFunc tap, gpointer tap_data, GError **error);
/* VAE decode: OUT [N, out_ch, H*f, W*f] from an unscaled latent Z. */
gboolean gen_vae_decode (GenModel *model, const GenTensor *z, GenTensor *out,
                         GenArena *arena, GenTapFunc tap, gpointer tap_data, GError **error);

/* CLIPTextModel: OUT [1, N, T, hidden] (contiguous) = last_hidden_state for
 * the token IDS [N, T] (row-major; each in [0, vocab_size); 1 <= T <=
 * max_tokens).  CLIP_SKIP k in [1, num_layers] is diffusers' clip_skip: the
 * output of layer num_layers - k through the final layer norm (the last k
 * layers are not run); 0 runs them all.  Taps: "text_model.embeddings" and
 * "text_model.encoder.layers.i", [1, N, T, hidden]. */
gboolean gen_clip_text_forward (GenModel *model, const int32_t *ids, int64_t n, int64_t t,
                                int clip_skip, GenTensor *out, GenArena *arena,
                                GenTapFunc tap, gpointer tap_data, GError **error);

G_END_DECLS
