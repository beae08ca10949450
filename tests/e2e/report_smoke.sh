#!/bin/sh
# The whole study at smoke size, end to end: `make report PROFILE=smoke`
# into a scratch build (its own cache, fragments and report), then the PDF
# (when `clipbook render` exists), the fragments and results.json: every
# chapter ran without an error block, and every stable label of the study
# is there with a finite value.
set -eu
CB=${CLIPBOOK:-build/bin/clipbook}
case $CB in /*) ;; *) CB=$PWD/$CB ;; esac
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
export CLIPBOOK_CACHE=$T/cache
fail() { echo "FAIL: $*"; grep -v "^    " "$T/out" | grep -B2 -A12 -m1 "FAILED\|rror" || tail -n 40 "$T/out" 2>/dev/null; exit 1; }

start=$(date +%s)
rc=0
make --no-print-directory -s report SANITIZE=${SANITIZE:-0} PROFILE=smoke DOC_DIR="$T/doc" REPORT_DIR="$T/report" \
  > "$T/out" 2>&1 || rc=$?
wall=$(( $(date +%s) - start ))
echo "make report PROFILE=smoke: ${wall}s (rc $rc)"
[ "$rc" = 0 ] || fail "make report PROFILE=smoke exited $rc"

n=$(ls chapters/[0-9]*.lua | wc -l)
[ "$(ls "$T"/doc/[0-9]*.json | wc -l)" = "$n" ] || fail "expected $n fragments in $T/doc"
for f in "$T"/doc/[0-9]*.json; do
  grep -q '"type":[[:space:]]*"error"' "$f" && fail "$(basename "$f") holds an error block"
done

R=$T/report/results.json
[ -s "$R" ] || fail "no $R"
for label in zeroshot.vit.top1 linear_probe.vit.top1 fewshot.vit.zs_init.k1.mean fewshot.vit.random_init.k1.mean \
             vqvae.clip.final_loss vqvae.trained.final_loss seg.clip.test_iou seg.unet.test_iou \
             probe.count.pooled.top1 probe.count.prepool.top1; do
  v=$(sed -n "s/.*\"$label\":[[:space:]]*\([^,}]*\).*/\1/p" "$R" | head -n 1)
  [ -n "$v" ] || fail "results.json has no '$label'"
  # a finite number: awk reads inf/nan/null as non-numbers or as infinite
  echo "$v" | awk '{ x = $1 + 0; if ($1 !~ /^-?[0-9.]+([eE][-+]?[0-9]+)?$/ || x != x || x > 1e300 || x < -1e300) exit 1 }' \
    || fail "'$label' is not a finite number: $v"
done

if "$CB" help | grep -q '^  render '; then
  P=$T/report/report.pdf
  [ -s "$P" ] || fail "no $P"
  pages=$(pdfinfo "$P" | sed -n 's/^Pages:[[:space:]]*//p')
  [ "${pages:-0}" -gt 5 ] || fail "report.pdf has ${pages:-no} pages"
  echo "report.pdf: $pages pages"
else
  echo "skip: 'clipbook render' is not built yet, so no PDF to check (fragments and results checked)"
fi
echo "report_smoke: ok"
