"""What train.py, export.py, eval.py and smoke_test.py share: the UNet built
through tests/reference/models.py (diffusers parameter names, so the export is
exactly what the C core runs), the DDPM variance-preserving schedule, and the
map between a noise level and a (fractional) timestep.

Noise levels.  With ab(t) = alphas_cumprod[t] (DDPM, Ho et al. 2020, eq. 4),
  x_t = sqrt(ab) x0 + sqrt(1 - ab) eps = sqrt(ab) (x0 + sigma eps),
  sigma(t) = sqrt((1 - ab) / ab)          (Karras et al. 2022, VP column of table 1).
Between integer timesteps log sigma is interpolated linearly (k-diffusion's
DiscreteSchedule.t_to_sigma), so a fractional timestep is defined for every
sigma in [sigma(0), sigma(T-1)]; training draws fractional timesteps, and the
denoiser maps an image noise level sigma (0..255 scale) to sigma' = 2 sigma / 255,
ab = 1 / (1 + sigma'^2), t = t_of_sigma(sigma'), model input sqrt(ab) * noisy.

Prediction type v (Salimans & Ho 2022, eq. 9 ff.): v = sqrt(ab) eps - sqrt(1-ab) x0,
  x0 = sqrt(ab) x_t - sqrt(1 - ab) v.
"""

import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "reference"))
import models  # noqa: E402  (tests/reference/models.py)

DIFFUSERS_VERSION = models.DIFFUSERS_VERSION

SCHEDULER_CONFIG = {
    "_class_name": "DDPMScheduler",
    "_diffusers_version": DIFFUSERS_VERSION,
    "num_train_timesteps": 1000,
    "beta_start": 0.0001,
    "beta_end": 0.02,
    "beta_schedule": "linear",
    "trained_betas": None,
    "prediction_type": "v_prediction",
    "variance_type": "fixed_small",
    "clip_sample": True,
    "clip_sample_range": 1.0,
    "thresholding": False,
    "dynamic_thresholding_ratio": 0.995,
    "sample_max_value": 1.0,
    "timestep_spacing": "leading",
    "steps_offset": 0,
    "rescale_betas_zero_snr": False,
}


def unet_config(block_out_channels=(32, 64, 128, 128), layers_per_block=1, norm_num_groups=8,
                sample_size=64):
    """A fully convolutional UNet2DModel config: DownBlock2D/UpBlock2D only,
    no mid-block attention, so any image size runs (through tiling in the core)."""
    n = len(block_out_channels)
    return {
        "_class_name": "UNet2DModel",
        "_diffusers_version": DIFFUSERS_VERSION,
        "sample_size": sample_size,
        "in_channels": 3,
        "out_channels": 3,
        "center_input_sample": False,
        "time_embedding_type": "positional",
        "flip_sin_to_cos": True,
        "freq_shift": 0,
        "down_block_types": ["DownBlock2D"] * n,
        "up_block_types": ["UpBlock2D"] * n,
        "mid_block_type": "UNetMidBlock2D",
        "block_out_channels": list(block_out_channels),
        "layers_per_block": layers_per_block,
        "mid_block_scale_factor": 1,
        "downsample_padding": 1,
        "downsample_type": "conv",
        "upsample_type": "conv",
        "dropout": 0.0,
        "act_fn": "silu",
        "attention_head_dim": 8,        # unused: no attention anywhere
        "norm_num_groups": norm_num_groups,
        "norm_eps": 1e-5,
        "resnet_time_scale_shift": "default",
        "add_attention": False,
    }


def _timesteps_to_weight_device(module, inputs):
    """models.py computes the timestep embedding on the CPU (torch.ones and
    torch.arange without a device); move it to the weights' device before the
    first linear layer so the same module trains on a GPU."""
    dev = module.linear_1.weight.device
    return tuple(a.to(dev) for a in inputs)


def attach_device_hook(model):
    model.time_embedding.register_forward_pre_hook(_timesteps_to_weight_device)
    return model


def build_unet(config, seed):
    """A fresh UNet for training: PyTorch's default initialisation under SEED
    (models.build's init_random is a parity-test init, not a training one)."""
    torch.manual_seed(seed)
    model = models.UNet2DModel.from_config(config)
    return attach_device_hook(model)


def load_unet(folder):
    return attach_device_hook(models.load_pretrained(folder))


def levels(config):
    return len(config["block_out_channels"])


class VPSchedule:
    """DDPM alphas_cumprod with fractional timesteps (see the module comment)."""

    def __init__(self, cfg):
        T = cfg["num_train_timesteps"]
        if cfg["beta_schedule"] == "linear":
            betas = np.linspace(cfg["beta_start"], cfg["beta_end"], T, dtype=np.float64)
        elif cfg["beta_schedule"] == "scaled_linear":
            betas = np.linspace(cfg["beta_start"] ** 0.5, cfg["beta_end"] ** 0.5, T,
                                dtype=np.float64) ** 2
        else:
            raise NotImplementedError(cfg["beta_schedule"])
        self.T = T
        self.prediction_type = cfg["prediction_type"]
        self.alphas_cumprod = np.cumprod(1.0 - betas)
        self.log_sigmas = 0.5 * np.log((1 - self.alphas_cumprod) / self.alphas_cumprod)

    def sigma(self, t):
        """t: float numpy array in [0, T-1] -> sigma (VP, [-1, 1] units)."""
        return np.exp(np.interp(t, np.arange(self.T), self.log_sigmas))

    def t_of_sigma(self, sigma):
        return np.interp(np.log(sigma), self.log_sigmas, np.arange(self.T, dtype=np.float64))

    @property
    def sigma_min(self):
        return float(np.exp(self.log_sigmas[0]))

    @property
    def sigma_max(self):
        return float(np.exp(self.log_sigmas[-1]))


def x0_from_output(out, x_t, alpha_bar, prediction_type):
    """The model's x0 estimate; ALPHA_BAR broadcastable to X_T."""
    a = alpha_bar.sqrt()
    s = (1 - alpha_bar).sqrt()
    if prediction_type == "v_prediction":
        return a * x_t - s * out
    if prediction_type == "epsilon":
        return (x_t - s * out) / a
    if prediction_type == "sample":
        return out
    raise NotImplementedError(prediction_type)


def target_for(x0, eps, alpha_bar, prediction_type):
    if prediction_type == "v_prediction":
        return alpha_bar.sqrt() * eps - (1 - alpha_bar).sqrt() * x0
    if prediction_type == "epsilon":
        return eps
    if prediction_type == "sample":
        return x0
    raise NotImplementedError(prediction_type)
