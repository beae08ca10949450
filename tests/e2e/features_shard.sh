#!/bin/sh
# Feature extraction in shards (chapters/extract.lua, `clipbook run --shard
# I/N`), on the paper fixture, with N = 3 local processes at once on one
# memo store:
#   1. each computes exactly the chunks K with K-1 = I mod 3, every chunk of
#      every feature set is computed once in all (memo.log), and a chapter
#      asking for assembled features under --shard is refused;
#   2. the next ordinary run of extract.lua finds every chunk (no miss);
#   3. the features the chapters read, assembled from the shards' chunks,
#      are bit-identical to a one-process run's in a fresh store;
#   4. a Slurm job array (tests/e2e/lib/slurm_array.sh) where slurmctld, slurmd
#      and munge can be started on this one node; otherwise it says why not.
set -eu
CB=${CLIPBOOK:-build/bin/clipbook}
case $CB in /*) ;; *) CB=$PWD/$CB ;; esac
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; tail -n 30 "$T/out" 2>/dev/null; exit 1; }
sh tests/paper/make_fixture.sh "$T/data" > "$T/out" 2>&1 || fail "make_fixture.sh"
export DATA_DIR=$T/data STUDY=$PWD/chapters/study.lua OUT_DIR
RUN="$CB run --profiles chapters/profiles.lua --profile paper-fixture --quiet --threads 1"
export CLIPBOOK_CACHE=$T/cache

pids=""
for i in 0 1 2; do
  timeout 300 $RUN chapters/extract.lua --shard $i/3 --out "$T/shard$i.json" > "$T/shard$i.out" 2>&1 &
  pids="$pids $!"
done
i=0
for p in $pids; do
  wait "$p" || { cp "$T/shard$i.out" "$T/out"; fail "shard $i/3 exited non-zero"; }
  i=$((i + 1))
done
grep "^miss features\." "$CLIPBOOK_CACHE/memo.log" | awk '{print $2}' | sort > "$T/computed"
[ -s "$T/computed" ] || fail "the shards computed no chunk"
dups=$(uniq -d "$T/computed" | wc -l)
[ "$dups" = 0 ] || fail "$dups chunks were computed by more than one shard"
# each shard's chunks: K-1 = I mod 3 (its pid in the log's pid= field)
for i in 0 1 2; do
  pid=$(echo $pids | cut -d' ' -f$((i + 1)))
  bad=$(grep "^miss features\..* pid=$pid " "$CLIPBOOK_CACHE/memo.log" | awk '{print $2}' \
        | awk -F. -v i=$i -v n=3 '(($NF - 1) % n) != i' | wc -l)
  [ "$bad" = 0 ] || fail "shard $i/3 computed $bad chunks of another shard"
done
rc=0; $RUN chapters/03-linear-probe.lua --shard 0/3 --out "$T/refused.json" > "$T/out" 2>&1 || rc=$?
[ "$rc" != 0 ] && grep -q "a shard only extracts" "$T/refused.json" || fail "a chapter assembled features under --shard"
echo "1. 3 shards at once: $(wc -l < "$T/computed") chunks, each computed once, by its shard"

n0=$(wc -l < "$CLIPBOOK_CACHE/memo.log")
$RUN chapters/extract.lua --out "$T/merge.json" > "$T/out" 2>&1 || fail "the ordinary run after the shards failed"
new=$(tail -n +"$((n0 + 1))" "$CLIPBOOK_CACHE/memo.log")
misses=$(echo "$new" | grep -c "^miss " || true)
hits=$(echo "$new" | grep -c "^hit features\." || true)
[ "$misses" = 0 ] && [ "$hits" = "$(wc -l < "$T/computed")" ] || fail "after the shards: $misses misses, $hits hits"
echo "2. the ordinary run after them: $hits hits, 0 misses"

cat > "$T/save.lua" <<'EOF'
-- %% save
local S = assert(loadfile(os.getenv("STUDY")))().new { memo = memo, profile = profile, cb = cb }
for _, f in ipairs(S.feature_sets()) do
  local path = string.format("%s/%s.%s.%s.npy", os.getenv("OUT_DIR"), f.tower, f.split, f.kind)
  assert(S.features(f.tower, f.split, f.kind):save_npy(path))
end
EOF
mkdir -p "$T/sharded" "$T/one"
OUT_DIR=$T/sharded $RUN "$T/save.lua" --out "$T/save1.json" > "$T/out" 2>&1 || fail "assembling failed"
CLIPBOOK_CACHE=$T/cache2 OUT_DIR=$T/one $RUN "$T/save.lua" --out "$T/save2.json" > "$T/out" 2>&1 || fail "the one-process run failed"
n=0
for f in "$T"/one/*.npy; do
  cmp -s "$f" "$T/sharded/$(basename "$f")" || fail "$(basename "$f"): sharded and one-process features differ"
  n=$((n + 1))
done
[ "$n" -ge 10 ] || fail "only $n feature sets compared"
echo "3. $n feature sets assembled from the shards: bit-identical to one process's"

sh tests/e2e/lib/slurm_array.sh "$T" || fail "the Slurm job array"
echo "features_shard: ok"
