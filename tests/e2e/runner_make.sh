#!/bin/sh
# `make report` over sample chapters: what reruns, failing chapters, the
# merged results.json, progress lines; and `clipbook watch` rerunning on save.
set -eu
CB=${CLIPBOOK:-build/bin/clipbook}
case $CB in /*) ;; *) CB=$PWD/$CB ;; esac
SRC=$PWD/tests/runner/chapters
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
mkdir "$T/ch"
cp "$SRC"/profiles.lua "$SRC"/01-basic.lua "$SRC"/02-fail.lua "$SRC"/03-memo.lua "$T/ch/"
export CLIPBOOK_CACHE=$T/cache
fail() { echo "FAIL: $*"; cat "$T/out" 2>/dev/null; exit 1; }
mk() { rc=0; make --no-print-directory -s report SANITIZE=${SANITIZE:-0} PROFILE=${P:-smoke} CHAPTERS_DIR="$T/ch" \
         DOC_DIR="$T/doc" REPORT_DIR="$T/report" > "$T/out" 2>&1 || rc=$?; }
ran() { grep -c "$1  \(done\|FAILED\) in" "$T/out" || true; }

mk
[ "$rc" != 0 ] || fail "a failing chapter must make 'make report' fail"
[ "$(ran 01-basic)" = 1 ] && [ "$(ran 03-memo)" = 1 ] && [ "$(ran 02-fail)" = 1 ] || fail "first run should run all three"
grep -q '^\[2/3\] 02-fail  cell 1/4 "ok cell"' "$T/out" || fail "progress lines should read [2/3] 02-fail  cell 1/4 \"ok cell\""
grep -q '"basic.sum":[[:space:]]*5' "$T/report/results.json" && grep -q '"memo.b":[[:space:]]*30' "$T/report/results.json" \
  || fail "results.json should hold every chapter's results"

mk
[ "$(ran 01-basic)" = 0 ] && [ "$(ran 03-memo)" = 0 ] || fail "unchanged chapters must not rerun"
[ "$(ran 02-fail)" = 1 ] || fail "a failed chapter must rerun until it passes"

sed -i 's/^-- Prose that the tests edit./-- New prose./' "$T/ch/03-memo.lua"
: > "$T/cache/memo.log"
mk
[ "$(ran 03-memo)" = 1 ] && [ "$(ran 01-basic)" = 0 ] || fail "an edited chapter reruns, the others do not"
! grep -q '^miss' "$T/cache/memo.log" || fail "a prose edit must recompute nothing"

P=mini mk
[ "$(ran 01-basic)" = 1 ] && [ "$(ran 03-memo)" = 1 ] || fail "a profile change reruns every chapter"

# a summary chapter (09, 10) runs after the others even when one of them
# failed, lists it, and never reruns a chapter of the first pass
cat > "$T/ch/09-sum.lua" <<'LUA'
-- %% [markdown]
-- # Summary of the fragments there are

-- %% gather
local n, failed = 0, {}
local p = io.popen('ls "' .. os.getenv("CLIPBOOK_DOC_DIR") .. '"/0[1-8]*.json')
for path in p:lines() do
  n = n + 1
  local f = io.open(path, "rb"); local s = f:read("a"); f:close()
  if s:find('"type":%s*"error"') then failed[#failed + 1] = path:match("([^/]*)%.json$") end
end
p:close()
result("summary.fragments", n)
result("summary.failed", table.concat(failed, ","))
LUA
P=mini mk
[ "$rc" != 0 ] || fail "a failing chapter must still make 'make report' fail"
[ "$(ran 09-sum)" = 1 ] || fail "09 must run although 02-fail failed"
[ "$(ran 02-fail)" = 1 ] || fail "02-fail must run once per make report, not again for the summary"
grep -q '"summary.failed":[[:space:]]*"02-fail"' "$T/report/results.json" || fail "09 should list 02-fail as failed"
[ -s "$T/report/report.pdf" ] || ! "$CB" help | grep -q '^  render ' || fail "no report.pdf with a failed chapter"
rm "$T/ch/09-sum.lua"

# watch: one run at start, one after a save
"$CB" watch --cmd "echo ran >> $T/watch.log" --pdf "$T/none.pdf" --max-runs 2 "$T/ch" 2> "$T/out" & w=$!
i=0; while [ ! -s "$T/watch.log" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
sleep 0.3
echo "-- touched" >> "$T/ch/01-basic.lua"
i=0; while kill -0 $w 2>/dev/null && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
kill $w 2>/dev/null && fail "watch did not rerun after a save"
[ "$(wc -l < "$T/watch.log")" = 2 ] || fail "watch should have run twice"
grep -q '01-basic.lua changed' "$T/out" || fail "watch should say what changed"
echo "runner_make: all steps passed"
