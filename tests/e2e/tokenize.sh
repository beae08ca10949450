#!/bin/sh
# clipbook tokenize against OpenAI's vocabulary (skipped without ../shared).
set -eu
V=../shared/clip-bpe/bpe_simple_vocab_16e6.txt.gz
CB=${CLIPBOOK:-build/bin/clipbook}
[ -r "$V" ] || { echo "skip: $V not present"; exit 0; }
out=$($CB tokenize --vocab "$V" "a photo of a cat." "")
want="49406 320 1125 539 320 2368 269 49407
49406 49407"
[ "$out" = "$want" ] || { echo "got: $out"; exit 1; }
err=$(mktemp)
if $CB tokenize --vocab /nonexistent x 2>"$err"; then exit 1; fi
grep -q "/nonexistent" "$err"; rm -f "$err"
