#!/bin/sh
# How idle OpenMP threads wait (lua/cli/cli_main.c, ensure_wait_policy):
# CLIPBOOK_WAIT=spin leaves libgomp's default (OMP_WAIT_POLICY unset),
# sleep sets OMP_WAIT_POLICY=PASSIVE, a policy the user set is kept, and
# anything else is refused with a message and chosen by the load; the
# chapter's provenance records what ran.
set -eu
CB=${CLIPBOOK:-build/bin/clipbook}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
export CLIPBOOK_CACHE=$T/cache
fail() { echo "FAIL: $*"; exit 1; }
wait_of() { grep -o '"wait":"[^"]*"' "$1" | sed 's/"wait":"\(.*\)"/\1/'; }
run() { out=$1; shift; env -u OMP_WAIT_POLICY "$@" "$CB" run tests/runner/chapters/01-basic.lua --quiet --out "$T/$out.json" 2>"$T/$out.err"; }
run spin CLIPBOOK_WAIT=spin
[ "$(wait_of "$T/spin.json")" = "spin" ] || fail "CLIPBOOK_WAIT=spin ran with '$(wait_of "$T/spin.json")'"
run sleep CLIPBOOK_WAIT=sleep
[ "$(wait_of "$T/sleep.json")" = "OMP_WAIT_POLICY=PASSIVE" ] || fail "CLIPBOOK_WAIT=sleep ran with '$(wait_of "$T/sleep.json")'"
run user OMP_WAIT_POLICY=ACTIVE CLIPBOOK_WAIT=sleep
[ "$(wait_of "$T/user.json")" = "OMP_WAIT_POLICY=ACTIVE" ] || fail "the user's OMP_WAIT_POLICY was not kept: '$(wait_of "$T/user.json")'"
run bad CLIPBOOK_WAIT=bogus
grep -q "CLIPBOOK_WAIT=bogus is not spin or sleep" "$T/bad.err" || fail "no message for CLIPBOOK_WAIT=bogus"
case "$(wait_of "$T/bad.json")" in spin | OMP_WAIT_POLICY=PASSIVE) ;; *) fail "CLIPBOOK_WAIT=bogus ran with '$(wait_of "$T/bad.json")'" ;; esac
echo "wait_policy: ok"
