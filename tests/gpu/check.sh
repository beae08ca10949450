#!/bin/sh
# tests/gpu/check.sh — everything that needs a GPU, in one script, for a
# GPU machine that has the CUDA toolkit (nvcc, cuBLAS) and PyTorch but none
# of Debian's -dev libraries (no Lua, cairo, pango, OpenBLAS) and no network.
#
#   1. build/gpu/gpu_check: carried from a build machine (`make gpu-check`,
#      then carry build/gpu), or built here when this machine can;
#   2. the parity tests, once per precision (fp32, tf32, bf16);
#   3. the kernel benchmarks and the ceilings (gpu_check bench), the
#      engine's whole encoders at batch 256 (gpu_check encoders), the mini
#      towers' training step at batch 256 (gpu_check train);
#   4. PyTorch CUDA eager at the same precisions (tests/gpu/torch_bench.py);
#   5. a short table, last, and $OUT/gpu_summary.json (build/gpu/summary.json
#      when $OUT is unset).
# CHECK_DIR=dir puts the logs there instead (the device tool returns at most
# eight files from $OUT, so a caller can pack dir into one); each step's
# seconds go into the summary as step_<name>_s.
# Under 8 minutes on one H100/H200: every step has its own timeout. Without
# a GPU it prints "skip: ..." lines and exits 0. The exit status is non-zero
# when a parity test failed or a step that should have run did not.
set -u
cd "$(dirname "$0")/../.."
if [ -n "${OUT:-}" ]; then dir=$OUT; sum=$OUT/gpu_summary.json; else dir=build/gpu; sum=build/gpu/summary.json; fi
[ -n "${CHECK_DIR:-}" ] && dir=$CHECK_DIR
mkdir -p "$dir"
kv=$dir/gpu_check.kv; : > "$kv"
bin=build/gpu/gpu_check
rc=0
note() { echo "check: $*"; echo "note $(echo "$*" | tr ' ' '_')" >> "$kv"; }
t_step=$(date +%s)
step() { t=$(date +%s); echo "step_$1_s $((t - t_step))" >> "$kv"; t_step=$t; }

gpu=1
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then gpu=0; fi
[ $gpu = 1 ] && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | head -1 |
  sed 's/^/check: card: /'

# cuBLAS: the rpath names /usr/local/cuda/lib64; else PyTorch's own copy
if [ ! -e /usr/local/cuda/lib64/libcublas.so.13 ]; then
  tl=$(python3 -c 'import os, nvidia.cublas as c; print(os.path.join(c.__path__[0], "lib"))' 2>/dev/null || true)
  [ -n "$tl" ] && export LD_LIBRARY_PATH="$tl${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

if [ ! -x "$bin" ]; then
  if command -v nvcc >/dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; then
    echo "check: no $bin: trying make gpu-check here"
    timeout 300 make -j"$(nproc)" gpu-check >"$dir/build.log" 2>&1 || { tail -20 "$dir/build.log"; note "make gpu-check failed (see build.log)"; }
  fi
fi
if [ ! -x "$bin" ]; then
  note "no $bin (run make gpu-check on a build machine and carry build/gpu)"
  [ $gpu = 1 ] && rc=1
else
  # the three precisions at once: each is mostly its CPU references (about
  # 35 s on 16 cores), and the GPU has room for all three
  echo "== parity fp32, tf32, bf16 (at once)"
  for p in fp32 tf32 bf16; do
    (CLIPBOOK_PRECISION=$p timeout 120 "$bin" parity >"$dir/parity_$p.log" 2>&1; echo $? >"$dir/parity_$p.rc") &
  done
  wait
  step parity
  for p in fp32 tf32 bf16; do
    r=$(cat "$dir/parity_$p.rc" 2>/dev/null || echo 1); rm -f "$dir/parity_$p.rc"
    echo "-- parity $p: $(grep -c 'worst' "$dir/parity_$p.log") checks, exit $r"
    [ "$r" = 124 ] && { note "parity $p timed out"; tail -3 "$dir/parity_$p.log"; }
    grep -E '^(parity_|cuda_)' "$dir/parity_$p.log" | sed "s/^parity_\([a-z0-9_]*\) /parity_${p}_\1 /" >> "$kv"
    grep -E '^FAIL|\[FAIL\]' "$dir/parity_$p.log" | head -20
    [ "$r" != 0 ] && { rc=1; note "parity $p exited $r"; }
    # on a GPU machine a skip means the program found no device: a failure
    [ $gpu = 1 ] && grep -q '^skip:' "$dir/parity_$p.log" && { rc=1; note "parity $p skipped tests although nvidia-smi sees a GPU"; }
  done
  if [ $gpu = 1 ]; then
    echo "== bench"
    timeout 90 "$bin" bench >"$dir/bench.log" 2>&1 || { rc=1; note "gpu_check bench failed"; tail -5 "$dir/bench.log"; }
    step bench
    grep -E '^[a-z0-9_]+ [0-9.]+$' "$dir/bench.log" | grep -v '^cuda_' >> "$kv"
    echo "== encoders"
    timeout 150 "$bin" encoders >"$dir/encoders.log" 2>&1 || { rc=1; note "gpu_check encoders failed"; tail -5 "$dir/encoders.log"; }
    step encoders
    grep -E '^encoders: ' "$dir/encoders.log"
    grep -E '^engine_[a-z0-9_]+ [0-9.]+$' "$dir/encoders.log" >> "$kv"
    echo "== train"
    timeout 90 "$bin" train >"$dir/train.log" 2>&1 || { rc=1; note "gpu_check train failed"; tail -5 "$dir/train.log"; }
    step train
    grep -E '^train: ' "$dir/train.log"
    grep -E '^engine_[a-z0-9_]+ [0-9.]+$' "$dir/train.log" >> "$kv"
    # CHECK_PROFILE=1: each kernel's time in one ViT-B/32 and one RN50 batch (tf32)
    # and one mini training step, by ncu (tests/gpu/ncu_sum.py sums them)
    if [ "${CHECK_PROFILE:-0}" = 1 ] && command -v ncu >/dev/null 2>&1; then
      echo "== profile (ncu)"
      for m in vit_b32 rn50; do
        GC_PROFILE=1 GC_MODELS=$m GC_PRECS=tf32 timeout 40 ncu --clock-control none --profile-from-start off \
          --metrics gpu__time_duration.sum --csv --print-units base "$bin" encoders >"$dir/ncu_${m}_tf32.csv" 2>&1 ||
          note "ncu $m tf32 failed"
      done
      GC_PROFILE=1 timeout 40 ncu --clock-control none --profile-from-start off --metrics gpu__time_duration.sum \
        --csv --print-units base "$bin" train >"$dir/ncu_train.csv" 2>&1 || note "ncu train failed"
      step profile
    fi
  fi
