#!/bin/sh
# The memo store seen from chapters: what reruns after which edit, corrupt
# and half-written entries, two processes on one artifact, failing cells.
set -eu
CB=${CLIPBOOK:-build/bin/clipbook}
case $CB in /*) ;; *) CB=$PWD/$CB ;; esac
SRC=$PWD/tests/runner/chapters
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
cd "$T"; mkdir ch
cp "$SRC"/profiles.lua "$SRC"/01-basic.lua "$SRC"/02-fail.lua "$SRC"/03-memo.lua "$SRC"/04-slow.lua "$SRC"/09-replay.lua \
   "$SRC"/13-reads.lua "$SRC"/shared.lua ch/
export CLIPBOOK_CACHE=$T/cache
LOG=$T/cache/memo.log
fail() { echo "FAIL: $*"; echo "--- memo.log"; cat "$LOG" 2>/dev/null; exit 1; }
run() { mkdir -p "$T/cache"; : > "$LOG"; "$CB" run ch/03-memo.lua --quiet --profile smoke --out doc/03-memo.json "$@"; }
count() { grep -c "^$1 $2 " "$LOG" || true; }
expect() { # event name n
  n=$(count "$1" "$2"); [ "$n" = "$3" ] || fail "$STEP: expected $3 '$1 $2', got $n"
}

STEP="first run";      run;  expect miss exp_a 1; expect miss exp_b 1
grep -q '"memo.b":30' doc/03-memo.json || fail "$STEP: memo.b should be 30"
grep -q 'a = 10, b = 30' doc/03-memo.json || fail "$STEP: prose values"

STEP="prose edit";     sed -i -e 's/Prose that the tests edit./Other words./' -e 's/^-- a = {{ a }}/-- Edited prose, {{ a + 1 }}. a = {{ a }}/' ch/03-memo.lua
run; expect hit exp_a 1; expect hit exp_b 1; expect miss exp_a 0; expect miss exp_b 0
grep -q 'Edited prose, 11' doc/03-memo.json || fail "$STEP: new prose not written"

STEP="code edit of exp_b"; sed -i 's/tag = "b"/tag = "bb"/' ch/03-memo.lua
run; expect hit exp_a 1; expect miss exp_b 1
grep "^miss exp_b" "$LOG" | grep -q 'source changed' || fail "$STEP: why should say source changed"
"$CB" cache why exp_b > why.txt
grep -q '^    - .*tag = "b" }' why.txt && grep -q '^    + .*tag = "bb" }' why.txt || { cat why.txt; fail "$STEP: cache why should show the source diff"; }

STEP="code edit of exp_a changes its value"; sed -i 's/s = s + i/s = s + 2 * i/' ch/03-memo.lua
run; expect miss exp_a 1; expect miss exp_b 1
grep "^miss exp_b" "$LOG" | grep -q 'params changed: base 10 -> 20' || fail "$STEP: why should name the parameter"

STEP="comment-only edit above the function"; sed -i 's/^-- %% experiments/-- %% experiments echo=true/' ch/03-memo.lua
run; expect hit exp_a 1; expect hit exp_b 1

STEP="chapter variable used by fn"; sed -i 's/local scale = 3/local scale = 4/' ch/03-memo.lua
run; expect hit exp_a 1; expect miss exp_b 1
"$CB" cache why exp_b | grep -q 'scale 3 -> 4' || fail "$STEP: cache why should name 'scale'"

STEP="parameter change (profile n)"; : > "$LOG"
"$CB" run ch/03-memo.lua --quiet --profile mini --out doc/03-memo.json
expect miss exp_a 1; expect miss exp_b 1
grep "^miss exp_a" "$LOG" | grep -q 'profile smoke -> mini' || fail "$STEP: why should name the profile"

# the entry this run reads: its key from the log
entry() { k=$(grep "^hit $1 " "$LOG" | tail -1 | cut -d' ' -f3); ls "$T"/cache/$1/$k*.val; }
STEP="corrupt entry"; run >/dev/null 2>&1
f=$(entry exp_a); : > "$LOG"
head -c 30 "$f" > "$f.x" && mv "$f.x" "$f"
run 2> err.txt; expect corrupt exp_a 1; expect miss exp_a 1
grep -q 'corrupt cache entry' err.txt || fail "$STEP: not reported on stderr"
grep -q '"memo.a":20' doc/03-memo.json || fail "$STEP: wrong value after recompute"

STEP="flipped byte"; run; f=$(entry exp_a); : > "$LOG"
printf 'X' | dd of="$f" bs=1 seek=50 conv=notrunc 2>/dev/null
run 2> err.txt; expect corrupt exp_a 1
grep -q 'checksum' err.txt || fail "$STEP: checksum mismatch not reported"

STEP="killed writer"; : > "$LOG"
rm -rf "$T/cache/slow"
SLOW_S=5 "$CB" run ch/04-slow.lua --quiet --out doc/04-slow.json & pid=$!
sleep 1; kill -9 $pid; wait $pid 2>/dev/null || true
[ -z "$(ls "$T"/cache/slow/*.val 2>/dev/null)" ] || fail "$STEP: an entry exists after a killed run"
SLOW_S=0 "$CB" run ch/04-slow.lua --quiet --out doc/04-slow.json || fail "$STEP: rerun failed (stale lock?)"
grep -q '"slow.v":42' doc/04-slow.json || fail "$STEP: wrong value"

STEP="two processes"; rm -rf "$T/cache/slow"; : > "$LOG"
SLOW_S=2 "$CB" run ch/04-slow.lua --quiet --out doc/s1.json & p1=$!
SLOW_S=2 "$CB" run ch/04-slow.lua --quiet --out doc/s2.json & p2=$!
wait $p1; wait $p2
# computed once; the other run waited for it (or, on a very loaded machine,
# started after it was stored)
expect miss slow 1
[ $(( $(count wait-hit slow) + $(count hit slow) )) = 1 ] || fail "$STEP: the second run should read the first one's entry"
grep -q '"slow.v":42' doc/s2.json && grep -q '"slow.v":42' doc/s1.json || fail "$STEP: values"

STEP="failing cell"; rc=0
"$CB" run ch/02-fail.lua --quiet --profile smoke --out doc/02-fail.json 2> err.txt || rc=$?
[ "$rc" = 1 ] || fail "$STEP: exit status $rc, expected 1"
grep -q '02-fail.lua:12: attempt to index a nil value' err.txt || fail "$STEP: stderr lacks the message"
grep -q '"type":"error"' doc/02-fail.json || fail "$STEP: no error block"
grep -q '02-fail.lua:14: in cell 3' doc/02-fail.json || fail "$STEP: traceback should point at the chapter line"
grep -q '"skipped":"an earlier cell failed"' doc/02-fail.json || fail "$STEP: later cell should be skipped"
"$CB" run ch/01-basic.lua --quiet --profile smoke --out doc/01-basic.json || fail "$STEP: another chapter failed"
grep -q '"numbers":true' doc/01-basic.json || fail "numbers=true should reach the code block"

STEP="replay of what a cached experiment wrote"
"$CB" run ch/09-replay.lua --quiet --out doc/r1.json; "$CB" run ch/09-replay.lua --quiet --out doc/r2.json
[ "$(grep -c '^hit replay_train' "$LOG")" -ge 1 ] || fail "$STEP: second run should hit"
b1=$(sed 's/"provenance":{[^]]*\][^}]*}//' doc/r1.json); b2=$(sed 's/"provenance":{[^]]*\][^}]*}//' doc/r2.json)
[ "$b1" = "$b2" ] || fail "$STEP: the document differs between computing and replaying"
grep -q 'epoch\\t3\\ndone training' doc/r2.json || fail "$STEP: printed lines not replayed"
grep -q '"fig-replay"' doc/r2.json && grep -q '"replay.acc":0.75' doc/r2.json || fail "$STEP: figure/result not replayed"

STEP="cache clean --stale"
before=$(ls "$T"/cache/exp_b/*.val | wc -l)
"$CB" cache clean --stale > out.txt
after=$(ls "$T"/cache/exp_b/*.val | wc -l)
[ "$before" -gt "$after" ] || fail "$STEP: superseded exp_b entries should go ($before -> $after)"
: > "$LOG"; run; expect hit exp_a 1; expect hit exp_b 1

STEP="orphaned temporary files"
dead=$(sh -c 'echo $$')   # a shell that has exited: its PID is gone
k=$(ls "$T"/cache/exp_a/*.val | head -1); k=${k%.val}
touch "$k.val.tmp.$dead.0" "$T/cache/exp_a/index.json.tmp.$dead.1" "$k.val.tmp.$$.0"
mkdir -p "$T/cache/files"; touch -d '-10 minutes' "$T/cache/files/pre.state.tmp.$dead.2"
run
[ -e "$k.val.tmp.$dead.0" ] || [ -e "$T/cache/exp_a/index.json.tmp.$dead.1" ] || [ -e "$T/cache/files/pre.state.tmp.$dead.2" ] \
  && fail "$STEP: a dead writer's temporary file survived the store's opening"
[ -e "$k.val.tmp.$$.0" ] || fail "$STEP: a live writer's temporary file was removed"
grep -q '^sweep .*removed 3 orphaned' "$LOG" || fail "$STEP: the sweep is not logged"
touch "$k.val.tmp.$dead.3"; "$CB" cache clean --stale > out.txt
grep -q 'removed 1 orphaned temporary file' out.txt || { cat out.txt; fail "$STEP: cache clean --stale should remove it"; }
rm -f "$k.val.tmp.$$.0"

STEP="corrupt index.json"; run
printf '{"entries": [{"key": "' > "$T/cache/exp_a/index.json"
: > "$LOG"; run 2> err.txt; expect hit exp_a 1
"$CB" cache ls > ls.txt 2>> err.txt
grep -q '^exp_a ' ls.txt || fail "$STEP: cache ls should list exp_a"
[ "$(grep -c 'exp_a/index.json is corrupt' err.txt)" = 1 ] || { cat err.txt; fail "$STEP: should be reported once on stderr"; }
"$CB" cache why exp_a > why.txt 2>&1 || fail "$STEP: cache why exp_a failed"
grep -q 'params: {"n":' why.txt || { cat why.txt; fail "$STEP: the rebuilt index lost the components"; }

# what a function reads, not what its text mentions
reads() { mkdir -p "$T/cache"; : > "$LOG"; "$CB" run ch/13-reads.lua --quiet --profile smoke --out doc/13-reads.json; }
STEP="reads: first run"; reads; expect miss bench 1; expect miss bench2 1; expect miss shared.twice 1
grep -q '"reads.bench":40' doc/13-reads.json || fail "$STEP: reads.bench should be 3*10+7+3"
STEP="reads: a profile field no function reads"; sed -i 's/epochs = 20/epochs = 30/' ch/profiles.lua
reads; expect hit bench 1; expect hit bench2 1
STEP="reads: a field a helper reads"; sed -i 's/steps = 3/steps = 4/' ch/profiles.lua
reads; expect miss bench 1; expect miss bench2 1
grep "^miss bench " "$LOG" | grep -q 'why=variables changed: S.steps>profile.bench.steps 3 -> 4$' || fail "$STEP: why should name the field and both values"
grep "^miss bench2 " "$LOG" | grep -q 'why=params changed: b.steps 3 -> 4$' || fail "$STEP: why should name the parameter's field"
"$CB" cache why bench | grep -q 'why: variables changed: S.steps>profile.bench.steps 3 -> 4' || fail "$STEP: cache why"
STEP="reads: comment-only edit of the shared module"
sed -i -e 's/^local function scale(x) return x \* 2 end/-- doubles\nlocal function scale(x)   return x * 2   -- twice\nend/' -e '1i -- a comment at the top' ch/shared.lua
grep -q '^-- doubles' ch/shared.lua || fail "$STEP: the edit did not apply"
reads; expect hit shared.twice 1; expect hit shared.thrice 1; expect miss bench 0
STEP="reads: code edit of one helper"; sed -i 's/return x \* 2 /return x * 2 + 0 /' ch/shared.lua
reads; expect miss shared.twice 1; expect hit shared.thrice 1
grep "^miss shared.twice " "$LOG" | grep -q 'why=variables changed: scale: code changed' || fail "$STEP: why should name the helper"
STEP="reads: edit of a one-line memo with a function in its params"; sed -i 's/return q.g + 1 end)$/return q.g + 2 end)/' ch/13-reads.lua
reads; expect miss oneline 1
grep -q '"reads.one":3' doc/13-reads.json || fail "$STEP: stale value"

STEP="cache clean"; "$CB" cache clean exp_a >/dev/null; "$CB" cache ls | grep -q '^exp_a ' && fail "$STEP: exp_a still listed"
"$CB" cache ls | grep -q '^exp_b ' || fail "$STEP: exp_b gone too"
echo "runner_memo: all steps passed"
