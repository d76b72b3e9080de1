/* gen-blocks.c — the diffusers building blocks shared by UNet2DModel and
 * AutoencoderKL: their layers' weights, ResnetBlock2D, Attention (UNet2D/VAE
 * form), UNetMidBlock2D. */
#include "gen-model-private.h"
#include "gen-error.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>

/* ---- the weights' layers (their tensors through gen-weights.c) ------------- */

/* A layer's weight WT kept in 16-bit floats (HALF) is made F32 whole by its
 * products, in their scratch: W counts the largest. */
static void
count_convert (GenWeights *w, const GenTensor *wt, const GenHalf *half)
{
  if (half->data)
    w->convert = MAX (w->convert, sizeof (float) * (gsize) gen_tensor_numel (wt));
}

gboolean
gen_weights_conv (GenWeights *w, GenConv2d *conv, int64_t ci, int64_t co, int k,
                  int stride, int pad, bool bias, GError **error, const char *fmt, ...)
{
  va_list ap;
  char *prefix;
  int64_t ws[4] = { co, ci, k, k }, bs[1] = { co };
  gboolean ok;

  va_start (ap, fmt);
  prefix = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  memset (conv, 0, sizeof *conv);
  conv->stride = stride;
  conv->pad[0] = conv->pad[1] = conv->pad[2] = conv->pad[3] = pad;
  ok = gen_weights_get_matrix (w, &conv->weight, &conv->half, 4, ws, error, "%s.weight", prefix)
       && (!bias || gen_weights_get (w, &conv->bias, 1, bs, error, "%s.bias", prefix));
  g_free (prefix);
  count_convert (w, &conv->weight, &conv->half);
  if (ok && k == 3 && stride == 1 && w->keeps)
    {
      conv->keep = gen_conv2d_keep_new ();
      g_ptr_array_add (w->keeps, conv->keep);
    }
  return ok;
}

gboolean
gen_weights_group_norm (GenWeights *w, GenGroupNorm *gn, int64_t c, int groups, float eps,
                        GError **error, const char *fmt, ...)
{
  va_list ap;
  char *prefix;
  int64_t s[1] = { c };
  gboolean ok;

  va_start (ap, fmt);
  prefix = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  memset (gn, 0, sizeof *gn);
  if (groups <= 0 || c % groups != 0)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: %s has %" G_GINT64_FORMAT " channels, not divisible into "
                   "norm_num_groups = %d groups", w->where, prefix, c, groups);
      g_free (prefix);
      return FALSE;
    }
  gn->groups = groups;
  gn->eps = eps;
  ok = gen_weights_get (w, &gn->weight, 1, s, error, "%s.weight", prefix)
       && gen_weights_get (w, &gn->bias, 1, s, error, "%s.bias", prefix);
  g_free (prefix);
  return ok;
}

gboolean
gen_weights_linear (GenWeights *w, GenLinear *lin, int64_t in, int64_t out, bool bias,
                    GError **error, const char *fmt, ...)
{
  va_list ap;
  char *prefix;
  int64_t ws[2] = { out, in }, bs[1] = { out };
  gboolean ok;

  va_start (ap, fmt);
  prefix = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  memset (lin, 0, sizeof *lin);
  ok = gen_weights_get_matrix (w, &lin->weight, &lin->half, 2, ws, error, "%s.weight", prefix)
       && (!bias || gen_weights_get (w, &lin->bias, 1, bs, error, "%s.bias", prefix));
  g_free (prefix);
  count_convert (w, &lin->weight, &lin->half);
  return ok;
}

gboolean
gen_config_unsupported (GenConfig *cfg, const char *class_name, const char *key,
                        const char *value, GError **error)
{
  g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
               "%s: %s = %s is not supported by this %s implementation",
               gen_config_path (cfg), key, value, class_name);
  return FALSE;
}

