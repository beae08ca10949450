/* bench_fewshot — the few-shot heads of chapter 5 at paper scale (issue 14,
 * item 7): 512-d features, 100 classes, k in {1, 2, 4, 8, 16} shots x SEEDS
 * seeds x the chapter's 4 heads (random init, zero-shot init, early stopping,
 * pull toward zero-shot), each trained for EPOCHS full-batch epochs with
 * validation accuracy on 5,000 pictures after every epoch, then evaluated on
 * 10,000 test pictures, as chapters/05-few-shot.lua does (paper profile:
 * 3 seeds, 200 epochs: 60 heads).
 *
 *   bench_fewshot [threads] [seeds] [epochs]
 *
 * Features: class means on the unit sphere plus noise, rows normalised (as
 * bench_logreg). Prints one line per head and a JSON summary line
 * ("fewshot_json {...}") with the median seconds per head and the total. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "en_machine.h"
#include "en_error.h"
#include "en_fewshot.h"
#include "en_rng.h"
#include "en_tensor.h"

enum { D = 512, K = 100, N_VAL = 5000, N_TEST = 10000, N_POOL = 16 * K };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static void make_set(en_rng *r, const float *means, float *X, int64_t *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        int c = (int)(i % K);
        y[i] = c;
        float *x = X + i * D;
        en_rng_fill_normal(r, x, D, 0.0f, 0.06f);
        double s = 0;
        for (int d = 0; d < D; d++) { x[d] += means[c * D + d]; s += (double)x[d] * x[d]; }
        for (int d = 0; d < D; d++) x[d] = (float)(x[d] / sqrt(s));
    }
}

/* CPU seconds of all threads: on a shared machine the steadier figure
 * (wall time there is what the other jobs leave) */
static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2, seeds = argc > 2 ? atoi(argv[2]) : 3,
        epochs = argc > 3 ? atoi(argv[3]) : 200;
    en_set_num_threads(threads);
    en_machine_install();
    en_rng r;
    en_rng_seed(&r, 14);
    float *means = malloc(sizeof(float) * K * D), *W0 = malloc(sizeof(float) * K * D), *b0 = calloc(K, sizeof(float));
    float *Wr = malloc(sizeof(float) * K * D), *br = calloc(K, sizeof(float));
    en_rng_fill_normal(&r, means, (size_t)K * D, 0.0f, 1.0f);
    for (int c = 0; c < K; c++) {
        double s = 0;
        for (int d = 0; d < D; d++) s += (double)means[c * D + d] * means[c * D + d];
        for (int d = 0; d < D; d++) means[c * D + d] = (float)(means[c * D + d] / sqrt(s));
    }
    /* "zero-shot" weights: the class means, perturbed (text features are near, not at, them) */
    en_rng_fill_normal(&r, W0, (size_t)K * D, 0.0f, 0.03f);
    for (int i = 0; i < K * D; i++) W0[i] += means[i];
    float *Xpool = malloc(sizeof(float) * N_POOL * D), *Xv = malloc(sizeof(float) * N_VAL * D);
    float *Xte = malloc(sizeof(float) * N_TEST * D), *X = malloc(sizeof(float) * N_POOL * D);
    int64_t *ypool = malloc(sizeof(int64_t) * N_POOL), *yv = malloc(sizeof(int64_t) * N_VAL);
    int64_t *yte = malloc(sizeof(int64_t) * N_TEST), *y = malloc(sizeof(int64_t) * N_POOL);
    make_set(&r, means, Xpool, ypool, N_POOL); /* 16 per class, row i of class i % K */
    make_set(&r, means, Xv, yv, N_VAL);
    make_set(&r, means, Xte, yte, N_TEST);
    static const int shots[] = {1, 2, 4, 8, 16};
    int heads = 5 * seeds * 4, h = 0;
    double *t = malloc(sizeof(double) * heads), t0 = now(), c0 = cpu_now(), acc_sum[4] = {0};
    float *work = malloc(sizeof(float) * N_TEST * K);
    printf("bench_fewshot: %d heads (5 k x %d seeds x 4 kinds), %d epochs, validation %d, test %d, %d threads; %s\n",
           heads, seeds, epochs, N_VAL, N_TEST, threads, en_compute_signature());
    for (int s = 0; s < 5; s++)
        for (int seed = 0; seed < seeds; seed++) {
            int k = shots[s];
            int64_t n = (int64_t)k * K;
            /* the seed's k shots of each class: pool rows of that class, a rotation per seed */
            for (int64_t i = 0; i < n; i++) {
                int64_t src = ((i / K + seed) % 16) * K + i % K;
                memcpy(X + i * D, Xpool + src * D, sizeof(float) * D);
                y[i] = ypool[src];
            }
            en_rng_fill_normal(&r, Wr, (size_t)K * D, 0.0f, 0.04f);
            for (int kind = 0; kind < 4; kind++, h++) {
                en_fewshot_opts o = en_fewshot_defaults();
                o.epochs = epochs; o.lr = 1e-3; o.scale = 100;
                o.Xval = Xv; o.yval = yv; o.Nval = N_VAL;
                o.early_stop = kind == 2;
                o.pull = kind == 3 ? 1.0 : 0.0;
                en_fewshot_result res;
                double a = now();
                if (en_fewshot_train(&res, X, y, n, D, K, kind == 0 ? Wr : W0, kind == 0 ? br : b0, &o) < 0) {
                    fprintf(stderr, "bench_fewshot: %s\n", en_error_msg());
                    return 1;
                }
                double acc = en_fewshot_accuracy(Xte, yte, res.W, res.b, N_TEST, D, K, work);
                t[h] = now() - a;
                acc_sum[kind] += acc;
                printf("head %2d: k %2d seed %d kind %d: %.3f s, test accuracy %.2f %%\n", h + 1, k, seed, kind, t[h],
                       100 * acc);
                en_fewshot_result_free(&res);
            }
        }
    double total = now() - t0, cpu = cpu_now() - c0;
    qsort(t, (size_t)heads, sizeof *t, cmp);
    printf("fewshot_json {\"heads\": %d, \"epochs\": %d, \"threads\": %d, \"median_s_per_head\": %.4f, "
           "\"total_s\": %.2f, \"cpu_s\": %.2f, \"compute\": \"%s\"}\n", heads, epochs, threads, t[heads / 2], total, cpu,
           en_compute_signature());
    free(means); free(W0); free(b0); free(Wr); free(br); free(Xpool); free(Xv); free(Xte); free(X);
    free(ypool); free(yv); free(yte); free(y); free(t); free(work);
    return 0;
}
