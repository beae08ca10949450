/* Upsampling kernels: forward against PyTorch fixtures (the index rules are
 * the point), backward against central finite differences. */
#include <string.h>

#include "kn_resample.h"
#include "kt_util.h"
#include "torch_fixtures.h"

typedef struct {
    int bilinear, align_corners, N, C, H, W, OH, OW;
    double sh, sw;
    float *x;
} up_ctx;

static void fwd(void *p, float *y) {
    up_ctx *k = p;
    if (k->bilinear)
        kn_upsample_bilinear_forward(y, k->x, k->N, k->C, k->H, k->W, k->OH, k->OW,
                                     k->align_corners, k->sh, k->sw);
    else
        kn_upsample_nearest_forward(y, k->x, k->N, k->C, k->H, k->W, k->OH, k->OW, k->sh, k->sw);
}
static void bwd(up_ctx *k, float *dx, const float *g, int acc) {
    if (k->bilinear)
        kn_upsample_bilinear_backward(dx, g, k->N, k->C, k->H, k->W, k->OH, k->OW,
                                      k->align_corners, k->sh, k->sw, acc);
    else
        kn_upsample_nearest_backward(dx, g, k->N, k->C, k->H, k->W, k->OH, k->OW, k->sh,
                                     k->sw, acc);
}

static void check(up_ctx k, en_rng *r) {
    size_t nx = (size_t)k.N * k.C * k.H * k.W, ny = (size_t)k.N * k.C * k.OH * k.OW;
    k.x = kt_rand(r, nx);
    float *y = kt_fill(ny, NAN), *g = kt_rand(r, ny), *dx = kt_fill(nx, NAN);
    printf("%s%s %dx%d -> %dx%d scale %g,%g\n", k.bilinear ? "bilinear" : "nearest",
           k.align_corners ? " align_corners" : "", k.H, k.W, k.OH, k.OW, k.sh, k.sw);
    fwd(&k, y);
    bwd(&k, dx, g, 0);
    /* linear in x: central differences are exact up to rounding */
    cr_expect(kt_gradcheck("dinp", k.x, nx, dx, fwd, &k, y, g, ny, 1e-2f, -1, r) < 1e-3);
    float *dx2 = kt_fill(nx, 1.0f);
    bwd(&k, dx2, g, 1);
    for (size_t i = 0; i < nx; i++) dx2[i] -= 1.0f;
    cr_expect(kt_worst("dinp accumulated", dx2, dx, nx) < 1e-6);
    free(k.x); free(y); free(g); free(dx); free(dx2);
}

Test(upsample, finite_differences) {
    en_rng r; en_rng_seed(&r, 31);
    for (int bil = 0; bil < 2; bil++) {
        check((up_ctx){bil, 0, 2, 2, 3, 4, 5, 9, 0, 0, NULL}, &r);
        check((up_ctx){bil, 0, 1, 3, 4, 3, 8, 6, 2, 2, NULL}, &r);
        check((up_ctx){bil, 0, 1, 2, 3, 4, 7, 10, 2.5, 2.5, NULL}, &r);
        check((up_ctx){bil, 0, 1, 2, 6, 5, 4, 3, 0, 0, NULL}, &r); /* downsampling */
        check((up_ctx){bil, 0, 1, 1, 1, 1, 3, 2, 0, 0, NULL}, &r);
    }
    check((up_ctx){1, 1, 2, 2, 3, 4, 5, 9, 0, 0, NULL}, &r);
    check((up_ctx){1, 1, 1, 2, 3, 4, 1, 1, 0, 0, NULL}, &r);
}

Test(upsample, matches_torch) {
    float y[2 * 3 * 7 * 10];
    kn_upsample_nearest_forward(y, fx_up_x, 2, 3, 3, 4, 5, 9, 0, 0);
    cr_expect(kt_worst("nearest size (5,9) vs torch", y, fx_nearest_size_y, 2 * 3 * 5 * 9) == 0);
    kn_upsample_nearest_forward(y, fx_up_x, 2, 3, 3, 4, 7, 10, 2.5, 2.5);
    cr_expect(kt_worst("nearest scale 2.5 vs torch", y, fx_nearest_scale_y, 2 * 3 * 7 * 10) == 0);
    kn_upsample_bilinear_forward(y, fx_up_x, 2, 3, 3, 4, 5, 9, 0, 0, 0);
    cr_expect(kt_worst("bilinear size (5,9) vs torch", y, fx_bilinear_size_y, 2 * 3 * 5 * 9) < 1e-6);
    kn_upsample_bilinear_forward(y, fx_up_x, 2, 3, 3, 4, 7, 10, 0, 2.5, 2.5);
    cr_expect(kt_worst("bilinear scale 2.5 vs torch", y, fx_bilinear_scale_y, 2 * 3 * 7 * 10) < 1e-6);
    kn_upsample_bilinear_forward(y, fx_up_x, 2, 3, 3, 4, 5, 9, 1, 0, 0);
    cr_expect(kt_worst("bilinear align_corners vs torch", y, fx_bilinear_ac_y, 2 * 3 * 5 * 9) < 1e-6);
}
