#!/bin/sh
# Chapter 5 resumes where it stopped: every few-shot head (method, k, draw)
# is its own memo entry, so a run killed mid-way keeps the heads it had
# finished and the rerun computes only the rest, with the same numbers as an
# uninterrupted run (smoke profile, a scratch cache).
set -eu
CB=${CLIPBOOK:-build/bin/clipbook}
case $CB in /*) ;; *) CB=$PWD/$CB ;; esac
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
run05() { CLIPBOOK_CACHE=$1 "$CB" run chapters/05-few-shot.lua --quiet --profile smoke --out "$T/$2.json"; }
heads() { grep -c "^$1 fewshot\.head\." "$2/memo.log" || true; }

# the reference: one whole run (it also trains the towers and the features)
run05 "$T/ref" ref > "$T/ref.out" 2>&1 || { cat "$T/ref.out"; fail "reference run failed"; }
total=$(heads miss "$T/ref")
[ "$total" -ge 20 ] || fail "expected one memo entry per head, saw $total head misses"

# a store with everything but the heads, then a run killed after some heads
cp -r "$T/ref" "$T/c"
rm -rf "$T"/c/fewshot.head.*
: > "$T/c/memo.log"
CLIPBOOK_CACHE=$T/c "$CB" run chapters/05-few-shot.lua --quiet --profile smoke --out "$T/killed.json" > "$T/killed.out" 2>&1 &
pid=$!
i=0
while [ "$(heads miss "$T/c")" -lt 8 ]; do
  kill -0 "$pid" 2>/dev/null || fail "the run ended before 8 heads (it should be killed mid-way)"
  i=$((i + 1)); [ $i -lt 1200 ] || { kill -9 "$pid"; fail "no 8 head misses within 60 s"; }
  sleep 0.05
done
kill -9 "$pid"; wait "$pid" 2>/dev/null || true
done_before=$(ls -d "$T"/c/fewshot.head.*/* 2>/dev/null | grep -c '\.val$' || true)
[ "$done_before" -ge 1 ] && [ "$done_before" -lt "$total" ] || fail "killed run stored $done_before of $total heads"

# the rerun: the stored heads are hits, the rest misses, nothing twice
: > "$T/c/memo.log"
run05 "$T/c" resumed > "$T/resumed.out" 2>&1 || { cat "$T/resumed.out"; fail "resumed run failed"; }
hits=$(heads hit "$T/c"); misses=$(heads miss "$T/c")
echo "fewshot_resume: $total heads; killed after $done_before stored; rerun $hits hits, $misses misses"
[ "$hits" = "$done_before" ] || fail "rerun hit $hits heads, $done_before were stored"
[ $((hits + misses)) = "$total" ] || fail "rerun looked up $((hits + misses)) heads, expected $total"

# the same numbers as the uninterrupted run
python3 - "$T/ref.json" "$T/resumed.json" <<'EOF' || fail "results differ from the uninterrupted run"
import json, sys
a, b = (json.load(open(p))["results"] for p in sys.argv[1:3])
keys = sorted(k for k in a if k.startswith("fewshot."))
diff = [k for k in keys if a[k] != b.get(k)]
print("fewshot_resume: %d fewshot results compared, %d differ" % (len(keys), len(diff)))
for k in diff[:10]: print("  %s: %r vs %r" % (k, a[k], b.get(k)))
sys.exit(1 if diff or len(keys) < 20 else 0)
EOF
echo "fewshot_resume: ok"
