/* Every convolution variant (kn_conv.h: CLIPBOOK_CONV=auto|winograd|
 * implicit|im2col), forced in turn, on RN50-like layer shapes (3x3 at an
 * even and an odd map, the 1x1 expansion and reduction, the stride-2 stem;
 * channels and maps cut down so the double-precision reference stays
 * quick), forward and backward, against plain loops in double.
 *
 * Bounds, per element, from the summation each variant does in float32:
 * - GEMM paths (implicit, im2col, and dw always): a sum of K products in
 *   any order, plus the bias, is within (K + 2) eps32 (sum |x w| + |b|) of
 *   the exact sum (eps32 = 2^-24), K = C KH KW (dinp: OC KH KW; dw: N OH
 *   OW, plus one add per thread's partial).
 * - Winograd F(2x2,3x3): out = A^T [sum_c (G g_c G^T) o (B^T d_c B)] A. The
 *   input transform adds 4 inputs (3 roundings), the weight transform at
 *   most 9 taps (4 roundings; coefficients 1, 1/2, 1/4 are exact), the sum
 *   over C channels C + 2, the output transform 9 terms (8): within
 *   (C + 17) eps32 M, where M is the same expression evaluated on absolute
 *   values (|A|^T [sum_c (|G| |g_c| |G|^T) o (|B|^T |d_c| |B|)] |A|), which
 *   the reference computes alongside. M is a few times sum |x w|: the
 *   transformed values are larger than the output and cancel.
 * The worst error is printed in units of its bound (1 is the limit). Also:
 * a forced Winograd really ran (its bits differ from im2col's on 3x3
 * layers), and the plain path (im2col) is what the others are checked
 * beside. */
#include <float.h>
#include <omp.h>

#include "kn_conv.h"
#include "kn_gemm.h"
#include "kt_util.h"

typedef struct { int N, C, H, W, OC, K, stride, pad; const char *name; } vcfg;

static const vcfg vcfgs[] = {
    {2, 64, 14, 14, 64, 3, 1, 1, "3x3 64-64 @14 (layer1-like)"},
    {2, 32, 7, 7, 48, 3, 1, 1, "3x3 32-48 @7 (odd map, partial tiles)"},
    {2, 64, 14, 14, 256, 1, 1, 0, "1x1 64-256 @14 (expansion)"},
    {2, 256, 7, 7, 64, 1, 1, 0, "1x1 256-64 @7 (reduction)"},
    {2, 3, 32, 32, 16, 3, 2, 1, "3x3 3-16 stride 2 @32 (stem)"},
    /* the mini ResNet's narrow 3x3 (K = 72: dw from the stored column matrix
     * on one thread, kn_conv.c's direct 3x3 dw with 3 threads: 4 images, an
     * odd number of output channels) */
    {4, 8, 16, 16, 5, 3, 1, 1, "3x3 8-5 @16 (mini ResNet)"},
};

static const double E32 = FLT_EPSILON / 2;

/* |G| |g| |G|^T for one 3x3 kernel (G: rows (1,0,0) (1/2,1/2,1/2) (1/2,-1/2,1/2) (0,0,1)) */
static void u_abs(double U[4][4], const float *g) {
    static const double G[4][3] = {{1, 0, 0}, {.5, .5, .5}, {.5, .5, .5}, {0, 0, 1}};
    double T[4][3];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) {
            T[i][j] = 0;
            for (int k = 0; k < 3; k++) T[i][j] += G[i][k] * fabs((double)g[k * 3 + j]);
        }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            U[i][j] = 0;
            for (int k = 0; k < 3; k++) U[i][j] += T[i][k] * G[j][k];
        }
}

/* y = conv(x, w) + b in double (stride s, pad p, square kernel K), mag =
 * sum |x w| + |b| per output, and for 3x3 stride 1 wmag = Winograd's M
 * (above) with 2x2 output tiles starting at (0, 0). */
