#!/usr/bin/python3
"""An independent plain-torch reference for transformers' CLIPTextModel, the
text encoder of every Stable Diffusion 1.x / 2.x pipeline (text_encoder/).

Written from a reading of the transformers sources:
  src/transformers/models/clip/configuration_clip.py   CLIPTextConfig defaults
  src/transformers/models/clip/modeling_clip.py        CLIPTextEmbeddings, CLIPAttention,
                                                       CLIPMLP, CLIPEncoderLayer, CLIPEncoder,
                                                       CLIPTextTransformer, CLIPTextModel
  src/transformers/activations.py                      "quick_gelu", "gelu"
and diffusers' StableDiffusionPipeline.encode_prompt for clip_skip.  No code
is copied; parameter names are identical to the transformers module tree:

  text_model.embeddings.token_embedding.weight            [vocab_size, hidden]
  text_model.embeddings.position_embedding.weight         [max_position_embeddings, hidden]
  text_model.embeddings.position_ids                      I64 [1, max_position_embeddings]
                                                          (a buffer; only older files hold it)
  text_model.encoder.layers.N.self_attn.{q,k,v,out}_proj.{weight,bias}   [hidden, hidden], [hidden]
  text_model.encoder.layers.N.layer_norm{1,2}.{weight,bias}              [hidden]
  text_model.encoder.layers.N.mlp.fc1.{weight,bias}       [intermediate, hidden], [intermediate]
  text_model.encoder.layers.N.mlp.fc2.{weight,bias}       [hidden, intermediate], [hidden]
  text_model.final_layer_norm.{weight,bias}               [hidden]

The forward pass (pre-norm transformer, causal self-attention):
  h_0 = token_embedding[ids] + position_embedding[0..T-1]
  h_i = layer_i(h_{i-1}),  layer(x) = y + fc2(act(fc1(LN2(y)))),  y = x + attn(LN1(x))
  attn: softmax(q k^T / sqrt(head_dim) + causal mask) v per head, then out_proj
  last_hidden_state = final_layer_norm(h_L)
  clip_skip k >= 1 (diffusers): final_layer_norm(hidden_states[-(k + 1)]) = final_layer_norm(h_{L-k})
  where hidden_states = (h_0, h_1, ..., h_L) is what output_hidden_states=True returns.

Public API
  CLIPTextModel.from_config(dict)       missing keys take CLIPTextConfig's defaults
                                        (a models._Model, like the diffusers models)
  model.forward_taps(input_ids, clip_skip=None) -> (last_hidden_state, OrderedDict of taps)
  model.save_pretrained(folder, dtype="F32", position_ids=False, metadata=None)
  build(config, seed)                   random weights (models.init_random)
  load_pretrained(folder)               -> model (config.json + model.safetensors)
"""

import collections
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

import models
import st

TRANSFORMERS_VERSION = "4.44.0"
WEIGHTS_NAME = "model.safetensors"
PREFIX = "text_model."


def quick_gelu(x):
    """transformers QuickGELUActivation: x * sigmoid(1.702 x)."""
    return x * torch.sigmoid(1.702 * x)


def get_activation(name):
    """The two hidden_act values Stable Diffusion text encoders use:
    "quick_gelu" (SD 1.x, OpenAI CLIP ViT-L/14) and "gelu" (SD 2.x, OpenCLIP
    ViT-H/14; transformers' GELUActivation is the exact erf form)."""
    if name == "quick_gelu":
        return quick_gelu
    if name == "gelu":
        return lambda x: F.gelu(x)
    raise NotImplementedError("hidden_act %r" % (name,))


