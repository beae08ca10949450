/* Kernel lab: 3x3 stride-1 pad-1 conv2d forward on RN50's 3x3 layers at
 * 224 px (batch 8; the CLIP stem's two stride-1 convs at 112), 7x7 and 14x14
 * at batch 32 (bench_clip's batch), and small mini-profile-sized layers.
 *   v0  plain loops (the reference; image 0 only, for validation)
 *   v1  im2col + kn_sgemm with implicit packing (kn_conv2d_forward, Winograd off)
 *   v2+ Winograd F(2x2,3x3), 16 GEMMs on kn_sgemm, chunks of 96/192/384/768 tiles
 *   vd  kn_conv2d_forward as dispatched (what the engine runs)
 * Each variant is validated against v0 on image 0 (worst |diff| / max |ref|
 * printed) before it is timed. GFLOP/s count the direct convolution's FLOPs.
 * Usage: lab_conv3x3 [threads] [reps]; BENCH_CLOCK=cpu for process CPU time. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kn_conv.h"

static clockid_t lab_clock = CLOCK_MONOTONIC;
static double now(void) {
    struct timespec t;
    clock_gettime(lab_clock, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

typedef struct { const char *name; int N, C, H, W, OC; } shape;
static const shape shapes[] = {
    {"64-64 @56 b8", 8, 64, 56, 56, 64},    {"128-128 @28 b8", 8, 128, 28, 28, 128},
    {"256-256 @14 b8", 8, 256, 14, 14, 256}, {"512-512 @7 b8", 8, 512, 7, 7, 512},
    {"stem 32-32 @112 b8", 8, 32, 112, 112, 32}, {"stem 32-64 @112 b8", 8, 32, 112, 112, 64},
    {"512-512 @7 b32", 32, 512, 7, 7, 512}, {"256-256 @14 b32", 32, 256, 14, 14, 256},
    {"16-16 @32 b32", 32, 16, 32, 32, 16},  {"32-32 @16 b32", 32, 32, 16, 16, 32},
    {"64-64 @8 b32", 32, 64, 8, 8, 64},
};

static void fill(float *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)((seed >> 8) & 0xffff) / 65536.0f - 0.5f;
    }
}

/* v0: image 0, pad 1, accumulated in double */
static void ref_conv(double *out, const float *x, const float *w, const float *b, const shape *h) {
    int H = h->H, W = h->W;
    for (int oc = 0; oc < h->OC; oc++)
        for (int oh = 0; oh < H; oh++)
            for (int ow = 0; ow < W; ow++) {
                double s = b[oc];
                for (int c = 0; c < h->C; c++)
                    for (int kh = 0; kh < 3; kh++)
                        for (int kw = 0; kw < 3; kw++) {
                            int ih = oh - 1 + kh, iw = ow - 1 + kw;
                            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                            s += (double)x[((size_t)c * H + ih) * W + iw] *
                                 w[(((size_t)oc * h->C + c) * 3 + kh) * 3 + kw];
                        }
                out[((size_t)oc * H + oh) * W + ow] = s;
            }
}

enum { NVAR = 6 };
static const char *vname[NVAR] = {"v1 im2col", "v2 wino96", "v3 wino192", "v4 wino384",
                                  "v5 wino768", "vd dispatch"};

static void run_variant(int v, float *y, float *sc, const float *x, const float *w,
                        const float *b, const shape *h) {
    if (v == 0 || v == 5) {
        kn_conv_set_wino(v == 5);
        kn_conv2d_forward(y, sc, x, w, b, h->N, h->C, h->H, h->W, h->OC, 3, 3, 1, 1);
        kn_conv_set_wino(1);
        return;
    }
    static const int tiles[] = {0, 96, 192, 384, 768};
    kn_wino3_set_tiles(tiles[v]);
    kn_wino3_forward(y, sc, x, w, b, h->N, h->C, h->H, h->W, h->OC, 1, 0);
    kn_wino3_set_tiles(0);
}

static size_t scratch_for(int v, const shape *h) {
    if (v == 0 || v == 5) {
        kn_conv_set_wino(v == 5);
        size_t n = kn_conv2d_scratch_floats(h->N, h->C, h->H, h->W, h->OC, 3, 3, 1, 1);
        kn_conv_set_wino(1);
        return n;
    }
    static const int tiles[] = {0, 96, 192, 384, 768};
    kn_wino3_set_tiles(tiles[v]);
    size_t n = kn_wino3_scratch_floats(h->N, h->C, h->H, h->W, h->OC, 1);
    kn_wino3_set_tiles(0);
    return n;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1, reps = argc > 2 ? atoi(argv[2]) : 5;
    const char *ck = getenv("BENCH_CLOCK");
    if (ck && !strcmp(ck, "cpu")) lab_clock = CLOCK_PROCESS_CPUTIME_ID;
    const char *only = getenv("LAB_SHAPE");
    omp_set_num_threads(threads);
    printf("lab_conv3x3: %d threads, best of %d, %s time; GFLOP/s (direct FLOPs), rel err vs v0\n",
           threads, reps, lab_clock == CLOCK_MONOTONIC ? "wall" : "CPU");
    int worst_fail = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        const shape *h = &shapes[s];
        if (only && !strstr(h->name, only)) continue;
        size_t nx = (size_t)h->N * h->C * h->H * h->W, nw = (size_t)h->OC * h->C * 9;
        size_t ny = (size_t)h->N * h->OC * h->H * h->W, n0 = (size_t)h->OC * h->H * h->W;
        float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc(h->OC * 4);
        float *y = malloc(ny * 4);
        double *r = malloc(n0 * sizeof(double));
        fill(x, nx, 1); fill(w, nw, 2); fill(b, h->OC, 3);
        ref_conv(r, x, w, b, h);
        double rmax = 0;
        for (size_t i = 0; i < n0; i++) rmax = fmax(rmax, fabs(r[i]));
        double flop = 2.0 * h->N * h->OC * h->C * 9.0 * h->H * h->W;
        printf("%-16s", h->name);
        for (int v = 0; v < NVAR; v++) {
            size_t ns = scratch_for(v, h);
            float *sc = malloc(ns * 4);
            memset(y, 0, ny * 4);
            run_variant(v, y, sc, x, w, b, h);
            double err = 0;
            for (size_t i = 0; i < n0; i++) err = fmax(err, fabs(y[i] - r[i]));
            err /= rmax;
            if (err > 1e-5) worst_fail = 1;
            usleep(20000);
            double best = 1e30;
            for (int k = 0; k < reps; k++) {
                double t0 = now();
                run_variant(v, y, sc, x, w, b, h);
                double t = now() - t0;
                if (t < best) best = t;
            }
            printf("  %s %6.1f (%.1e)", vname[v], flop / best * 1e-9, err);
            fflush(stdout);
            free(sc);
        }
        printf("\n");
        free(x); free(w); free(b); free(y); free(r);
    }
    if (worst_fail) printf("validation: some variant above 1e-5 relative\n");
    return worst_fail;
}
