#!/bin/sh
# Invalid UTF-8 never truncates a report (issue 12.2): the runner writes a
# valid fragment (U+FFFD, a warning block and a stderr warning naming the
# line and byte offset); the renderer turns a fragment that is not valid
# UTF-8 / JSON into an error chapter, renders the others and exits 1.
set -eu
CB=${CLIPBOOK:-build/bin/clipbook}
case $CB in /*) ;; *) CB=$PWD/$CB ;; esac
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
cd "$T"; mkdir ch
export CLIPBOOK_CACHE=$T/cache
fail() { echo "FAIL: $*"; exit 1; }
# the repro of the issue: raw bytes in prose, a cell printing "\xff"
printf -- '-- %%%% [markdown]\n-- # Bad chapter\n--\n-- Bad bytes: \377\376 here\n\n-- %%%% cell\nprint("\\xff")\n' > ch/01-bad.lua
printf -- '-- %%%% [markdown]\n-- # Good chapter\n--\n-- The zebra quokka sentence.\n\n-- %%%% cell\nprint("good output line")\n' > ch/02-good.lua
"$CB" run ch/01-bad.lua --quiet --out doc/01-bad.json 2> err.txt || fail "a chapter with invalid UTF-8 should still run"
"$CB" run ch/02-good.lua --quiet --out doc/02-good.json
grep -q '01-bad.lua:4: warning: invalid UTF-8 (byte 0xFF at byte 52 of the file' err.txt || { cat err.txt; fail "stderr should name the line and offset"; }
grep -q 'cell 1: warning: printed invalid UTF-8' err.txt || { cat err.txt; fail "stderr should name the printing cell"; }
/usr/bin/python3 -c 'import json, sys; json.load(open(sys.argv[1], encoding="utf-8", errors="strict"))' doc/01-bad.json \
  || fail "the fragment must be valid UTF-8 JSON"
rc=0; "$CB" render doc/01-bad.json doc/02-good.json --out rep 2> render.txt || rc=$?
[ "$rc" = 0 ] || { cat render.txt; fail "render of the repaired fragment: exit $rc"; }
pdftotext rep/report.pdf rep.txt
grep -q 'The zebra quokka sentence' rep.txt && grep -q 'good output line' rep.txt || fail "the other chapter is missing from the PDF"
grep -q 'Invalid UTF-8' rep.txt && grep -q '01-bad.lua:4: invalid UTF-8' rep.txt || fail "no visible warning in the PDF"
! grep -q 'Pango-WARNING' render.txt || fail "pango was given invalid UTF-8"

# a fragment written with raw bytes (as clipbook did before): an error
# chapter, the rest renders, exit 1
printf '{"format":"clipbook-doc/1","chapter":"01-raw","blocks":[{"type":"markdown","text":"# Raw\\n\\nBad bytes: \377\376"}]}\n' > doc/01-raw.json
printf '{"format":"clipbook-doc/1","chapter":"03-cut","blocks":[{"type":"markdown","text":"# Cut' > doc/03-cut.json
rc=0; "$CB" render doc/01-raw.json doc/02-good.json doc/03-cut.json --out rep2 2> render.txt || rc=$?
[ "$rc" = 1 ] || { cat render.txt; fail "render of a bad fragment should exit 1, got $rc"; }
pdftotext rep2/report.pdf rep2.txt
grep -q 'The zebra quokka sentence' rep2.txt && grep -q 'good output line' rep2.txt || fail "the good chapter is missing beside bad ones"
grep -q '01-raw.json: not valid UTF-8 (byte 0xFF at byte offset' rep2.txt || fail "no error block for the raw fragment"
grep -q '03-cut.json: not valid JSON' rep2.txt || fail "no error block for the cut fragment"
grep -q '01-raw.json: not valid UTF-8' render.txt || fail "stderr should say why"
echo "runner_utf8: all steps passed"
