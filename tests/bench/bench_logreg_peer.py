#!/usr/bin/python3
"""scikit-learn peer of bench_logreg: the same data (raw files written by
build/bench/bench_logreg), LogisticRegression(multi_class='multinomial',
solver='lbfgs', C=0.316, max_iter=1000), fit `repeats` times.

    bench_logreg_peer.py DIR [repeats]

Prints one JSON object: fit times, n_iter, test accuracy, and the share of
test predictions equal to clipbook's (DIR/pred_ours.i64, when present)."""
import json, os, sys, time, warnings
import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression

d = sys.argv[1]
repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
D = 512
X = np.fromfile(os.path.join(d, "train_X.f32"), dtype="<f4").reshape(-1, D)
y = np.fromfile(os.path.join(d, "train_y.i64"), dtype="<i8")
Xt = np.fromfile(os.path.join(d, "test_X.f32"), dtype="<f4").reshape(-1, D)
yt = np.fromfile(os.path.join(d, "test_y.i64"), dtype="<i8")
warnings.simplefilter("ignore")
times, cpus = [], []
for _ in range(repeats):
    m = LogisticRegression(multi_class="multinomial", solver="lbfgs", C=0.316, max_iter=1000)
    t0, c0 = time.perf_counter(), time.process_time()
    m.fit(X, y)
    times.append(time.perf_counter() - t0)
    cpus.append(time.process_time() - c0)
    print("peer: fit %.3f s, %d iterations" % (times[-1], m.n_iter_[0]), file=sys.stderr)
pred = m.predict(Xt)
res = {"median_s": float(np.median(times)), "cpu_s": float(np.median(cpus)), "min_s": min(times), "max_s": max(times),
       "repeats": repeats, "n_iter": int(m.n_iter_[0]),
       "test_acc": 100.0 * float((pred == yt).mean()),
       "train_acc": 100.0 * float((m.predict(X) == y).mean()),
       "sklearn": sklearn.__version__}
p = os.path.join(d, "pred_ours.i64")
if os.path.exists(p):
    res["agree"] = 100.0 * float((np.fromfile(p, dtype="<i8") == pred).mean())
print(json.dumps(res))
