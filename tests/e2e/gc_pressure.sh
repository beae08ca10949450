#!/bin/sh
# A Lua loop that makes a large tensor each step and drops it (chapter 6's
# VQ-VAE batches) must not hold the dead ones: a tensor's data is engine
# memory the Lua collector cannot see, so lua/bind/lx_tensor.c advances the
# collector by each new tensor's size. 1,500 tensors of 1 MiB each, one
# alive at a time: without that, the process peaked above 1.5 GB; with it,
# it stays within a few live tensors of its start-up size (the bound is
# relative to one tensor's run). Under SANITIZE=1, ASan keeps freed memory
# in a quarantine (256 MB by default) to catch use after free: that is the
# sanitizer holding memory, not the bindings, so it is off for this test.
set -eu
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0"; export ASAN_OPTIONS
CB=${CLIPBOOK:-build/bin/clipbook}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
export CLIPBOOK_CACHE=$T/cache
cat > "$T/01-gc.lua" <<'L'
-- %% loop
local s = 0
for i = 1, 1500 do
  local x = cb.zeros(262144) + i   -- 1 MiB of float32, dead after this step
  s = s + x:sum():item()
end
print(s > 0)
L
cat > "$T/01-small.lua" <<'L'
-- %% loop
local x = cb.zeros(262144) + 1
print(x:sum():item() > 0)
L
peak() { /usr/bin/time -f %M "$CB" run "$1" --quiet --out "$T/out.json" 2>&1 >/dev/null | tail -n 1; }
base=$(peak "$T/01-small.lua"); loop=$(peak "$T/01-gc.lua")
echo "gc_pressure: peak $loop KB after 1,500 dead 1 MiB tensors, $base KB for one"
# 200 MiB of slack: dozens of dead tensors may wait for the next step
[ "$loop" -lt $((base + 204800)) ] || { echo "FAIL: dead tensors are held (peak $loop KB against $base KB)"; exit 1; }
