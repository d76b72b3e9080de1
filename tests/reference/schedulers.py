#!/usr/bin/python3
"""Plain-torch re-implementation of the diffusers schedulers the C core
mirrors (core/gen-sched.c), written from the diffusers sources (current
main: scheduling_ddpm.py, scheduling_ddim.py, scheduling_euler_discrete.py,
scheduling_euler_ancestral_discrete.py, scheduling_heun_discrete.py,
scheduling_dpmsolver_multistep.py, scheduling_pndm.py, scheduling_lcm.py)
for the options this project supports.
No diffusers import; numpy only where diffusers uses numpy.

Classes (each with set_timesteps, scale_model_input, step, add_noise,
set_begin_index where diffusers has it, and the same attributes: timesteps,
sigmas, init_noise_sigma, alphas_cumprod, order):

  DDPMScheduler, DDIMScheduler, EulerDiscreteScheduler,
  EulerAncestralDiscreteScheduler, HeunDiscreteScheduler,
  DPMSolverMultistepScheduler (dpmsolver++, order 2, midpoint),
  PNDMScheduler (PLMS, and the Runge-Kutta warm-up), LCMScheduler

  from_config(name, file_config, numerics="libm", sigma_schedule="default")
      name: "ddpm" | "ddim" | "euler" | "euler_a" | "heun" | "dpmpp_2m" | "pndm" | "lcm";
      file_config: the scheduler_config.json dict, or None for a missing
      file (= every DDPMScheduler key at its default).  Keys in the file
      are used; missing keys take the class's __init__ default (current
      diffusers drops the values the saving class only defaulted,
      "_use_default_values"); keys the class does not take stay visible
      to the karras / exponential range hack (config.sigma_min / sigma_max),
      as diffusers' hidden config entries do.
  get_timesteps(scheduler, steps, strength) -> start index (img2img pipelines)
  betas_for_alpha_bar(n)

Step returns (prev_sample, pred_original_sample); DPM-Solver's
pred_original_sample is its converted model output (data prediction).

numerics: diffusers' set_timesteps calls numpy's log / exp / power, whose
SIMD implementations (AVX2 / AVX-512, SVML) differ from glibc in the last
ulp and differ between CPUs, so its fractional timesteps are not
reproducible bit for bit across machines.  numerics="numpy" calls numpy
exactly as diffusers does; numerics="libm" evaluates the same expressions
with glibc's log / exp / pow (Python's math module), element by element,
which is what the C core does.  The same holds for torch.linspace, which
makes the linear and scaled_linear betas: its float32 CPU kernel rounds
differently between torch versions (see linspace_f32), so numerics="numpy"
calls torch.linspace as diffusers does and numerics="libm" takes torch
1.13's kernel, the one the C core pins.  Everything else (torch float32
tensors, numpy float64 arithmetic, rounding) is identical in both modes.

euler_a with karras / exponential sigmas: diffusers' Euler-ancestral class
has no use_karras_sigmas; here (and in the C core) it takes the sigmas and
timesteps EulerDiscreteScheduler computes for them.
"""

import math

import numpy as np
import torch


# ---------------------------------------------------------------- numerics

class _Numerics:
    def __init__(self, mode):
        if mode not in ("libm", "numpy"):
            raise ValueError("numerics must be 'libm' or 'numpy'")
        self.mode = mode

    def log_f32(self, a):
        """np.log of a float32 array."""
        if self.mode == "numpy":
            return np.log(a)
        return np.array([math.log(float(v)) for v in a], dtype=np.float64).astype(np.float32)

    def log_f64(self, x):
        """np.log of a float64 scalar."""
        if self.mode == "numpy":
            return np.log(x)
        return np.float64(math.log(float(x))) if x > 0 else np.log(x)

    def exp_f64(self, a):
        if self.mode == "numpy":
            return np.exp(a)
        return np.array([math.exp(float(v)) for v in a], dtype=np.float64)

    def pow_f64(self, a, p):
        if self.mode == "numpy":
            return a ** p
        return np.array([math.pow(float(v), p) for v in a], dtype=np.float64)

    def linspace_f32(self, start, end, n):
        """torch.linspace (start, end, n, dtype=torch.float32)."""
        if self.mode == "numpy":
            return torch.linspace(start, end, n, dtype=torch.float32)
        return linspace_torch113(start, end, n)


def _fma_f32(a, i, c):
    """fma (a, i, c) rounded once to float32: float32 tensors A and C, an
    integer float64 tensor I.  A·I + C is formed in float64 and checked to be
    exact there (TwoSum's error term is 0), so the cast is the one rounding."""
    p = a.double() * i                  # exact: 24 + at most 29 significant bits
    c = c.double().expand_as(p)
    s = p + c
    bb = s - p
    err = (p - (s - bb)) + (c - bb)
    if bool((err != 0).any()):
        raise NotImplementedError("linspace: start and step too far apart for a float64 fma")
    return s.float()


def linspace_torch113(start, end, n):
    """torch.linspace (start, end, n, dtype=float32) as torch 1.13's CPU kernel
    (RangeFactoriesKernel.cpp, AVX2) computes it, Debian 12's torch: with
    step = (end - start) / (n - 1) in float32, element i alone is
    fma (step, i, start) in the first half and fma (-step, n - 1 - i, end) in
    the second; cpu_serial_kernel_vec stores 8-lane vectors two at a time
    while 16 elements remain (the last n mod 16 are single), and a vector's
    lane k is its lane 0 + k·step in float32 (Vectorized::arange).  One
    parallel_for chunk: n up to 32768, torch's grain size.

    Newer torch (trixie's 2.6) drops the vectors: every element is the
    single formula, one fma with AVX2 / AVX-512 and two roundings without;
    its betas differ from these in the last bit (measured: 209 of the 1000
    default linear betas, 1 ulp each).  sched_parity.py holds this function
    against the torch it runs on."""
    s = torch.tensor(start, dtype=torch.float32)
    e = torch.tensor(end, dtype=torch.float32)
    if n == 1:
        return s.reshape(1)
    step = (e - s) / (n - 1)
    i = torch.arange(n, dtype=torch.float64)
    half = n // 2
    out = torch.cat([_fma_f32(step, i[:half], s), _fma_f32(-step, (n - 1) - i[half:], e)])
    vec_end = n - n % 16
    lane0 = out[:vec_end].reshape(-1, 8)[:, :1]                        # [vec_end / 8, 1]
    out[:vec_end] = (lane0 + torch.arange(8, dtype=torch.float32) * step).reshape(-1)
    return out


