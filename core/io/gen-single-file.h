/* gen-single-file.h — single-file Stable Diffusion checkpoints: one
 * .safetensors in the original CompVis/LDM layout
 *   model.diffusion_model.*                        the UNet
 *   first_stage_model.*                            the VAE
 *   cond_stage_model.transformer.text_model.*      CLIP ViT-L/14 (SD 1.x)
 * read as a view: each component looks its diffusers names up through a
 * key map (the one diffusers' single_file_utils applies when converting),
 * nothing is copied or renamed on disk.
 *
 * SD 1.x and SD 1.x inpainting (UNet in_channels 9) are recognised from the
 * tensor shapes; SD 2.x (OpenCLIP, cond_stage_model.model.*) and SDXL
 * (conditioner.*) are refused with a clear message, and pickled checkpoints
 * (.ckpt, .pt, .pth, .bin) are never opened. */
#pragma once

#include "gen-config.h"
#include "gen-safetensors.h"

G_BEGIN_DECLS

typedef enum
{
  GEN_SINGLE_FILE_SD1,          /* UNet in_channels 4 */
  GEN_SINGLE_FILE_SD1_INPAINT   /* UNet in_channels 9: latents, mask, masked-image latents */
} GenSingleFileKind;

typedef enum
{
  GEN_SINGLE_FILE_UNET,
  GEN_SINGLE_FILE_VAE,
  GEN_SINGLE_FILE_TEXT_ENCODER
} GenSingleFilePart;

typedef struct _GenSingleFile GenSingleFile;

/* TRUE if PATH names a single file rather than a diffusers folder (by its
 * extension: .safetensors or a pickled checkpoint, which open refuses). */
gboolean gen_single_file_is_checkpoint (const char *path);

/* Opens PATH and recognises its layout; every refusal is one GError. */
GenSingleFile *gen_single_file_open (const char *path, GError **error);
/* The same on tensors already opened; takes ownership of ST (freed on error
 * too).  Used by the tests and the fuzzer. */
GenSingleFile *gen_single_file_new (GenSafetensors *st, const char *where, GError **error);
/* Each component loaded from the file holds a reference (the mapping lives
 * as long as the last of them). */
GenSingleFile *gen_single_file_ref (GenSingleFile *sf);
void           gen_single_file_unref (GenSingleFile *sf);

GenSingleFileKind gen_single_file_kind (const GenSingleFile *sf);
/* The file, for messages; valid while SF lives. */
const char       *gen_single_file_where (const GenSingleFile *sf);

/* The original-layout name of the diffusers tensor NAME of PART
 * ("down_blocks.1.resnets.0.conv1.weight" →
 * "model.diffusion_model.input_blocks.4.0.in_layers.2.weight"); NULL for a
 * name outside the map.  Free with g_free. */
char *gen_single_file_map (const GenSingleFile *sf, GenSingleFilePart part, const char *name);
/* The entry behind the diffusers name NAME of PART, or NULL. */
const GenSafetensorsEntry *gen_single_file_find (const GenSingleFile *sf,
                                                 GenSingleFilePart part, const char *name);

/* The entry under its original name NAME, or NULL. */
const GenSafetensorsEntry *gen_single_file_find_original (const GenSingleFile *sf,
                                                          const char *name);

/* The diffusers / transformers config of PART as SD 1.x's
 * v1-inference.yaml gives it, sizes read from the tensor shapes (what
 * diffusers' single-file loader derives); free with gen_config_free. */
GenConfig *gen_single_file_config (const GenSingleFile *sf, GenSingleFilePart part,
                                   GError **error);

G_END_DECLS
