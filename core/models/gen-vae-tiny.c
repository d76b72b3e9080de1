/* gen-vae-tiny.c — diffusers AutoencoderTiny (TAESD): EncoderTiny and
 * DecoderTiny as flat nn.Sequential layer lists, built from config.json. */
#include "gen-model-private.h"
#include "gen-error.h"

#include <math.h>
#include <string.h>

typedef enum
{
  TINY_CONV,      /* nn.Conv2d */
  TINY_ACT,       /* the config's act_fn */
  TINY_BLOCK,     /* AutoencoderTinyBlock */
  TINY_UPSAMPLE   /* nn.Upsample (nearest) */
} TinyLayerType;

typedef struct
{
  TinyLayerType type;
  GenConv2d     conv;       /* TINY_CONV */
  GenConv2d     c0, c2, c4; /* TINY_BLOCK: conv.0, conv.2, conv.4 */
  bool          has_skip;
  GenConv2d     skip;       /* 1×1, no bias */
  int64_t       out_ch;
} TinyLayer;

typedef struct
{
  TinyLayer *layers;
  int        n;
} TinySeq;

struct _GenVaeTiny
{
  TinySeq enc, dec;
  bool    relu;    /* act_fn relu (else silu) */
  int     up_factor;
};

void
gen_vae_tiny_free (GenVaeTiny *v)
{
  if (!v)
    return;
  g_free (v->enc.layers);
  g_free (v->dec.layers);
  g_free (v);
}

static TinyLayer *
seq_add (TinySeq *s, int max, TinyLayerType type)
{
  g_assert (s->n < max);
  s->layers[s->n].type = type;
  return &s->layers[s->n++];
}

static gboolean
add_conv (GenWeights *w, TinySeq *s, int max, const char *half, int64_t ci, int64_t co,
          int stride, bool bias, GError **error)
{
  int idx = s->n;
  TinyLayer *l = seq_add (s, max, TINY_CONV);

  l->out_ch = co;
  return gen_weights_conv (w, &l->conv, ci, co, 3, stride, 1, bias, error, "%s.layers.%d", half,
                           idx);
}

static gboolean
add_block (GenWeights *w, TinySeq *s, int max, const char *half, int64_t ch, GError **error)
{
  int idx = s->n;
  TinyLayer *l = seq_add (s, max, TINY_BLOCK);

  l->out_ch = ch;
  l->has_skip = false; /* in == out in every EncoderTiny / DecoderTiny block */
  return gen_weights_conv (w, &l->c0, ch, ch, 3, 1, 1, true, error, "%s.layers.%d.conv.0", half, idx)
         && gen_weights_conv (w, &l->c2, ch, ch, 3, 1, 1, true, error, "%s.layers.%d.conv.2", half, idx)
         && gen_weights_conv (w, &l->c4, ch, ch, 3, 1, 1, true, error, "%s.layers.%d.conv.4", half, idx);
}