# ---------------------------------------------------------------- betas

def betas_for_alpha_bar(num_diffusion_timesteps, max_beta=0.999):
    """Cosine schedule (Nichol & Dhariwal 2021 eq. 17): 1 - abar(t2)/abar(t1),
    capped, in Python double arithmetic, then float32."""
    def abar(t):
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

    out = []
    for i in range(num_diffusion_timesteps):
        lo = i / num_diffusion_timesteps
        hi = (i + 1) / num_diffusion_timesteps
        out.append(min(1 - abar(hi) / abar(lo), max_beta))
    return torch.tensor(out, dtype=torch.float32)


def _make_betas(cfg, num):
    n = cfg["num_train_timesteps"]
    if cfg.get("trained_betas") is not None:
        return torch.tensor(cfg["trained_betas"], dtype=torch.float32)
    kind = cfg["beta_schedule"]
    if kind == "linear":
        return num.linspace_f32(cfg["beta_start"], cfg["beta_end"], n)
    if kind == "scaled_linear":
        root = num.linspace_f32(cfg["beta_start"] ** 0.5, cfg["beta_end"] ** 0.5, n)
        return root ** 2
    if kind == "squaredcos_cap_v2":
        return betas_for_alpha_bar(n)
    raise NotImplementedError("%s is not implemented" % kind)


_COMMON = dict(num_train_timesteps=1000, beta_start=0.0001, beta_end=0.02, beta_schedule="linear",
               trained_betas=None, prediction_type="epsilon")


def _randn(shape, generator):
    # diffusers' randn_tensor on the CPU: torch.randn with the generator
    return torch.randn(shape, generator=generator, dtype=torch.float32)


class _Base:
    defaults = {}
    order = 1

    def __init__(self, config, hidden=None, numerics="libm"):
        self.config = dict(config)
        self.hidden = dict(hidden or {})
        self.num = _Numerics(numerics)
        for key in ("thresholding", "rescale_betas_zero_snr"):
            if self.config.get(key):
                raise NotImplementedError("%s is not supported by this reference" % key)
        self.betas = _make_betas(self.config, self.num)
        self.alphas = 1.0 - self.betas
        self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)
        self.num_inference_steps = None
        self._begin_index = None
        self._step_index = None

    def cfg(self, key):
        """config.KEY as diffusers' FrozenDict attribute: the class's own keys,
        then the hidden ones kept from the file; None when neither."""
        if key in self.config:
            return self.config[key]
        return self.hidden.get(key)

    @property
    def begin_index(self):
        return self._begin_index

    @property
    def step_index(self):
        return self._step_index

    def set_begin_index(self, begin_index=0):
        self._begin_index = begin_index


# ---------------------------------------------------------------- DDPM

class DDPMScheduler(_Base):
    defaults = dict(_COMMON, variance_type="fixed_small", clip_sample=True, thresholding=False,
                    dynamic_thresholding_ratio=0.995, clip_sample_range=1.0, sample_max_value=1.0,
                    timestep_spacing="leading", steps_offset=0, rescale_betas_zero_snr=False)

    def __init__(self, config, hidden=None, numerics="libm"):
        super().__init__(config, hidden, numerics)
        self.one = torch.tensor(1.0)
        self.init_noise_sigma = 1.0
        self.custom_timesteps = False
        self.timesteps = torch.from_numpy(np.arange(0, self.config["num_train_timesteps"])[::-1].copy())
        self.variance_type = self.config["variance_type"]

    def scale_model_input(self, sample, timestep=None):
        return sample

    def set_timesteps(self, num_inference_steps):
        n_train = self.config["num_train_timesteps"]
        if num_inference_steps > n_train:
            raise ValueError("num_inference_steps > num_train_timesteps")
        self.num_inference_steps = num_inference_steps
        self.timesteps = torch.from_numpy(_integer_timesteps(self.config, num_inference_steps))

    def previous_timestep(self, timestep):
        if self.num_inference_steps is None:
            return timestep - 1          # set_timesteps not called: every trained step
        # with num_inference_steps set: the entry after the first equal one
        where = (self.timesteps == timestep).nonzero(as_tuple=True)[0][0]
        if where == self.timesteps.shape[0] - 1:
            return torch.tensor(-1)
        return self.timesteps[where + 1]

    def _std(self, t):
        """sqrt of the posterior variance beta~_t (Ho et al. 2020 eq. 7), per variance_type."""
        prev_t = self.previous_timestep(t)
        a_t = self.alphas_cumprod[t]
        a_prev = self.alphas_cumprod[prev_t] if prev_t >= 0 else self.one
        beta_t = 1 - a_t / a_prev
        var = (1 - a_prev) / (1 - a_t) * beta_t
        var = torch.clamp(var, min=1e-20)
        kind = self.config["variance_type"]
        if kind == "fixed_small" or kind is None:
            # (None matches no branch in diffusers and leaves the clamped variance)
            return var ** 0.5
        if kind == "fixed_small_log":
            return torch.exp(0.5 * torch.log(var))     # already a standard deviation
        if kind == "fixed_large":
            return beta_t ** 0.5
        raise NotImplementedError(kind)

    def step(self, model_output, timestep, sample, generator=None):
        t = int(timestep)
        prev_t = self.previous_timestep(t)
        a_t = self.alphas_cumprod[t]
        a_prev = self.alphas_cumprod[prev_t] if prev_t >= 0 else self.one
        b_t = 1 - a_t
        b_prev = 1 - a_prev
        cur_alpha = a_t / a_prev
        cur_beta = 1 - cur_alpha

        pred = self.config["prediction_type"]
        if pred == "epsilon":          # Ho et al. 2020 eq. 15
            x0 = (sample - b_t ** 0.5 * model_output) / a_t ** 0.5
        elif pred == "sample":
            x0 = model_output
        elif pred == "v_prediction":
            x0 = (a_t ** 0.5) * sample - (b_t ** 0.5) * model_output
        else:
            raise ValueError(pred)
        if self.config["clip_sample"]:
            r = self.config["clip_sample_range"]
            x0 = x0.clamp(-r, r)

        # posterior mean, Ho et al. 2020 eq. 7
        c0 = (a_prev ** 0.5 * cur_beta) / b_t
        ct = cur_alpha ** 0.5 * b_prev / b_t
        prev = c0 * x0 + ct * sample

        if t > 0:
            z = _randn(model_output.shape, generator)
            prev = prev + self._std(t) * z
        return prev, x0

    def add_noise(self, original, noise, timesteps):
        ac = self.alphas_cumprod.to(dtype=original.dtype)
        sa = (ac[timesteps] ** 0.5).flatten()
        sb = ((1 - ac[timesteps]) ** 0.5).flatten()
        while sa.dim() < original.dim():
            sa = sa.unsqueeze(-1)
            sb = sb.unsqueeze(-1)
        return sa * original + sb * noise


