/* gen-single-file.c — the original CompVis/LDM key layout seen through
 * diffusers names (the map of diffusers' single_file_utils
 * convert_ldm_unet_checkpoint / convert_ldm_vae_checkpoint, written here
 * from diffusers name to original name so a lookup needs no table). */
#include "gen-single-file.h"
#include "gen-error.h"

#include <string.h>

#define UNET_PREFIX "model.diffusion_model."
#define VAE_PREFIX  "first_stage_model."
#define TEXT_PREFIX "cond_stage_model.transformer."

/* SD 1.x's v1-inference.yaml: num_res_blocks 2, so each UNet level holds
 * 2 resnets (+1 in the up path) and the LDM index of a block is
 * level · (LAYERS + 1) + layer (+1 on the way down, after conv_in). */
#define UNET_LAYERS 2
#define MAX_VAE_LEVELS 8

struct _GenSingleFile
{
  gint              refs;
  GenSafetensors   *st;
  char             *where;
  GenSingleFileKind kind;
  guint             vae_levels;   /* decoder.up.* count: diffusers numbers them in reverse */
};

static const char *const pickled[] = { ".ckpt", ".pt", ".pth", ".bin" };

gboolean
gen_single_file_is_checkpoint (const char *path)
{
  if (g_str_has_suffix (path, ".safetensors"))
    return TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (pickled); i++)
    if (g_str_has_suffix (path, pickled[i]))
      return TRUE;
  return FALSE;
}

static gboolean
has_prefix_key (GenSafetensors *st, const char *prefix)
{
  for (guint i = 0; i < gen_safetensors_count (st); i++)
    if (g_str_has_prefix (gen_safetensors_nth (st, i)->name, prefix))
      return TRUE;
  return FALSE;
}

static const GenSafetensorsEntry *
require (GenSafetensors *st, const char *where, const char *name, int ndim, GError **error)
{
  const GenSafetensorsEntry *e = gen_safetensors_find (st, name);

  if (!e)
    g_set_error (error, GEN_ERROR, GEN_ERROR_MISSING,
                 "%s: tensor '%s' is missing: not an SD 1.x single-file checkpoint",
                 where, name);
  else if (e->ndim != ndim)
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_SHAPE,
                   "%s: tensor '%s' has %d dimensions, expected %d", where, name, e->ndim,
                   ndim);
      e = NULL;
    }
  return e;
}

static gboolean
detect (GenSingleFile *sf, GError **error)
{
  const GenSafetensorsEntry *conv_in;

  if (has_prefix_key (sf->st, "conditioner."))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: SDXL single-file checkpoints are not supported yet: use the "
                   "diffusers folder", sf->where);
      return FALSE;
    }
  if (has_prefix_key (sf->st, "cond_stage_model.model."))
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: SD 2.x single-file checkpoints are not supported yet: use the "
                   "diffusers folder", sf->where);
      return FALSE;
    }
  conv_in = require (sf->st, sf->where, UNET_PREFIX "input_blocks.0.0.weight", 4, error);
  if (!conv_in
      || !require (sf->st, sf->where, VAE_PREFIX "decoder.conv_in.weight", 4, error)
      || !require (sf->st, sf->where,
                   TEXT_PREFIX "text_model.embeddings.token_embedding.weight", 2, error))
    return FALSE;
  /* conv_in [block_out_channels[0], in_channels, 3, 3] */
  if (conv_in->shape[1] == 4)
    sf->kind = GEN_SINGLE_FILE_SD1;
  else if (conv_in->shape[1] == 9)
    sf->kind = GEN_SINGLE_FILE_SD1_INPAINT;
  else
    {
      g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                   "%s: a UNet with %" G_GINT64_FORMAT " input channels is neither SD 1.x "
                   "(4) nor SD 1.x inpainting (9)", sf->where, conv_in->shape[1]);
      return FALSE;
    }
  while (sf->vae_levels < MAX_VAE_LEVELS)
    {
      char *name = g_strdup_printf (VAE_PREFIX "decoder.up.%u.block.0.conv1.weight",
                                    sf->vae_levels);
      gboolean has = gen_safetensors_find (sf->st, name) != NULL;

      g_free (name);
      if (!has)
        break;
      sf->vae_levels++;
    }
  return TRUE;
}

GenSingleFile *
gen_single_file_new (GenSafetensors *st, const char *where, GError **error)
{
  GenSingleFile *sf = g_new0 (GenSingleFile, 1);

  sf->refs = 1;
  sf->st = st;
  sf->where = g_strdup (where);
  if (!detect (sf, error))
    {
      gen_single_file_unref (sf);
      return NULL;
    }
  return sf;
}

GenSingleFile *
gen_single_file_open (const char *path, GError **error)
{
  GenSafetensors *st;

  for (guint i = 0; i < G_N_ELEMENTS (pickled); i++)
    if (g_str_has_suffix (path, pickled[i]))
      {
        g_set_error (error, GEN_ERROR, GEN_ERROR_UNSUPPORTED,
                     "%s: pickled checkpoints are never opened (they can run code); "
                     "use the .safetensors download of the same model", path);
        return NULL;
      }
  st = gen_safetensors_open (path, error);
  return st ? gen_single_file_new (st, path, error) : NULL;
}

