/* en_init — parameter initialisers on raw float arrays, with PyTorch's
 * formulas (torch.nn.init): fans from a shape as
 * _calculate_fan_in_and_fan_out does (fan_in = shape[1]·receptive field,
 * fan_out = shape[0]·receptive field, receptive field = prod(shape[2:])),
 * gains as calculate_gain. Every draw comes from the en_rng passed in, in
 * element order, so the same seed gives the same weights. Functions that take
 * a shape return -1 (en_error) when it has fewer than two dimensions. */
#ifndef EN_INIT_H
#define EN_INIT_H

#include <stddef.h>
#include <stdint.h>

#include "en_rng.h"

typedef enum { EN_FAN_IN, EN_FAN_OUT } en_fan_mode;
typedef enum {
    EN_GAIN_LINEAR, EN_GAIN_SIGMOID, EN_GAIN_TANH, EN_GAIN_RELU, EN_GAIN_LEAKY_RELU
} en_nonlin;

/* torch.nn.init.calculate_gain; `param` is leaky_relu's negative slope
 * (PyTorch's default for kaiming_* is a = 0, i.e. gain sqrt(2)). */
double en_init_gain(en_nonlin nl, double param);
int en_init_fans(const int64_t *shape, int ndim, int64_t *fan_in, int64_t *fan_out);
int64_t en_init_numel(const int64_t *shape, int ndim);

void en_init_constant(float *p, size_t n, float v);
void en_init_normal(en_rng *r, float *p, size_t n, float mean, float std);
void en_init_uniform(en_rng *r, float *p, size_t n, float lo, float hi);

/* kaiming_{uniform,normal}_(w, a, mode, nonlinearity): std = gain/sqrt(fan),
 * uniform bound = sqrt(3)·std. p holds prod(shape) elements. */
int en_init_kaiming_uniform(en_rng *r, float *p, const int64_t *shape, int ndim,
                            double a, en_fan_mode mode, en_nonlin nl);
int en_init_kaiming_normal(en_rng *r, float *p, const int64_t *shape, int ndim,
                           double a, en_fan_mode mode, en_nonlin nl);
/* xavier_{uniform,normal}_(w, gain): std = gain·sqrt(2/(fan_in+fan_out)). */
int en_init_xavier_uniform(en_rng *r, float *p, const int64_t *shape, int ndim, double gain);
int en_init_xavier_normal(en_rng *r, float *p, const int64_t *shape, int ndim, double gain);

#endif