def _integer_timesteps(cfg, steps):
    """DDPM / DDIM set_timesteps: int64 timesteps, largest first."""
    n_train = cfg["num_train_timesteps"]
    spacing = cfg["timestep_spacing"]
    if spacing == "linspace":
        return np.linspace(0, n_train - 1, steps).round()[::-1].copy().astype(np.int64)
    if spacing == "leading":
        ratio = n_train // steps
        ts = (np.arange(0, steps) * ratio).round()[::-1].copy().astype(np.int64)
        return ts + cfg["steps_offset"]
    if spacing == "trailing":
        ratio = n_train / steps
        return np.round(np.arange(n_train, 0, -ratio)).astype(np.int64) - 1
    raise ValueError(spacing)


# ---------------------------------------------------------------- DDIM

class DDIMScheduler(_Base):
    defaults = dict(_COMMON, clip_sample=True, set_alpha_to_one=True, steps_offset=0, thresholding=False,
                    dynamic_thresholding_ratio=0.995, clip_sample_range=1.0, sample_max_value=1.0,
                    timestep_spacing="leading", rescale_betas_zero_snr=False)

    def __init__(self, config, hidden=None, numerics="libm"):
        super().__init__(config, hidden, numerics)
        self.final_alpha_cumprod = torch.tensor(1.0) if self.config["set_alpha_to_one"] else self.alphas_cumprod[0]
        self.init_noise_sigma = 1.0
        self.timesteps = torch.from_numpy(np.arange(0, self.config["num_train_timesteps"])[::-1].copy().astype(np.int64))

    def scale_model_input(self, sample, timestep=None):
        return sample

    def set_timesteps(self, num_inference_steps):
        if num_inference_steps > self.config["num_train_timesteps"]:
            raise ValueError("num_inference_steps > num_train_timesteps")
        self.num_inference_steps = num_inference_steps
        self.timesteps = torch.from_numpy(_integer_timesteps(self.config, num_inference_steps))

    def step(self, model_output, timestep, sample, eta=0.0, generator=None):
        t = int(timestep)
        # the previous timestep is t - N // steps whatever the spacing
        prev_t = t - self.config["num_train_timesteps"] // self.num_inference_steps
        a_t = self.alphas_cumprod[t]
        a_prev = self.alphas_cumprod[prev_t] if prev_t >= 0 else self.final_alpha_cumprod
        b_t = 1 - a_t

        pred = self.config["prediction_type"]
        if pred == "epsilon":          # Song et al. 2021 eq. 12, "predicted x0"
            x0 = (sample - b_t ** 0.5 * model_output) / a_t ** 0.5
            eps = model_output
        elif pred == "sample":
            x0 = model_output
            eps = (sample - a_t ** 0.5 * x0) / b_t ** 0.5
        elif pred == "v_prediction":
            x0 = (a_t ** 0.5) * sample - (b_t ** 0.5) * model_output
            eps = (a_t ** 0.5) * model_output + (b_t ** 0.5) * sample
        else:
            raise ValueError(pred)
        if self.config["clip_sample"]:
            r = self.config["clip_sample_range"]
            x0 = x0.clamp(-r, r)

        # sigma_t(eta), Song et al. 2021 eq. 16
        b_prev = 1 - a_prev
        var = (b_prev / b_t) * (1 - a_t / a_prev)
        std = eta * var ** 0.5
        direction = (1 - a_prev - std ** 2) ** 0.5 * eps
        prev = a_prev ** 0.5 * x0 + direction
        if eta > 0:
            z = _randn(model_output.shape, generator)
            prev = prev + std * z
        return prev, x0

    add_noise = DDPMScheduler.add_noise


# ---------------------------------------------------------------- sigma schedulers

