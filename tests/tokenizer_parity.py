#!/usr/bin/python3
"""Tokenizer parity: `generative tokenize` against tests/reference/clip_tokenizer.py
on the real CLIP vocabulary, over a few hundred prompts (punctuation, numbers,
apostrophes, accents, CJK, emoji, HTML entities, control characters, prompts
past 77 tokens, empty and whitespace-only ones), and on a tiny hand-written
SD 2.x-style vocabulary that pads with "!".

    /usr/bin/python3 tests/tokenizer_parity.py --cli build/core/generative

Reads ../shared/weights/clip-tokenizer beside the source tree (or
GENERATIVE_SHARED), else the copy shipped in weights/clip-tokenizer; skips
(exit 77) when neither is there.  Needs only the standard library.
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SKIP = 77
sys.path.insert(0, os.path.join(HERE, "reference"))
import clip_tokenizer  # noqa: E402

HAND = [
    "", " ", "   \t\n  ", "\u3000\u00a0\u2003", "a photo of a cat",
    "A PHOTO OF A CAT", "a photo of a cat, highly detailed, 8k, trending on artstation",
    "masterpiece, best quality, (ultra-detailed:1.2), [blurry], {cinematic}",
    "portrait of a woman by greg rutkowski and alphonse mucha",
    "don't can't won't it's we're they've I'm you'll he'd", "DON'T IT'S I'M",
    "''s 's 't '' ' 'quoted' \"double\" `back`", "rock'n'roll o'clock",
    "1234567890 3.14159 1,000,000 -42 +7 1e10 2024-01-31 12:30",
    "ⅰⅱⅲ Ⅳ ⅻ ½ ¾ ² ³ ① ⑩ ٣ ४ 〇",
    "!!! ??? ... --- *** ### $$$ %%% ^^^ &&& ((())) [[]] {{}} <<>> ||| ~~~ ___ +++ ===",
    "hello!!! world??? wow... yes---no", "a.b,c;d:e!f?g", "(((masterpiece))), [[[low quality]]]",
    "café naïve résumé façade jalapeño Zoë Ångström", "cafe\u0301 nai\u0308ve e\u0301te\u0301",
    "ÀÉÎÕÜ àéîõü ÇçÑñ ŒœÆæØøß", "Straße STRASSE ß ẞ", "İstanbul ıi İI", "ΟΔΟΣ ΣΟΦΟΣ Σ σς ΑΣ. ΑΣ'",
    "Москва Санкт-Петербург ПРИВЕТ мир", "Ελληνικά ΑΘΗΝΑ", "עברית שלום", "العربية مرحبا",
    "हिन्दी नमस्ते", "ไทย สวัสดี", "한국어 안녕하세요", "日本語のテキスト ひらがな カタカナ",
    "中文提示词：一只猫在月光下", "漢字と仮名の混ざった文章です。", "豈更車賈滑", "𠀀𠀁𪜀 𫝀",
    "emoji 😀😃😄 🐱 🐶 🚀 🌕", "👩‍🚀 👨‍👩‍👧‍👦 🏳️‍🌈", "❤️ ✨ ☀️ ⭐ ✓ ✗ ™ © ®",
    "flags 🇫🇷🇯🇵 skin 👍🏽", "&amp; &lt; &gt; &quot; &#39; &#x27; &nbsp; &copy;",
    "fish &amp;amp; chips", "AT&T R&D &unknown; &#128512; &#xZZ;",
    "<b>bold</b> <i>html</i> <br/>", "<|startoftext|>a cat<|endoftext|>",
    "<|endoftext|><|endoftext|>", "a <|ENDOFTEXT|> b", "<<|endoftext|>>", "x.<|startoftext|>",
    "<|startoftext|", "|endoftext|>", "tab\tnewline\ncarriage\rreturn", "form\x0cfeed\x0bvt\x1cfs",
    "nul\x01\x02\x03\x7f\x85 controls", "zero\u200bwidth\u200djoiner\ufeffbom", "soft\u00adhyphen",
    "line\u2028sep\u2029para", "private\ue000use", "replacement\ufffdchar",
    "mixed123numbers456 abc123 123abc a1b2c3", "hyphen-ated under_scored dot.ted slash/ed",
    "http://example.com/path?q=1&r=2#frag", "user@example.com", "#hashtag @mention",
    "C++ C# F# .NET node.js", "x² + y² = z²", "∑∫∂√∞≈≠≤≥", "→ ← ↑ ↓ ⇒ ⇔", "😀" * 40,
    "supercalifragilisticexpialidocious pneumonoultramicroscopicsilicovolcanoconiosis",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "ǅungla ǈ ǋ Ǉ", "ª º ʰ ˢ", "ﬁ ﬂ ﬀ ﬃ", "Ⓐⓑ ⒸⒹ", "ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３ ！？",
    "½cup ¼inch", "naïve café " * 20, "one two three four five six seven eight nine ten " * 10,
]

WORDS = ("a photo of the cat dog astronaut riding horse on mars highly detailed oil painting "
         "by van gogh cinematic lighting 4k 8k octane render unreal engine portrait landscape "
         "sunset forest castle dragon cyberpunk city neon rain masterpiece best quality "
         "ultra realistic bokeh f/1.8 35mm trending artstation concept art fantasy").split()
EXTRA = ["don't", "it's", "we're", "I've", "'ll", "café", "naïve", "Ζεύς", "東京", "猫",
         "😀", "🐱", "&amp;", "&#39;", "!!", "...", "(", ")", "[", "]", ":1.3", "--", "—", "–",
         "«", "»", "„", "“", "”", "‘", "’", "…", "€100", "$5", "50%", "#1", "№", "§", "°C",
         "ÆØÅ", "ﬁ", "Ⅻ", "①", "٣", "x\u0301", "\t", "\n", "  "]


def generated(n, seed=1234):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        k = rng.randint(1, 40) if i % 5 else rng.randint(60, 140)  # every 5th past 77 tokens
        parts = [rng.choice(WORDS) if rng.random() < 0.75 else rng.choice(EXTRA)
                 for _ in range(k)]
        seps = [rng.choice([" ", " ", " ", ", ", ",", " ", "", "  "]) for _ in range(k)]
        text = "".join(p + s for p, s in zip(parts, seps))
        if i % 7 == 0:
            text = text.upper()
        out.append(text)
    return out


def unicode_sweep():
    """Every assigned code point up to U+31FFF (as CPython's tables have them),
    six at a time, around capital sigmas (whose lower case depends on the
    neighbours) and after a letter: character classes, lower case, NFC."""
    import unicodedata
    cps = [cp for cp in range(0x20, 0x32000) if not 0xD800 <= cp < 0xE000
           and unicodedata.category(chr(cp)) != "Cn"]
    out = []
    for i in range(0, len(cps), 6):
        ch = "".join(chr(cp) for cp in cps[i:i + 6])
        out.append("\u03a3" + ch + " a" + ch[::-1] + "\u03a3")
    return out


def run_cli(cli, folder, prompts):
    r = subprocess.run([cli, "tokenize", "--model", folder, "--"] + prompts,
                       capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stderr)
        raise SystemExit(f"generative tokenize failed (exit {r.returncode})")
    lines = r.stdout.split("\n")[:-1]
    if len(lines) != len(prompts):
        raise SystemExit(f"expected {len(prompts)} lines, got {len(lines)}")
    warnings = [line for line in r.stderr.split("\n") if "warning" in line]
    return [[int(x) for x in line.split()] for line in lines], warnings


def compare(cli, folder, prompts, label, quiet=False):
    ref = clip_tokenizer.ClipTokenizer(folder)
    got, warnings = run_cli(cli, folder, prompts)
    failed = truncated = 0
    for text, ids in zip(prompts, got):
        want, dropped = ref.encode(text)
        truncated += dropped > 0
        if ids != want:
            failed += 1
            if failed <= 5:
                print(f"MISMATCH ({label}) {text!r}\n  C:   {ids}\n  ref: {want}")
    if len(warnings) != truncated:
        print(f"{label}: {len(warnings)} truncation warnings for {truncated} long prompts")
        failed += 1
    if not quiet or failed:
        print(f"{label}: {len(prompts) - failed}/{len(prompts)} prompts give the reference's ids "
              f"({truncated} truncated)")
    return failed


def tiny_sd2(folder):
    """A hand-written vocabulary in SD 2.x's layout: pad "!" (id 0)."""
    chars = "!abcdeor"
    vocab = {}
    for c in chars:
        vocab[c] = len(vocab)
    for c in chars:
        vocab[c + "</w>"] = len(vocab)
    merges = [("a", "b"), ("c", "d</w>"), ("ab", "cd</w>"), ("!", "!</w>"), ("o", "r</w>"),
              ("e", "or</w>")]
    for a, b in merges:
        vocab[a + b] = len(vocab)
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    os.makedirs(folder)
    with open(os.path.join(folder, "vocab.json"), "w") as f:
        json.dump(vocab, f)
    with open(os.path.join(folder, "merges.txt"), "w") as f:
        f.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump({"model_max_length": 77, "pad_token": "<|endoftext|>",
                   "bos_token": {"content": "<|startoftext|>", "lstrip": False},
                   "tokenizer_class": "CLIPTokenizer"}, f)
    with open(os.path.join(folder, "special_tokens_map.json"), "w") as f:
        json.dump({"pad_token": "!", "eos_token": {"content": "<|endoftext|>"},
                   "unk_token": "<|endoftext|>"}, f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    args = ap.parse_args()

    shared = os.environ.get("GENERATIVE_SHARED", os.path.join(HERE, "..", "..", "shared"))
    folder = os.path.join(shared, "weights", "clip-tokenizer")
    if not os.path.isdir(folder):
        folder = os.path.join(HERE, "..", "weights", "clip-tokenizer")
    if not os.path.exists(os.path.join(folder, "vocab.json")):
        print(f"skipped: no CLIP vocabulary under {shared}/weights or weights/")
        sys.exit(SKIP)

    prompts = HAND + generated(220)
    failed = compare(args.cli, folder, prompts, "CLIP vocabulary")
    sweep = unicode_sweep()
    for i in range(0, len(sweep), 2000):  # the command line's length
        failed += compare(args.cli, folder, sweep[i:i + 2000], "Unicode sweep", quiet=True)
    print(f"Unicode sweep: {len(sweep)} prompts of six code points each")
    with tempfile.TemporaryDirectory() as tmp:
        tiny = os.path.join(tmp, "pipeline", "tokenizer")
        tiny_sd2(tiny)
        sd2_prompts = ["abcd", "! !! !!!", "abcd!", "error abcd!!", "xyz", "", "ab cd",
                       "ABCD ERROR", "<|endoftext|>!<|startoftext|>", "e or eor"] + \
                      ["abcd " * 40, "! " * 80]
        failed += compare(args.cli, os.path.dirname(tiny), sd2_prompts, "SD 2.x-style tiny")
        ref = clip_tokenizer.ClipTokenizer(tiny)
        want = ref.encode("abcd")[0]
        if want[-1] != 0 or ref.vocab["!"] != 0:
            print("the tiny SD 2.x vocabulary does not pad with '!' (id 0)")
            failed += 1
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