gboolean
gen_config_check_null (GenConfig *cfg, const char *class_name, const char *const *keys,
                       guint n, GError **error)
{
  for (guint i = 0; i < n; i++)
    if (gen_config_has (cfg, keys[i]))
      return gen_config_unsupported (cfg, class_name, keys[i], "(set)", error);
  return TRUE;
}

gboolean
gen_config_check_act (GenConfig *cfg, const char *key, const char *def,
                      bool allow_relu, bool *is_relu, GError **error)
{
  const char *act;

  if (!gen_config_get_string (cfg, key, TRUE, def, &act, error))
    return FALSE;
  if (is_relu)
    *is_relu = FALSE;
  if (g_strcmp0 (act, "silu") == 0 || g_strcmp0 (act, "swish") == 0)
    return TRUE;
  if (allow_relu && g_strcmp0 (act, "relu") == 0)
    {
      *is_relu = TRUE;
      return TRUE;
    }
  g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
               "%s: %s '%s' is not supported (supported: silu%s)",
               gen_config_path (cfg), key, act, allow_relu ? ", relu" : "");
  return FALSE;
}

/* ---- ResnetBlock2D ---------------------------------------------------------- */

gboolean
gen_resnet_load (GenWeights *w, GenResnet *r, const char *prefix, int64_t in_ch,
                 int64_t out_ch, int64_t temb_ch, int groups, float eps,
                 bool scale_shift, float output_scale_factor, GError **error)
{
  memset (r, 0, sizeof *r);
  r->in_ch = in_ch;
  r->out_ch = out_ch;
  r->has_temb = temb_ch > 0;
  r->scale_shift = scale_shift;
  r->has_shortcut = in_ch != out_ch;
  r->output_scale_factor = output_scale_factor;

  if (!gen_weights_group_norm (w, &r->norm1, in_ch, groups, eps, error, "%s.norm1", prefix)
      || !gen_weights_conv (w, &r->conv1, in_ch, out_ch, 3, 1, 1, true, error, "%s.conv1", prefix)
      || !gen_weights_group_norm (w, &r->norm2, out_ch, groups, eps, error, "%s.norm2", prefix)
      || !gen_weights_conv (w, &r->conv2, out_ch, out_ch, 3, 1, 1, true, error, "%s.conv2", prefix))
    return FALSE;
  if (r->has_temb
      && !gen_weights_linear (w, &r->time_emb_proj, temb_ch, scale_shift ? 2 * out_ch : out_ch,
                              true, error, "%s.time_emb_proj", prefix))
    return FALSE;
  if (r->has_shortcut
      && !gen_weights_conv (w, &r->conv_shortcut, in_ch, out_ch, 1, 1, 0, true, error,
                            "%s.conv_shortcut", prefix))
    return FALSE;
  return TRUE;
}

/* ResnetBlock2D.forward (He et al. 2016 with the DDPM time conditioning):
 *   h = conv1(silu(norm1(x)))
 *   default:     h = silu(norm2(h + proj(silu(temb))))
 *   scale_shift: h = silu(norm2(h) · (1 + scale) + shift)
 *   y = (shortcut(x) + conv2(h)) / output_scale_factor */
void
gen_resnet_forward (const GenResnet *r, const GenTensor *x, const float *temb_silu,
                    GenTensor *y, GenArena *arena)
{
  gen_resnet_forward_cat (r, x, NULL, temb_silu, y, arena);
}