class _SigmaBase(_Base):
    """What Euler, Euler-ancestral and Heun share: sigmas from the trained
    alphas, interpolated at float32 timesteps; karras / exponential ranges."""

    def _train_sigmas(self):
        return np.array(((1 - self.alphas_cumprod) / self.alphas_cumprod) ** 0.5)   # float32

    def _float_timesteps(self, steps):
        n_train = self.config["num_train_timesteps"]
        spacing = self.config["timestep_spacing"]
        if spacing == "linspace":
            return np.linspace(0, n_train - 1, steps, dtype=np.float32)[::-1].copy()
        if spacing == "leading":
            ratio = n_train // steps
            ts = (np.arange(0, steps) * ratio).round()[::-1].copy().astype(np.float32)
            ts += self.config["steps_offset"]
            return ts
        if spacing == "trailing":
            ratio = n_train / steps
            ts = (np.arange(n_train, 0, -ratio)).round().copy().astype(np.float32)
            ts -= 1
            return ts
        raise ValueError(spacing)

    def _sigma_to_t(self, sigma, log_sigmas):
        if self.num.mode == "numpy":
            # diffusers' expression as written; its dtypes follow the
            # installed NumPy's promotion rules
            log_sigma = np.log(np.maximum(sigma, 1e-10))
            dists = log_sigma - log_sigmas[:, np.newaxis]
            low_idx = np.cumsum((dists >= 0), axis=0).argmax(axis=0).clip(max=log_sigmas.shape[0] - 2)
            high_idx = low_idx + 1
            low = log_sigmas[low_idx]
            high = log_sigmas[high_idx]
            w = np.clip((low - log_sigma) / (low - high), 0, 1)
            t = (1 - w) * low_idx + w * high_idx
            return t.reshape(sigma.shape)
        # the same with the dtypes NumPy 2 (NEP 50) gives it, spelled out so
        # that NumPy 1.x (value-based casting: float32 distances) agrees:
        # log sigma and the distances float64, low - high float32
        log_sigma = np.float64(self.num.log_f64(np.maximum(np.float64(sigma), 1e-10)))
        dists = log_sigma - log_sigmas.astype(np.float64)[:, np.newaxis]
        low_idx = np.cumsum((dists >= 0), axis=0).argmax(axis=0).clip(max=log_sigmas.shape[0] - 2)
        high_idx = low_idx + 1
        low = log_sigmas[low_idx]                       # float32
        high = log_sigmas[high_idx]
        den = (low - high).astype(np.float32)
        w = (low.astype(np.float64) - log_sigma) / den.astype(np.float64)
        w = np.clip(w, 0.0, 1.0)
        t = (1.0 - w) * low_idx.astype(np.float64) + w * high_idx.astype(np.float64)
        return t.reshape(np.shape(sigma))

    def _range(self, in_sigmas):
        lo = self.cfg("sigma_min")
        hi = self.cfg("sigma_max")
        lo = lo if lo is not None else in_sigmas[-1].item()
        hi = hi if hi is not None else in_sigmas[0].item()
        return lo, hi

    def _convert_to_karras(self, in_sigmas, steps):
        # Karras et al. 2022 eq. 5, rho = 7
        sigma_min, sigma_max = self._range(in_sigmas)
        rho = 7.0
        ramp = np.linspace(0, 1, steps)
        min_inv = sigma_min ** (1 / rho)
        max_inv = sigma_max ** (1 / rho)
        return self.num.pow_f64(max_inv + ramp * (min_inv - max_inv), rho)

    def _convert_to_exponential(self, in_sigmas, steps):
        sigma_min, sigma_max = self._range(in_sigmas)
        return self.num.exp_f64(np.linspace(math.log(sigma_max), math.log(sigma_min), steps))

    def _euler_sigmas(self, steps, schedule, final_sigmas_type="zero"):
        """EulerDiscreteScheduler.set_timesteps (interpolation linear): returns
        (timesteps float64/float32 array, sigmas float32 array with the last)."""
        ts = self._float_timesteps(steps)
        sig = self._train_sigmas()
        log_sigmas = self.num.log_f32(sig)
        sig = np.interp(ts, np.arange(0, len(sig)), sig)
        if schedule == "karras":
            sig = self._convert_to_karras(sig, steps)
            ts = np.array([self._sigma_to_t(s, log_sigmas) for s in sig])
        elif schedule == "exponential":
            sig = self._convert_to_exponential(sig, steps)
            ts = np.array([self._sigma_to_t(s, log_sigmas) for s in sig])
        if final_sigmas_type == "sigma_min":
            last = ((1 - self.alphas_cumprod[0]) / self.alphas_cumprod[0]) ** 0.5
        elif final_sigmas_type == "zero":
            last = 0
        else:
            raise ValueError(final_sigmas_type)
        sig = np.concatenate([sig, [last]]).astype(np.float32)
        return ts, sig

    @property
    def init_noise_sigma(self):
        top = self.sigmas.max()
        if self.config["timestep_spacing"] in ("linspace", "trailing"):
            return top
        return (top ** 2 + 1) ** 0.5

    def index_for_timestep(self, timestep, schedule_timesteps=None):
        if schedule_timesteps is None:
            schedule_timesteps = self.timesteps
        hits = (schedule_timesteps == timestep).nonzero()
        return hits[1 if len(hits) > 1 else 0].item()

    def _init_step_index(self, timestep):
        if self.begin_index is None:
            self._step_index = self.index_for_timestep(timestep)
        else:
            self._step_index = self._begin_index

    def scale_model_input(self, sample, timestep):
        if self.step_index is None:
            self._init_step_index(timestep)
        sigma = self.sigmas[self.step_index]
        return sample / ((sigma ** 2 + 1) ** 0.5)

    def _x0(self, model_output, sample, sigma):
        """pred_original_sample at VE level sigma (Karras et al. 2022 table 1)."""
        pred = self.config["prediction_type"]
        if pred == "epsilon":
            return sample - sigma * model_output
        if pred == "v_prediction":
            return model_output * (-sigma / (sigma ** 2 + 1) ** 0.5) + (sample / (sigma ** 2 + 1))
        if pred == "sample":
            return model_output
        raise ValueError(pred)

    def _step_indices(self, timesteps, schedule_timesteps):
        if self.begin_index is None:
            return [self.index_for_timestep(t, schedule_timesteps) for t in timesteps]
        if self.step_index is not None:
            return [self.step_index] * timesteps.shape[0]
        return [self.begin_index] * timesteps.shape[0]

    def add_noise(self, original, noise, timesteps):
        sigmas = self.sigmas.to(dtype=original.dtype)
        sigma = sigmas[self._step_indices(timesteps, self.timesteps)].flatten()
        while sigma.dim() < original.dim():
            sigma = sigma.unsqueeze(-1)
        return original + noise * sigma


class EulerDiscreteScheduler(_SigmaBase):
    defaults = dict(_COMMON, interpolation_type="linear", use_karras_sigmas=False,
                    use_exponential_sigmas=False, use_beta_sigmas=False, sigma_min=None, sigma_max=None,
                    timestep_spacing="linspace", timestep_type="discrete", steps_offset=0,
                    rescale_betas_zero_snr=False, final_sigmas_type="zero")

    def __init__(self, config, hidden=None, numerics="libm"):
        super().__init__(config, hidden, numerics)
        if self.config["interpolation_type"] != "linear" or self.config["timestep_type"] != "discrete":
            raise NotImplementedError("interpolation_type linear, timestep_type discrete only")
        self.sigmas = torch.cat([torch.from_numpy(self._train_sigmas()[::-1].copy()), torch.zeros(1)])

    def _schedule(self):
        if self.config["use_karras_sigmas"]:
            return "karras"
        if self.config["use_exponential_sigmas"]:
            return "exponential"
        return "default"

    def set_timesteps(self, num_inference_steps):
        self.num_inference_steps = num_inference_steps
        ts, sig = self._euler_sigmas(num_inference_steps, self._schedule(),
                                     self.config["final_sigmas_type"])
        self.sigmas = torch.from_numpy(sig).to(dtype=torch.float32)
        self.timesteps = torch.from_numpy(ts.astype(np.float32))
        self._step_index = None
        self._begin_index = None

    def step(self, model_output, timestep, sample, generator=None):
        # Karras et al. 2022 alg. 2 with s_churn = 0 (gamma = 0)
        if self.step_index is None:
            self._init_step_index(timestep)
        sample = sample.to(torch.float32)
        sigma = self.sigmas[self.step_index]
        gamma = 0.0
        sigma_hat = sigma * (gamma + 1)
        x0 = self._x0(model_output, sample, sigma if self.config["prediction_type"] == "v_prediction" else sigma_hat)
        derivative = (sample - x0) / sigma_hat
        dt = self.sigmas[self.step_index + 1] - sigma_hat
        prev = sample + derivative * dt
        self._step_index += 1
        return prev.to(model_output.dtype), x0


