/* Kernel lab for the convolution kernels: conv2d forward and backward
 * GFLOP/s on RN50-shaped layers, against the raw cblas_sgemm rate on the GEMM
 * that the same work amounts to ((OC x K) @ (K x N*OH*OW)), same threads.
 * Validates the forward against a plain loop on one output channel first.
 * Usage: bench_conv [threads] [json-out|-] [sliced 0|1] [implicit 0|1]
 * (see bench_conv.sh) */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "en_machine.h"
#include "kn_conv.h"

void openblas_set_num_threads(int);

/* BENCH_CLOCK=cpu: process CPU time instead of wall time. With one thread
 * on a loaded machine it measures the work, not the other tenants. */
static clockid_t bench_clock = CLOCK_MONOTONIC;

static double now(void) {
    struct timespec t;
    clock_gettime(bench_clock, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

typedef struct { const char *name; int N, C, H, W, OC, K, stride, pad; } shape;

static const shape shapes[] = {
    {"64-64 3x3 56x56", 8, 64, 56, 56, 64, 3, 1, 1},
    {"256-64 1x1 56x56", 8, 256, 56, 56, 64, 1, 1, 0},
    {"64-256 1x1 56x56", 8, 64, 56, 56, 256, 1, 1, 0},
    {"128-128 3x3 28x28", 8, 128, 28, 28, 128, 3, 1, 1},
    {"256-256 3x3 14x14", 8, 256, 14, 14, 256, 3, 1, 1},
    {"512-512 3x3 7x7", 8, 512, 7, 7, 512, 3, 1, 1},
    {"512-2048 1x1 7x7", 8, 512, 7, 7, 2048, 1, 1, 0},
    {"stem 3-32 3x3 s2 224", 8, 3, 224, 224, 32, 3, 2, 1},
};

static void fill(float *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)((seed >> 8) & 0xffff) / 65536.0f - 0.5f;
    }
}

/* Best of `reps` after one warm-up, seconds. */
/* The 20 ms pause first lets OpenMP's spinning workers from the previous
 * block go to sleep, so no measurement pays for the one before it. */