void
gen_resnet_forward_cat (const GenResnet *r, const GenTensor *x, const GenTensor *x2,
                        const float *temb_silu, GenTensor *y, GenArena *arena)
{
  int64_t n = x->ne[0], hh = x->ne[2], ww = x->ne[3];
  gsize mark = gen_arena_mark (arena);
  GenTensor h1 = gen_arena_tensor (arena, n, r->out_ch, hh, ww);

  gen_conv2d_cat_norm_silu (&r->conv1, &r->norm1, x, x2, &h1, false, arena);

  if (r->has_temb && temb_silu)
    {
      int64_t tdim = r->time_emb_proj.weight.ne[3], pdim = r->time_emb_proj.weight.ne[2];
      float *proj = gen_arena_alloc (arena, (gsize) (n * pdim));

      gen_linear (&r->time_emb_proj, temb_silu, proj, n, arena);
      (void) tdim;
      if (!r->scale_shift)
        {
          gen_add_channel_bias (&h1, proj, pdim);
          gen_group_norm (&r->norm2, &h1, &h1, true);
        }
      else if (proj && h1.data)
        {
          int64_t hw = hh * ww;

          gen_group_norm (&r->norm2, &h1, &h1, false);
          for (int64_t b = 0; b < n; b++)
            for (int64_t c = 0; c < r->out_ch; c++)
              {
                float scale = proj[b * pdim + c], shift = proj[b * pdim + r->out_ch + c];
                float *p = h1.data + (b * r->out_ch + c) * hw;

                for (int64_t i = 0; i < hw; i++)
                  p[i] = p[i] * (1.0f + scale) + shift;
              }
          gen_silu (h1.data, h1.data, gen_tensor_numel (&h1));
        }
    }
  else
    gen_group_norm (&r->norm2, &h1, &h1, true);

  if (r->has_shortcut)
    gen_conv2d_cat (&r->conv_shortcut, x, x2, y, false, arena);
  else if (!x2)
    gen_tensor_copy (x, y);
  else if (x->data && x2->data && y->data)
    for (int64_t b = 0; b < n; b++)
      {
        /* y = [x, x2] (contiguous, same batch and size) */
        memcpy (y->data + b * y->nb[0], x->data + b * x->nb[0], sizeof (float) * x->nb[0]);
        memcpy (y->data + b * y->nb[0] + x->nb[0], x2->data + b * x2->nb[0],
                sizeof (float) * x2->nb[0]);
      }
  gen_conv2d (&r->conv2, &h1, y, true, arena);
  gen_scale_div (y->data, gen_tensor_numel (y), r->output_scale_factor);
  gen_arena_release (arena, mark);
}

/* ---- Attention (UNet2D / VAE form) ------------------------------------------ */

gboolean
gen_attn_load (GenWeights *w, GenAttn *a, const char *prefix, int64_t channels,
               int64_t dim_head, int groups, float eps, float rescale, GError **error)
{
  /* Checkpoints written before diffusers 0.14 name the projections
   * query/key/value/proj_attn (see diffusers modeling_utils,
   * _convert_deprecated_attention_blocks). */
  bool legacy = !gen_weights_has (w, "%s.to_q.weight", prefix)
                && gen_weights_has (w, "%s.query.weight", prefix);

  memset (a, 0, sizeof *a);
  /* heads = channels // dim_head (diffusers' integer division): q, k and v
   * are heads · dim_head wide, which need not be the channel count. */
  if (dim_head <= 0 || dim_head > channels)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: %s: attention_head_dim %" G_GINT64_FORMAT " is out of range for "
                   "%" G_GINT64_FORMAT " channels", w->where, prefix, dim_head, channels);
      return FALSE;
    }
  a->channels = channels;
  a->dim_head = dim_head;
  a->heads = (int) (channels / dim_head);
  a->inner = a->heads * dim_head;
  a->has_norm = groups > 0;
  a->rescale_output_factor = rescale;

  if (a->has_norm
      && !gen_weights_group_norm (w, &a->group_norm, channels, groups, eps, error,
                                  "%s.group_norm", prefix))
    return FALSE;
  return gen_weights_linear (w, &a->to_q, channels, a->inner, true, error,
                             legacy ? "%s.query" : "%s.to_q", prefix)
         && gen_weights_linear (w, &a->to_k, channels, a->inner, true, error,
                                legacy ? "%s.key" : "%s.to_k", prefix)
         && gen_weights_linear (w, &a->to_v, channels, a->inner, true, error,
                                legacy ? "%s.value" : "%s.to_v", prefix)
         && gen_weights_linear (w, &a->to_out, a->inner, channels, true, error,
                                legacy ? "%s.proj_attn" : "%s.to_out.0", prefix);
}

