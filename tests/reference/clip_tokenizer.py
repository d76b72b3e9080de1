"""CLIP's byte-level BPE tokenizer in plain Python: the reference for the C
tokenizer (core/io/gen-tokenizer*.c), written from the published algorithm
(OpenAI CLIP's simple_tokenizer, GPT-2's byte table) as transformers'
CLIPTokenizer runs it without ftfy installed, which is what diffusers uses:

  * special tokens (bos, eos, unk, pad) are cut out of the text first, as
    transformers' added-token trie does (leftmost, then longest);
  * every other piece: BERT's BasicTokenizer(strip_accents=False,
    do_split_on_punc=False): control characters dropped, whitespace to spaces,
    CJK ideographs spaced, NFC, split, str.lower(), joined by spaces;
  * CLIP's pattern splits it; each piece's UTF-8 bytes are mapped to
    characters and merged by BPE rank, the last symbol ending in "</w>";
  * bos + ids + eos, truncated to model_max_length, padded with the pad token.

Needs only the standard library: \\p{L} and \\p{N} are built from
unicodedata (the `regex` module is used when installed).

    python3 clip_tokenizer.py DIR "a photo of a cat"
"""
import json
import os
import sys
import unicodedata

try:
    import regex as _re

    _LETTER, _NUMBER = r"\p{L}", r"\p{N}"
except ImportError:  # build the two classes from unicodedata
    import re as _re

    def _ranges(prefix):
        out, start, prev = [], None, None
        for cp in range(0x110000):
            if unicodedata.category(chr(cp)).startswith(prefix):
                if start is None:
                    start = cp
                prev = cp
            elif start is not None:
                out.append((start, prev))
                start = None
        if start is not None:
            out.append((start, prev))
        return "".join(_re.escape(chr(a)) + ("-" + _re.escape(chr(b)) if b > a else "")
                       for a, b in out)

    _LETTER, _NUMBER = _ranges("L"), _ranges("N")

PATTERN = _re.compile(
    r"<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|"
    r"[" + _LETTER + r"]+|[" + _NUMBER + r"]|[^\s" + _LETTER + _NUMBER + r"]+",
    _re.IGNORECASE)

SPECIAL_KEYS = ("bos_token", "eos_token", "unk_token", "pad_token")
MAX_MERGES = 49152 - 256 - 2


def bytes_to_unicode():
    """GPT-2's table: printable bytes stand for themselves, the others get
    the characters from U+0100 on, in byte order."""
    keep = (list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD))
            + list(range(0xAE, 0x100)))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def basic_clean(text):
    """BERT's BasicTokenizer with do_lower_case, strip_accents=False and no
    punctuation split, its words joined by single spaces."""
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD:
            continue
        cat = unicodedata.category(ch)
        if ch in " \t\n\r" or cat == "Zs":
            out.append(" ")
        elif cat.startswith("C"):
            continue
        elif (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
              or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F
              or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF
              or 0x2F800 <= cp <= 0x2FA1F):
            out.append(" " + ch + " ")
        else:
            out.append(ch)
    words = unicodedata.normalize("NFC", "".join(out)).split()
    return " ".join(w.lower() for w in words)


class ClipTokenizer:
    def __init__(self, folder):
        if os.path.isdir(os.path.join(folder, "tokenizer")) and not os.path.exists(
                os.path.join(folder, "vocab.json")):
            folder = os.path.join(folder, "tokenizer")
        with open(os.path.join(folder, "vocab.json"), encoding="utf-8") as f:
            self.vocab = json.load(f)
        with open(os.path.join(folder, "merges.txt"), encoding="utf-8") as f:
            lines = f.read().strip().split("\n")[1:MAX_MERGES + 1]
        self.ranks = {tuple(line.split()): i for i, line in enumerate(lines)}
        self.special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
                        "unk_token": "<|endoftext|>", "pad_token": "<|endoftext|>"}
        self.max_length = 77
        # special_tokens_map.json, read last, wins over tokenizer_config.json
        for name in ("tokenizer_config.json", "special_tokens_map.json"):
            path = os.path.join(folder, name)
            if not os.path.exists(path):
                continue
            with open(path, encoding="utf-8") as f:
                cfg = json.load(f)
            for key in SPECIAL_KEYS:
                value = cfg.get(key)
                if isinstance(value, dict):
                    value = value["content"]
                if value is not None:
                    self.special[key] = value
            if name == "tokenizer_config.json" and cfg.get("model_max_length") is not None:
                self.max_length = int(cfg["model_max_length"])
        self.byte_table = bytes_to_unicode()
        self.cache = {}

    def bpe(self, token):
        if token in ("<|startoftext|>", "<|endoftext|>"):
            return [token]
        if token in self.cache:
            return self.cache[token]
        word = list(token[:-1]) + [token[-1] + "</w>"]
        while len(word) > 1:
            pairs = [(self.ranks.get(p, float("inf")), p) for p in zip(word, word[1:])]
            rank, best = min(pairs)
            if rank == float("inf"):
                break
            merged, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == best:
                    merged.append(word[i] + word[i + 1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        self.cache[token] = word
        return word

    def _plain_ids(self, text):
        ids = []
        unk = self.vocab[self.special["unk_token"]]
        for piece in PATTERN.findall(basic_clean(text)):
            piece = "".join(self.byte_table[b] for b in piece.encode("utf-8"))
            ids.extend(self.vocab.get(t, unk) for t in self.bpe(piece))
        return ids

    def tokenize(self, text):
        """The ids of TEXT, without start, end or padding."""
        specials = sorted(set(self.special.values()), key=len, reverse=True)
        ids, pos = [], 0
        while pos < len(text):
            hits = [(text.find(s, pos), -len(s), s) for s in specials]
            hits = [h for h in hits if h[0] >= 0]
            if not hits:
                ids.extend(self._plain_ids(text[pos:]))
                break
            at, _, s = min(hits)
            ids.extend(self._plain_ids(text[pos:at]))
            ids.append(self.vocab[s])
            pos = at + len(s)
        return ids

    def encode(self, text):
        """(ids padded to max_length with start and end, tokens dropped)."""
        ids = self.tokenize(text)
        keep = self.max_length - 2
        out = [self.vocab[self.special["bos_token"]]] + ids[:keep] + [
            self.vocab[self.special["eos_token"]]]
        out += [self.vocab[self.special["pad_token"]]] * (self.max_length - len(out))
        return out, max(0, len(ids) - keep)


if __name__ == "__main__":
    tok = ClipTokenizer(sys.argv[1])
    for arg in sys.argv[2:]:
        print(" ".join(str(i) for i in tok.encode(arg)[0]))