static void ref_conv(double *y, double *mag, double *wmag, const float *x, const float *w, const float *b,
                     int N, int C, int H, int W, int OC, int K, int s, int p) {
    int OH = kn_conv_out_size(H, K, s, p), OW = kn_conv_out_size(W, K, s, p);
    for (int n = 0; n < N; n++)
        for (int oc = 0; oc < OC; oc++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    double acc = b ? b[oc] : 0, m = b ? fabs(b[oc]) : 0;
                    for (int c = 0; c < C; c++)
                        for (int kh = 0; kh < K; kh++)
                            for (int kw = 0; kw < K; kw++) {
                                int ih = oh * s - p + kh, iw = ow * s - p + kw;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                double t = (double)x[(((size_t)n * C + c) * H + ih) * W + iw] *
                                           w[(((size_t)oc * C + c) * K + kh) * K + kw];
                                acc += t; m += fabs(t);
                            }
                    size_t o = (((size_t)n * OC + oc) * OH + oh) * OW + ow;
                    y[o] = acc; mag[o] = m;
                    if (wmag) wmag[o] = b ? fabs(b[oc]) : 0;
                }
    if (!wmag || K != 3 || s != 1) return;
    /* |B|^T |d| |B| for B^T rows (1,0,-1,0) (0,1,1,0) (0,-1,1,0) (0,1,0,-1):
     * entry (i,j) adds the 4 inputs at rows R[i] and columns R[j] */
    static const int R[4][2] = {{0, 2}, {1, 2}, {1, 2}, {1, 3}};
    /* output (r, c) of a tile sums entries i in I[r], j in I[c] (|A|^T rows) */
    static const int I[2][3] = {{0, 1, 2}, {1, 2, 3}};
    for (int n = 0; n < N; n++)
        for (int th = 0; th < OH; th += 2)
            for (int tw = 0; tw < OW; tw += 2)
                for (int oc = 0; oc < OC; oc++) {
                    double S[4][4] = {{0}};
                    for (int c = 0; c < C; c++) {
                        double U[4][4], D[4][4], V[4][4];
                        u_abs(U, w + ((size_t)oc * C + c) * 9);
                        for (int a = 0; a < 4; a++)
                            for (int e = 0; e < 4; e++) {
                                int ih = th - p + a, iw = tw - p + e;
                                D[a][e] = ih < 0 || ih >= H || iw < 0 || iw >= W ? 0
                                          : fabs((double)x[(((size_t)n * C + c) * H + ih) * W + iw]);
                            }
                        for (int i = 0; i < 4; i++)
                            for (int j = 0; j < 4; j++) {
                                V[i][j] = 0;
                                for (int a = 0; a < 2; a++)
                                    for (int e = 0; e < 2; e++) V[i][j] += D[R[i][a]][R[j][e]];
                                S[i][j] += U[i][j] * V[i][j];
                            }
                    }
                    for (int r = 0; r < 2 && th + r < OH; r++)
                        for (int q = 0; q < 2 && tw + q < OW; q++) {
                            double m = 0;
                            for (int i = 0; i < 3; i++)
                                for (int j = 0; j < 3; j++) m += S[I[r][i]][I[q][j]];
                            wmag[(((size_t)n * OC + oc) * OH + th + r) * OW + tw + q] += m;
                        }
                }
}

/* worst |got - want| / (gamma * mag) */
static double worst_of(const char *what, const float *got, const double *want, const double *mag, double gamma,
                       size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]) / (gamma * mag[i] + DBL_MIN);
        if (!(d <= worst)) worst = d;
    }
    printf("    %-34s %.3f of the bound\n", what, worst);
    return worst;
}

