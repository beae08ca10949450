#!/usr/bin/env python3
"""A reference of openai/CLIP's SimpleTokenizer (our own code, written from
its documented behaviour) without ftfy, used to generate the expected
encodings in tests/clip/encodings.tsv. Needs the `regex` module.

    python3 tests/reference/clip_tokenizer_ref.py ../shared/clip-bpe/bpe_simple_vocab_16e6.txt.gz \
        > tests/clip/encodings.tsv
"""
import gzip
import html
import sys

import regex


def byte_symbols():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


class Tokenizer:
    def __init__(self, path):
        self.byte_sym = byte_symbols()
        merges = gzip.open(path).read().decode("utf-8").split("\n")[1:49152 - 256 - 2 + 1]
        merges = [tuple(m.split()) for m in merges]
        vocab = list(self.byte_sym.values())
        vocab += [v + "</w>" for v in vocab] + ["".join(m) for m in merges]
        vocab += ["<|startoftext|>", "<|endoftext|>"]
        self.encoder = {v: i for i, v in enumerate(vocab)}
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.pat = regex.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
                                 regex.IGNORECASE)

    def bpe(self, token):
        if token in ("<|startoftext|>", "<|endoftext|>"):
            return [token]
        word = list(token[:-1]) + [token[-1] + "</w>"]
        while len(word) > 1:
            pairs = [(self.ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(word, word[1:]))]
            rank, _ = min(pairs)
            if rank == 1 << 30:
                break
            a, b = next((word[i], word[i + 1]) for r, i in pairs if r == rank)
            out, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and word[i] == a and word[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            word = out
        return word

    def encode(self, text):
        text = html.unescape(html.unescape(text)).strip()
        text = regex.sub(r"\s+", " ", text).strip().lower()
        ids = []
        for tok in self.pat.findall(text):
            if tok not in ("<|startoftext|>", "<|endoftext|>"):
                tok = "".join(self.byte_sym[b] for b in tok.encode("utf-8"))
            ids += [self.encoder[t] for t in self.bpe(tok)]
        return ids


TEXTS = [
    "a photo of a cat.",
    "a photo of a {}.".format("aquarium_fish"),
    "a photo of a sweet_pepper",
    "Two small red circles above a blue square",
    "a large green star in the top left corner",
    "It's what they'll do, they'd said; we've I'm you're",
    "QUICK  brown\tfox\n\njumps!!! over 123 lazy dogs...",
    "café naïve résumé Ångström",
    "日本語のテキスト 中文 한국어",
    "emoji 😀🐈 and symbols ©®™ ½ ² ³",
    "&lt;b&gt;bold&lt;/b&gt; &amp;amp; &quot;quoted&quot; &#39;single&#39;",
    "<|startoftext|>hello<|endoftext|>",
    "a photo of the number 3.14159 and 42",
    "ΣΊΣΥΦΟΣ straße İstanbul",
    "under_score hyphen-ated slash/ed back\\slash",
    "   leading and trailing   ",
    "",
]

if __name__ == "__main__":
    tok = Tokenizer(sys.argv[1])
    for t in TEXTS:
        esc = t.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
        print(esc + "\t" + " ".join(map(str, tok.encode(t))))