/* Self-attention over the H·W positions of each image (Vaswani et al. 2017,
 * eq. 1, with the residual of the DDPM attention block):
 *   y = (x + W_o · attn(W_q n, W_k n, W_v n)) / rescale,  n = group_norm(x) */
void
gen_attn_forward (const GenAttn *a, const GenTensor *x, GenTensor *y, GenArena *arena)
{
  int64_t n = x->ne[0], c = a->channels, hw = x->ne[2] * x->ne[3], in = a->inner;
  gsize mark = gen_arena_mark (arena);
  GenTensor normed = a->has_norm ? gen_arena_tensor (arena, n, c, x->ne[2], x->ne[3]) : *x;
  float *q = gen_arena_alloc (arena, (gsize) (hw * in)); /* [HW, inner] */
  float *k = gen_arena_alloc (arena, (gsize) (hw * in));
  float *v = gen_arena_alloc (arena, (gsize) (hw * in));
  float *o = gen_arena_alloc (arena, (gsize) (hw * in));
  float scale = 1.0f / sqrtf ((float) a->dim_head);

  const GenLinear *proj[3] = { &a->to_q, &a->to_k, &a->to_v };
  const float *wp[3], *wo;   /* the projections' weights in F32: [inner, C] ×3, [C, inner] */

  if (a->has_norm)
    gen_group_norm (&a->group_norm, x, &normed, false);
  for (int p = 0; p < 3; p++)
    wp[p] = gen_weight_f32 (&proj[p]->weight, &proj[p]->half, arena);
  wo = gen_weight_f32 (&a->to_out.weight, &a->to_out.half, arena);
  if (!q || !k || !v || !o || !normed.data || !x->data || !y->data || !wp[0] || !wp[1] || !wp[2]
      || !wo)
    {
      gen_arena_release (arena, mark);
      return;
    }

  for (int64_t b = 0; b < n; b++)
    {
      const float *nb = normed.data + b * normed.nb[0]; /* [C, HW] */
      float *yb = y->data + b * y->nb[0];
      float *dst[3] = { q, k, v };

      /* Q[HW, inner] = nᵀ · W_qᵀ + b_q (same for K, V) */
      for (int p = 0; p < 3; p++)
        {
          for (int64_t i = 0; i < hw; i++)
            memcpy (dst[p] + i * in, proj[p]->bias.data, sizeof (float) * in);
          gen_gemm (true, true, (int) hw, (int) in, (int) c, 1.0f, nb, (int) hw,
                    wp[p], (int) c, 1.0f, dst[p], (int) in);
        }
      for (int hd = 0; hd < a->heads; hd++)
        {
          int64_t off = hd * a->dim_head;
          gen_attention (q + off, (int) in, k + off, (int) in, v + off, (int) in, o + off, (int) in,
                         hw, hw, a->dim_head, a->dim_head, scale, arena);
        }
      /* y[C, HW] = x + W_o · Oᵀ + b_o, then / rescale */
      if (y->data != x->data)
        memcpy (yb, x->data + b * x->nb[0], sizeof (float) * c * hw);
      for (int64_t ch = 0; ch < c; ch++)
        {
          float bias = a->to_out.bias.data[ch];
          float *row = yb + ch * hw;
          for (int64_t i = 0; i < hw; i++)
            row[i] += bias;
        }
      gen_gemm (false, true, (int) c, (int) hw, (int) in, 1.0f, wo, (int) in,
                o, (int) in, 1.0f, yb, (int) hw);
    }
  gen_scale_div (y->data, gen_tensor_numel (y), a->rescale_output_factor);
  gen_arena_release (arena, mark);
}

/* ---- UNetMidBlock2D ---------------------------------------------------------- */

