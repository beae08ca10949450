#!/bin/sh
# tests/paper/make_fixture.sh DIR: writes the paper fixture into DIR (what
# `make data` puts there, tiny, with random weights; see make_fixture.py).
# Extra arguments go to make_fixture.py (--train N --test N ...);
# CLIPBOOK_FIXTURE_BPE=PATH copies OpenAI's real vocabulary instead of the
# repository's first 1,000 merges.
set -eu
[ $# -ge 1 ] || { echo "usage: $0 DIR [--train N] [--test N] [--pets-trainval N] [--pets-test N] [--full]" >&2; exit 2; }
exec /usr/bin/python3 "$(dirname "$0")/make_fixture.py" "$@"
