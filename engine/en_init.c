#include "en_init.h"

#include <math.h>

#include "en_error.h"

double en_init_gain(en_nonlin nl, double param) {
    switch (nl) {
    case EN_GAIN_LINEAR: case EN_GAIN_SIGMOID: return 1.0;
    case EN_GAIN_TANH: return 5.0 / 3.0;
    case EN_GAIN_RELU: return sqrt(2.0);
    case EN_GAIN_LEAKY_RELU: return sqrt(2.0 / (1.0 + param * param));
    }
    EN_ASSERT(0 && "unknown nonlinearity");
    return 0;
}

int64_t en_init_numel(const int64_t *shape, int ndim) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

int en_init_fans(const int64_t *shape, int ndim, int64_t *fan_in, int64_t *fan_out) {
    if (ndim < 2)
        return en_error("init: fan in and fan out need a shape of at least 2 dimensions (got %d)", ndim);
    int64_t rf = 1;
    for (int i = 2; i < ndim; i++) rf *= shape[i];
    *fan_in = shape[1] * rf;
    *fan_out = shape[0] * rf;
    return 0;
}

void en_init_constant(float *p, size_t n, float v) {
    for (size_t i = 0; i < n; i++) p[i] = v;
}

void en_init_normal(en_rng *r, float *p, size_t n, float mean, float std) {
    en_rng_fill_normal(r, p, n, mean, std);
}

void en_init_uniform(en_rng *r, float *p, size_t n, float lo, float hi) {
    en_rng_fill_uniform(r, p, n, lo, hi);
}

static int kaiming_std(const int64_t *shape, int ndim, double a, en_fan_mode mode,
                       en_nonlin nl, double *std) {
    int64_t fi = 0, fo = 0;
    if (en_init_fans(shape, ndim, &fi, &fo)) return -1;
    int64_t fan = mode == EN_FAN_IN ? fi : fo;
    if (fan <= 0) return en_error("init: kaiming initialisation of a tensor with zero elements");
    *std = en_init_gain(nl, a) / sqrt((double)fan);
    return 0;
}

int en_init_kaiming_uniform(en_rng *r, float *p, const int64_t *shape, int ndim,
                            double a, en_fan_mode mode, en_nonlin nl) {
    double std;
    if (kaiming_std(shape, ndim, a, mode, nl, &std)) return -1;
    float bound = (float)(sqrt(3.0) * std);
    en_init_uniform(r, p, (size_t)en_init_numel(shape, ndim), -bound, bound);
    return 0;
}

int en_init_kaiming_normal(en_rng *r, float *p, const int64_t *shape, int ndim,
                           double a, en_fan_mode mode, en_nonlin nl) {
    double std;
    if (kaiming_std(shape, ndim, a, mode, nl, &std)) return -1;
    en_init_normal(r, p, (size_t)en_init_numel(shape, ndim), 0.0f, (float)std);
    return 0;
}

static int xavier_std(const int64_t *shape, int ndim, double gain, double *std) {
    int64_t fi = 0, fo = 0;
    if (en_init_fans(shape, ndim, &fi, &fo)) return -1;
    if (fi + fo <= 0) return en_error("init: xavier initialisation of a tensor with zero elements");
    *std = gain * sqrt(2.0 / (double)(fi + fo));
    return 0;
}

int en_init_xavier_uniform(en_rng *r, float *p, const int64_t *shape, int ndim, double gain) {
    double std;
    if (xavier_std(shape, ndim, gain, &std)) return -1;
    float a = (float)(sqrt(3.0) * std);
    en_init_uniform(r, p, (size_t)en_init_numel(shape, ndim), -a, a);
    return 0;
}

int en_init_xavier_normal(en_rng *r, float *p, const int64_t *shape, int ndim, double gain) {
    double std;
    if (xavier_std(shape, ndim, gain, &std)) return -1;
    en_init_normal(r, p, (size_t)en_init_numel(shape, ndim), 0.0f, (float)std);
    return 0;
}