GenSingleFile *
gen_single_file_ref (GenSingleFile *sf)
{
  sf->refs++;
  return sf;
}

void
gen_single_file_unref (GenSingleFile *sf)
{
  if (!sf || --sf->refs > 0)
    return;
  g_clear_pointer (&sf->st, gen_safetensors_free);
  g_free (sf->where);
  g_free (sf);
}

GenSingleFileKind
gen_single_file_kind (const GenSingleFile *sf)
{
  return sf->kind;
}

const char *
gen_single_file_where (const GenSingleFile *sf)
{
  return sf->where;
}

const GenSafetensorsEntry *
gen_single_file_find_original (const GenSingleFile *sf, const char *name)
{
  return gen_safetensors_find (sf->st, name);
}

/* ---- the key map: parsing one diffusers name ------------------------------ */

/* Consumes LIT at *S. */
static gboolean
take (const char **s, const char *lit)
{
  gsize n = strlen (lit);

  if (strncmp (*s, lit, n) != 0)
    return FALSE;
  *s += n;
  return TRUE;
}

/* Consumes "N." at *S, N of at most 3 digits. */
static gboolean
take_index (const char **s, guint *v)
{
  const char *p = *s;
  guint n = 0, digits = 0;

  while (g_ascii_isdigit (*p) && digits < 3)
    n = n * 10 + (guint) (*p++ - '0'), digits++;
  if (!digits || *p != '.')
    return FALSE;
  *v = n;
  *s = p + 1;
  return TRUE;
}

/* A renaming of the first dotted part of a name. */
typedef struct
{
  const char *from, *to;
} Rename;

/* ResnetBlock2D → the LDM ResBlock (UNet). */
static const Rename unet_resnet[] = {
  { "norm1.", "in_layers.0." },      { "conv1.", "in_layers.2." },
  { "time_emb_proj.", "emb_layers.1." }, { "norm2.", "out_layers.0." },
  { "conv2.", "out_layers.3." },     { "conv_shortcut.", "skip_connection." },
};
/* ResnetBlock2D → the LDM ResnetBlock (VAE). */
static const Rename vae_resnet[] = {
  { "norm1.", "norm1." }, { "conv1.", "conv1." }, { "norm2.", "norm2." },
  { "conv2.", "conv2." }, { "conv_shortcut.", "nin_shortcut." },
};
/* The VAE mid-block Attention → AttnBlock (1×1 convs in the file: their
 * trailing [.., 1, 1] is what the weight loader already accepts). */
static const Rename vae_attn[] = {
  { "group_norm.", "norm." }, { "to_q.", "q." }, { "to_k.", "k." }, { "to_v.", "v." },
  { "to_out.0.", "proj_out." }, { "query.", "q." }, { "key.", "k." }, { "value.", "v." },
  { "proj_attn.", "proj_out." },
};
static const Rename unet_top[] = {
  { "conv_in.", "input_blocks.0.0." },
  { "time_embedding.linear_1.", "time_embed.0." },
  { "time_embedding.linear_2.", "time_embed.2." },
  { "conv_norm_out.", "out.0." },
  { "conv_out.", "out.2." },
};

static char *
rename_part (const Rename *table, guint n, const char *head, const char *rest)
{
  for (guint i = 0; i < n; i++)
    if (g_str_has_prefix (rest, table[i].from))
      return g_strconcat (head, table[i].to, rest + strlen (table[i].from), NULL);
  return NULL;
}

