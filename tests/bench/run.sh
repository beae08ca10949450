#!/bin/sh
# make bench: runs every benchmark script tests/bench/bench_*.sh. Each writes
# its records as a JSON array to $BUILD/bench/part-<name>.json, in the
# record format {"name","value","unit","peer","peer_value","ratio"} (ratio:
# how many times faster clipbook is than the peer; above 1 is faster), and
# prints its own table. The parts are merged into $BUILD/bench/engine.json
# (the CLIP model figures into clip.json, from parts named part-clip-*.json),
# each {"machine": {...}, "records": [...]}, the machine from bench_machine
# (CPU model, flags, cores, threads, OpenBLAS kernel, the GEMM paths that ran).
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
mkdir -p "$B"; rm -f "$B"/part-*.json "$B"/machine.json
rc=0
# the machine first: its GEMM paths are measured here if this is the first
# run on it (engine/en_machine.h), not in the middle of a benchmark
"${BUILD:-build}/bench/bench_machine" "${BENCH_THREADS:-2}" > "$B/machine.json" || rc=1
echo "bench: $(/usr/bin/python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["cpu"], "|", m["flags"], "|", m["cores_online"], "cores,", m["threads"], "threads |", m["compute"], "(" + m["gemm_chosen_by"] + ")")' "$B/machine.json")"
for b in tests/bench/bench_*.sh; do
  [ -e "$b" ] || continue
  echo "== $b"; BENCH_DIR="$B" sh "$b" || rc=1
done
/usr/bin/python3 - "$B" <<'PY'
import glob, json, os, sys
d = sys.argv[1]
machine = json.load(open(os.path.join(d, "machine.json")))
for out, pat in (("engine.json", "part-[!cm]*.json"), ("clip.json", "part-clip-*.json")):
    recs = []
    for f in sorted(glob.glob(os.path.join(d, pat))):
        recs += json.load(open(f))
    json.dump({"machine": machine, "records": recs}, open(os.path.join(d, out), "w"), indent=1)
    print(f"bench: {len(recs)} records -> {os.path.join(d, out)} (machine: {machine['cpu']}, {machine['compute']})")
PY
exit $rc
