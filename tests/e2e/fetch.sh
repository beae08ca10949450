#!/bin/sh
# clipbook fetch against a server on 127.0.0.1 (tests/e2e/fetch_server.py)
# serving files made here: a fake CIFAR-100 archive with a few records, a
# tiny vocabulary, the tiny checkpoints of tests/clip/models/, and OpenAI's
# vocabulary when ../shared has it. Checks success and idempotence, hash
# mismatches rejected and the bad file removed, interrupted downloads
# resumed, mirrors, the offline message, a wrong architecture rejected.
set -eu
CB=${CLIPBOOK:-build/bin/clipbook}
PY=/usr/bin/python3
HERE=$(pwd)
T=$(mktemp -d)
SRV=
cleanup() {
  if [ -n "$SRV" ]; then kill "$SRV" 2>/dev/null || true; wait "$SRV" 2>/dev/null || true; fi
  rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
# Never through a proxy: everything here is loopback.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy HF_ENDPOINT 2>/dev/null || true
export NO_PROXY='*' no_proxy='*'

fail() { echo "FAIL: $*"; [ -f "$T/out" ] && sed 's/^/  | /' "$T/out"; exit 1; }
# run NAME ARGS...: clipbook fetch with output in $T/out and rc in $rc
run() { [ -n "${FETCH_TRACE:-}" ] && date +%s.%N && echo "$*"; rc=0; "$CB" fetch --dir "$T/data" --manifest "$T/m" --timeout 5 "$@" >"$T/out" 2>&1 || rc=$?; }
has() { grep -q -- "$1" "$T/out" || fail "expected '$1' in the output"; }
requests() { grep -c "$1" "$T/log" || true; }

# ---- files to serve ----
mkdir -p "$T/srv" "$T/data"
"$PY" - "$T/srv" <<'EOF'
import gzip, io, os, random, sys, tarfile
d = sys.argv[1]
rnd = random.Random(0)
def recs(n):
    return b"".join(bytes([rnd.randrange(20), rnd.randrange(100)]) + bytes(rnd.randrange(256) for _ in range(3072)) for _ in range(n))
members = [("cifar-100-binary/README", b"skipped\n"),
           ("cifar-100-binary/" + "x" * 120, b"a GNU long name, skipped\n"),
           ("cifar-100-binary/train.bin", recs(5)), ("cifar-100-binary/test.bin", recs(3)),
           ("cifar-100-binary/fine_label_names.txt", "".join("fine%d\n" % i for i in range(100)).encode()),
           ("cifar-100-binary/coarse_label_names.txt", "".join("coarse%d\n" % i for i in range(20)).encode())]
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
    for name, data in members:
        ti = tarfile.TarInfo(name); ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
open(os.path.join(d, "cifar-100-binary.tar.gz"), "wb").write(gzip.compress(buf.getvalue(), mtime=0))
# merges c+a and ca+t</w>: "cat" -> <sot> cat</w> <eot> = 514 513 515
open(os.path.join(d, "vocab.txt"), "w").write("#version: 0.2 test\nc a\nca t</w>\n")
open(os.path.join(d, "junk.bin"), "wb").write(bytes(range(256)) * 40)
EOF
cp tests/clip/models/vit.safetensors tests/clip/models/rn.safetensors "$T/srv/"
[ -r ../shared/clip-bpe/bpe_simple_vocab_16e6.txt.gz ] && cp ../shared/clip-bpe/bpe_simple_vocab_16e6.txt.gz "$T/srv/"

: >"$T/log"
"$PY" tests/e2e/fetch_server.py "$T/srv" "$T/port" "$T/log" &
SRV=$!
i=0; while [ ! -s "$T/port" ]; do i=$((i + 1)); [ $i -lt 100 ] || fail "server did not start"; sleep 0.1; done
U="http://127.0.0.1:$(cat "$T/port")"
sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { wc -c <"$1" | tr -d ' '; }
CIF="$T/srv/cifar-100-binary.tar.gz"; VIT="$T/srv/vit.safetensors"; JUNK="$T/srv/junk.bin"

cat >"$T/m" <<EOF
# the test manifest: same format as the built-in one (lua/cli/fetch/cli_fetch.h)
[cifar]
file    cifar-100-binary.tar.gz
url     $U/cifar-100-binary.tar.gz
size    $(size "$CIF")
md5     $(md5sum "$CIF" | cut -d' ' -f1)
sha256  unknown
extract cifar-100-binary train.bin test.bin fine_label_names.txt coarse_label_names.txt
check   cifar train.bin=5 test.bin=3 fine_label_names.txt=100 coarse_label_names.txt=20
[vocab]
file    vocab.txt
url     $U/nosuch-vocab.txt
url     $U/vocab.txt
size    unknown
sha256  $(sha "$T/srv/vocab.txt")
check   bpe cat = 514 513 515
[vit]
file    models/vit.safetensors
url     $U/redirect/vit.safetensors
sha256  unknown
check   clip vit=1 context_length=12
EOF

# ---- success, then idempotence ----
run
[ $rc = 0 ] || fail "first fetch exited $rc"
has "cifar      ok: train.bin 5 records, test.bin 3 records, fine_label_names.txt 100 names, coarse_label_names.txt 20 names"
has "vocab      ok: 516 tokens"
has "vit        ok: ViT"
has "trying 127.0.0.1"                  # the first vocabulary URL is a 404: the mirror was used
cmp "$T/data/models/vit.safetensors" "$VIT" || fail "vit differs"
[ "$(size "$T/data/cifar-100-binary/train.bin")" = $((5 * 3074)) ] || fail "train.bin size"
[ ! -e "$T/data/cifar-100-binary.tar.gz" ] || fail "the archive should be removed after extraction"
grep -q "^models/vit.safetensors $(size "$VIT") [0-9]* $(sha "$VIT")$" "$T/data/MANIFEST.lock" || fail "lock has no vit line"
grep -q "^cifar-100-binary/test.bin " "$T/data/MANIFEST.lock" || fail "lock has no test.bin line"
[ ! -e "$T/data/.fetch.busy" ] || fail "the busy file is left after a fetch"
n=$(wc -l <"$T/log")
# --list says what a fetch would make of each: verified by the lock here
run --list
[ "$(grep -c 'status   verified (size and date as recorded in' "$T/out")" = 3 ] || fail "--list: not all three verified"
run
[ $rc = 0 ] || fail "second fetch exited $rc"
[ "$(grep -c 'ok (present)' "$T/out")" = 3 ] || fail "second run should find all three present"
[ "$(wc -l <"$T/log")" = "$n" ] || fail "second run made requests"
ls "$T/data"/*.part "$T/data"/models/*.part >/dev/null 2>&1 && fail "leftover .part files"
run --verify --only vit
[ $rc = 0 ] || fail "--verify exited $rc"
# CIFAR extracted by hand (files there, nothing in the lock): checked, recorded
grep -v '^cifar-100-binary' "$T/data/MANIFEST.lock" >"$T/lock" && mv "$T/lock" "$T/data/MANIFEST.lock"
run --only cifar
[ $rc = 0 ] || fail "hand-extracted CIFAR exited $rc"
has "cifar      ok (present, recorded in $T/data/MANIFEST.lock): train.bin 5 records"
[ "$(wc -l <"$T/log")" = "$n" ] || fail "hand-extracted CIFAR was downloaded again"

# ---- a file changed on disk since recorded: --list says so, a fetch re-fetches ----
touch -d @1000000000 "$T/data/cifar-100-binary/test.bin"
printf 'x' >>"$T/data/models/vit.safetensors"
run --list
has "status   present but fails: $T/data/models/vit.safetensors: $(($(size "$VIT") + 1)) bytes, but $(size "$VIT") when recorded in $T/data/MANIFEST.lock"
has "status   present, unverified (not recorded, or changed since: a fetch hashes and checks it)"
has "status   verified"
run --only vit
[ $rc = 0 ] || fail "refetch after local damage exited $rc"
has "removing it and fetching again"
cmp "$T/data/models/vit.safetensors" "$VIT" || fail "vit not restored"

# ---- the server's file changed since first download: lock mismatch, removed ----
rm "$T/data/models/vit.safetensors"
cp "$VIT" "$T/vit.orig"
"$PY" -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[-1] ^= 1; open(sys.argv[1], "wb").write(b)' "$VIT"
run --only vit
[ $rc = 1 ] || fail "a changed upstream file should fail (rc $rc)"
has "when first downloaded"
[ ! -e "$T/data/models/vit.safetensors" ] && [ ! -e "$T/data/models/vit.safetensors.part" ] || fail "bad vit not removed"
cp "$T/vit.orig" "$VIT"

# ---- manifest SHA-256 and MD5 mismatches: rejected, removed ----
cat >>"$T/m" <<EOF
[badsha]
file    junk.bin
url     $U/junk.bin
sha256  $(printf '0%.0s' $(seq 64))
[badmd5]
file    junk2.bin
url     $U/junk.bin
md5     00000000000000000000000000000000
EOF
run --only badsha --only badmd5
[ $rc = 1 ] || fail "hash mismatches should fail (rc $rc)"
has "SHA-256 [0-9a-f]*, expected 0000"
has "MD5 [0-9a-f]*, expected 0000"
has "2 of 2 failed"
[ ! -e "$T/data/junk.bin" ] && [ ! -e "$T/data/junk2.bin" ] || fail "bad files not removed"

# ---- a truncated download left by an earlier run is resumed ----
cat >>"$T/m" <<EOF
[resume]
file    resume.bin
url     $U/resume.bin
size    $(size "$JUNK")
sha256  $(sha "$JUNK")
[cut]
file    cut.bin
url     $U/cut/cut.bin
size    $(size "$JUNK")
sha256  $(sha "$JUNK")
[norange]
file    norange.bin
url     $U/norange/norange.bin
size    $(size "$JUNK")
sha256  $(sha "$JUNK")
EOF
for f in resume cut norange; do cp "$JUNK" "$T/srv/$f.bin"; done
head -c 3000 "$JUNK" >"$T/data/resume.bin.part"
head -c 1000 "$JUNK" >"$T/data/norange.bin.part"
run --only resume --only norange --only cut
[ $rc = 0 ] || fail "resume/cut/norange exited $rc"
grep -q "GET /resume.bin bytes=3000-" "$T/log" || fail "no range request for the .part"
[ "$(grep -c "GET /cut/cut.bin" "$T/log")" = 2 ] || fail "the dropped transfer was not retried once"
grep -q "GET /cut/cut.bin bytes=[1-9][0-9]*-" "$T/log" || fail "the retry after a dropped transfer did not resume"
has "retrying in"
for f in resume cut norange; do cmp "$T/data/$f.bin" "$JUNK" || fail "$f.bin differs"; done

# ---- a stalled transfer times out (bounded) ----
cat >>"$T/m" <<EOF
[stall]
file    stall.bin
url     $U/stall/junk.bin
EOF
run --only stall --timeout 1 --retries 0
[ $rc = 1 ] || fail "a stalled transfer should fail (rc $rc)"
has "stall: $U/stall/junk.bin: "
# ... and one stopped by SIGTERM (Ctrl-C, a killed make) leaves no busy file
"$CB" fetch --dir "$T/data" --manifest "$T/m" --only stall --timeout 30 --retries 0 >"$T/out" 2>&1 &
pid=$!
i=0; while [ "$(requests 'GET /stall')" -lt 2 ]; do i=$((i + 1)); [ $i -lt 100 ] || fail "no second stalled request"; sleep 0.1; done
[ -e "$T/data/.fetch.busy" ] || fail "no busy file while fetching"
kill -TERM $pid; rc=0; wait $pid || rc=$?
[ $rc = 143 ] || fail "SIGTERM: exit $rc, expected 143 (killed by the signal)"
[ ! -e "$T/data/.fetch.busy" ] || fail "the busy file is left after SIGTERM"

# ---- connection refused: the offline message ----
dead=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >>"$T/m" <<EOF
[offline]
file    offline.bin
url     http://127.0.0.1:$dead/offline.bin
EOF
run --only offline
[ $rc = 1 ] || fail "connection refused should exit 1 (rc $rc)"
has "clipbook fetch: cannot reach 127.0.0.1 (offline?): "
has "download http://127.0.0.1:$dead/offline.bin by hand to $T/data/offline.bin and rerun"
[ ! -e "$T/data/offline.bin.part" ] || fail "empty .part left behind"
[ ! -e "$T/data/.fetch.busy" ] || fail "the busy file is left after a failed fetch"
# ... and the same file placed by hand is taken
cp "$JUNK" "$T/data/offline.bin"
run --only offline
[ $rc = 0 ] || fail "a file placed by hand exited $rc"
has "recorded in"

# ---- a checkpoint with the wrong architecture: rejected, removed ----
cat >>"$T/m" <<EOF
[wrongarch]
file    wrong.safetensors
url     $U/rn.safetensors
check   clip vit=1 embed_dim=512 vision_layers=12
EOF
run --only wrongarch
[ $rc = 1 ] || fail "a wrong architecture should fail (rc $rc)"
has "not the expected model: vit 0 (expected 1)"
[ ! -e "$T/data/wrong.safetensors" ] || fail "wrong checkpoint not removed"

# ---- overrides: CLIPBOOK_DATA_URL_<NAME> and --base-url ----
rm -rf "$T/data2"
cp "$T/srv/vocab.txt" "$T/srv/override.txt"
CLIPBOOK_DATA_URL_BADSHA="$U/override.txt" "$CB" fetch --dir "$T/data2" --manifest "$T/m" --only badsha >"$T/out" 2>&1 && fail "override: still a bad hash"
grep -q "GET /override.txt" "$T/log" || fail "CLIPBOOK_DATA_URL_BADSHA not used"
"$CB" fetch --dir "$T/data2" --manifest "$T/m" --only vit --base-url "$U/redirect" >"$T/out" 2>&1 || fail "--base-url"
grep -q "GET /redirect/models/vit.safetensors" "$T/log" || fail "--base-url not used"

# ---- the built-in manifest: usage errors, --list, OpenAI's vocabulary ----
rc=0; "$CB" fetch --dir "$T/data3" --only nosuch >"$T/out" 2>&1 || rc=$?
[ $rc = 2 ] || fail "--only nosuch should exit 2 (rc $rc)"
"$CB" fetch --dir "$T/data3" --list >"$T/out" 2>&1 || fail "--list failed"
has "sha256   unknown: recorded on first download into $T/data3/MANIFEST.lock"
has "vit-b-32"
if [ -e "$T/srv/bpe_simple_vocab_16e6.txt.gz" ]; then
  rc=0; "$CB" fetch --dir "$T/data3" --only bpe --base-url "$U/" >"$T/out" 2>&1 || rc=$?
  [ $rc = 0 ] || fail "OpenAI's vocabulary from the built-in manifest exited $rc"
  has '"a photo of a cat." -> 49406 320 1125 539 320 2368 269 49407'
else
  echo "skip: ../shared/clip-bpe not present (OpenAI vocabulary step)"
fi
echo "fetch: all steps passed"