class EulerAncestralDiscreteScheduler(_SigmaBase):
    defaults = dict(_COMMON, timestep_spacing="linspace", steps_offset=0, rescale_betas_zero_snr=False)

    def __init__(self, config, hidden=None, numerics="libm", sigma_schedule="default"):
        super().__init__(config, hidden, numerics)
        self.sigma_schedule = sigma_schedule
        self.sigmas = torch.from_numpy(np.concatenate([self._train_sigmas()[::-1], [0.0]]).astype(np.float32))

    def set_timesteps(self, num_inference_steps):
        self.num_inference_steps = num_inference_steps
        # default: the class's own code, which is Euler's linear interpolation;
        # karras / exponential: Euler's (see the module note)
        ts, sig = self._euler_sigmas(num_inference_steps, self.sigma_schedule, "zero")
        self.sigmas = torch.from_numpy(sig)
        self.timesteps = torch.from_numpy(ts.astype(np.float32))
        self._step_index = None
        self._begin_index = None

    def step(self, model_output, timestep, sample, generator=None):
        if self.config["prediction_type"] == "sample":
            raise NotImplementedError("prediction_type not implemented yet: sample")
        if self.step_index is None:
            self._init_step_index(timestep)
        sigma = self.sigmas[self.step_index]
        sample = sample.to(torch.float32)
        x0 = self._x0(model_output, sample, sigma)
        # k-diffusion's ancestral split of the step
        s_from = self.sigmas[self.step_index]
        s_to = self.sigmas[self.step_index + 1]
        s_up = (s_to ** 2 * (s_from ** 2 - s_to ** 2) / s_from ** 2) ** 0.5
        s_down = (s_to ** 2 - s_up ** 2) ** 0.5
        derivative = (sample - x0) / sigma
        prev = sample + derivative * (s_down - sigma)
        z = _randn(model_output.shape, generator)
        prev = prev + z * s_up
        self._step_index += 1
        return prev.to(model_output.dtype), x0


class HeunDiscreteScheduler(_SigmaBase):
    order = 2
    defaults = dict(_COMMON, beta_start=0.00085, beta_end=0.012, use_karras_sigmas=False,
                    use_exponential_sigmas=False, use_beta_sigmas=False, clip_sample=False,
                    clip_sample_range=1.0, timestep_spacing="linspace", steps_offset=0)

    def __init__(self, config, hidden=None, numerics="libm"):
        super().__init__(config, hidden, numerics)
        self.prev_derivative = None
        self.dt = None
        self.sample = None

    def set_timesteps(self, num_inference_steps):
        self.num_inference_steps = num_inference_steps
        schedule = ("karras" if self.config["use_karras_sigmas"] else
                    "exponential" if self.config["use_exponential_sigmas"] else "default")
        ts, sig = self._euler_sigmas(num_inference_steps, schedule, "zero")
        sig = torch.from_numpy(sig)
        # sigma_0, then every later sigma twice, then 0; timesteps likewise
        self.sigmas = torch.cat([sig[:1], sig[1:-1].repeat_interleave(2), sig[-1:]])
        ts = torch.from_numpy(ts)
        self.timesteps = torch.cat([ts[:1], ts[1:].repeat_interleave(2)]).to(dtype=torch.float32)
        self.prev_derivative = None
        self.dt = None
        self._step_index = None
        self._begin_index = None

    @property
    def state_in_first_order(self):
        return self.dt is None

    def step(self, model_output, timestep, sample, generator=None):
        # Karras et al. 2022 alg. 1 with gamma = 0
        if self.step_index is None:
            self._init_step_index(timestep)
        if self.state_in_first_order:
            sigma = self.sigmas[self.step_index]
            sigma_next = self.sigmas[self.step_index + 1]
        else:
            sigma = self.sigmas[self.step_index - 1]
            sigma_next = self.sigmas[self.step_index]
        sigma_hat = sigma * (0 + 1)
        level = sigma_hat if self.state_in_first_order else sigma_next
        x0 = self._x0(model_output, sample, level)
        if self.config["clip_sample"]:
            r = self.config["clip_sample_range"]
            x0 = x0.clamp(-r, r)
        if self.state_in_first_order:
            derivative = (sample - x0) / sigma_hat
            dt = sigma_next - sigma_hat
            self.prev_derivative = derivative
            self.dt = dt
            self.sample = sample
        else:
            derivative = (sample - x0) / sigma_next
            derivative = (self.prev_derivative + derivative) / 2
            dt = self.dt
            sample = self.sample
            self.prev_derivative = None
            self.dt = None
            self.sample = None
        prev = sample + derivative * dt
        self._step_index += 1
        return prev, x0


# ---------------------------------------------------------------- DPM-Solver++ (2M)

