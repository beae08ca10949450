#!/usr/bin/env python3
"""Sums the kernel times of an `ncu --csv --metrics gpu__time_duration.sum`
log (tests/gpu/check.sh's profile step) by kernel name: count, total
microseconds and share, largest first.

    ncu_sum.py LOG.csv [TOP]"""
import csv
import sys
from collections import defaultdict

path, top = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 25
rows = [ln for ln in open(path, errors="replace") if ln.startswith('"')]
if not rows:
    sys.exit(f"{path}: no ncu rows")
r = csv.reader(rows)
head = next(r)
ki, vi, ui = head.index("Kernel Name"), head.index("Metric Value"), head.index("Metric Unit")
tot, cnt = defaultdict(float), defaultdict(int)
for row in r:
    if len(row) <= vi:
        continue
    name = row[ki].split("(")[0].replace("void ", "")
    v = float(row[vi].replace(",", ""))
    unit = row[ui]
    us = v * {"ns": 1e-3, "nsecond": 1e-3, "ms": 1e3, "msecond": 1e3, "s": 1e6, "second": 1e6}.get(unit, 1.0)
    tot[name] += us
    cnt[name] += 1
s = sum(tot.values())
print(f"{path}: {sum(cnt.values())} kernels, {s:.0f} us")
for k in sorted(tot, key=tot.get, reverse=True)[:top]:
    print(f"  {tot[k]:9.1f} us {100 * tot[k] / s:5.1f}%  x{cnt[k]:<5d} {k[:90]}")
