#include "tutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "en_error.h"

en_tensor *t_rand(uint64_t seed, int ndim, const int64_t *shape) {
    en_rng r;
    en_rng_seed(&r, seed);
    en_tensor *t = en_tensor_randn(ndim, shape, &r, 0, 1);
    en_requires_grad(t, 1);
    return t;
}

en_tensor *t_rand_range(uint64_t seed, int ndim, const int64_t *shape, float lo, float hi) {
    en_rng r;
    en_rng_seed(&r, seed);
    en_tensor *t = en_tensor_uniform(ndim, shape, &r, lo, hi);
    en_requires_grad(t, 1);
    return t;
}

en_tensor *t_idx(int n, const int64_t *vals) { return en_tensor_from_i64(EN_DIMS(n), vals); }

double t_maxdiff(const float *a, const float *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d > m || isnan(d)) m = isnan(d) ? INFINITY : d;
    }
    return m;
}

/* sum(out * R) in double, R a fixed pseudo-random pattern */
static double weighted(const en_tensor *out) {
    en_tensor *c = en_tensor_clone(out);
    const float *p = en_tensor_f32(c);
    int64_t n = en_tensor_numel(c);
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)p[i] * (0.5 + 0.37 * sin(1.7 * (double)i + 0.3));
    en_tensor_release(c);
    return s;
}

double t_gradcheck(const char *name, t_fn f, int nin, en_tensor **in, void *ctx, double eps,
                   double atol, double rtol) {
    for (int i = 0; i < nin; i++)
        if (in[i]) en_zero_grad(in[i]);
    en_tensor *out = f(in, ctx);
    if (!out) {
        printf("%s: forward failed: %s\n", name, en_error_msg());
        return INFINITY;
    }
    int64_t n = en_tensor_numel(out);
    float *rw = malloc((size_t)(n ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++) rw[i] = (float)(0.5 + 0.37 * sin(1.7 * (double)i + 0.3));
    en_tensor *R = en_tensor_from_f32(out->ndim, out->shape, rw);
    free(rw);
    en_tensor *prod = en_mul(out, R);
    en_tensor *loss = en_sum_all(prod);
    if (en_backward(loss) != 0) {
        printf("%s: backward failed: %s\n", name, en_error_msg());
        return INFINITY;
    }
    en_tensor_release(loss);
    en_tensor_release(prod);
    en_tensor_release(R);
    en_tensor_release(out);
    double worst = 0, worst_a = 0, worst_n = 0;
    int worst_i = -1;
    int64_t worst_j = -1;
    int prev = en_grad_set_enabled(0);
    for (int i = 0; i < nin; i++) {
        if (!in[i] || !en_tensor_requires_grad(in[i])) continue;
        en_tensor *g = en_tensor_grad(in[i]);
        if (!g) {
            printf("%s: input %d got no gradient\n", name, i);
            worst = INFINITY;
            continue;
        }
        float *x = en_tensor_f32(in[i]);
        const float *ga = en_tensor_f32(g);
        int64_t m = en_tensor_numel(in[i]);
        int64_t stride = m > 96 ? m / 96 : 1; /* sample big inputs */
        for (int64_t j = 0; j < m; j += stride) {
            float x0 = x[j];
            float xp = x0 + (float)eps, xm = x0 - (float)eps;
            x[j] = xp;
            en_tensor *o1 = f(in, ctx);
            double l1 = weighted(o1);
            x[j] = xm;
            en_tensor *o2 = f(in, ctx);
            double l2 = weighted(o2);
            x[j] = x0;
            en_tensor_release(o1);
            en_tensor_release(o2);
            double num = (l1 - l2) / ((double)xp - (double)xm), a = ga[j];
            double e = fabs(a - num) / (atol + rtol * fabs(num));
            if (!(e <= worst)) {
                worst = isnan(e) ? INFINITY : e;
                worst_a = a;
                worst_n = num;
                worst_i = i;
                worst_j = j;
            }
        }
    }
    en_grad_set_enabled(prev);
    printf("gradcheck %-22s worst err %.3g (input %d elem %lld: analytic %.6g numeric %.6g)\n", name,
           worst, worst_i, (long long)worst_j, worst_a, worst_n);
    return worst;
}