class DPMSolverMultistepScheduler(_SigmaBase):
    defaults = dict(_COMMON, solver_order=2, thresholding=False, dynamic_thresholding_ratio=0.995,
                    sample_max_value=1.0, algorithm_type="dpmsolver++", solver_type="midpoint",
                    lower_order_final=True, euler_at_final=False, use_karras_sigmas=False,
                    use_exponential_sigmas=False, use_beta_sigmas=False, use_lu_lambdas=False,
                    use_flow_sigmas=False, flow_shift=1.0, final_sigmas_type="zero",
                    lambda_min_clipped=-float("inf"), variance_type=None, timestep_spacing="linspace",
                    steps_offset=0, rescale_betas_zero_snr=False)

    def __init__(self, config, hidden=None, numerics="libm"):
        super().__init__(config, hidden, numerics)
        self.alpha_t = torch.sqrt(self.alphas_cumprod)
        self.sigma_t = torch.sqrt(1 - self.alphas_cumprod)
        self.lambda_t = torch.log(self.alpha_t) - torch.log(self.sigma_t)
        self.sigmas = ((1 - self.alphas_cumprod) / self.alphas_cumprod) ** 0.5
        self.model_outputs = [None] * 2
        self.lower_order_nums = 0

    init_noise_sigma = 1.0

    def set_timesteps(self, num_inference_steps):
        cfg = self.config
        n_train = cfg["num_train_timesteps"]
        clipped = torch.searchsorted(torch.flip(self.lambda_t, [0]), cfg["lambda_min_clipped"])
        last = (n_train - clipped).numpy().item()
        spacing = cfg["timestep_spacing"]
        steps = num_inference_steps
        if spacing == "linspace":
            ts = np.linspace(0, last - 1, steps + 1).round()[::-1][:-1].copy().astype(np.int64)
        elif spacing == "leading":
            ratio = last // (steps + 1)
            ts = (np.arange(0, steps + 1) * ratio).round()[::-1][:-1].copy().astype(np.int64)
            ts += cfg["steps_offset"]
        elif spacing == "trailing":
            ratio = n_train / steps
            ts = np.arange(last, 0, -ratio).round().copy().astype(np.int64)
            ts -= 1
        else:
            raise ValueError(spacing)

        sig = self._train_sigmas()
        log_sigmas = self.num.log_f32(sig)
        if cfg["use_karras_sigmas"]:
            sig = self._convert_to_karras(np.flip(sig).copy(), steps)
            ts = np.array([self._sigma_to_t(s, log_sigmas) for s in sig])
            if cfg["beta_schedule"] != "squaredcos_cap_v2":
                ts = ts.round()
        elif cfg["use_exponential_sigmas"]:
            sig = self._convert_to_exponential(np.flip(sig).copy(), steps)
            ts = np.array([self._sigma_to_t(s, log_sigmas) for s in sig])
        else:
            sig = np.interp(ts, np.arange(0, len(sig)), sig)

        if cfg["final_sigmas_type"] == "sigma_min":
            last_sigma = (((1 - self.alphas_cumprod[0]) / self.alphas_cumprod[0]) ** 0.5).item()
        elif cfg["final_sigmas_type"] == "zero":
            last_sigma = 0
        else:
            raise ValueError(cfg["final_sigmas_type"])
        sig = np.concatenate([sig, [last_sigma]]).astype(np.float32)
        self.sigmas = torch.from_numpy(sig)
        self.timesteps = torch.from_numpy(ts).to(dtype=torch.int64)
        self.num_inference_steps = len(ts)
        self.model_outputs = [None] * 2
        self.lower_order_nums = 0
        self._step_index = None
        self._begin_index = None

    def index_for_timestep(self, timestep, schedule_timesteps=None):
        if schedule_timesteps is None:
            schedule_timesteps = self.timesteps
        hits = (schedule_timesteps == timestep).nonzero()
        if len(hits) == 0:
            return len(self.timesteps) - 1
        return hits[1 if len(hits) > 1 else 0].item()

    def scale_model_input(self, sample, *args):
        return sample

    @staticmethod
    def _alpha_sigma(sigma):
        alpha = 1 / ((sigma ** 2 + 1) ** 0.5)
        return alpha, sigma * alpha

    def convert_model_output(self, model_output, sample):
        """DPM-Solver++ works on the data prediction x0 (Lu et al. 2022 sec. 3)."""
        pred = self.config["prediction_type"]
        if pred == "sample":
            return model_output
        alpha_t, sigma_t = self._alpha_sigma(self.sigmas[self.step_index])
        if pred == "epsilon":
            return (sample - sigma_t * model_output) / alpha_t
        if pred == "v_prediction":
            return alpha_t * sample - sigma_t * model_output
        raise ValueError(pred)

    def _first_order(self, model_output, sample):
        # Lu et al. 2022 (DPM-Solver++) eq. 9 / alg. 2's first step
        alpha_t, sigma_t = self._alpha_sigma(self.sigmas[self.step_index + 1])
        alpha_s, sigma_s = self._alpha_sigma(self.sigmas[self.step_index])
        lam_t = torch.log(alpha_t) - torch.log(sigma_t)
        lam_s = torch.log(alpha_s) - torch.log(sigma_s)
        h = lam_t - lam_s
        return (sigma_t / sigma_s) * sample - (alpha_t * (torch.exp(-h) - 1.0)) * model_output

    def _second_order(self, outputs, sample):
        # Lu et al. 2022 alg. 2 (multistep, midpoint form of D1)
        alpha_t, sigma_t = self._alpha_sigma(self.sigmas[self.step_index + 1])
        alpha_s0, sigma_s0 = self._alpha_sigma(self.sigmas[self.step_index])
        alpha_s1, sigma_s1 = self._alpha_sigma(self.sigmas[self.step_index - 1])
        lam_t = torch.log(alpha_t) - torch.log(sigma_t)
        lam_s0 = torch.log(alpha_s0) - torch.log(sigma_s0)
        lam_s1 = torch.log(alpha_s1) - torch.log(sigma_s1)
        m0, m1 = outputs[-1], outputs[-2]
        h, h0 = lam_t - lam_s0, lam_s0 - lam_s1
        r0 = h0 / h
        d0, d1 = m0, (1.0 / r0) * (m0 - m1)
        return ((sigma_t / sigma_s0) * sample
                - (alpha_t * (torch.exp(-h) - 1.0)) * d0
                - 0.5 * (alpha_t * (torch.exp(-h) - 1.0)) * d1)

    def _init_step_index(self, timestep):
        if self.begin_index is None:
            self._step_index = self.index_for_timestep(timestep)
        else:
            self._step_index = self._begin_index

    def step(self, model_output, timestep, sample, generator=None):
        if self.step_index is None:
            self._init_step_index(timestep)
        n = len(self.timesteps)
        cfg = self.config
        final = (self.step_index == n - 1) and (cfg["euler_at_final"]
                                               or (cfg["lower_order_final"] and n < 15)
                                               or cfg["final_sigmas_type"] == "zero")
        x0 = self.convert_model_output(model_output, sample)
        self.model_outputs[0] = self.model_outputs[1]
        self.model_outputs[1] = x0
        sample = sample.to(torch.float32)
        if self.lower_order_nums < 1 or final:
            prev = self._first_order(x0, sample)
        else:
            prev = self._second_order(self.model_outputs, sample)
        if self.lower_order_nums < 2:
            self.lower_order_nums += 1
        self._step_index += 1
        return prev.to(model_output.dtype), x0

    def add_noise(self, original, noise, timesteps):
        sigmas = self.sigmas.to(dtype=original.dtype)
        sigma = sigmas[self._step_indices(timesteps, self.timesteps)].flatten()
        while sigma.dim() < original.dim():
            sigma = sigma.unsqueeze(-1)
        alpha_t, sigma_t = self._alpha_sigma(sigma)
        return alpha_t * original + sigma_t * noise


