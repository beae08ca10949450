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
. tests/e2e/lib/report.sh
report_run paper-fixture DATA_DIR="$T/data"
report_check_fragments
report_check_labels zeroshot.vit.top1 zeroshot.vit.superclass_acc linear_probe.vit.top1 linear_probe.vit.top1_swept \
  pretrain.batch_loss.after fewshot.vit.zs_init.k1.mean fewshot.vit.random_init.k1.mean \
  vqvae.clip.final_loss vqvae.trained.final_loss seg.clip.test_iou seg.unet.test_iou \
  probe.count.pooled.top1 probe.count.prepool.top1 probe.position.prepool.top1 conclusion.failed_chapters
# the conclusion counted no failed chapter
grep -q '"conclusion.failed_chapters":[[:space:]]*0[,}]' "$R" || fail "the conclusion lists failed chapters"

report_check_pdf
echo "report_paper_fixture: ok ($pages pages)"
