# Sourced by the end-to-end report tests (report_smoke.sh,
# report_paper_fixture.sh): a scratch `make report` and the checks every
# profile's run must pass. The caller sets T (a scratch folder) and defines
# fail(), which prints $T/out's first error.

# report_run PROFILE [MAKE ARGS...]: make report into $T/doc and $T/report,
# its output in $T/out; fails unless it exits 0.
report_run() {
  profile=$1; shift
  start=$(date +%s)
  rc=0
  make --no-print-directory -s report SANITIZE=${SANITIZE:-0} PROFILE="$profile" "$@" \
    DOC_DIR="$T/doc" REPORT_DIR="$T/report" > "$T/out" 2>&1 || rc=$?
  wall=$(( $(date +%s) - start ))
  echo "make report PROFILE=$profile: ${wall}s (rc $rc)"
  [ "$rc" = 0 ] || fail "make report PROFILE=$profile exited $rc"
}

# Every chapter has a fragment and none holds an error block.
report_check_fragments() {
  n=$(ls chapters/[0-9]*.lua | wc -l)
  [ "$(ls "$T"/doc/[0-9]*.json | wc -l)" = "$n" ] || fail "expected $n fragments in $T/doc"
  for f in "$T"/doc/[0-9]*.json; do
    grep -q '"type":[[:space:]]*"error"' "$f" && fail "$(basename "$f") holds an error block"
  done
  return 0
}

# report_check_labels LABEL...: each is in results.json with a finite value.
report_check_labels() {
  R=$T/report/results.json
  [ -s "$R" ] || fail "no $R"
  for label in "$@"; do
    v=$(sed -n "s/.*\"$label\":[[:space:]]*\([^,}]*\).*/\1/p" "$R" | head -n 1)
    [ -n "$v" ] || fail "results.json has no '$label'"
    # a finite number: awk reads inf/nan/null as non-numbers or as infinite
    echo "$v" | awk '{ x = $1 + 0; if ($1 !~ /^-?[0-9.]+([eE][-+]?[0-9]+)?$/ || x != x || x > 1e300 || x < -1e300) exit 1 }' \
      || fail "'$label' is not a finite number: $v"
  done
}

# The PDF exists with more than 5 pages; its page count in $pages.
report_check_pdf() {
  P=$T/report/report.pdf
  [ -s "$P" ] || fail "no $P"
  pages=$(pdfinfo "$P" | sed -n 's/^Pages:[[:space:]]*//p')
  [ "${pages:-0}" -gt 5 ] || fail "report.pdf has ${pages:-no} pages"
}
