#!/usr/bin/python3
"""Writes a small random UNet2DModel folder OUT_DIR/unet (config.json,
scheduler_config.json, safetensors), a small AutoencoderKL OUT_DIR/vae and
a tiny random Stable Diffusion pipeline folder OUT_DIR/sd (model_index.json,
a CLIP text encoder over the real vocabulary, UNet2DConditionModel,
AutoencoderKL, SD 1.5's scheduler: the one tests/golden_sd.py checks
against the reference) and the same pipeline as one single-file checkpoint
OUT_DIR/sd-single.safetensors (the original layout), for the GIMP
end-to-end tests:

    /usr/bin/python3 tests/gimp/make-model.py OUT_DIR

Runs on a machine with torch (the host), not in the GIMP chroot."""

import json
import os
import sys

TESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(TESTS, "reference"))
sys.path.insert(0, TESTS)
import golden_sd  # noqa: E402
import ldm_layout  # noqa: E402
import models  # noqa: E402
import single_file_parity  # noqa: E402
import st  # noqa: E402
import torch  # noqa: E402
import unet_cond  # noqa: E402

UNET = {
    "_class_name": "UNet2DModel", "sample_size": 16, "in_channels": 3, "out_channels": 3,
    "block_out_channels": [16, 32], "layers_per_block": 1, "norm_num_groups": 8,
    "down_block_types": ["DownBlock2D", "AttnDownBlock2D"],
    "up_block_types": ["AttnUpBlock2D", "UpBlock2D"], "attention_head_dim": 8,
}
VAE = {
    "_class_name": "AutoencoderKL", "in_channels": 3, "out_channels": 3, "latent_channels": 4,
    "block_out_channels": [8, 8], "layers_per_block": 1, "norm_num_groups": 4,
    "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
    "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"], "sample_size": 16,
}
SCHED = {"_class_name": "DDPMScheduler", "num_train_timesteps": 1000,
         "beta_schedule": "linear", "prediction_type": "epsilon"}


def main():
    out = sys.argv[1]
    unet = os.path.join(out, "unet")
    os.makedirs(unet, exist_ok=True)
    models.build(UNET, seed=1).save_pretrained(unet)
    with open(os.path.join(unet, "scheduler_config.json"), "w") as f:
        json.dump(SCHED, f, indent=2)
    models.build(VAE, seed=2).save_pretrained(os.path.join(out, "vae"))
    sd = os.path.join(out, "sd")
    if not os.path.isdir(sd):
        golden_sd.make_pipeline(sd, "StableDiffusionPipeline", golden_sd.SD15_SCHED)
    single = os.path.join(out, "sd-single.safetensors")
    if not os.path.exists(single):
        # SD 1.x's layout at tiny widths the loader's shape rules accept
        g = torch.Generator().manual_seed(5)
        unet = {k: v.detach() for k, v in
                unet_cond.build(single_file_parity.PIPE_UNET, seed=4).state_dict().items()}
        st.save(single, dict(
            ldm_layout.vae_to_ldm(single_file_parity.vae_weights(g)),
            **ldm_layout.text_to_ldm(single_file_parity.text_weights(
                g, single_file_parity.PIPE_TEXT)),
            **ldm_layout.unet_to_ldm(unet)))
    print(out)


if __name__ == "__main__":
    main()
