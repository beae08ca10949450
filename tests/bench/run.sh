#!/bin/sh
# make bench: runs every benchmark script tests/bench/bench_*.sh. Each writes
# its records as a JSON array to $BUILD/bench/part-<name>.json, in the
# record format {"name","value","unit","peer","peer_value","ratio"} (ratio:
# how many times faster clipbook is than the peer; above 1 is faster), and
# prints its own table. The parts are merged into $BUILD/bench/engine.json
# (the CLIP model figures into clip.json, from parts named part-clip-*.json).
set -u
# OpenBLAS's idle threads spin for ~0.1 s after each call; a benchmark that
# alternates a raw cblas_sgemm with the engine then measures the engine on
# one free core (engine/NOTES.md). Both sides (and PyTorch, which uses
# OpenBLAS here) run with idle threads that sleep at once.
export OPENBLAS_THREAD_TIMEOUT="${OPENBLAS_THREAD_TIMEOUT:-4}"
# Every peer the benchmarks measure against, installed once here (as root,
# from Debian) so that no benchmark dies on a missing module halfway through.
peers_missing=""
/usr/bin/python3 -c 'import torch' 2>/dev/null || peers_missing="$peers_missing python3-torch"
/usr/bin/python3 -c 'import sklearn' 2>/dev/null || peers_missing="$peers_missing python3-sklearn"
if [ -n "$peers_missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bench: installing$peers_missing"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $peers_missing >/dev/null ||
      { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $peers_missing >/dev/null; } ||
      echo "bench: could not install$peers_missing; their peers are skipped"
  else
    echo "bench: missing peers:$peers_missing (sudo apt-get install$peers_missing); their figures are skipped"
  fi
fi
B="${BUILD:-build}/bench"
mkdir -p "$B"; rm -f "$B"/part-*.json
rc=0
for b in tests/bench/bench_*.sh; do
  [ -e "$b" ] || continue
  echo "== $b"; BENCH_DIR="$B" sh "$b" || rc=1
done
/usr/bin/python3 - "$B" <<'PY'
import glob, json, os, sys
d = sys.argv[1]
for out, pat in (("engine.json", "part-[!c]*.json"), ("clip.json", "part-clip-*.json")):
    recs = []
    for f in sorted(glob.glob(os.path.join(d, pat))):
        recs += json.load(open(f))
    json.dump(recs, open(os.path.join(d, out), "w"), indent=1)
    print(f"bench: {len(recs)} records -> {os.path.join(d, out)}")
PY
exit $rc