static void check(const vcfg *c, kn_conv_variant v, en_rng *r, float **y_out, float **dx_out) {
    int OH = kn_conv_out_size(c->H, c->K, c->stride, c->pad), OW = kn_conv_out_size(c->W, c->K, c->stride, c->pad);
    size_t nx = (size_t)c->N * c->C * c->H * c->W, nw = (size_t)c->OC * c->C * c->K * c->K;
    size_t ny = (size_t)c->N * c->OC * OH * OW;
    /* the same data for every variant: a generator per shape */
    en_rng_seed(r, 41 + (uint64_t)c->C * 7 + (uint64_t)c->OC);
    float *x = kt_rand(r, nx), *w = kt_rand(r, nw), *b = kt_rand(r, c->OC), *g = kt_rand(r, ny);
    kn_conv_set_variant(v);
    float *sc = kt_fill(kn_conv2d_scratch_floats(c->N, c->C, c->H, c->W, c->OC, c->K, c->K, c->stride, c->pad), NAN);
    float *y = kt_fill(ny, NAN), *dx = kt_fill(nx, NAN), *dw = kt_fill(nw, 0), *db = kt_fill(c->OC, 0);
    kn_conv2d_forward(y, sc, x, w, b, c->N, c->C, c->H, c->W, c->OC, c->K, c->K, c->stride, c->pad);
    kn_conv2d_backward(dx, dw, db, sc, g, x, w, c->N, c->C, c->H, c->W, c->OC, c->K, c->K, c->stride, c->pad, 0);
    kn_conv_set_variant(KN_CONV_AUTO);

    /* Winograd can run here (3x3 stride 1): its bound for the forward and
     * for dinp (a flipped 3x3 stride-1 convolution, pad 2 - pad) */
    int wino = v != KN_CONV_IMPLICIT && v != KN_CONV_IM2COL && c->K == 3 && c->stride == 1;
    double *ry = malloc(ny * sizeof(double)), *my = malloc(ny * sizeof(double)), *wy = malloc(ny * sizeof(double));
    ref_conv(ry, my, wy, x, w, b, c->N, c->C, c->H, c->W, c->OC, c->K, c->stride, c->pad);
    const double *by = wino ? wy : my;
    double gy = (wino ? c->C + 17.0 : (double)c->C * c->K * c->K + 2) * E32;
    cr_expect(worst_of("forward", y, ry, by, gy, ny) <= 1, "%s %s: forward", c->name, kn_conv_variant_name(v));

    /* dinp: the adjoint, in double, by scattering (any stride) */
    double *rdx = calloc(nx, sizeof(double)), *mdx = calloc(nx, sizeof(double));
    for (int n = 0; n < c->N; n++)
        for (int oc = 0; oc < c->OC; oc++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    double go = g[(((size_t)n * c->OC + oc) * OH + oh) * OW + ow];
                    for (int ci = 0; ci < c->C; ci++)
                        for (int kh = 0; kh < c->K; kh++)
                            for (int kw = 0; kw < c->K; kw++) {
                                int ih = oh * c->stride - c->pad + kh, iw = ow * c->stride - c->pad + kw;
                                if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W) continue;
                                size_t i = (((size_t)n * c->C + ci) * c->H + ih) * c->W + iw;
                                double t = go * w[(((size_t)oc * c->C + ci) * c->K + kh) * c->K + kw];
                                rdx[i] += t; mdx[i] += fabs(t);
                            }
                }
    double gx = ((double)c->OC * c->K * c->K + 2) * E32;
    const double *bx = mdx;
    double *wdx = NULL;
    if (wino && c->pad <= 2) {
        /* the flipped kernel wf[c][oc][kh][kw] = w[oc][c][2-kh][2-kw] on dout, pad 2 - pad */
        float *wf = malloc(nw * sizeof(float));
        for (int oc = 0; oc < c->OC; oc++)
            for (int ci = 0; ci < c->C; ci++)
                for (int k = 0; k < 9; k++) wf[((size_t)ci * c->OC + oc) * 9 + k] = w[((size_t)oc * c->C + ci) * 9 + 8 - k];
        double *t1 = malloc(nx * sizeof(double)), *t2 = malloc(nx * sizeof(double));
        wdx = malloc(nx * sizeof(double));
        ref_conv(t1, t2, wdx, g, wf, NULL, c->N, c->OC, OH, OW, c->C, 3, 1, 2 - c->pad);
        free(t1); free(t2); free(wf);
        bx = wdx;
        gx = (c->OC + 17.0) * E32;
    }
    cr_expect(worst_of("dinp", dx, rdx, bx, gx, nx) <= 1, "%s %s: dinp", c->name, kn_conv_variant_name(v));

    /* dw and db: sums over the batch and the output pixels */
    double *rdw = calloc(nw, sizeof(double)), *mdw = calloc(nw, sizeof(double));
    double *rdb = calloc(c->OC, sizeof(double)), *mdb = calloc(c->OC, sizeof(double));
    for (int n = 0; n < c->N; n++)
        for (int oc = 0; oc < c->OC; oc++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    double go = g[(((size_t)n * c->OC + oc) * OH + oh) * OW + ow];
                    rdb[oc] += go; mdb[oc] += fabs(go);
                    for (int ci = 0; ci < c->C; ci++)
                        for (int kh = 0; kh < c->K; kh++)
                            for (int kw = 0; kw < c->K; kw++) {
                                int ih = oh * c->stride - c->pad + kh, iw = ow * c->stride - c->pad + kw;
                                if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W) continue;
                                double t = go * x[(((size_t)n * c->C + ci) * c->H + ih) * c->W + iw];
                                size_t k = (((size_t)oc * c->C + ci) * c->K + kh) * c->K + kw;
                                rdw[k] += t; mdw[k] += fabs(t);
                            }
                }
    double gw = ((double)c->N * OH * OW + omp_get_max_threads() + 2) * E32;
    cr_expect(worst_of("dw", dw, rdw, mdw, gw, nw) <= 1, "%s %s: dw", c->name, kn_conv_variant_name(v));
    cr_expect(worst_of("db", db, rdb, mdb, gw, c->OC) <= 1, "%s %s: db", c->name, kn_conv_variant_name(v));

    *y_out = y; *dx_out = dx;
    free(x); free(w); free(b); free(g); free(sc); free(dw); free(db);
    free(ry); free(my); free(wy); free(rdx); free(mdx); free(wdx); free(rdw); free(mdw); free(rdb); free(mdb);
}