gboolean
gen_vae_tiny_build (GenModel *m, GenConfig *cfg, GError **error)
{
  GenVaeTiny *v = g_new0 (GenVaeTiny, 1);
  GenWeights *w = &m->weights;
  gint64 *enc_ch = NULL, *dec_ch = NULL, *enc_n = NULL, *dec_n = NULL;
  guint n_ec = 0, n_dc = 0, n_en = 0, n_dn = 0;
  gint64 in_ch, out_ch, latent, up_factor;
  double scaling, shift;
  const char *up_fn;
  gboolean ok = FALSE;
  int max_enc, max_dec;

  m->vae_tiny = v;
  if (!gen_config_check_act (cfg, "act_fn", "relu", true, &v->relu, error)
      || !gen_config_get_int (cfg, "in_channels", TRUE, 3, &in_ch, error)
      || !gen_config_get_int (cfg, "out_channels", TRUE, 3, &out_ch, error)
      || !gen_config_get_int (cfg, "latent_channels", TRUE, 4, &latent, error)
      || !gen_config_get_int (cfg, "upsampling_scaling_factor", TRUE, 2, &up_factor, error)
      || !gen_config_get_positive (cfg, "scaling_factor", TRUE, 1.0, &scaling, error)
      || !gen_config_get_double (cfg, "shift_factor", TRUE, 0.0, &shift, error)
      || !gen_config_get_string (cfg, "upsample_fn", TRUE, "nearest", &up_fn, error)
      || !gen_config_get_int_array (cfg, "encoder_block_out_channels", &enc_ch, &n_ec, error)
      || !gen_config_get_int_array (cfg, "decoder_block_out_channels", &dec_ch, &n_dc, error)
      || !gen_config_get_int_array (cfg, "num_encoder_blocks", &enc_n, &n_en, error)
      || !gen_config_get_int_array (cfg, "num_decoder_blocks", &dec_n, &n_dn, error))
    goto out;
  if (strcmp (up_fn, "nearest") != 0)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: upsample_fn '%s' is not supported (supported: nearest)",
                   gen_config_path (cfg), up_fn);
      goto out;
    }
  if (n_ec == 0 || n_ec > 8 || n_ec != n_en || n_dc == 0 || n_dc > 8 || n_dc != n_dn
      || in_ch <= 0 || in_ch > 64 || out_ch <= 0 || out_ch > 64 || latent <= 0 || latent > 1024
      || up_factor < 1 || up_factor > 8)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: block lists or channel counts out of the supported range",
                   gen_config_path (cfg));
      goto out;
    }
  for (guint i = 0; i < n_ec; i++)
    if (enc_ch[i] <= 0 || enc_ch[i] > 4096 || enc_n[i] < 0 || enc_n[i] > 64
        || (i > 0 && enc_ch[i] != enc_ch[i - 1]))
      goto range;
  for (guint i = 0; i < n_dc; i++)
    if (dec_ch[i] <= 0 || dec_ch[i] > 4096 || dec_n[i] < 0 || dec_n[i] > 64
        || (i > 0 && dec_ch[i] != dec_ch[i - 1]))
      goto range;

  v->up_factor = (int) up_factor;
  m->info.kind = GEN_MODEL_VAE_TINY;
  m->info.in_channels = (int) in_ch;
  m->info.out_channels = (int) out_ch;
  m->info.latent_channels = (int) latent;
  m->info.downscale = 1 << (n_ec - 1);
  m->vae_downs = (int) n_ec - 1;
  m->vae_pad[0] = m->vae_pad[1] = 1;
  m->info.scaling_factor = (float) scaling;
  m->info.shift_factor = (float) shift;

  /* EncoderTiny: conv(in→c0), blocks; per later level a stride-2 conv
   * (no bias) and blocks; conv(→latent). */
  max_enc = 2;
  for (guint i = 0; i < n_ec; i++)
    max_enc += 1 + (int) enc_n[i];
  v->enc.layers = g_new0 (TinyLayer, max_enc);
  for (guint i = 0; i < n_ec; i++)
    {
      if (!add_conv (w, &v->enc, max_enc, "encoder", i == 0 ? in_ch : enc_ch[i], enc_ch[i],
                     i == 0 ? 1 : 2, i == 0, error))
        goto out;
      for (gint64 j = 0; j < enc_n[i]; j++)
        if (!add_block (w, &v->enc, max_enc, "encoder", enc_ch[i], error))
          goto out;
    }
  if (!add_conv (w, &v->enc, max_enc, "encoder", enc_ch[n_ec - 1], latent, 1, true, error))
    goto out;

  /* DecoderTiny: conv(latent→c0), act; per level blocks, upsample (not
   * last), conv (bias only on the last, which gives out_channels). */
  max_dec = 2;
  for (guint i = 0; i < n_dc; i++)
    max_dec += (int) dec_n[i] + 2;
  v->dec.layers = g_new0 (TinyLayer, max_dec);
  if (!add_conv (w, &v->dec, max_dec, "decoder", latent, dec_ch[0], 1, true, error))
    goto out;
  seq_add (&v->dec, max_dec, TINY_ACT);
  for (guint i = 0; i < n_dc; i++)
    {
      bool final = i == n_dc - 1;

      for (gint64 j = 0; j < dec_n[i]; j++)
        if (!add_block (w, &v->dec, max_dec, "decoder", dec_ch[i], error))
          goto out;
      if (!final)
        seq_add (&v->dec, max_dec, TINY_UPSAMPLE);
      if (!add_conv (w, &v->dec, max_dec, "decoder", dec_ch[i], final ? out_ch : dec_ch[i], 1,
                     final, error))
        goto out;
    }
  {
    gint64 dec_factor = 1;

    for (guint i = 1; i < n_dc; i++)
      dec_factor *= up_factor;
    if (dec_factor != m->info.downscale)
      {
        g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                     "%s: the encoder downsamples by %d but the decoder upsamples by %"
                     G_GINT64_FORMAT, gen_config_path (cfg), m->info.downscale, dec_factor);
        goto out;
      }
  }
  ok = TRUE;
  goto out;

range:
  g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
               "%s: the *_block_out_channels must be equal within each half and the block "
               "counts in range", gen_config_path (cfg));
out:
  g_free (enc_ch);
  g_free (dec_ch);
  g_free (enc_n);
  g_free (dec_n);
  return ok;
}

