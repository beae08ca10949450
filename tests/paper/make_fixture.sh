#!/bin/sh
# tests/paper/make_fixture.sh DIR: writes the paper fixture into DIR (what
# `make data` puts there, tiny, with random weights; see make_fixture.py).
# Extra arguments go to make_fixture.py (--train N --test N ...);
# CLIPBOOK_FIXTURE_BPE=PATH copies OpenAI's real vocabulary instead of the
# repository's first 1,000 merges.
set -eu
[ $# -ge 1 ] || { echo "usage: $0 DIR [--train N] [--test N] [--pets-trainval N] [--pets-test N] [--full]" >&2; exit 2; }
# The fixture is written by the publishers' own libraries (numpy, PyTorch's
# torch.save for OpenAI's checkpoint layout), never by the engine: as root,
# install them when missing, as the benchmark scripts do.
if ! /usr/bin/python3 -c "import numpy, torch" 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-numpy python3-torch >/dev/null
  else
    echo "make_fixture: needs numpy and PyTorch: sudo apt-get install python3-numpy python3-torch" >&2; exit 1
  fi
fi
exec /usr/bin/python3 "$(dirname "$0")/make_fixture.py" "$@"
