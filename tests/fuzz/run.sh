#!/bin/sh
# tests/fuzz/run.sh SECONDS TARGET...: runs each libFuzzer target of
# $FUZZ_DIR (default build/fuzz) for SECONDS over its committed seeds
# (tests/fuzz/corpus/<target>/, read-only) and its own corpus
# ($FUZZ_DIR/corpus/<target>/, where new inputs go), with the target's
# dictionary when there is one. One line per target: execs, coverage,
# corpus size; on a finding, libFuzzer's report and the crashing input
# ($FUZZ_DIR/<target>-crash-*). Exits non-zero when any target failed.
set -u
D=${FUZZ_DIR:-build/fuzz}
# fontconfig/pango/cairo caches live as long as the process (tests/lsan.supp)
case "${LSAN_OPTIONS:-}" in *suppressions=*) ;; *)
  LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"; export LSAN_OPTIONS ;;
esac
secs=$1; shift
failed=0
log=$(mktemp); trap 'rm -f "$log"' EXIT
for t in "$@"; do
  mkdir -p "$D/corpus/$t"
  seeds=; [ -d "tests/fuzz/corpus/$t" ] && seeds="tests/fuzz/corpus/$t"
  dict=; [ -e "tests/fuzz/$t.dict" ] && dict="-dict=tests/fuzz/$t.dict"
  # -timeout: one input running 10 s is a hang worth reporting
  if "$D/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       $dict -artifact_prefix="$D/$t-" "$D/corpus/$t" $seeds >"$log" 2>&1; then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1)
    corp=$(grep -o 'corp: [0-9]*/[0-9a-zA-Z]*' "$log" | tail -n 1)
    echo "ok   $t: ${secs} s, ${execs:-?} execs, ${cov:-cov: ?}, ${ft:-ft: ?}, ${corp:-corp: ?}"
  else
    failed=$((failed + 1))
    echo "FAIL $t:"
    grep -v '^#[0-9]' "$log" | tail -n 40 | sed 's/^/  | /'
  fi
done
[ "$failed" -eq 0 ]
