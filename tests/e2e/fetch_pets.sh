#!/bin/sh
# clipbook fetch of the Oxford-IIIT Pet set's two archives (the manifest's
# "tree" items) from a server on 127.0.0.1 (tests/e2e/fetch_server.py),
# made here from the Pillow-written tiny set in tests/pets/data: one a
# plain tar named .tar.gz (as the real ones are), one gzipped. Checks the
# extraction into oxford-iiit-pet/, the content checks (line counts; the
# engine's reader with the split sizes), idempotence, a damaged picture
# re-fetched, --verify catching a same-size change, a hand-extracted copy
# recorded without a download, and that the pictures' check waits for the
# annotations instead of deleting anything.
set -eu
CB=${CLIPBOOK:-build/bin/clipbook}
PY=/usr/bin/python3
T=$(mktemp -d)
[ -n "$T" ] && [ -d "$T" ] || { echo "FAIL: no temp dir"; exit 1; }
SRV=
cleanup() {
  if [ -n "$SRV" ]; then kill "$SRV" 2>/dev/null || true; wait "$SRV" 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy HF_ENDPOINT 2>/dev/null || true
export NO_PROXY='*' no_proxy='*'
fail() { echo "FAIL: $*"; [ -f "$T/out" ] && sed 's/^/  | /' "$T/out"; exit 1; }
run() { rc=0; "$CB" fetch --dir "$T/data" --manifest "$T/m" --timeout 5 "$@" >"$T/out" 2>&1 || rc=$?; }
has() { grep -q -- "$1" "$T/out" || fail "expected '$1' in the output"; }

mkdir -p "$T/srv" "$T/data"   # the server serves by base name
"$PY" - tests/pets/data "$T/srv" <<'PY'
import gzip, io, os, sys, tarfile
src, out = sys.argv[1], sys.argv[2]
def tar(top, gz):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        t.add(os.path.join(src, top), arcname=top)
        fork = tarfile.TarInfo(top + "/._resource_fork"); fork.size = 4   # as macOS tar leaves them
        t.addfile(fork, io.BytesIO(b"fork"))
    data = buf.getvalue()
    open(os.path.join(out, top + ".tar.gz"), "wb").write(gzip.compress(data, mtime=0) if gz else data)
tar("images", gz=False)
tar("annotations", gz=True)
PY
: >"$T/log"
"$PY" tests/e2e/fetch_server.py "$T/srv" "$T/port" "$T/log" &
SRV=$!
i=0; while [ ! -s "$T/port" ]; do i=$((i + 1)); [ $i -lt 100 ] || fail "server did not start"; sleep 0.1; done
U="http://127.0.0.1:$(cat "$T/port")"
A="$T/srv/annotations.tar.gz"; I="$T/srv/images.tar.gz"
{
  echo "[pets-annotations]"
  echo "file    oxford-iiit-pet/annotations.tar.gz"
  echo "url     $U/oxford-iiit-pet/annotations.tar.gz"
  echo "size    $(wc -c <"$A" | tr -d ' ')"
  echo "md5     $(md5sum "$A" | cut -d' ' -f1)"
  echo "sha256  $(sha256sum "$A" | cut -d' ' -f1)"
  echo "tree    annotations oxford-iiit-pet/annotations"
  echo "check   lines oxford-iiit-pet/annotations/trainval.txt=20 oxford-iiit-pet/annotations/test.txt=8"
  echo "[pets-images]"
  echo "file    oxford-iiit-pet/images.tar.gz"
  echo "url     $U/oxford-iiit-pet/images.tar.gz"
  echo "size    $(wc -c <"$I" | tr -d ' ')"
  echo "md5     $(md5sum "$I" | cut -d' ' -f1)"
  echo "sha256  unknown"
  echo "tree    images oxford-iiit-pet/images"
  echo "check   pets oxford-iiit-pet trainval=20 test=8 train=18 val=2"
} >"$T/m"
P="$T/data/oxford-iiit-pet"

# ---- the pictures first, without annotations: refused, nothing fetched ----
run --only pets-images
[ $rc = 1 ] || fail "pets-images without annotations should fail (rc $rc)"
has "needs the Pet annotations"
[ ! -s "$T/log" ] || fail "nothing should be downloaded before the annotations are there"

# ---- both, in manifest order ----
run
[ $rc = 0 ] || fail "fetch exited $rc"
has "pets-annotations ok: trainval.txt 20 lines, test.txt 8 lines"
has "pets-images ok: trainval 20 pictures, test 8 pictures, train 18 pictures, val 2 pictures"
for f in $(cd tests/pets/data && find images annotations -type f); do cmp "tests/pets/data/$f" "$P/$f" || fail "$f differs"; done
[ ! -e "$P/images/._resource_fork" ] || fail "a resource fork was extracted"
[ ! -e "$P/images.tar.gz" ] && [ ! -e "$P/annotations.tar.gz" ] || fail "archives should be removed after extraction"
[ "$(wc -l <"$P/images/.fetched")" = "$(ls tests/pets/data/images | wc -l)" ] || fail "the listing should name every picture"
grep -q "^oxford-iiit-pet/images/.fetched " "$T/data/MANIFEST.lock" || fail "the lock has no line for the pictures' listing"
grep -q "^oxford-iiit-pet/images.tar.gz " "$T/data/MANIFEST.lock" || fail "the lock has no line for the archive"
n=$(wc -l <"$T/log")
"$CB" fetch --dir "$T/data" --manifest "$T/m" --list >"$T/out"
[ "$(grep -c 'status   present' "$T/out")" = 2 ] || fail "--list should say present twice"

# ---- idempotent ----
run
[ $rc = 0 ] || fail "second fetch exited $rc"
[ "$(grep -c 'ok (present)' "$T/out")" = 2 ] || fail "second run should find both present"
[ "$(wc -l <"$T/log")" = "$n" ] || fail "second run made requests"

# ---- a damaged picture: re-fetched ----
pic=$(ls "$P/images" | head -n 1)
printf 'x' >>"$P/images/$pic"
run --only pets-images
[ $rc = 0 ] || fail "refetch after damage exited $rc"
has "images/$pic: .* bytes, but .* when extracted; removing it and fetching again"
cmp "$P/images/$pic" "tests/pets/data/images/$pic" || fail "$pic not restored"

# ---- the same size, other bytes: only --verify hashes again ----
"$PY" -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[10] ^= 1; open(sys.argv[1], "wb").write(b)' "$P/annotations/test.txt"
run --only pets-annotations
[ $rc = 0 ] || fail "a plain rerun exited $rc"
has "ok (present)"
run --verify --only pets-annotations
[ $rc = 0 ] || fail "--verify refetch exited $rc"
has "test.txt: SHA-256 .* when extracted; removing it and fetching again"
cmp "$P/annotations/test.txt" tests/pets/data/annotations/test.txt || fail "test.txt not restored"

# ---- extracted by hand (no listing, nothing in the lock): checked, listed, recorded ----
rm -rf "$T/data"
mkdir -p "$P"
cp -r tests/pets/data/images tests/pets/data/annotations "$P/"
n=$(wc -l <"$T/log")
run
[ $rc = 0 ] || fail "hand-extracted set exited $rc"
has "pets-images ok (present, recorded in $T/data/MANIFEST.lock): trainval 20 pictures"
[ -s "$P/images/.fetched" ] || fail "no listing written for the hand-extracted pictures"
[ "$(wc -l <"$T/log")" = "$n" ] || fail "the hand-extracted set was downloaded again"
echo "fetch_pets: ok"
