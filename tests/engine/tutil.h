/* Helpers for the engine tests: random tensors, finite-difference gradient
 * checks (loss accumulated in double), worst-difference reports. */
#ifndef TUTIL_H
#define TUTIL_H

#include "en_autograd.h"
#include "en_ops.h"

/* A leaf tensor that requires grad, N(0,1) (or uniform in [lo,hi] when
 * lo < hi), seeded. */
en_tensor *t_rand(uint64_t seed, int ndim, const int64_t *shape);
en_tensor *t_rand_range(uint64_t seed, int ndim, const int64_t *shape, float lo, float hi);
en_tensor *t_idx(int n, const int64_t *vals);

/* f builds an output from the inputs (inputs are leaves; f may take views
 * of them). Checks d(sum(out * R))/d in[i] against central differences for
 * every input that requires grad. Returns the worst error
 * |a - n| / (atol + rtol |n|) (<= 1 passes) and prints it with `name`. */
typedef en_tensor *(*t_fn)(en_tensor **in, void *ctx);
double t_gradcheck(const char *name, t_fn f, int nin, en_tensor **in, void *ctx, double eps,
                   double atol, double rtol);

/* max |a - b| over n values */
double t_maxdiff(const float *a, const float *b, int64_t n);

#endif
