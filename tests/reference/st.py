#!/usr/bin/python3
"""safetensors reading and writing for torch tensors, written from the format
description (8-byte little-endian header length N, N bytes of JSON, then the
data; every "data_offsets" pair is relative to the first byte after the
header).  No dependency on the `safetensors` package.

Supported dtypes: F32, F16, BF16, and the integer I64 / I32 (token ids and
buffers such as CLIP's position_ids; written and read as they are, never
converted by a DTYPE override).  BF16 is converted by bit manipulation on
int32/int16 views (round to nearest, ties to even; NaN kept quiet), so the
result does not depend on how a given torch version rounds.

Public functions
  save(path, tensors, dtype=None, metadata=None)
  save_sharded(folder, tensors, n_shards=2, dtype=None, metadata=None,
               prefix="diffusion_pytorch_model")
  load(path)            -> {name: float32 tensor}   (a .safetensors file,
                            a .safetensors.index.json, or a folder holding either)
  load_raw(path)        -> ({name: tensor in its stored dtype}, metadata)
  round_to(t, dtype)    -> float32 tensor rounded as DTYPE would store it
"""

import json
import os
import struct

import numpy as np
import torch

DTYPES = ("F32", "F16", "BF16")
INT_DTYPES = {torch.int64: ("I64", "<i8"), torch.int32: ("I32", "<i4")}
_ITEMSIZE = {"F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4}


def _f32_to_bf16_bits(a):
    """float32 ndarray -> uint16 ndarray of bfloat16 bits (RNE)."""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    nan = np.isnan(a)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    bits = (rounded & 0xFFFF).astype(np.uint16)
    if nan.any():
        bits[nan] = ((u[nan] >> 16) | 0x0040).astype(np.uint16)  # keep it a (quiet) NaN
    return bits


def _bf16_bits_to_f32(bits):
    """uint16 ndarray of bfloat16 bits -> float32 ndarray (exact)."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def round_to(t, dtype):
    """Returns float32 T rounded the way DTYPE stores it."""
    t = t.detach().to(torch.float32).cpu()
    if dtype in (None, "F32"):
        return t.clone()
    if dtype == "F16":
        with np.errstate(over="ignore"):
            return torch.from_numpy(t.numpy().astype(np.float16).astype(np.float32))
    if dtype == "BF16":
        return torch.from_numpy(_bf16_bits_to_f32(_f32_to_bf16_bits(t.numpy())).copy())
    raise ValueError("unsupported dtype %r" % (dtype,))


def _torch_dtype_name(t):
    if t.dtype == torch.float32:
        return "F32"
    if t.dtype == torch.float16:
        return "F16"
    if t.dtype == torch.bfloat16:
        return "BF16"
    if t.dtype in INT_DTYPES:
        return INT_DTYPES[t.dtype][0]
    raise ValueError("unsupported tensor dtype %s" % (t.dtype,))


def _to_bytes(t, dtype):
    """Bytes of tensor T stored as DTYPE (little-endian)."""
    if t.dtype in INT_DTYPES:
        return t.detach().cpu().contiguous().numpy().astype(INT_DTYPES[t.dtype][1]).tobytes()
    if t.dtype == torch.bfloat16:
        # through an int16 view: torch 1.13 cannot hand bfloat16 to numpy
        bits = t.detach().cpu().contiguous().view(torch.int16).numpy().view(np.uint16)
        if dtype == "BF16":
            return bits.astype("<u2").tobytes()
        t = torch.from_numpy(_bf16_bits_to_f32(bits).copy())
    a = t.detach().to(torch.float32).cpu().contiguous().numpy()
    if dtype == "F32":
        return a.astype("<f4").tobytes()
    if dtype == "F16":
        with np.errstate(over="ignore"):
            return a.astype("<f2").tobytes()
    if dtype == "BF16":
        return _f32_to_bf16_bits(a).astype("<u2").tobytes()
    raise ValueError("unsupported dtype %r" % (dtype,))


def _from_bytes(buf, dtype, shape):
    n = int(np.prod(shape)) if len(shape) else 1
    if dtype == "F32":
        a = np.frombuffer(buf, dtype="<f4", count=n).astype(np.float32)
        return torch.from_numpy(a.reshape(shape).copy())
    if dtype == "F16":
        a = np.frombuffer(buf, dtype="<f2", count=n).astype(np.float16)
        return torch.from_numpy(a.reshape(shape).copy())
    if dtype == "BF16":
        bits = np.frombuffer(buf, dtype="<u2", count=n).astype(np.uint16).reshape(shape).copy()
        return torch.from_numpy(bits.view(np.int16)).view(torch.bfloat16)
    if dtype == "I64":
        a = np.frombuffer(buf, dtype="<i8", count=n).astype(np.int64)
        return torch.from_numpy(a.reshape(shape).copy())
    if dtype == "I32":
        a = np.frombuffer(buf, dtype="<i4", count=n).astype(np.int32)
        return torch.from_numpy(a.reshape(shape).copy())
    raise ValueError("unsupported dtype %r in file" % (dtype,))


def save(path, tensors, dtype=None, metadata=None):
    """Writes {name: tensor} to PATH.  DTYPE ("F32"/"F16"/"BF16") overrides
    every floating tensor's own dtype (int64 / int32 tensors stay I64 / I32); METADATA (a dict of str -> str) becomes the
    "__metadata__" entry.  Tensors are laid out in sorted name order; the
    header is padded with spaces to a multiple of 8 bytes."""
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name]
        dt = _torch_dtype_name(t) if (dtype is None or t.dtype in INT_DTYPES) else dtype
        if dt not in DTYPES and t.dtype not in INT_DTYPES:
            raise ValueError("unsupported dtype %r" % (dt,))
        blob = _to_bytes(t, dt)
        header[name] = {"dtype": dt, "shape": [int(s) for s in t.shape],
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    if metadata is not None:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
    os.replace(tmp, path)


def save_sharded(folder, tensors, n_shards=2, dtype=None, metadata=None,
                 prefix="diffusion_pytorch_model"):
    """Writes a sharded checkpoint: PREFIX-0000k-of-0000n.safetensors files and
    PREFIX.safetensors.index.json = {"metadata": {"total_size": bytes},
    "weight_map": {name: file}}.  Tensors are split in sorted name order into
    N_SHARDS groups of about equal byte size (every shard gets at least one)."""
    names = sorted(tensors)
    if n_shards < 1 or n_shards > len(names):
        raise ValueError("cannot split %d tensors into %d shards" % (len(names), n_shards))
    sizes = [tensors[n].numel() * _ITEMSIZE[_torch_dtype_name(tensors[n]) if dtype is None or
                                            tensors[n].dtype in INT_DTYPES else dtype]
             for n in names]
    cum = [0]
    for s in sizes:
        cum.append(cum[-1] + s)
    cuts = [0]
    for k in range(1, n_shards):
        j = cuts[-1] + 1
        while j < len(names) - (n_shards - k) and cum[j] < cum[-1] * k / n_shards:
            j += 1
        cuts.append(j)
    cuts.append(len(names))
    groups = [names[cuts[k]:cuts[k + 1]] for k in range(n_shards)]
    weight_map = {}
    for k, group in enumerate(groups):
        fname = "%s-%05d-of-%05d.safetensors" % (prefix, k + 1, n_shards)
        save(os.path.join(folder, fname), {n: tensors[n] for n in group}, dtype=dtype, metadata=metadata)
        for n in group:
            weight_map[n] = fname
    index = {"metadata": {"total_size": cum[-1]}, "weight_map": weight_map}
    with open(os.path.join(folder, prefix + ".safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2, sort_keys=True)
        f.write("\n")


def _read_file(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError("%s: too short for a safetensors file" % path)
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ValueError("%s: header length %d past the end of the file" % (path, n))
    header = json.loads(data[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    metadata = header.pop("__metadata__", None)
    for name, info in header.items():
        b, e = info["data_offsets"]
        if not (0 <= b <= e <= len(data) - base):
            raise ValueError("%s: %s: data_offsets out of range" % (path, name))
        out[name] = _from_bytes(data[base + b:base + e], info["dtype"], list(info["shape"]))
    return out, metadata


def _resolve(path):
    if os.path.isdir(path):
        for cand in ("diffusion_pytorch_model.safetensors",
                     "diffusion_pytorch_model.safetensors.index.json",
                     "model.safetensors", "model.safetensors.index.json"):
            p = os.path.join(path, cand)
            if os.path.exists(p):
                return p
        raise FileNotFoundError("no diffusion_pytorch_model.safetensors or model.safetensors "
                                "[.index.json] in %s" % path)
    return path


def load_raw(path):
    """Returns ({name: tensor as stored}, metadata).  PATH may be a file, an
    index.json of a sharded checkpoint, or a model folder."""
    path = _resolve(path)
    if path.endswith(".json"):
        with open(path) as f:
            index = json.load(f)
        folder = os.path.dirname(path)
        out = {}
        by_file = {}
        for name, fname in index["weight_map"].items():
            by_file.setdefault(fname, []).append(name)
        for fname, names in sorted(by_file.items()):
            tensors, _ = _read_file(os.path.join(folder, fname))
            for n in names:
                out[n] = tensors[n]
        return out, None
    return _read_file(path)


def load(path):
    """Returns {name: float32 tensor}."""
    raw, _ = load_raw(path)
    return {k: (v.to(torch.float32) if v.is_floating_point() else v) for k, v in raw.items()}
