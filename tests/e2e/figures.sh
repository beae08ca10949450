#!/bin/sh
# clipbook figure end to end: a PDF keeps its text as text (pdftotext finds
# the axis titles and legend labels), SVG output is well-formed XML, PNG
# output is a PNG, bad data gives a "no data" mark, and usage errors exit 2.
set -u
CB=${CLIPBOOK:-build/bin/clipbook}
# fontconfig/pango caches live as long as the process: not our leaks
export LSAN_OPTIONS="suppressions=$(pwd)/tests/figures/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
REF=tests/figures/ref
fail() { echo "figures e2e: $*"; exit 1; }

"$CB" figure $REF/line.json --out "$T/line.pdf" || fail "line.pdf not rendered"
pdftotext "$T/line.pdf" "$T/line.txt" || fail "pdftotext failed"
for s in "shots per class" "top-1 accuracy (%)" "zero-shot init" "random init" "zero-shot" "16"; do
  grep -qF "$s" "$T/line.txt" || fail "line.pdf: text '$s' not found by pdftotext"
done

"$CB" figure $REF/line.json --out "$T/serif.pdf" --font "TeX Gyre Pagella" --size 8.5 || fail "--font"
pdffonts "$T/serif.pdf" | grep -qi "pagella" || fail "--font: the PDF does not use TeX Gyre Pagella"
pdffonts "$T/line.pdf" | grep -qi "dejavu" || fail "default font: not DejaVu Sans"

"$CB" figure $REF/bar.json --out "$T/bar.pdf" --width 300 --height 200 || fail "bar.pdf"
pdftotext "$T/bar.pdf" - | grep -qF "pre-pool" || fail "bar.pdf: legend label not found"
pdfinfo "$T/bar.pdf" 2>/dev/null | grep -q "300 x 200 pts" || fail "bar.pdf: --width/--height not honoured"

for k in line curve bar heatmap image_grid mask_overlay panels category; do
  "$CB" figure $REF/$k.json --out "$T/$k.svg" || fail "$k.svg not rendered"
  /usr/bin/python3 -c "import sys, xml.dom.minidom as m; d = m.parse(sys.argv[1]); assert d.documentElement.tagName == 'svg'" "$T/$k.svg" \
    || fail "$k.svg does not parse as SVG/XML"
done

"$CB" figure $REF/heatmap.json --out "$T/h.png" || fail "h.png"
head -c 8 "$T/h.png" | od -An -c | grep -q "P   N   G" || fail "h.png is not a PNG"

echo '{"kind":"line","title":"empty","series":[]}' > "$T/empty.json"
"$CB" figure "$T/empty.json" --out "$T/empty.pdf" || fail "empty spec should still render"
pdftotext "$T/empty.pdf" - | grep -qF "no data" || fail "empty spec: no 'no data' mark"

echo '{"kind":"image_grid","images":[{"png":"missing.png"}]}' > "$T/miss.json"
"$CB" figure "$T/miss.json" --out "$T/miss.pdf" 2>"$T/err"; rc=$?
[ $rc -eq 1 ] || fail "missing PNG: exit $rc, want 1"
grep -q "missing.png" "$T/err" || fail "missing PNG: message does not name the file"
[ -s "$T/miss.pdf" ] || fail "missing PNG: no PDF with the mark"

"$CB" figure 2>/dev/null; [ $? -eq 2 ] || fail "no args: want exit 2"
"$CB" figure $REF/line.json --out "$T/x.gif" 2>/dev/null; [ $? -eq 1 ] || fail ".gif: want exit 1"
echo '{"kind":"nope"}' > "$T/bad.json"
"$CB" figure "$T/bad.json" --out "$T/bad.pdf" 2>"$T/err"; [ $? -eq 1 ] || fail "bad kind: want exit 1"
grep -q "nope" "$T/err" || fail "bad kind: message does not name it"
echo "figures e2e: pdf text, svg xml, png, no-data mark, errors ok"
