/* gen-transformer.h — diffusers' Transformer2DModel (continuous input) and
 * its BasicTransformerBlock: the spatial transformer of the Stable Diffusion
 * UNet (Rombach et al. 2022, sec. 3.3).  Not installed; for the models. */
#pragma once

#include "gen-model-private.h"

G_BEGIN_DECLS

/* attention_processor.py Attention as BasicTransformerBlock builds it:
 * q/k/v without bias, to_out.0 with bias, no norm, no residual. */
typedef struct
{
  int       heads;
  int64_t   dim_head;
  int64_t   inner;       /* heads · dim_head */
  int64_t   ctx_dim;     /* width K and V are made from */
  GenLinear to_q, to_k, to_v, to_out;
} GenXAttn;

typedef struct
{
  GenLayerNorm norm1, norm2, norm3;
  GenXAttn     attn1;      /* self-attention */
  GenXAttn     attn2;      /* cross-attention on encoder_hidden_states */
  GenLinear    ff_proj;    /* ff.net.0.proj: [2 · ff_inner, inner] (GEGLU) */
  GenLinear    ff_out;     /* ff.net.2: [inner, ff_inner] */
  int64_t      ff_inner;
} GenTransformerBlock;

typedef struct
{
  int64_t              channels;
  int64_t              inner;       /* heads · (channels / heads) */
  int64_t              ctx_dim;
  GenGroupNorm         norm;
  GenLinear            proj_in;     /* [inner, C] (a 1×1 conv or a Linear: the same product) */
  GenLinear            proj_out;    /* [C, inner] */
  int                  n_blocks;
  GenTransformerBlock *blocks;      /* [n_blocks] */
} GenTransformer2D;

/* Loads PREFIX ("down_blocks.0.attentions.1") for CHANNELS wide input,
 * HEADS heads of CHANNELS / HEADS, N_LAYERS transformer blocks attending to a
 * context CTX_DIM wide; LINEAR: proj_in/out are Linear ([out, in]) rather
 * than 1×1 convs ([out, in, 1, 1]). */
gboolean gen_transformer2d_load (GenWeights *w, GenTransformer2D *t, const char *prefix,
                                 int64_t channels, int heads, int n_layers, int64_t ctx_dim,
                                 int groups, GError **error);
void     gen_transformer2d_clear (GenTransformer2D *t);

/* Y [N, C, H, W] = transformer (X [N, C, H, W], CTX [N, L, ctx_dim]) + X.
 * Y may be X. */
void gen_transformer2d_forward (const GenTransformer2D *t, const GenTensor *x, const float *ctx,
                                int64_t ctx_len, GenTensor *y, GenArena *arena);

G_END_DECLS
