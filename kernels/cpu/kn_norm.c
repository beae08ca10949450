/* kn_norm — batch normalisation. See kn_norm.h. */
#include "kn_norm.h"

#include <math.h>
#include <stddef.h>

#include "kn_assert.h"

/* The row sums below run in float lanes (omp simd: 16 partial sums a row,
 * reassociated) and are added up across rows in double: per row the error
 * is about HW/16 ulps of sum|x|, far below the statistics' own spread, and
 * the scalar double loop they replace was 3-4x slower (engine/NOTES.md,
 * "mini ResNet step"). */
static float row_sum(const float *x, int n) {
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < n; i++) s += x[i];
    return s;
}

static float row_sqdev(const float *x, float mu, int n) {
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < n; i++) { float d = x[i] - mu; s += d * d; }
    return s;
}

void kn_batchnorm2d_forward(float *out, float *mean, float *rstd, float *running_mean,
                            float *running_var, const float *inp, const float *gamma,
                            const float *beta, int N, int C, int HW, int training,
                            float momentum, float eps) {
    size_t M = (size_t)N * HW;
    KN_ASSERT(!training || M > 0);
#pragma omp parallel for schedule(static) if ((size_t)N * C * HW > 32768)
    for (int c = 0; c < C; c++) {
        double mu, var;
        if (training) {
            double s = 0, s2 = 0;
            /* two passes: the one-pass sum of squares cancels badly for
             * large means */
            for (int n = 0; n < N; n++) s += row_sum(inp + ((size_t)n * C + c) * HW, HW);
            mu = s / (double)M;
            for (int n = 0; n < N; n++) s2 += row_sqdev(inp + ((size_t)n * C + c) * HW, (float)mu, HW);
            var = s2 / (double)M;
            if (running_mean)
                running_mean[c] = (float)((1.0 - momentum) * running_mean[c] + momentum * mu);
            if (running_var) {
                double unbiased = M > 1 ? s2 / (double)(M - 1) : var;
                running_var[c] = (float)((1.0 - momentum) * running_var[c] + momentum * unbiased);
            }
        } else {
            mu = running_mean[c];
            var = running_var[c];
        }
        float r = (float)(1.0 / sqrt(var + (double)eps));
        mean[c] = (float)mu;
        rstd[c] = r;
        float g = gamma ? gamma[c] : 1.0f, b = beta ? beta[c] : 0.0f;
        /* out = x*scale + shift: one multiply-add per element */
        float scale = g * r, shift = b - (float)mu * scale;
        for (int n = 0; n < N; n++) {
            const float *x = inp + ((size_t)n * C + c) * HW;
            float *o = out + ((size_t)n * C + c) * HW;
#pragma omp simd
            for (int i = 0; i < HW; i++) o[i] = x[i] * scale + shift;
        }
    }
}

void kn_batchnorm2d_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                             const float *inp, const float *mean, const float *rstd,
                             const float *gamma, int N, int C, int HW, int training,
                             int acc) {
    size_t M = (size_t)N * HW;
#pragma omp parallel for schedule(static) if ((size_t)N * C * HW > 32768)
    for (int c = 0; c < C; c++) {
        float mu = mean[c], r = rstd[c], g = gamma ? gamma[c] : 1.0f;
        double sd = 0, sdx = 0; /* sum dout, sum dout*xhat */
        for (int n = 0; n < N; n++) {
            const float *x = inp + ((size_t)n * C + c) * HW;
            const float *d = dout + ((size_t)n * C + c) * HW;
            float rd = 0, rdx = 0;
#pragma omp simd reduction(+ : rd, rdx)
            for (int i = 0; i < HW; i++) {
                rd += d[i];
                rdx += d[i] * ((x[i] - mu) * r);
            }
            sd += rd;
            sdx += rdx;
        }
        if (dgamma) dgamma[c] += (float)sdx;
        if (dbeta) dbeta[c] += (float)sd;
        if (!dinp) continue;
        /* train: dx = g*r*(d - mean(d) - xhat*mean(d*xhat)); eval: dx = g*r*d */
        float k = g * r;
        float md = training ? (float)(sd / (double)M) : 0.0f;
        float mdx = training ? (float)(sdx / (double)M) : 0.0f;
        for (int n = 0; n < N; n++) {
            const float *x = inp + ((size_t)n * C + c) * HW;
            const float *d = dout + ((size_t)n * C + c) * HW;
            float *o = dinp + ((size_t)n * C + c) * HW;
            if (acc) {
#pragma omp simd
                for (int i = 0; i < HW; i++) o[i] += k * (d[i] - md - (x[i] - mu) * r * mdx);
            } else {
#pragma omp simd
                for (int i = 0; i < HW; i++) o[i] = k * (d[i] - md - (x[i] - mu) * r * mdx);
            }
        }
    }
}
