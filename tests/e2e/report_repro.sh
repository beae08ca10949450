#!/bin/sh
# Same cache, same machine, same bytes: `make report PROFILE=smoke` fills a
# scratch cache, then two more runs from that cache (every experiment a memo
# hit) into their own fragments and report folders must give byte-identical
# report.pdf, report.html and results.json (issue 12, item 11). What may
# differ between runs (wall times) stays in the fragments' provenance.
set -eu
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
export CLIPBOOK_CACHE=$T/cache
run() {
  make --no-print-directory -s report SANITIZE=${SANITIZE:-0} PROFILE=smoke DOC_DIR="$T/doc-$1" \
    REPORT_DIR="$T/report-$1" > "$T/out-$1" 2>&1 || { echo "FAIL: run $1"; tail -n 30 "$T/out-$1"; exit 1; }
}
run fill
run a
run b
for f in results.json report.pdf report.html; do
  [ -s "$T/report-a/$f" ] || { echo "FAIL: no $f"; exit 1; }
  if ! cmp "$T/report-a/$f" "$T/report-b/$f"; then
    echo "FAIL: two runs from one cache give different $f"
    [ "$f" = report.pdf ] || diff "$T/report-a/$f" "$T/report-b/$f" | head -n 20
    exit 1
  fi
done
echo "report_repro: results.json, report.pdf, report.html identical across two runs from one cache"