static void
act (const GenVaeTiny *v, GenTensor *t)
{
  if (v->relu)
    gen_relu (t->data, t->data, gen_tensor_numel (t));
  else
    gen_silu (t->data, t->data, gen_tensor_numel (t));
}

/* AutoencoderTinyBlock: relu(conv4(act(conv2(act(conv0(x))))) + skip(x)) */
static void
block_forward (const GenVaeTiny *v, const TinyLayer *l, const GenTensor *x, GenTensor *y,
               GenArena *arena)
{
  gsize mark = gen_arena_mark (arena);
  GenTensor a = gen_arena_tensor (arena, x->ne[0], l->out_ch, x->ne[2], x->ne[3]);
  GenTensor b = gen_arena_tensor (arena, x->ne[0], l->out_ch, x->ne[2], x->ne[3]);

  gen_conv2d (&l->c0, x, &a, false, arena);
  act (v, &a);
  gen_conv2d (&l->c2, &a, &b, false, arena);
  act (v, &b);
  gen_tensor_copy (x, y);
  gen_conv2d (&l->c4, &b, y, true, arena);
  gen_relu (y->data, y->data, gen_tensor_numel (y));
  gen_arena_release (arena, mark);
}

static GenTensor
seq_forward (const GenVaeTiny *v, const TinySeq *s, GenTensor h, GenTensor *final_out,
             GenArena *arena)
{
  /* Each layer's output replaces its input in the arena (gen_arena_keep), so
   * a chain of N layers holds two activations at a time, not N. */
  gsize mark = gen_arena_mark (arena);

  for (int i = 0; i < s->n; i++)
    {
      const TinyLayer *l = &s->layers[i];
      GenTensor y;

      switch (l->type)
        {
        case TINY_CONV:
          if (i == s->n - 1 && final_out)
            y = *final_out;
          else
            y = gen_arena_tensor (arena, h.ne[0], l->out_ch,
                                  gen_conv2d_out_size (h.ne[2], 3, l->conv.stride, 1, 1),
                                  gen_conv2d_out_size (h.ne[3], 3, l->conv.stride, 1, 1));
          gen_conv2d (&l->conv, &h, &y, false, arena);
          break;
        case TINY_ACT:
          act (v, &h);
          continue;
        case TINY_BLOCK:
          y = gen_arena_tensor (arena, h.ne[0], l->out_ch, h.ne[2], h.ne[3]);
          block_forward (v, l, &h, &y, arena);
          break;
        case TINY_UPSAMPLE:
          y = gen_arena_tensor (arena, h.ne[0], h.ne[1], h.ne[2] * v->up_factor,
                                h.ne[3] * v->up_factor);
          gen_upsample_nearest (&h, &y, v->up_factor);
          break;
        default:
          g_assert_not_reached ();
        }
      h = (final_out && y.data == final_out->data) ? y : gen_arena_keep (arena, mark, &y);
    }
  return h;
}

gboolean
gen_vae_tiny_encode (GenModel *m, const GenTensor *x, GenTensor *latent, GenArena *arena,
                     GenTapFunc tap, gpointer tap_data)
{
  GenVaeTiny *v = m->vae_tiny;
  GenTensor x01 = gen_arena_tensor (arena, x->ne[0], x->ne[1], x->ne[2], x->ne[3]);

  /* TAESD works on [0, 1] images: x.add(1).div(2) */
  if (x01.data && x->data)
    for (int64_t i = 0; i < gen_tensor_numel (x); i++)
      x01.data[i] = (x->data[i] + 1.0f) / 2.0f;
  seq_forward (v, &v->enc, x01, latent, arena);
  if (tap && latent->data)
    tap ("encoder", latent, tap_data);
  return latent->data != NULL;
}

gboolean
gen_vae_tiny_decode (GenModel *m, const GenTensor *z, GenTensor *out, GenArena *arena,
                     GenTapFunc tap, gpointer tap_data)
{
  GenVaeTiny *v = m->vae_tiny;
  GenTensor zc = gen_arena_tensor (arena, z->ne[0], z->ne[1], z->ne[2], z->ne[3]);

  (void) tap;
  (void) tap_data;
  /* latent soft-clamp tanh(z / 3) · 3, layers, then [0, 1] → [−1, 1] */
  if (zc.data && z->data)
    for (int64_t i = 0; i < gen_tensor_numel (z); i++)
      zc.data[i] = tanhf (z->data[i] / 3.0f) * 3.0f;
  seq_forward (v, &v->dec, zc, out, arena);
  if (!out->data)
    return FALSE;
  for (int64_t i = 0; i < gen_tensor_numel (out); i++)
    out->data[i] = out->data[i] * 2.0f - 1.0f;
  return TRUE;
}
