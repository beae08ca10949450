#!/bin/sh
# The paper profile's code on the paper fixture, end to end:
# tests/paper/make_fixture.sh writes tiny stand-ins for `make data` (CIFAR-100
# records, the Pet layout, OpenAI-layout F16 checkpoints) into a temp dir,
# then `make report PROFILE=paper-fixture DATA_DIR=...` in a scratch build
# (its own cache, fragments and report). Checked: make exits 0, the PDF
# exists, every chapter has a fragment and none holds an error block, and
# the stable labels (those the paper profile's verdicts read) are finite.
set -eu
CB=${CLIPBOOK:-build/bin/clipbook}
case $CB in /*) ;; *) CB=$PWD/$CB ;; esac
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
export CLIPBOOK_CACHE=$T/cache
fail() { echo "FAIL: $*"; grep -v "^    " "$T/out" | grep -B2 -A12 -m1 "FAILED\|rror" || tail -n 40 "$T/out" 2>/dev/null; exit 1; }

sh tests/paper/make_fixture.sh "$T/data" > "$T/out" 2>&1 || fail "make_fixture.sh"
start=$(date +%s)
rc=0
make --no-print-directory -s report SANITIZE=${SANITIZE:-0} PROFILE=paper-fixture DATA_DIR="$T/data" \
  DOC_DIR="$T/doc" REPORT_DIR="$T/report" > "$T/out" 2>&1 || rc=$?
wall=$(( $(date +%s) - start ))
echo "make report PROFILE=paper-fixture: ${wall}s (rc $rc)"
[ "$rc" = 0 ] || fail "make report PROFILE=paper-fixture exited $rc"

n=$(ls chapters/[0-9]*.lua | wc -l)
[ "$(ls "$T"/doc/[0-9]*.json | wc -l)" = "$n" ] || fail "expected $n fragments in $T/doc"
for f in "$T"/doc/[0-9]*.json; do
  grep -q '"type":[[:space:]]*"error"' "$f" && fail "$(basename "$f") holds an error block"
done

R=$T/report/results.json
[ -s "$R" ] || fail "no $R"
for label in zeroshot.vit.top1 zeroshot.vit.superclass_acc linear_probe.vit.top1 linear_probe.vit.top1_swept \
             pretrain.batch_loss.after fewshot.vit.zs_init.k1.mean fewshot.vit.random_init.k1.mean \
             vqvae.clip.final_loss vqvae.trained.final_loss seg.clip.test_iou seg.unet.test_iou \
             probe.count.pooled.top1 probe.count.prepool.top1 probe.position.prepool.top1 conclusion.failed_chapters; do
  v=$(sed -n "s/.*\"$label\":[[:space:]]*\([^,}]*\).*/\1/p" "$R" | head -n 1)
  [ -n "$v" ] || fail "results.json has no '$label'"
  echo "$v" | awk '{ x = $1 + 0; if ($1 !~ /^-?[0-9.]+([eE][-+]?[0-9]+)?$/ || x != x || x > 1e300 || x < -1e300) exit 1 }' \
    || fail "'$label' is not a finite number: $v"
done
# the conclusion counted no failed chapter
grep -q '"conclusion.failed_chapters":[[:space:]]*0[,}]' "$R" || fail "the conclusion lists failed chapters"

P=$T/report/report.pdf
[ -s "$P" ] || fail "no $P"
pages=$(pdfinfo "$P" | sed -n 's/^Pages:[[:space:]]*//p')
[ "${pages:-0}" -gt 5 ] || fail "report.pdf has ${pages:-no} pages"
echo "report_paper_fixture: ok ($pages pages)"
