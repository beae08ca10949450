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
# rough input (bad math, bad figure specs, empty blocks, odd Markdown): still
# a valid PDF and valid HTML, with the problems marked in place
"$CLIPBOOK" render tests/report/rough/*.json --out "$out/r" 2>>"$out/log"
qpdf --check "$out/r/report.pdf" >/dev/null || { echo "report: rough PDF fails qpdf --check"; exit 1; }
/usr/bin/python3 -c 'import html5lib, sys; html5lib.HTMLParser(strict=True).parse(open(sys.argv[1], "rb").read())' "$out/r/report.html"
grep -q 'math error' "$out/r/report.html" || grep -q 'math-error' "$out/r/report.html" || { echo "report: bad math not marked"; exit 1; }
echo "report: rough input ok"
