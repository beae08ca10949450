/* lab_conv_mini — every convolution of the mini profile's ResNet (width 8,
 * stem without stride or pool, 32 px pictures: chapters/profiles.lua) at
 * the pre-training batch, forward, backward (dinp and dw) and dw alone,
 * the least of REPEATS runs each, at OMP_NUM_THREADS threads. The numbers
 * behind engine/NOTES.md "mini ResNet step" (issue 17's budget).
 *   lab_conv_mini [REPEATS] [BATCH] [LAYER]
 * LAYER: only the layers whose name starts with it ("l2b").
 * CLIPBOOK_CONV forces a variant as everywhere (kn_conv.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "en_machine.h"
#include "kn_conv.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

typedef struct { const char *name; int C, H, OC, K, pad; } layer;

/* stem, then per stage: 1x1 in, 3x3, 1x1 out (after the stage's avg pool),
 * 1x1 downsample */
static const layer layers[] = {
    {"stem1 3-4 3x3 @32", 3, 32, 4, 3, 1},       {"stem2 4-4 3x3 @32", 4, 32, 4, 3, 1},
    {"stem3 4-8 3x3 @32", 4, 32, 8, 3, 1},       {"l1a 8-8 1x1 @32", 8, 32, 8, 1, 0},
    {"l1b 8-8 3x3 @32", 8, 32, 8, 3, 1},         {"l1c 8-32 1x1 @32", 8, 32, 32, 1, 0},
    {"l1d 8-32 1x1 @32", 8, 32, 32, 1, 0},       {"l2a 32-16 1x1 @32", 32, 32, 16, 1, 0},
    {"l2b 16-16 3x3 @32", 16, 32, 16, 3, 1},     {"l2c 16-64 1x1 @16", 16, 16, 64, 1, 0},
    {"l2d 32-64 1x1 @16", 32, 16, 64, 1, 0},     {"l3a 64-32 1x1 @16", 64, 16, 32, 1, 0},
    {"l3b 32-32 3x3 @16", 32, 16, 32, 3, 1},     {"l3c 32-128 1x1 @8", 32, 8, 128, 1, 0},
    {"l3d 64-128 1x1 @8", 64, 8, 128, 1, 0},     {"l4a 128-64 1x1 @8", 128, 8, 64, 1, 0},
    {"l4b 64-64 3x3 @8", 64, 8, 64, 3, 1},       {"l4c 64-256 1x1 @4", 64, 4, 256, 1, 0},
    {"l4d 128-256 1x1 @4", 128, 4, 256, 1, 0},
};

static float *filled(size_t n, int mod) {
    float *p = malloc(n * sizeof *p);
    if (!p) { fprintf(stderr, "lab_conv_mini: out of memory\n"); exit(1); }
    for (size_t i = 0; i < n; i++) p[i] = (float)(i % (size_t)mod) * 0.1f - 0.2f;
    return p;
}

int main(int argc, char **argv) {
    en_machine_install();
    int R = argc > 1 ? atoi(argv[1]) : 5, N = argc > 2 ? atoi(argv[2]) : 256;
    const char *only = argc > 3 ? argv[3] : NULL;
    double sum_f = 0, sum_b = 0, sum_w = 0;
    for (size_t i = 0; i < sizeof layers / sizeof *layers; i++) {
        layer l = layers[i];
        if (only && strncmp(l.name, only, strlen(only))) continue;
        int O = kn_conv_out_size(l.H, l.K, 1, l.pad);
        size_t ni = (size_t)N * l.C * l.H * l.H, no = (size_t)N * l.OC * O * O, nw = (size_t)l.OC * l.C * l.K * l.K;
        float *x = filled(ni, 7), *dy = filled(no, 5), *w = filled(nw, 3), *y = filled(no, 1), *dx = filled(ni, 1);
        float *dw = filled(nw, 1), *db = filled((size_t)l.OC, 1);
        float *scratch = filled(kn_conv2d_scratch_floats(N, l.C, l.H, l.H, l.OC, l.K, l.K, 1, l.pad), 1);
        double bf = 1e9, bb = 1e9, bw = 1e9;
        for (int r = 0; r < R; r++) {
            double t0 = now();
            kn_conv2d_forward(y, scratch, x, w, NULL, N, l.C, l.H, l.H, l.OC, l.K, l.K, 1, l.pad);
            double t1 = now();
            kn_conv2d_backward(dx, dw, db, scratch, dy, x, w, N, l.C, l.H, l.H, l.OC, l.K, l.K, 1, l.pad, 0);
            double t2 = now();
            kn_conv2d_backward(NULL, dw, NULL, scratch, dy, x, w, N, l.C, l.H, l.H, l.OC, l.K, l.K, 1, l.pad, 0);
            double t3 = now();
            if (t1 - t0 < bf) bf = t1 - t0;
            if (t2 - t1 < bb) bb = t2 - t1;
            if (t3 - t2 < bw) bw = t3 - t2;
        }
        sum_f += bf; sum_b += bb; sum_w += bw;
        printf("%-20s fwd %7.2f ms  bwd %7.2f ms  (dw alone %6.2f)\n", l.name, bf * 1e3, bb * 1e3, bw * 1e3);
        free(x); free(dy); free(w); free(y); free(dx); free(dw); free(db); free(scratch);
    }
    printf("all layers: fwd %.1f ms  bwd %.1f ms  dw alone %.1f ms\n", sum_f * 1e3, sum_b * 1e3, sum_w * 1e3);
    return 0;
}