Test(conv_variants, each_forced_variant_matches_loops_on_rn50_like_shapes) {
    /* the variants ride on the engine's packed GEMM: without it (or under
     * CLIPBOOK_GEMM=blas) every one of them is im2col + cblas_sgemm */
    kn_gemm_set_path(KN_GEMM_ENGINE);
    if (kn_gemm_active() != KN_GEMM_ENGINE) cr_skip_test("no native GEMM in this build (neither AVX-512 nor AVX2 + FMA)");
    en_rng r;
    for (int th = 1; th <= 3; th += 2) {
        omp_set_num_threads(th);
        for (size_t i = 0; i < sizeof vcfgs / sizeof *vcfgs; i++) {
            const vcfg *c = &vcfgs[i];
            float *y[KN_CONV_VARIANT_COUNT], *dx[KN_CONV_VARIANT_COUNT];
            for (int v = 0; v < KN_CONV_VARIANT_COUNT; v++) {
                printf("-- %d threads, %s, %s\n", th, c->name, kn_conv_variant_name((kn_conv_variant)v));
                check(c, (kn_conv_variant)v, &r, &y[v], &dx[v]);
            }
            int OH = kn_conv_out_size(c->H, c->K, c->stride, c->pad), OW = kn_conv_out_size(c->W, c->K, c->stride, c->pad);
            size_t ny = (size_t)c->N * c->OC * OH * OW, differ = 0;
            for (size_t k = 0; k < ny; k++) differ += y[KN_CONV_WINOGRAD][k] != y[KN_CONV_IM2COL][k];
            /* Winograd rounds differently from any GEMM: equal bits would mean it never ran */
            if (c->K == 3 && c->stride == 1)
                cr_expect(differ > 0, "%s: forced Winograd gave im2col's bits", c->name);
            for (int v = 0; v < KN_CONV_VARIANT_COUNT; v++) { free(y[v]); free(dx[v]); }
        }
    }
    kn_gemm_set_path(KN_GEMM_AUTO);
}

Test(conv_variants, names_parse_back) {
    for (int v = 0; v < KN_CONV_VARIANT_COUNT; v++) {
        kn_conv_variant got;
        cr_expect(kn_conv_variant_parse(kn_conv_variant_name((kn_conv_variant)v), &got) && (int)got == v);
    }
    kn_conv_variant got;
    cr_expect(!kn_conv_variant_parse("direct", &got), "no direct variant exists");
}