#define TIME_BEST(reps, stmt)                                                  \
    ({                                                                         \
        usleep(20000);                                                         \
        stmt;                                                                  \
        double best_ = 1e30;                                                   \
        for (int r_ = 0; r_ < (reps); r_++) {                                  \
            double t0_ = now();                                                \
            stmt;                                                              \
            double t_ = now() - t0_;                                           \
            if (t_ < best_) best_ = t_;                                        \
        }                                                                      \
        best_;                                                                 \
    })

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    en_machine_install(); /* the paths clipbook takes on this machine (engine/en_machine.h) */
    FILE *js = argc > 2 && strcmp(argv[2], "-") ? fopen(argv[2], "w") : NULL;
    if (argc > 3) kn_conv_set_sliced(atoi(argv[3]));
    if (argc > 4) kn_conv_set_implicit(atoi(argv[4]));
    const char *ck = getenv("BENCH_CLOCK");
    if (ck && !strcmp(ck, "cpu")) bench_clock = CLOCK_PROCESS_CPUTIME_ID;
    omp_set_num_threads(threads);
    openblas_set_num_threads(threads);
    printf("conv2d kernels, %d threads (best of 7, %s time)\n", threads,
           bench_clock == CLOCK_MONOTONIC ? "wall" : "CPU");
    printf("%-24s %9s %9s %7s %9s %9s %7s\n", "layer (batch 8)", "fwd GF/s", "sgemm", "ratio",
           "bwd GF/s", "sgemm", "ratio");
    if (js) fprintf(js, "[\n");
    int first = 1;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        shape h = shapes[s];
        int OH = kn_conv_out_size(h.H, h.K, h.stride, h.pad);
        int OW = kn_conv_out_size(h.W, h.K, h.stride, h.pad);
        size_t nx = (size_t)h.N * h.C * h.H * h.W, nw = (size_t)h.OC * h.C * h.K * h.K;
        size_t ny = (size_t)h.N * h.OC * OH * OW;
        size_t ns = kn_conv2d_scratch_floats(h.N, h.C, h.H, h.W, h.OC, h.K, h.K, h.stride, h.pad);
        int M = h.OC, Ncol = h.N * OH * OW, Kd = h.C * h.K * h.K;
        float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc(h.OC * 4), *y = malloc(ny * 4);
        float *dx = malloc(nx * 4), *dw = calloc(nw, 4), *db = calloc(h.OC, 4);
        float *sc = malloc(ns * 4);
        float *A = malloc((size_t)M * Kd * 4), *B = malloc((size_t)Kd * Ncol * 4);
        float *Cm = malloc((size_t)M * Ncol * 4);
        fill(x, nx, 1); fill(w, nw, 2); fill(b, h.OC, 3); fill(A, (size_t)M * Kd, 4);
        fill(B, (size_t)Kd * Ncol, 5);
        memset(sc, 0, ns * 4); memset(Cm, 0, (size_t)M * Ncol * 4);

        /* validation: output channel 0 of image N-1 against a plain loop */
        kn_conv2d_forward(y, sc, x, w, b, h.N, h.C, h.H, h.W, h.OC, h.K, h.K, h.stride, h.pad);
        double err = 0;
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                double acc = b[0];
                for (int c = 0; c < h.C; c++)
                    for (int kh = 0; kh < h.K; kh++)
                        for (int kw = 0; kw < h.K; kw++) {
                            int ih = oh * h.stride - h.pad + kh, iw = ow * h.stride - h.pad + kw;
                            if (ih < 0 || ih >= h.H || iw < 0 || iw >= h.W) continue;
                            acc += (double)x[(((size_t)(h.N - 1) * h.C + c) * h.H + ih) * h.W + iw] *
                                   w[((size_t)c * h.K + kh) * h.K + kw];
                        }
                double d = fabs(acc - y[((size_t)(h.N - 1) * h.OC) * OH * OW + oh * OW + ow]);
                if (d > err) err = d;
            }
        if (err > 1e-3) { printf("%s: validation failed (%g)\n", h.name, err); return 1; }

        double flop = 2.0 * M * (double)Ncol * Kd;
        double tf = TIME_BEST(7, kn_conv2d_forward(y, sc, x, w, b, h.N, h.C, h.H, h.W, h.OC,
                                                   h.K, h.K, h.stride, h.pad));
        double tg = TIME_BEST(7, cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, Ncol,
                                             Kd, 1.0f, A, Kd, B, Ncol, 0.0f, Cm, Ncol));
        /* backward = dinp (Kd x Ncol from M) + dw (M x Kd over Ncol): two GEMMs */
        double tb = TIME_BEST(7, kn_conv2d_backward(dx, dw, db, sc, y, x, w, h.N, h.C, h.H, h.W,
                                                    h.OC, h.K, h.K, h.stride, h.pad, 0));
        double tgb = TIME_BEST(7, {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Kd, Ncol, M, 1.0f, A, Kd, Cm,
                        Ncol, 0.0f, B, Ncol);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, Kd, Ncol, 1.0f, Cm, Ncol, B,
                        Ncol, 1.0f, A, Kd);
        });
        double gf = flop / tf * 1e-9, gg = flop / tg * 1e-9;
        double gb = 2 * flop / tb * 1e-9, ggb = 2 * flop / tgb * 1e-9;
        printf("%-24s %9.1f %9.1f %7.2f %9.1f %9.1f %7.2f\n", h.name, gf, gg, gf / gg, gb, ggb,
               gb / ggb);
        if (js) {
            fprintf(js, "%s {\"name\": \"conv2d forward %s b8\", \"value\": %.2f, \"unit\": \"GFLOP/s\", "
                        "\"peer\": \"cblas_sgemm same GEMM, %d threads, %s time\", \"peer_value\": %.2f, \"ratio\": %.3f}",
                    first ? "" : ",\n", h.name, gf, threads, ck ? ck : "wall", gg, gf / gg);
            fprintf(js, ",\n {\"name\": \"conv2d backward %s b8\", \"value\": %.2f, \"unit\": \"GFLOP/s\", "
                        "\"peer\": \"cblas_sgemm same two GEMMs, %d threads, %s time\", \"peer_value\": %.2f, \"ratio\": %.3f}",
                    h.name, gb, threads, ck ? ck : "wall", ggb, gb / ggb);
            first = 0;
        }
        free(x); free(w); free(b); free(y); free(dx); free(dw); free(db); free(sc);
        free(A); free(B); free(Cm);
    }
    if (js) { fprintf(js, "\n]\n"); fclose(js); }
    return 0;
}
