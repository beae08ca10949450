#!/usr/bin/env python3
"""Writes tests/clip/pair/vocab.json + merges.txt: the Hugging Face layout of
the first 1,000 merges of OpenAI's CLIP vocabulary, for en_bpe_load_pair's
test (which compares it with the same merges read from OpenAI's file).
    python3 tests/reference/gen_bpe_pair.py ../shared/clip-bpe/bpe_simple_vocab_16e6.txt.gz tests/clip/pair
"""
import gzip
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from clip_tokenizer_ref import byte_symbols  # noqa: E402

src, out = sys.argv[1], sys.argv[2]
n = 1000
merges = gzip.open(src).read().decode("utf-8").split("\n")[1:1 + n]
syms = list(byte_symbols().values())
vocab = syms + [s + "</w>" for s in syms] + ["".join(m.split()) for m in merges]
vocab += ["<|startoftext|>", "<|endoftext|>"]
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "vocab.json"), "w", encoding="utf-8") as f:
    json.dump({t: i for i, t in enumerate(vocab)}, f, ensure_ascii=False)
with open(os.path.join(out, "merges.txt"), "w", encoding="utf-8") as f:
    f.write("#version: 0.2\n" + "\n".join(merges) + "\n")
