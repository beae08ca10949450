#!/bin/sh
# A failed render never leaves an output that looks current, and a label
# defined in two chapters is an error block naming both while the rest
# renders (issue 12.5).
set -eu
CB=${CLIPBOOK:-build/bin/clipbook}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; cat "$T/err" 2>/dev/null; exit 1; }
frag() { # file chapter source label words
  printf '{"format":"clipbook-doc/1","chapter":"%s","source":"%s","blocks":[{"type":"markdown","text":"# %s\\n\\n%s"},{"type":"table","label":"%s","caption":"A table","columns":["a"],"rows":[["1"]]}]}\n' \
    "$2" "$3" "$2" "$5" "$4" > "$1"
}
frag "$T/01-a.json" 01-a chapters/01-a.lua tbl-same "Alpha words here."
frag "$T/02-b.json" 02-b chapters/02-b.lua tbl-same "Beta words here."
frag "$T/03-c.json" 03-c chapters/03-c.lua tbl-other "Gamma words here."
"$CB" render "$T/01-a.json" "$T/03-c.json" --out "$T/out" --no-html 2> "$T/err" || fail "a clean render failed"
[ -s "$T/out/report.pdf" ] || fail "no PDF"
rc=0; "$CB" render "$T/01-a.json" "$T/02-b.json" "$T/03-c.json" --out "$T/out" --no-html 2> "$T/err" || rc=$?
[ "$rc" = 1 ] || fail "a duplicate label should exit 1, got $rc"
pdftotext "$T/out/report.pdf" "$T/txt"
grep -q "label 'tbl-same' is defined in chapters/01-a.lua and again in chapters/02-b.lua" "$T/txt" \
  || { cat "$T/txt"; fail "the error block should name both chapters"; }
grep -q 'Alpha words' "$T/txt" && grep -q 'Beta words' "$T/txt" && grep -q 'Gamma words' "$T/txt" || fail "the rest should render"
# a render that fails outright removes what an earlier one left
"$CB" render "$T/01-a.json" --out "$T/out" 2> "$T/err" || fail "a clean render failed"
[ -s "$T/out/report.pdf" ] && [ -s "$T/out/report.html" ] || fail "no outputs"
rc=0; "$CB" render "$T/01-a.json" --meta "$T/no-such-meta.json" --out "$T/out" 2> "$T/err" || rc=$?
[ "$rc" = 1 ] || fail "a missing meta.json should fail the render"
[ ! -e "$T/out/report.pdf" ] && [ ! -e "$T/out/report.html" ] || fail "the stale report is still there"
grep -q 'removed the stale' "$T/err" || fail "the removal should be said"
[ -z "$(ls "$T/out" | grep tmp)" ] || fail "temporary files left: $(ls "$T/out")"
echo "render_fail: all steps passed"
