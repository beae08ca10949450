/* bench_logreg — the linear-probe benchmark: multinomial logistic regression
 * on synthetic CLIP-like features (class means on the unit sphere plus
 * Gaussian noise, rows L2-normalised), C = 0.316, max_iter = 1000.
 *
 *   bench_logreg DIR [repeats] [noise] [n_train]
 *
 * Writes the data set to DIR as raw little-endian files (train_X.f32
 * [N,512], train_y.i64, test_X.f32, test_y.i64) for the scikit-learn peer,
 * fits `repeats` times, writes the test predictions to DIR/pred_ours.i64 and
 * prints one JSON object with the fit times and accuracies. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "en_machine.h"
#include "en_error.h"
#include "en_logreg.h"
#include "en_rng.h"

enum { D = 512, K = 100, N_TEST = 10000 };

static double clock_s(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}
static double now(void) { return clock_s(CLOCK_MONOTONIC); }
/* CPU seconds of all threads: less sensitive than wall time to other
 * processes on a shared machine (but spinning counts). */
static double cpu(void) { return clock_s(CLOCK_PROCESS_CPUTIME_ID); }

static void normalise(float *v, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)v[i] * v[i];
    float inv = (float)(1.0 / sqrt(s));
    for (int i = 0; i < n; i++) v[i] *= inv;
}

/* Rows drawn from their own forked generator: the data do not depend on
 * how many rows are drawn before them. */
static void make_rows(const en_rng *base, uint64_t stream0, const float *means, float noise,
                      int64_t n, float *X, int64_t *y) {
    for (int64_t i = 0; i < n; i++) {
        en_rng r = en_rng_fork(base, stream0 + (uint64_t)i);
        y[i] = (int64_t)en_rng_below(&r, K);
        float *x = X + i * D;
        en_rng_fill_normal(&r, x, D, 0.0f, noise / sqrtf((float)D));
        for (int j = 0; j < D; j++) x[j] += means[y[i] * D + j];
        normalise(x, D);
    }
}

static int write_file(const char *dir, const char *name, const void *p, size_t bytes) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, bytes, f) != bytes) { fprintf(stderr, "bench_logreg: cannot write %s\n", path); return -1; }
    return fclose(f);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    en_machine_install(); /* the paths clipbook takes on this machine (engine/en_machine.h) */
    if (argc < 2) { fprintf(stderr, "usage: bench_logreg DIR [repeats] [noise] [n_train]\n"); return 2; }
    const char *dir = argv[1];
    int repeats = argc > 2 ? atoi(argv[2]) : 3;
    float noise = argc > 3 ? (float)atof(argv[3]) : 1.5f;
    int64_t n_train = argc > 4 ? atoll(argv[4]) : 50000;
    if (repeats < 1) repeats = 1;

    en_rng base;
    en_rng_seed(&base, 20240601);
    float *means = malloc(sizeof(float) * K * D);
    float *X = malloc(sizeof(float) * n_train * D), *Xt = malloc(sizeof(float) * N_TEST * D);
    int64_t *y = malloc(sizeof(int64_t) * n_train), *yt = malloc(sizeof(int64_t) * N_TEST);
    int64_t *pred = malloc(sizeof(int64_t) * N_TEST);
    en_rng rm = en_rng_fork(&base, 1);
    for (int k = 0; k < K; k++) {
        en_rng_fill_normal(&rm, means + k * D, D, 0.0f, 1.0f);
        normalise(means + k * D, D);
    }
    make_rows(&base, 1000, means, noise, n_train, X, y);
    make_rows(&base, 1000 + ((uint64_t)1 << 40), means, noise, N_TEST, Xt, yt);
    if (write_file(dir, "train_X.f32", X, sizeof(float) * n_train * D) ||
        write_file(dir, "train_y.i64", y, sizeof(int64_t) * n_train) ||
        write_file(dir, "test_X.f32", Xt, sizeof(float) * N_TEST * D) ||
        write_file(dir, "test_y.i64", yt, sizeof(int64_t) * N_TEST))
        return 1;

    en_logreg_opts o = en_logreg_defaults();
    o.C = 0.316; o.max_iter = 1000; o.tol = 1e-4;
    o.verbose = getenv("BENCH_VERBOSE") != NULL;
    double *times = malloc(sizeof(double) * repeats), *cpus = malloc(sizeof(double) * repeats);
    en_logreg m = { 0 };
    for (int r = 0; r < repeats; r++) {
        if (r) en_logreg_free(&m);
        double t0 = now(), c0 = cpu();
        if (en_logreg_fit(&m, X, y, n_train, D, K, &o)) {
            fprintf(stderr, "bench_logreg: %s\n", en_error_msg());
            return 1;
        }
        times[r] = now() - t0;
        cpus[r] = cpu() - c0;
        fprintf(stderr, "bench_logreg: fit %d: %.3f s (cpu %.3f s), %d iterations, %d evaluations, %s\n",
                r, times[r], cpus[r], m.n_iter, m.n_fev, en_logreg_status_name(m.status));
    }
    int64_t ok = 0, ok_train = 0;
    en_logreg_predict(&m, Xt, N_TEST, pred);
    for (int64_t i = 0; i < N_TEST; i++) ok += pred[i] == yt[i];
    int64_t *ptr = malloc(sizeof(int64_t) * n_train);
    en_logreg_predict(&m, X, n_train, ptr);
    for (int64_t i = 0; i < n_train; i++) ok_train += ptr[i] == y[i];
    if (write_file(dir, "pred_ours.i64", pred, sizeof(int64_t) * N_TEST)) return 1;
    qsort(times, repeats, sizeof *times, cmp_double);
    qsort(cpus, repeats, sizeof *cpus, cmp_double);
    printf("{\"median_s\": %.4f, \"cpu_s\": %.4f, \"min_s\": %.4f, \"max_s\": %.4f, \"repeats\": %d, \"n_iter\": %d, "
           "\"n_fev\": %d, \"loss\": %.10g, \"status\": \"%s\", \"test_acc\": %.4f, \"train_acc\": %.4f}\n",
           times[repeats / 2], cpus[repeats / 2], times[0], times[repeats - 1], repeats, m.n_iter, m.n_fev, m.loss,
           en_logreg_status_name(m.status), 100.0 * ok / N_TEST, 100.0 * ok_train / n_train);
    en_logreg_free(&m);
    free(means); free(X); free(Xt); free(y); free(yt); free(pred); free(ptr); free(times); free(cpus);
    return 0;
}