# ---------------------------------------------------------------- PNDM

class PNDMScheduler(_Base):
    """Liu et al. 2022 (PNDM): the transfer of eq. 9 driven by a linear
    multistep method (PLMS); with skip_prk_steps false the first three steps
    are Runge-Kutta steps of four evaluations each (F-PNDM).  It counts its
    own steps (counter), whatever timestep it is given."""
    defaults = dict(_COMMON, skip_prk_steps=False, set_alpha_to_one=False, timestep_spacing="leading",
                    steps_offset=0)

    def __init__(self, config, hidden=None, numerics="libm"):
        super().__init__(config, hidden, numerics)
        if self.config["prediction_type"] not in ("epsilon", "v_prediction"):
            # diffusers raises a ValueError in step(); refused up front here
            raise NotImplementedError("PNDMScheduler: prediction_type %s" % self.config["prediction_type"])
        self.final_alpha_cumprod = torch.tensor(1.0) if self.config["set_alpha_to_one"] else self.alphas_cumprod[0]
        self.init_noise_sigma = 1.0
        self.prk_timesteps = np.array([], dtype=np.int64)
        self._reset()

    def _reset(self):
        self.ets = []
        self.counter = 0
        self.cur_sample = None
        self.cur_model_output = 0

    def scale_model_input(self, sample, timestep=None):
        return sample

    def set_timesteps(self, num_inference_steps):
        n_train = self.config["num_train_timesteps"]
        steps = num_inference_steps
        self.num_inference_steps = steps
        spacing = self.config["timestep_spacing"]
        if spacing == "linspace":
            base = np.linspace(0, n_train - 1, steps).round().astype(np.int64)
        elif spacing == "leading":
            base = (np.arange(0, steps) * (n_train // steps)).round() + self.config["steps_offset"]
        elif spacing == "trailing":
            base = np.round(np.arange(n_train, 0, -n_train / steps))[::-1].astype(np.int64) - 1
        else:
            raise ValueError(spacing)
        if self.config["skip_prk_steps"]:
            self.prk_timesteps = np.array([], dtype=np.int64)
            plms = np.concatenate([base[:-1], base[-2:-1], base[-1:]])[::-1].copy()
        else:
            # (fewer than 4 steps: numpy cannot broadcast, as in diffusers)
            half = n_train // steps // 2
            pairs = np.array(base[-4:]).repeat(2) + np.tile(np.array([0, half]), 4)
            self.prk_timesteps = pairs[:-1].repeat(2)[1:-1][::-1].copy()
            plms = base[:-3][::-1].copy()
        ts = np.concatenate([self.prk_timesteps, plms]).astype(np.int64)
        if ts.min() < 0 or ts.max() > n_train - 1:
            # torch would index from the end (-1) or fail: not a schedule
            raise IndexError("PNDMScheduler: timestep outside 0 .. %d: %s" % (n_train - 1, ts.tolist()))
        self.timesteps = torch.from_numpy(ts)
        self._reset()

    def _prev_sample(self, sample, t, t_prev, e):
        # eq. 9, as _get_prev_sample
        a = self.alphas_cumprod[t]
        ap = self.alphas_cumprod[t_prev] if t_prev >= 0 else self.final_alpha_cumprod
        b, bp = 1 - a, 1 - ap
        if self.config["prediction_type"] == "v_prediction":
            e = (a ** 0.5) * e + (b ** 0.5) * sample
        c_x = (ap / a) ** 0.5
        den = a * bp ** 0.5 + (a * b * ap) ** 0.5
        return c_x * sample - (ap - a) * e / den

    def _step_prk(self, e, t, sample):
        half = self.config["num_train_timesteps"] // self.num_inference_steps // 2
        t_prev = t - (0 if self.counter % 2 else half)
        t_from = int(self.prk_timesteps[self.counter // 4 * 4])
        k = self.counter % 4
        if k == 0:
            self.cur_model_output = self.cur_model_output + 1 / 6 * e
            self.ets.append(e)
            self.cur_sample = sample
        elif k in (1, 2):
            self.cur_model_output = self.cur_model_output + 1 / 3 * e
        else:
            e = self.cur_model_output + 1 / 6 * e
            self.cur_model_output = 0
        start = self.cur_sample if self.cur_sample is not None else sample
        return self._prev_sample(start, t_from, t_prev, e)

    def _step_plms(self, e, t, sample):
        ratio = self.config["num_train_timesteps"] // self.num_inference_steps
        t_prev = t - ratio
        if self.counter != 1:
            self.ets = self.ets[-3:] + [e]
        else:
            t_prev, t = t, t + ratio
        ets = self.ets
        if len(ets) == 1 and self.counter == 0:
            self.cur_sample = sample
        elif len(ets) == 1 and self.counter == 1:
            e = (e + ets[-1]) / 2
            sample = self.cur_sample
            self.cur_sample = None
        elif len(ets) == 2:
            e = (3 * ets[-1] - ets[-2]) / 2
        elif len(ets) == 3:
            e = (23 * ets[-1] - 16 * ets[-2] + 5 * ets[-3]) / 12
        else:
            e = (1 / 24) * (55 * ets[-1] - 59 * ets[-2] + 37 * ets[-3] - 9 * ets[-4])
        return self._prev_sample(sample, t, t_prev, e)

    def step(self, model_output, timestep, sample, generator=None):
        t = int(timestep)
        # not diffusers' (PNDM has no pred_original_sample): the x0 the C
        # core's gen_sampler_predict_x0 reports, eq. 15 of Ho et al.
        a = self.alphas_cumprod[t]
        if self.config["prediction_type"] == "epsilon":
            x0 = (sample - (1 - a) ** 0.5 * model_output) / a ** 0.5
        else:
            x0 = (a ** 0.5) * sample - ((1 - a) ** 0.5) * model_output
        if self.counter < len(self.prk_timesteps) and not self.config["skip_prk_steps"]:
            prev = self._step_prk(model_output, t, sample)
        else:
            prev = self._step_plms(model_output, t, sample)
        self.counter += 1
        return prev, x0

    add_noise = DDPMScheduler.add_noise


# ---------------------------------------------------------------- LCM

class LCMScheduler(_Base):
    """Luo et al. 2023 (latent consistency models): the boundary-condition
    parameterisation c_skip·x + c_out·x0, then fresh noise to the next
    timestep (multistep sampling).  set_timesteps ignores timestep_spacing
    and steps_offset, as diffusers' does."""
    defaults = dict(_COMMON, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                    original_inference_steps=50, clip_sample=False, clip_sample_range=1.0,
                    set_alpha_to_one=True, steps_offset=0, thresholding=False,
                    dynamic_thresholding_ratio=0.995, sample_max_value=1.0, timestep_spacing="leading",
                    timestep_scaling=10.0, rescale_betas_zero_snr=False)

    def __init__(self, config, hidden=None, numerics="libm"):
        super().__init__(config, hidden, numerics)
        self.final_alpha_cumprod = torch.tensor(1.0) if self.config["set_alpha_to_one"] else self.alphas_cumprod[0]
        self.init_noise_sigma = 1.0

    def scale_model_input(self, sample, timestep=None):
        return sample

    def set_timesteps(self, num_inference_steps):
        n_train = self.config["num_train_timesteps"]
        orig = self.config["original_inference_steps"]
        if orig > n_train:
            raise ValueError("original_inference_steps %d > num_train_timesteps %d" % (orig, n_train))
        k = n_train // orig
        origin = np.asarray(list(range(1, orig + 1))) * k - 1
        if len(origin) // num_inference_steps < 1 or num_inference_steps > orig:
            raise ValueError("%d steps > original_inference_steps %d" % (num_inference_steps, orig))
        self.num_inference_steps = num_inference_steps
        origin = origin[::-1].copy()
        picks = np.floor(np.linspace(0, len(origin), num=num_inference_steps, endpoint=False)).astype(np.int64)
        self.timesteps = torch.from_numpy(origin[picks]).to(dtype=torch.long)
        self._step_index = None
        self._begin_index = None

    def _scalings(self, t):
        sigma_data = 0.5
        s = t * self.config["timestep_scaling"]
        return sigma_data ** 2 / (s ** 2 + sigma_data ** 2), s / (s ** 2 + sigma_data ** 2) ** 0.5

    def step(self, model_output, timestep, sample, generator=None):
        if self._step_index is None:
            if self._begin_index is not None:
                self._step_index = self._begin_index
            else:
                hits = (self.timesteps == timestep).nonzero()
                self._step_index = hits[1 if len(hits) > 1 else 0].item()
        nxt = self._step_index + 1
        t_prev = self.timesteps[nxt] if nxt < len(self.timesteps) else timestep
        a = self.alphas_cumprod[timestep]
        ap = self.alphas_cumprod[t_prev] if t_prev >= 0 else self.final_alpha_cumprod
        b, bp = 1 - a, 1 - ap
        c_skip, c_out = self._scalings(timestep)
        pred = self.config["prediction_type"]
        if pred == "epsilon":
            x0 = (sample - b.sqrt() * model_output) / a.sqrt()
        elif pred == "sample":
            x0 = model_output
        elif pred == "v_prediction":
            x0 = a.sqrt() * sample - b.sqrt() * model_output
        else:
            raise ValueError(pred)
        if self.config["clip_sample"]:
            r = self.config["clip_sample_range"]
            x0 = x0.clamp(-r, r)
        denoised = c_out * x0 + c_skip * sample
        if self._step_index != self.num_inference_steps - 1:
            z = _randn(model_output.shape, generator)
            prev = ap.sqrt() * denoised + bp.sqrt() * z
        else:
            prev = denoised
        self._step_index += 1
        return prev, denoised

    add_noise = DDPMScheduler.add_noise


# ---------------------------------------------------------------- construction

CLASSES = {
    "ddpm": DDPMScheduler,
    "ddim": DDIMScheduler,
    "euler": EulerDiscreteScheduler,
    "euler_a": EulerAncestralDiscreteScheduler,
    "heun": HeunDiscreteScheduler,
    "dpmpp_2m": DPMSolverMultistepScheduler,
    "pndm": PNDMScheduler,
    "lcm": LCMScheduler,
}


def missing_file_config():
    """A missing scheduler_config.json: DDPMScheduler() written out in full."""
    return {k: v for k, v in DDPMScheduler.defaults.items()}


def from_config(name, file_config, numerics="libm", sigma_schedule="default"):
    cls = CLASSES[name]
    cfg = dict(cls.defaults)
    hidden = {}
    src = missing_file_config() if file_config is None else file_config
    for key, value in src.items():
        if key.startswith("_"):
            continue
        if key in cfg:
            cfg[key] = value
        else:
            hidden[key] = value
    kwargs = dict(numerics=numerics)
    if name == "euler_a":
        kwargs["sigma_schedule"] = sigma_schedule
    elif name in ("euler", "heun", "dpmpp_2m"):
        # the sigma schedule is our argument, not the config's
        cfg["use_karras_sigmas"] = sigma_schedule == "karras"
        cfg["use_exponential_sigmas"] = sigma_schedule == "exponential"
    elif sigma_schedule != "default":
        raise ValueError("%s has no sigma schedule" % name)
    return cls(cfg, hidden, **kwargs)


def get_timesteps(scheduler, num_inference_steps, strength):
    """The img2img pipelines' get_timesteps: the index into scheduler.timesteps
    to start from (and set_begin_index where the scheduler has it)."""
    init_timestep = min(int(num_inference_steps * strength), num_inference_steps)
    t_start = max(num_inference_steps - init_timestep, 0)
    start = t_start * scheduler.order
    if isinstance(scheduler, (_SigmaBase, LCMScheduler)):
        scheduler.set_begin_index(start)
    return start
