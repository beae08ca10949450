#!/bin/sh
# Limits of a run (issue 12.6) and the runner's messages (12.10): a cell's
# time limit (cell option, CLIPBOOK_CELL_TIMEOUT, inside a memo function),
# capped output with the whole text in a side file, a million-point figure
# thinned; messages in the file:line: form, locals named as written.
set -eu
CB=${CLIPBOOK:-build/bin/clipbook}
case $CB in /*) ;; *) CB=$PWD/$CB ;; esac
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
cd "$T"; mkdir ch
export CLIPBOOK_CACHE=$T/cache
fail() { echo "FAIL: $*"; cat err.txt 2>/dev/null; exit 1; }
now() { date +%s; }

STEP="time limit of a cell"
cat > ch/01-loop.lua <<'LUA'
-- %% [markdown]
-- # Loops

-- %% spin timeout=1 error=true
while true do end

-- %% after
print("never")
LUA
t0=$(now); rc=0; "$CB" run ch/01-loop.lua --quiet --out doc/01.json 2> err.txt || rc=$?; t1=$(now)
[ "$rc" = 1 ] || fail "$STEP: exit $rc, expected 1 (a time limit is not tolerated by error=true)"
[ $((t1 - t0)) -lt 30 ] || fail "$STEP: took $((t1 - t0)) s for a 1 s limit"
grep -q 'ch/01-loop.lua:5: cell 1 exceeded its time limit of 1 s (set timeout=' doc/01.json || fail "$STEP: no error block"
grep -q '"skipped":"an earlier cell failed"' doc/01.json || fail "$STEP: the next cell should be skipped"

STEP="time limit inside a memo function, from the environment"
cat > ch/02-memo.lua <<'LUA'
-- %% [markdown]
-- # Memo loop

-- %% spin in memo
local v = memo("spin", {}, function()
  local n = 0
  while true do n = (n + 1) % 7; pcall(function() end) end
end)
LUA
t0=$(now); rc=0; CLIPBOOK_CELL_TIMEOUT=1 "$CB" run ch/02-memo.lua --quiet --out doc/02.json 2> err.txt || rc=$?; t1=$(now)
[ "$rc" = 1 ] && [ $((t1 - t0)) -lt 30 ] || fail "$STEP: exit $rc after $((t1 - t0)) s"
grep -q 'ch/02-memo.lua:7: cell 1 exceeded its time limit of 1 s' doc/02.json || fail "$STEP: no error block"
rc=0; CLIPBOOK_CELL_TIMEOUT=soon "$CB" run ch/02-memo.lua --quiet --out doc/02.json 2> err.txt || rc=$?
[ "$rc" = 1 ] && grep -q "CLIPBOOK_CELL_TIMEOUT: a time limit must be a positive number of seconds, got 'soon'" err.txt \
  || fail "$STEP: a bad CLIPBOOK_CELL_TIMEOUT should be refused"

STEP="output cap"
cat > ch/03-loud.lua <<'LUA'
-- %% [markdown]
-- # Loud

-- %% loud
for i = 1, 200000 do print(string.format("line %06d %s", i, string.rep("x", 38))) end

-- %% after
print("after the flood")
LUA
"$CB" run ch/03-loud.lua --quiet --out doc/03-loud.json 2> err.txt || fail "$STEP: run failed"
size=$(wc -c < doc/03-loud.json)
[ "$size" -lt 100000 ] || fail "$STEP: fragment of $size bytes"
[ "$(wc -l < doc/03-loud.out/cell1.txt)" = 200000 ] || fail "$STEP: the side file should hold all 200,000 lines"
grep -q 'Output truncated: the cell printed 10.2 MB in 200,000 lines; the first 200 lines are shown. Full text in `doc/03-loud.out/cell1.txt`' doc/03-loud.json \
  || fail "$STEP: the document should say so"
grep -q 'line 000200 x' doc/03-loud.json && ! grep -q 'line 000201' doc/03-loud.json || fail "$STEP: 200 lines shown"
grep -q 'after the flood' doc/03-loud.json || fail "$STEP: the next cell's output"
"$CB" render doc/03-loud.json --out rep --no-html 2> err.txt || fail "$STEP: render failed"
pages=$(pdfinfo rep/report.pdf | sed -n 's/^Pages: *//p')
[ "$pages" -lt 20 ] || fail "$STEP: $pages pages"

STEP="a million-point figure"
cat > ch/04-fig.lua <<'LUA'
-- %% [markdown]
-- # Dense

-- %% figure
local x, y = {}, {}
for i = 1, 1000000 do x[i] = i / 1e6; y[i] = math.sin(40 * math.pi * x[i]) end
figure{ kind = "line", label = "fig-dense", series = { { name = "sine", x = x, y = y } } }
LUA
"$CB" run ch/04-fig.lua --quiet --out doc/04-fig.json 2> err.txt || fail "$STEP: run failed"
size=$(wc -c < doc/04-fig.json)
[ "$size" -lt 2000000 ] || fail "$STEP: fragment of $size bytes (a million points unthinned is ~39 MB)"
/usr/bin/python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); s = [b for b in d["blocks"] if b["type"] == "figure"][0]["spec"]; assert 1000 < len(s["series"][0]["y"]) < 40000, len(s["series"][0]["y"])' doc/04-fig.json \
  || fail "$STEP: the series should be thinned, not dropped"

STEP="messages"
printf -- '-- %%%% [markdown]\n-- # Options\n\n-- %%%% bad echo=maybe\nprint(1)\n' > ch/05-opt.lua
rc=0; "$CB" run ch/05-opt.lua --quiet --out doc/05.json 2> err.txt || rc=$?
grep -q '^ch/05-opt.lua:4: option echo=maybe must be true or false' err.txt || fail "$STEP: option message not file:line:"
printf -- '-- %%%% [markdown]\n-- ok\nnot a comment\n' > ch/06-parse.lua
rc=0; "$CB" run ch/06-parse.lua --quiet --out doc/06.json 2> err.txt || rc=$?
grep -q "^clipbook run: ch/06-parse.lua:3: a line of a \[markdown\] cell must start with '--'" err.txt || fail "$STEP: parse message not file:line:"
printf -- '-- %%%% define\nlocal t = nil\n\n-- %%%% use\nprint(t.x)\n' > ch/07-local.lua
rc=0; "$CB" run ch/07-local.lua --quiet --out doc/07.json 2> err.txt || rc=$?
grep -q "ch/07-local.lua:5: attempt to index a nil value (local 't')" err.txt || fail "$STEP: a chapter local should be called local"
rc=0; "$CB" results doc/none.json --out res.json 2> err.txt || rc=$?
[ "$rc" = 1 ] && grep -q '^clipbook results: doc/none.json: cannot open' err.txt && ! grep -q 'none.json: doc/none.json' err.txt \
  || fail "$STEP: results should name the path once"
echo "runner_limits: all steps passed"