class Attention(nn.Module):
    """CLIPAttention with the causal mask of the text tower."""

    def __init__(self, hidden, heads):
        super().__init__()
        if hidden % heads != 0:
            raise ValueError("hidden_size %d is not divisible by num_attention_heads %d" % (hidden, heads))
        self.heads = heads
        self.head_dim = hidden // heads
        self.k_proj = nn.Linear(hidden, hidden)
        self.v_proj = nn.Linear(hidden, hidden)
        self.q_proj = nn.Linear(hidden, hidden)
        self.out_proj = nn.Linear(hidden, hidden)

    def forward(self, x):
        n, t, c = x.shape

        def split(y):  # [N, T, C] -> [N, heads, T, head_dim]
            return y.reshape(n, t, self.heads, self.head_dim).transpose(1, 2)

        q, k, v = split(self.q_proj(x)), split(self.k_proj(x)), split(self.v_proj(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) * self.head_dim ** -0.5    # [N, h, T, T]
        future = torch.ones(t, t, dtype=torch.bool).triu(1)                      # key j > query i
        scores = scores.masked_fill(future, float("-inf"))
        w = torch.softmax(scores, dim=-1)
        y = torch.matmul(w, v).transpose(1, 2).reshape(n, t, c)
        return self.out_proj(y)


class MLP(nn.Module):
    def __init__(self, hidden, intermediate, act):
        super().__init__()
        self.act = get_activation(act)
        self.fc1 = nn.Linear(hidden, intermediate)
        self.fc2 = nn.Linear(intermediate, hidden)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class EncoderLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        hidden = cfg["hidden_size"]
        self.self_attn = Attention(hidden, cfg["num_attention_heads"])
        self.layer_norm1 = nn.LayerNorm(hidden, eps=cfg["layer_norm_eps"])
        self.mlp = MLP(hidden, cfg["intermediate_size"], cfg["hidden_act"])
        self.layer_norm2 = nn.LayerNorm(hidden, eps=cfg["layer_norm_eps"])

    def forward(self, x):
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class Embeddings(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.token_embedding = nn.Embedding(cfg["vocab_size"], cfg["hidden_size"])
        self.position_embedding = nn.Embedding(cfg["max_position_embeddings"], cfg["hidden_size"])

    def forward(self, input_ids):
        t = input_ids.shape[-1]
        if t > self.position_embedding.num_embeddings:
            raise ValueError("sequence length %d > max_position_embeddings %d"
                             % (t, self.position_embedding.num_embeddings))
        return self.token_embedding(input_ids) + self.position_embedding(torch.arange(t))[None]


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.layers = nn.ModuleList(EncoderLayer(cfg) for _ in range(cfg["num_hidden_layers"]))


class TextTransformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embeddings = Embeddings(cfg)
        self.encoder = Encoder(cfg)
        self.final_layer_norm = nn.LayerNorm(cfg["hidden_size"], eps=cfg["layer_norm_eps"])


class CLIPTextModel(models._Model):
    """From models._Model: resolve_config, from_config (missing keys take
    the defaults below, unknown ones are ignored), round_weights."""
    class_name = "CLIPTextModel"
    # CLIPTextConfig.__init__ defaults (projection_dim and the dropouts are
    # read but do not change CLIPTextModel's output)
    defaults = {
        "vocab_size": 49408, "hidden_size": 512, "intermediate_size": 2048, "projection_dim": 512,
        "num_hidden_layers": 12, "num_attention_heads": 8, "max_position_embeddings": 77,
        "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5, "attention_dropout": 0.0, "dropout": 0.0,
        "initializer_range": 0.02, "initializer_factor": 1.0,
        "pad_token_id": 1, "bos_token_id": 49406, "eos_token_id": 49407,
    }

    def __init__(self, cfg):
        super().__init__()
        for key in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                    "num_attention_heads", "max_position_embeddings"):
            if not isinstance(cfg[key], int) or cfg[key] < 1:
                raise ValueError("%s must be a positive integer, not %r" % (key, cfg[key]))
        get_activation(cfg["hidden_act"])
        self.config = cfg
        self.text_model = TextTransformer(cfg)

    def hidden_states(self, input_ids, n_layers=None):
        """(h_0, ..., h_n) for INPUT_IDS [N, T] (int): what transformers returns
        with output_hidden_states=True (n = all layers by default)."""
        tm = self.text_model
        n = len(tm.encoder.layers) if n_layers is None else n_layers
        states = [tm.embeddings(input_ids.long())]
        for layer in tm.encoder.layers[:n]:
            states.append(layer(states[-1]))
        return states

    def forward_taps(self, input_ids, clip_skip=None):
        """INPUT_IDS [N, T] int (T <= max_position_embeddings).  Returns
        (last_hidden_state [N, T, hidden], taps): taps holds
        "text_model.embeddings" (h_0), "text_model.encoder.layers.i" (h_{i+1})
        for every layer that runs, and "last_hidden_state".  With CLIP_SKIP k
        >= 1 only the first L - k layers run (the rest do not reach the
        output) and last_hidden_state = final_layer_norm(h_{L-k}); k = 0 or
        None is the plain model."""
        n_layers = self.config["num_hidden_layers"]
        k = clip_skip or 0
        if not (0 <= k < n_layers + 1):
            raise ValueError("clip_skip %d out of range for %d layers" % (k, n_layers))
        states = self.hidden_states(input_ids, n_layers - k)
        taps = collections.OrderedDict()
        taps["text_model.embeddings"] = states[0]
        for i, h in enumerate(states[1:]):
            taps["text_model.encoder.layers.%d" % i] = h
        out = self.text_model.final_layer_norm(states[-1])
        taps["last_hidden_state"] = out
        return out, taps

    def forward(self, input_ids, clip_skip=None):
        return self.forward_taps(input_ids, clip_skip)[0]

    # ---- files

    def config_json(self):
        out = {"architectures": ["CLIPTextModel"], "model_type": "clip_text_model",
               "torch_dtype": "float32", "transformers_version": TRANSFORMERS_VERSION}
        out.update(self.config)
        return dict(sorted(out.items()))

    def export_state_dict(self, position_ids=False):
        sd = collections.OrderedDict((k, v.detach().clone()) for k, v in self.state_dict().items())
        if position_ids:
            sd[PREFIX + "embeddings.position_ids"] = \
                torch.arange(self.config["max_position_embeddings"], dtype=torch.int64)[None]
        return sd

    def save_pretrained(self, folder, dtype="F32", position_ids=False, metadata=None, config=None):
        """Writes FOLDER/config.json + FOLDER/model.safetensors.  The model is
        first rounded to DTYPE (F32/F16/BF16) so that its output is the output
        of the stored weights; POSITION_IDS adds the int64 buffer
        text_model.embeddings.position_ids [1, max_position_embeddings] that
        files from older transformers carry.  CONFIG, if given, replaces the
        config.json contents (for hostile files)."""
        os.makedirs(folder, exist_ok=True)
        self.round_weights(dtype)
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(config if config is not None else self.config_json(), f, indent=2)
            f.write("\n")
        st.save(os.path.join(folder, WEIGHTS_NAME), self.export_state_dict(position_ids), dtype=dtype,
                metadata=metadata if metadata is not None else {"format": "pt"})


def build(config, seed=0):
    """Random weights from SEED (models.init_random: embeddings N(0, 1),
    linear weights N(0, 1/fan_in), biases and layer norms perturbed)."""
    return models.build(config, seed, cls=CLIPTextModel)


def load_pretrained(folder):
    """config.json + model.safetensors; the position_ids buffer, if present,
    must be arange(max_position_embeddings) and is dropped; every other key
    must match exactly."""
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    model = CLIPTextModel.from_config(config)
    sd = st.load(os.path.join(folder, WEIGHTS_NAME))
    pos = sd.pop(PREFIX + "embeddings.position_ids", None)
    if pos is not None and not torch.equal(pos.reshape(-1), torch.arange(pos.numel())):
        raise ValueError("position_ids is not arange(%d)" % pos.numel())
    model.load_state_dict(sd, strict=True)
    return model.eval()


def random_ids(gen, n, t, cfg, pad_from=None):
    """INPUT_IDS [N, T] int64 as a tokenizer writes them: bos, random tokens,
    eos, then padding (pad_token_id) from position PAD_FROM on."""
    cfg = CLIPTextModel.resolve_config(cfg)
    v = cfg["vocab_size"]
    ids = torch.randint(0, v, (n, t), generator=gen, dtype=torch.int64)
    ids[:, 0] = cfg["bos_token_id"] % v
    if pad_from is not None and pad_from < t:
        ids[:, pad_from] = cfg["eos_token_id"] % v
        ids[:, pad_from + 1:] = cfg["pad_token_id"] % v
    return ids
