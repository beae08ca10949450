#!/bin/sh
# End to end: `clipbook render` on the fixture document, then the PDF and
# the HTML page checked with outside tools (poppler, qpdf, html5lib,
# headless Chromium). See tests/e2e/report_check.py for what is checked.
set -eu
CLIPBOOK=${CLIPBOOK:-build/bin/clipbook}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fx=tests/report/fixture
export SOURCE_DATE_EPOCH=1700000000
LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export LSAN_OPTIONS
"$CLIPBOOK" render $fx/01-how-clip-works.json $fx/02-linear-probe.json --meta $fx/meta.json --out "$out/a" 2>"$out/log"
"$CLIPBOOK" render $fx/02-linear-probe.json $fx/01-how-clip-works.json --meta $fx/meta.json --out "$out/b" 2>>"$out/log"
cmp "$out/a/report.pdf" "$out/b/report.pdf" || { echo "report: two renders differ"; exit 1; }
"$CLIPBOOK" render $fx/01-how-clip-works.json --out "$out/c" --paper letter --no-html 2>>"$out/log"
pdfinfo "$out/c/report.pdf" | grep -q 'letter' || { echo "report: --paper letter ignored"; exit 1; }
/usr/bin/python3 tests/e2e/report_check.py "$out/a" "$out/shot.png"
