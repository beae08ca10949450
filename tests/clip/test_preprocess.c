#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "en_preprocess.h"

static int32_t rd_i32(FILE *f) {
    int32_t v;
    cr_assert_eq(fread(&v, 4, 1, f), 1u);
    return v;
}

static void *rd(FILE *f, size_t n) {
    void *p = malloc(n);
    cr_assert_eq(fread(p, 1, n, f), n);
    return p;
}

/* tests/clip/resize.bin from tests/reference/gen_resize_fixtures.py
 * (Pillow 9.4's Image.resize(BICUBIC) and the CLIP pipeline in numpy). */
Test(preprocess, matches_pillow_and_clip_pipeline) {
    FILE *f = fopen("tests/clip/resize.bin", "rb");
    cr_assert(f);
    int cases = rd_i32(f), worst = 0;
    for (int i = 0; i < cases; i++) {
        int h = rd_i32(f), w = rd_i32(f), c = rd_i32(f), oh = rd_i32(f), ow = rd_i32(f);
        uint8_t *in = rd(f, (size_t)h * w * c), *want = rd(f, (size_t)oh * ow * c);
        uint8_t *got = malloc((size_t)oh * ow * c);
        cr_assert_eq(en_resize_bicubic(got, oh, ow, in, h, w, c), 0);
        for (int k = 0; k < oh * ow * c; k++) {
            int d = abs(got[k] - want[k]);
            if (d > worst) worst = d;
        }
        free(in); free(want); free(got);
    }
    cr_log_info("resize: worst difference from Pillow over %d cases: %d/255", cases, worst);
    cr_assert_eq(worst, 0, "resize differs from Pillow by %d/255", worst);

    int pipes = rd_i32(f);
    double worstf = 0;
    for (int i = 0; i < pipes; i++) {
        int h = rd_i32(f), w = rd_i32(f), n = rd_i32(f);
        uint8_t *in = rd(f, (size_t)h * w * 3);
        float *want = rd(f, (size_t)3 * n * n * sizeof(float)), *got = malloc((size_t)3 * n * n * sizeof(float));
        cr_assert_eq(en_clip_preprocess(got, in, h, w, n, NULL, NULL), 0);
        for (int k = 0; k < 3 * n * n; k++) worstf = fmax(worstf, fabs(got[k] - want[k]));
        free(in); free(want); free(got);
    }
    fclose(f);
    cr_log_info("clip pipeline: worst difference %.3g", worstf);
    cr_assert(worstf < 1e-5, "clip preprocessing differs by %g", worstf);
}

Test(preprocess, shorter_side_rule) {
    int oh, ow;
    en_resize_shorter_dims(480, 640, 224, &oh, &ow);
    cr_assert_eq(oh, 224); cr_assert_eq(ow, 298);
    en_resize_shorter_dims(641, 480, 224, &oh, &ow);
    cr_assert_eq(ow, 224); cr_assert_eq(oh, 299);
    uint8_t px[3] = {1, 2, 3}, out[3];
    cr_assert_eq(en_resize_bicubic(out, 0, 1, px, 1, 1, 3), -1);
}
