/* Helpers shared by the kernel tests: random arrays, worst-difference
 * comparison, and a central finite-difference gradient check on sampled
 * coordinates (the loss is sum(out * R), accumulated in double). */
#ifndef KT_UTIL_H
#define KT_UTIL_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "en_rng.h"

static inline float *kt_rand(en_rng *r, size_t n) {
    float *p = malloc(sizeof(float) * (n ? n : 1));
    cr_assert(p);
    en_rng_fill_normal(r, p, n, 0.0f, 1.0f);
    return p;
}

static inline float *kt_fill(size_t n, float v) {
    float *p = malloc(sizeof(float) * (n ? n : 1));
    cr_assert(p);
    for (size_t i = 0; i < n; i++) p[i] = v;
    return p;
}

/* Worst |a-b| / (1 + |b|) over n values; prints it with a label. */
static inline double kt_worst(const char *what, const float *a, const float *b, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]) / (1.0 + fabs((double)b[i]));
        if (!(d <= worst)) worst = d; /* NaN counts as worst */
    }
    printf("  %-40s worst rel diff %.3g\n", what, worst);
    return worst;
}
static inline double kt_worst_d(const char *what, const float *a, const double *b, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]) / (1.0 + fabs(b[i]));
        if (!(d <= worst)) worst = d;
    }
    printf("  %-40s worst rel diff %.3g\n", what, worst);
    return worst;
}

/* A forward pass writing `out` from the current parameters in ctx. */
typedef void (*kt_fwd_fn)(void *ctx, float *out);

static inline double kt_loss(kt_fwd_fn f, void *ctx, float *out, const float *R, size_t nout) {
    f(ctx, out);
    double s = 0;
    for (size_t i = 0; i < nout; i++) s += (double)out[i] * R[i];
    return s;
}

/* Compares grad (the analytic d loss / d param) with central differences at
 * `samples` random coordinates of param (all of them when samples >= np).
 * Returns the worst |fd - g| / (1 + |g|), printed with a label. */
static inline double kt_gradcheck(const char *what, float *param, size_t np,
                                  const float *grad, kt_fwd_fn f, void *ctx, float *out,
                                  const float *R, size_t nout, float eps, int samples,
                                  en_rng *rng) {
    double worst = 0;
    size_t n = samples >= 0 && (size_t)samples < np ? (size_t)samples : np;
    for (size_t s = 0; s < n; s++) {
        size_t i = n == np ? s : (size_t)en_rng_below(rng, np);
        float keep = param[i];
        param[i] = keep + eps;
        double lp = kt_loss(f, ctx, out, R, nout);
        param[i] = keep - eps;
        double lm = kt_loss(f, ctx, out, R, nout);
        param[i] = keep;
        /* the step actually taken in float, not the nominal eps */
        double h = (double)(keep + eps) - (double)(keep - eps);
        double fd = (lp - lm) / h;
        double d = fabs(fd - grad[i]) / (1.0 + fabs(grad[i]));
        if (!(d <= worst)) worst = d;
    }
    printf("  %-40s gradcheck worst %.3g (%zu coords)\n", what, worst, n);
    return worst;
}

#endif
