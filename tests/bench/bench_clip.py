#!/usr/bin/python3
"""CLIP text encoder benchmark: one forward pass of the core's CLIPTextModel
(the `generative forward` CLI, timed inside the process, load excluded)
against the PyTorch reference's forward (tests/reference/clip_text.py, the
same computation as transformers' eager CLIPTextModel) on the same random
weights and token ids, in the same run.

    /usr/bin/python3 tests/bench/bench_clip.py --cli build/core/generative \
        [--threads 1,2] [--batch 2] [--shape clip-l|openclip-h] [--reps 5]

Shapes: "clip-l" is SD 1.x's text encoder (openai/clip-vit-large-patch14:
hidden 768, 12 layers, 12 heads, MLP 3072, quick_gelu), "openclip-h" SD
2.x's (hidden 1024, 23 layers, 16 heads, MLP 4096, gelu); vocabulary 49408,
77 tokens.  Prints our best time, PyTorch's, the ratio (ours / PyTorch:
below 1 means we are faster), our GFLOP/s and peak resident memory.  A
benchmark, not a test: it reports numbers and gives no verdict.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))

import torch  # noqa: E402

import clip_text  # noqa: E402
import st  # noqa: E402

SHAPES = {
    "clip-l": {"vocab_size": 49408, "hidden_size": 768, "intermediate_size": 3072,
               "num_hidden_layers": 12, "num_attention_heads": 12, "max_position_embeddings": 77,
               "hidden_act": "quick_gelu", "bos_token_id": 49406, "eos_token_id": 49407,
               "pad_token_id": 49407},
    "openclip-h": {"vocab_size": 49408, "hidden_size": 1024, "intermediate_size": 4096,
                   "num_hidden_layers": 23, "num_attention_heads": 16, "max_position_embeddings": 77,
                   "hidden_act": "gelu", "bos_token_id": 49406, "eos_token_id": 49407,
                   "pad_token_id": 0},
}


def flops(cfg, n, t):
    """Multiply-adds x 2 of the GEMMs (projections, MLP, attention)."""
    c, f, layers = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    rows = n * t
    per_layer = 2 * rows * (4 * c * c + 2 * c * f) + 2 * 2 * n * t * t * c
    return layers * per_layer


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", required=True)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--shape", default="clip-l", choices=sorted(SHAPES))
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()

    cfg = SHAPES[args.shape]
    n, t = args.batch, cfg["max_position_embeddings"]
    with tempfile.TemporaryDirectory(prefix="bench-clip-") as tmp:
        model = clip_text.build(cfg, seed=0)
        folder = os.path.join(tmp, "text_encoder")
        model.save_pretrained(folder, position_ids=True)
        ids = clip_text.random_ids(torch.Generator().manual_seed(1), n, t, cfg, pad_from=20)
        inp = os.path.join(tmp, "in.safetensors")
        st.save(inp, {"input_ids": ids})
        gflop = flops(cfg, n, t) / 1e9
        print("%s, batch %d x %d tokens: %.1f GFLOP per forward" % (args.shape, n, t, gflop))
        for threads in [int(x) for x in args.threads.split(",")]:
            torch.set_num_threads(threads)
            with torch.no_grad():
                model(ids)
                best_t = 1e30
                for _ in range(args.reps):
                    t0 = time.perf_counter()
                    model(ids)
                    best_t = min(best_t, time.perf_counter() - t0)
            best_t *= 1e3
            cmd = [args.cli, "forward", "--model", folder, "--input", inp, "--threads", str(threads),
                   "--repeat", str(args.reps + 1), "-o", os.path.join(tmp, "out.safetensors")]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                sys.exit("generative forward failed: " + r.stderr.strip())
            m = re.search(r"load ([\d.]+) ms; forward best ([\d.]+) ms.*peak RSS ([\d.]+) MB", r.stderr)
            ours, load, rss = float(m.group(2)), float(m.group(1)), float(m.group(3))
            print("threads %d: ours %.1f ms (%.1f GFLOP/s), PyTorch %.1f ms, ratio %.2f; "
                  "load %.0f ms, peak RSS %.0f MB" % (threads, ours, gflop / ours * 1e3, best_t,
                                                      ours / best_t, load, rss))
            sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