fi

if [ $gpu = 1 ]; then
  echo "== torch"
  if python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
    PYTHONUNBUFFERED=1 timeout 180 python3 tests/gpu/torch_bench.py >"$dir/torch.log" 2>&1 || { note "torch_bench failed"; tail -5 "$dir/torch.log"; }
    step torch
    grep -E '^torch_[a-z0-9_]+ ' "$dir/torch.log" >> "$kv"
  else
    note "no PyTorch with CUDA: no peer figures"
  fi
else
  echo "skip: no CUDA device (nvidia-smi finds none): no GPU benchmark"
fi

python3 - "$kv" "$sum" "$gpu" "$rc" <<'PY' || { echo "check: python3 missing: raw figures in $kv"; cat "$kv"; }
import json, sys
kv, out, gpu, rc = sys.argv[1], sys.argv[2], sys.argv[3] == "1", int(sys.argv[4])
d, notes = {}, []
for line in open(kv):
    k, _, v = line.strip().partition(" ")
    if not k:
        continue
    if k == "note":
        notes.append(v.replace("_", " "))
        continue
    try:
        d[k] = float(v) if "." in v else int(v)
    except ValueError:
        d[k] = v
summary = {"gpu": gpu, "status": "pass" if rc == 0 else "fail", "figures": d, "notes": notes}
json.dump(summary, open(out, "w"), indent=1, sort_keys=True)
rows = [("parity fp32 / tf32 / bf16 (passed, failed, skipped)",
         " / ".join("%s,%s,%s" % (d.get(f"parity_{p}_passed", "-"), d.get(f"parity_{p}_failed", "-"),
                                  d.get(f"parity_{p}_skipped", "-")) for p in ("fp32", "tf32", "bf16")))]
for m, lab in (("vit_b32", "ViT-B/32"), ("rn50", "RN50")):
    rows.append(("%s encoder ||gpu-cpu||/||cpu|| fp32/tf32/bf16" % lab,
                 " / ".join(str(d.get("parity_%s_encoder_%s_rel" % (p, m), "-")) for p in ("fp32", "tf32", "bf16"))))
for label, keys in (("GEMM 8192 TFLOP/s clipbook fp32/tf32/bf16", ["gemm8192_%s_tflops"]),
                    ("GEMM 8192 TFLOP/s torch fp32/tf32/bf16", ["torch_gemm8192_%s_tflops"]),
                    ("ViT-B/32 b256 img/s clipbook fp32/tf32/bf16", ["engine_vit_b32_b256_%s_img_s"]),
                    ("ViT-B/32 b256 img/s torch fp32/tf32/bf16", ["torch_vit_b32_b256_%s_img_s"]),
                    ("RN50 b256 img/s clipbook fp32/tf32/bf16", ["engine_rn50_b256_%s_img_s"]),
                    ("RN50 b256 img/s torch fp32/tf32/bf16", ["torch_rn50_b256_%s_img_s"]),
                    ("RN50 conv3x3 TFLOP/s clipbook fp32/tf32/bf16", ["rn50_b256_conv3x3_64_%s_tflops"])):
    rows.append((label, " / ".join(str(d.get(keys[0] % p, "-")) for p in ("fp32", "tf32", "bf16"))))
rows.append(("D2D copy GB/s clipbook / torch", "%s / %s" % (d.get("d2d_copy_gbs", "-"), d.get("torch_d2d_copy_gbs", "-"))))
rows.append(("mini train step ms clipbook / torch (fp32, b256)", "%s / %s" % (
    d.get("engine_train_mini_b256_step_ms", "-"), d.get("torch_train_mini_b256_step_ms", "-"))))
for m, lab in (("mini_vit", "mini ViT"), ("mini_resnet", "mini ResNet")):
    rows.append(("%s step grads ||gpu-cpu||/||cpu|| fp32/tf32/bf16" % lab,
                 " / ".join(str(d.get("parity_%s_train_%s_grad_rel" % (p, m), "-")) for p in ("fp32", "tf32", "bf16"))))
print()
print("%-58s %s" % ("gpu check", "pass" if rc == 0 else "FAIL") + ("" if gpu else " (no GPU: skipped)"))
for k, v in rows:
    print("%-58s %s" % (k, v))
for n in notes:
    print("note:", n)
print("summary:", out)
PY
exit $rc
