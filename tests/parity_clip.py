#!/usr/bin/python3
"""Parity of the C core's CLIPTextModel against the plain-torch reference in
tests/reference/clip_text.py.

  /usr/bin/python3 tests/parity_clip.py --cli PATH/generative [--keep DIR] [--only SUBSTR]
                   [--threads N] [--verbose]

Every case is generated with a fixed torch seed in a temporary folder (or
--keep DIR): a text_encoder folder (config.json + model.safetensors, random
weights, F32/F16/BF16, with or without the int64 position_ids buffer), an
input IN.safetensors holding "input_ids" (I64 or I32), then

  generative forward --model DIR --input IN.safetensors [--clip-skip K]
                     --dump-blocks -o OUT.safetensors

and every tensor the reference produces ("last_hidden_state", the
embeddings and every layer that runs) must be in OUT with NMSE =
sum((c - r)^2) / sum(r^2) <= 1e-5.  The last line is "N passed, M failed".

Exit 0: all passed; 1: a failure; 77 (meson's skip): torch is not importable,
unless GENERATIVE_REQUIRE_REFERENCE=1 (then 1).
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "reference"))

import parity  # noqa: E402  (check_outputs, run_cli, seed_of; imports torch if it can)

torch = parity.torch
if torch is not None:
    import clip_text  # noqa: E402
    import st  # noqa: E402


def clip(hidden, inter, layers, heads, vocab=67, max_pos=13, act="quick_gelu", **kw):
    cfg = {"vocab_size": vocab, "hidden_size": hidden, "intermediate_size": inter,
           "num_hidden_layers": layers, "num_attention_heads": heads, "max_position_embeddings": max_pos,
           "hidden_act": act, "projection_dim": 7, "bos_token_id": vocab - 2, "eos_token_id": vocab - 1,
           "pad_token_id": vocab - 1}
    cfg.update(kw)
    return cfg


# name, config, ids (n, t, pad_from), and options: dtype, position_ids,
# clip_skip, ids_dtype ("I64" default, "I32"), ids_1d (a [T] tensor)
CASES = [
    dict(name="quick_gelu_b1_t13", cfg=clip(32, 48, 2, 4), ids=(1, 13, 5)),
    dict(name="gelu_b2_t7", cfg=clip(24, 40, 3, 3, act="gelu", layer_norm_eps=1e-6), ids=(2, 7, 4)),
    dict(name="quick_gelu_b2_odd_t5_i32", cfg=clip(20, 36, 2, 5), ids=(2, 5, None), ids_dtype="I32"),
    dict(name="gelu_b1_t1", cfg=clip(16, 16, 1, 1, act="gelu"), ids=(1, 1, None)),
    dict(name="f16_position_ids", cfg=clip(32, 64, 2, 2), ids=(2, 13, 9), dtype="F16",
         position_ids=True),
    dict(name="bf16_position_ids_gelu", cfg=clip(24, 56, 2, 6, act="gelu"), ids=(1, 11, 3),
         dtype="BF16", position_ids=True),
    dict(name="bf16_no_position_ids", cfg=clip(24, 40, 2, 4), ids=(2, 9, 6), dtype="BF16"),
    dict(name="f32_position_ids_1d_ids", cfg=clip(16, 24, 2, 2), ids=(1, 10, 4), position_ids=True,
         ids_1d=True),
    dict(name="clip_skip_1", cfg=clip(24, 40, 3, 4), ids=(2, 13, 7), clip_skip=1),
    dict(name="clip_skip_2_gelu_f16", cfg=clip(24, 40, 4, 3, act="gelu"), ids=(2, 8, 5), clip_skip=2,
         dtype="F16", position_ids=True),
    dict(name="clip_skip_all_layers", cfg=clip(16, 32, 2, 2), ids=(1, 6, 3), clip_skip=2),
    # SD 1.x's own shape of prompt: 77 tokens, more positions than used by a second config
    dict(name="t77_of_80_positions", cfg=clip(32, 64, 2, 4, vocab=300, max_pos=80), ids=(2, 77, 12)),
    dict(name="config_defaults_missing_keys",
         cfg={"hidden_size": 16, "intermediate_size": 20, "num_hidden_layers": 1,
              "num_attention_heads": 2, "vocab_size": 40, "max_position_embeddings": 9},
         ids=(1, 9, None)),
]


def describe(case):
    r = clip_text.CLIPTextModel.resolve_config(case["cfg"])
    n, t, _ = case["ids"]
    s = "clip h=%d ff=%d L=%d heads=%d %s %s ids %dx%d%s" % (
        r["hidden_size"], r["intermediate_size"], r["num_hidden_layers"], r["num_attention_heads"],
        r["hidden_act"], case.get("dtype", "F32"), n, t, " " + case.get("ids_dtype", "I64"))
    if case.get("position_ids"):
        s += " +position_ids"
    if case.get("clip_skip"):
        s += " clip_skip=%d" % case["clip_skip"]
    return s


def run_case(case, args, root, res, log):
    folder = os.path.join(root, case["name"])
    model_dir = os.path.join(folder, "text_encoder")
    seed = parity.seed_of(case["name"])
    model = clip_text.build(case["cfg"], seed)
    config = None
    if case["name"] == "config_defaults_missing_keys":
        config = {"architectures": ["CLIPTextModel"], "model_type": "clip_text_model"}
        config.update(case["cfg"])
    model.save_pretrained(model_dir, dtype=case.get("dtype", "F32"),
                          position_ids=case.get("position_ids", False), config=config)
    n, t, pad_from = case["ids"]
    gen = torch.Generator().manual_seed(seed + 1)
    ids = clip_text.random_ids(gen, n, t, case["cfg"], pad_from=pad_from)
    with torch.no_grad():
        _, taps = model.forward_taps(ids, case.get("clip_skip"))
    stored = ids.to(torch.int32) if case.get("ids_dtype") == "I32" else ids
    if case.get("ids_1d"):
        stored = stored[0]
    in_path = os.path.join(folder, "in.safetensors")
    out_path = os.path.join(folder, "out.safetensors")
    st.save(in_path, {"input_ids": stored})
    cmd = [args.cli, "forward", "--model", model_dir, "--input", in_path, "--dump-blocks", "-o", out_path]
    if case.get("clip_skip"):
        cmd += ["--clip-skip", str(case["clip_skip"])]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    desc = describe(case)
    t0 = time.time()
    ok, msg, _ = parity.run_cli(cmd, log)
    res.cli_seconds += time.time() - t0
    if not ok:
        print("FAIL clip/%s [%s]: CLI %s" % (case["name"], desc, msg))
        print("    $ " + " ".join(cmd))
        res.failed += 1
        return
    parity.check_outputs("clip/" + case["name"], desc, taps, out_path, args, res,
                         output="last_hidden_state")


def run_refusals(args, root, res, log):
    """Inputs the CLI must refuse with a short message (no crash): float
    ids, an id past the vocabulary, more tokens than positions, a clip
    skip past the layers."""
    folder = os.path.join(root, "refusals")
    model_dir = os.path.join(folder, "text_encoder")
    cfg = clip(16, 24, 2, 2, vocab=30, max_pos=8)
    clip_text.build(cfg, 1).save_pretrained(model_dir, position_ids=True)
    good = torch.tensor([[28, 3, 4, 29]])
    cases = [("float ids", {"input_ids": good.float()}, [], "I64 or I32"),
             ("id past the vocabulary", {"input_ids": torch.tensor([[28, 30, 29]])}, [], "vocabulary"),
             ("negative id", {"input_ids": torch.tensor([[28, -1, 29]], dtype=torch.int32)}, [], "token id"),
             ("9 tokens, 8 positions", {"input_ids": torch.zeros(1, 9, dtype=torch.int64)}, [], "tokens"),
             ("no input_ids", {"sample": torch.zeros(1, 3, 4, 4)}, [], "input_ids"),
             ("clip skip 3 of 2 layers", {"input_ids": good}, ["--clip-skip", "3"], "clip skip")]
    for what, tensors, extra, needle in cases:
        in_path = os.path.join(folder, "in.safetensors")
        st.save(in_path, tensors)
        cmd = [args.cli, "forward", "--model", model_dir, "--input", in_path,
               "-o", os.path.join(folder, "out.safetensors")] + extra
        ok, msg, clean = parity.run_cli(cmd, log)
        if ok or not clean or needle not in msg:
            print("FAIL clip/refuse %s: %s" % (what, "accepted" if ok else msg))
            res.failed += 1
        else:
            print("PASS clip/refuse %s: %s" % (what, msg))
            res.passed += 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", required=True, help="the generative executable")
    ap.add_argument("--keep", metavar="DIR", help="generate into DIR and keep it")
    ap.add_argument("--only", metavar="SUBSTR", help="only cases whose name contains SUBSTR")
    ap.add_argument("--threads", type=int, default=0, help="pass --threads N to the CLI")
    ap.add_argument("--verbose", action="store_true", help="print every tap")
    args = ap.parse_args()

    if torch is None:
        print("parity-clip: the PyTorch reference cannot be imported (%s: %s); "
              "needs Debian's python3-torch" % (type(parity.IMPORT_ERROR).__name__, parity.IMPORT_ERROR))
        if os.environ.get("GENERATIVE_REQUIRE_REFERENCE") == "1":
            print("0 passed, 1 failed")
            return 1
        return 77
    torch.set_num_threads(1)
    root = os.path.abspath(args.keep) if args.keep else tempfile.mkdtemp(prefix="generative-parity-clip-")
    os.makedirs(root, exist_ok=True)
    cases = [c for c in CASES if not args.only or args.only in c["name"]]
    res = parity.Result()
    t0 = time.time()
    try:
        with open(os.path.join(root, "cli-clip.log"), "w") as log:
            for case in cases:
                try:
                    run_case(case, args, root, res, log)
                except Exception as exc:  # noqa: BLE001 — report and go on with the next case
                    print("FAIL clip/%s: reference error %s: %s" % (case["name"], type(exc).__name__, exc))
                    res.failed += 1
                sys.stdout.flush()
            if not args.only:
                run_refusals(args, root, res, log)
        return parity.finish("clip", time.time() - t0, res, root if args.keep else None)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