static char *
map_unet (const GenSingleFile *sf, const char *s)
{
  const guint per = UNET_LAYERS + 1;
  guint i, j;
  char head[96];

  for (guint k = 0; k < G_N_ELEMENTS (unet_top); k++)
    if (g_str_has_prefix (s, unet_top[k].from))
      return g_strconcat (UNET_PREFIX, unet_top[k].to, s + strlen (unet_top[k].from), NULL);

  if (take (&s, "down_blocks.") && take_index (&s, &i))
    {
      if (take (&s, "resnets.") && take_index (&s, &j) && j < UNET_LAYERS)
        {
          g_snprintf (head, sizeof head, UNET_PREFIX "input_blocks.%u.0.", i * per + j + 1);
          return rename_part (unet_resnet, G_N_ELEMENTS (unet_resnet), head, s);
        }
      if (take (&s, "attentions.") && take_index (&s, &j) && j < UNET_LAYERS)
        return g_strdup_printf (UNET_PREFIX "input_blocks.%u.1.%s", i * per + j + 1, s);
      if (take (&s, "downsamplers.0.conv."))
        return g_strdup_printf (UNET_PREFIX "input_blocks.%u.0.op.%s", i * per + per, s);
      return NULL;
    }
  if (take (&s, "mid_block."))
    {
      if (take (&s, "resnets.") && take_index (&s, &j) && j < 2)
        {
          g_snprintf (head, sizeof head, UNET_PREFIX "middle_block.%u.", 2 * j);
          return rename_part (unet_resnet, G_N_ELEMENTS (unet_resnet), head, s);
        }
      if (take (&s, "attentions.0."))
        return g_strconcat (UNET_PREFIX "middle_block.1.", s, NULL);
      return NULL;
    }
  if (take (&s, "up_blocks.") && take_index (&s, &i))
    {
      if (take (&s, "resnets.") && take_index (&s, &j) && j < per)
        {
          g_snprintf (head, sizeof head, UNET_PREFIX "output_blocks.%u.0.", i * per + j);
          return rename_part (unet_resnet, G_N_ELEMENTS (unet_resnet), head, s);
        }
      if (take (&s, "attentions.") && take_index (&s, &j) && j < per)
        return g_strdup_printf (UNET_PREFIX "output_blocks.%u.1.%s", i * per + j, s);
      if (take (&s, "upsamplers.0.conv."))
        {
          /* the last block of the level: [resnet, upsample] or
           * [resnet, attention, upsample] */
          guint b = i * per + UNET_LAYERS;
          char *probe = g_strdup_printf (UNET_PREFIX "output_blocks.%u.1.conv.weight", b);
          guint slot = gen_safetensors_find (sf->st, probe) ? 1 : 2;

          g_free (probe);
          return g_strdup_printf (UNET_PREFIX "output_blocks.%u.%u.conv.%s", b, slot, s);
        }
    }
  return NULL;
}

/* The part of the VAE below "encoder." or "decoder." (CODER). */
static char *
map_vae_coder (const GenSingleFile *sf, const char *coder, gboolean up, const char *s)
{
  guint i, j;
  char head[96];

  if (take (&s, up ? "up_blocks." : "down_blocks.") && take_index (&s, &i))
    {
      if (up && i >= sf->vae_levels)
        return NULL;
      if (up)
        i = sf->vae_levels - 1 - i;   /* diffusers counts from the bottom */
      if (take (&s, "resnets.") && take_index (&s, &j))
        {
          g_snprintf (head, sizeof head, VAE_PREFIX "%s%s.%u.block.%u.", coder,
                      up ? "up" : "down", i, j);
          return rename_part (vae_resnet, G_N_ELEMENTS (vae_resnet), head, s);
        }
      if (take (&s, up ? "upsamplers.0.conv." : "downsamplers.0.conv."))
        return g_strdup_printf (VAE_PREFIX "%s%s.%u.%s.conv.%s", coder, up ? "up" : "down", i,
                                up ? "upsample" : "downsample", s);
      return NULL;
    }
  if (take (&s, "mid_block."))
    {
      if (take (&s, "resnets.") && take_index (&s, &j) && j < 2)
        {
          g_snprintf (head, sizeof head, VAE_PREFIX "%smid.block_%u.", coder, j + 1);
          return rename_part (vae_resnet, G_N_ELEMENTS (vae_resnet), head, s);
        }
      if (take (&s, "attentions.0."))
        {
          g_snprintf (head, sizeof head, VAE_PREFIX "%smid.attn_1.", coder);
          return rename_part (vae_attn, G_N_ELEMENTS (vae_attn), head, s);
        }
      return NULL;
    }
  if (take (&s, "conv_norm_out."))
    return g_strconcat (VAE_PREFIX, coder, "norm_out.", s, NULL);
  if (g_str_has_prefix (s, "conv_in.") || g_str_has_prefix (s, "conv_out."))
    return g_strconcat (VAE_PREFIX, coder, s, NULL);
  return NULL;
}

static char *
map_vae (const GenSingleFile *sf, const char *s)
{
  if (take (&s, "encoder."))
    return map_vae_coder (sf, "encoder.", FALSE, s);
  if (take (&s, "decoder."))
    return map_vae_coder (sf, "decoder.", TRUE, s);
  if (g_str_has_prefix (s, "quant_conv.") || g_str_has_prefix (s, "post_quant_conv."))
    return g_strconcat (VAE_PREFIX, s, NULL);
  return NULL;
}

char *
gen_single_file_map (const GenSingleFile *sf, GenSingleFilePart part, const char *name)
{
  switch (part)
    {
    case GEN_SINGLE_FILE_UNET:
      return map_unet (sf, name);
    case GEN_SINGLE_FILE_VAE:
      return map_vae (sf, name);
    case GEN_SINGLE_FILE_TEXT_ENCODER:
      return g_str_has_prefix (name, "text_model.") ? g_strconcat (TEXT_PREFIX, name, NULL)
                                                    : NULL;
    }
  return NULL;
}

const GenSafetensorsEntry *
gen_single_file_find (const GenSingleFile *sf, GenSingleFilePart part, const char *name)
{
  char *orig = gen_single_file_map (sf, part, name);
  const GenSafetensorsEntry *e = orig ? gen_safetensors_find (sf->st, orig) : NULL;

  g_free (orig);
  return e;
}