gboolean
gen_mid_block_load (GenWeights *w, GenMidBlock *m, const char *prefix, int64_t ch,
                    int64_t temb_ch, int groups, int attn_groups, float eps,
                    bool scale_shift, bool add_attention, int64_t dim_head,
                    float output_scale_factor, GError **error)
{
  char *p0 = g_strdup_printf ("%s.resnets.0", prefix);
  char *p1 = g_strdup_printf ("%s.resnets.1", prefix);
  char *pa = g_strdup_printf ("%s.attentions.0", prefix);
  gboolean ok;

  memset (m, 0, sizeof *m);
  m->has_attn = add_attention;
  ok = gen_resnet_load (w, &m->resnets[0], p0, ch, ch, temb_ch, groups, eps, scale_shift,
                        output_scale_factor, error)
       && (!add_attention
           || gen_attn_load (w, &m->attn, pa, ch, dim_head, attn_groups, eps,
                             output_scale_factor, error))
       && gen_resnet_load (w, &m->resnets[1], p1, ch, ch, temb_ch, groups, eps, scale_shift,
                           output_scale_factor, error);
  g_free (p0);
  g_free (p1);
  g_free (pa);
  return ok;
}

void
gen_mid_block_forward (const GenMidBlock *m, const GenTensor *x, const float *temb_silu,
                       GenTensor *y, GenArena *arena)
{
  gsize mark = gen_arena_mark (arena);
  GenTensor h = gen_arena_tensor (arena, x->ne[0], x->ne[1], x->ne[2], x->ne[3]);

  gen_resnet_forward (&m->resnets[0], x, temb_silu, &h, arena);
  if (m->has_attn)
    gen_attn_forward (&m->attn, &h, &h, arena);
  gen_resnet_forward (&m->resnets[1], &h, temb_silu, y, arena);
  gen_arena_release (arena, mark);
}

/* ---- Downsample2D / Upsample2D, taps, channel lists ------------------------- */

GenTensor
gen_downsample_forward (const GenConv2d *conv, const GenTensor *h, GenArena *arena)
{
  int64_t ho = gen_conv2d_out_size (h->ne[2], 3, conv->stride, conv->pad[0], conv->pad[2]);
  int64_t wo = gen_conv2d_out_size (h->ne[3], 3, conv->stride, conv->pad[1], conv->pad[3]);
  GenTensor y = gen_arena_tensor (arena, h->ne[0], conv->weight.ne[0], ho, wo);

  gen_conv2d (conv, h, &y, false, arena);
  return y;
}

GenTensor
gen_upsample_forward (const GenConv2d *conv, const GenTensor *h, GenArena *arena)
{
  GenTensor y = gen_arena_tensor (arena, h->ne[0], conv->weight.ne[0], h->ne[2] * 2, h->ne[3] * 2);

  gen_conv2d_up2 (conv, h, &y, arena);     /* the upsampled input is never made */
  return y;
}

void
gen_tap (GenTapFunc tap, gpointer data, const GenTensor *t, const char *fmt, ...)
{
  char name[96];
  va_list ap;

  if (!tap || !t->data)
    return;
  va_start (ap, fmt);
  g_vsnprintf (name, sizeof name, fmt, ap);
  va_end (ap);
  tap (name, t, data);
}

gboolean
gen_config_get_channels (GenConfig *cfg, gint64 groups, gint64 **chans, guint *n,
                         GError **error)
{
  if (!gen_config_get_int_array (cfg, "block_out_channels", chans, n, error))
    return FALSE;
  for (guint i = 0; i < *n; i++)
    {
      gint64 c = (*chans)[i];

      if (c <= 0 || c > 65536)
        g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                     "%s: block_out_channels[%u] = %" G_GINT64_FORMAT " is out of range",
                     gen_config_path (cfg), i, c);
      else if (groups > 0 && c % groups != 0)
        g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                     "%s: norm_num_groups = %" G_GINT64_FORMAT " does not divide "
                     "block_out_channels[%u] = %" G_GINT64_FORMAT,
                     gen_config_path (cfg), groups, i, c);
      else
        continue;
      g_clear_pointer (chans, g_free);
      return FALSE;
    }
  return TRUE;
}
