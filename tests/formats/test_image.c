#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "en_error.h"
#include "en_image.h"
#include "en_npy.h"
#include "fmt_util.h"

/* Decodes `file` and compares with Pillow's decode stored as `file`.<suffix>.npy;
 * returns the worst absolute difference. */
static int compare_with_pillow(const char *file, int channels, const char *suffix) {
    char path[256], ref[256];
    snprintf(path, sizeof path, FMT_DATA "%s", file);
    snprintf(ref, sizeof ref, FMT_DATA "%s.%s.npy", file, suffix);
    en_ndbuf img, want;
    cr_assert_eq(en_image_read(path, channels, &img), 0, "%s: %s", path, en_error_msg());
    cr_assert_eq(en_npy_read(ref, &want), 0, "%s", en_error_msg());
    cr_assert(img.dtype == EN_U8 && img.ndim == 3 && want.ndim == 3);
    cr_assert(img.shape[0] == want.shape[0] && img.shape[1] == want.shape[1] && img.shape[2] == want.shape[2],
              "%s: shape %lldx%lldx%lld, Pillow %lldx%lldx%lld", file, (long long)img.shape[0],
              (long long)img.shape[1], (long long)img.shape[2], (long long)want.shape[0], (long long)want.shape[1],
              (long long)want.shape[2]);
    int worst = 0;
    const uint8_t *a = img.data, *b = want.data;
    for (size_t i = 0; i < img.nbytes; i++) {
        int d = abs((int)a[i] - (int)b[i]);
        if (d > worst) worst = d;
    }
    cr_log_info("%s (channels=%d) vs Pillow: worst |diff| %d over %zu values", file, channels, worst, img.nbytes);
    en_ndbuf_free(&img);
    en_ndbuf_free(&want);
    return worst;
}

Test(image, png_matches_pillow_exactly) {
    const char *files[] = { "rgb.png", "rgba.png", "gray.png", "graya.png", "bw.png", "palette.png", "palette_trns.png" };
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        cr_assert_eq(compare_with_pillow(files[i], 3, "rgb"), 0, "%s as RGB", files[i]);
        cr_assert_eq(compare_with_pillow(files[i], 4, "rgba"), 0, "%s as RGBA", files[i]);
    }
    cr_assert_eq(compare_with_pillow("rgb16.png", 3, "rgb"), 0);
    cr_assert_eq(compare_with_pillow("gray16.png", 3, "rgb"), 0);
}

Test(image, natural_channels) {
    struct { const char *f; int ch; } cases[] = {
        { "rgb.png", 3 }, { "rgba.png", 4 }, { "gray.png", 3 }, { "graya.png", 4 }, { "bw.png", 3 },
        { "palette.png", 3 }, { "palette_trns.png", 4 }, { "rgb16.png", 3 }, { "photo.jpg", 3 }, { "gray.jpg", 3 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char path[256];
        snprintf(path, sizeof path, FMT_DATA "%s", cases[i].f);
        en_ndbuf img;
        cr_assert_eq(en_image_read(path, 0, &img), 0, "%s", en_error_msg());
        cr_assert_eq(img.shape[2], cases[i].ch, "%s: %lld channels", cases[i].f, (long long)img.shape[2]);
        en_ndbuf_free(&img);
    }
}

/* Same libjpeg-turbo, same ISLOW DCT and upsampling as Pillow: expected
 * exact; the test allows 1 level for a different libjpeg build. */
Test(image, jpeg_matches_pillow) {
    const char *files[] = { "photo.jpg", "gray.jpg", "progressive.jpg" };
    for (size_t i = 0; i < 3; i++) {
        int w = compare_with_pillow(files[i], 3, "rgb");
        cr_assert(w <= 1, "%s: worst diff %d > 1", files[i], w);
    }
    en_ndbuf a, b;
    cr_assert_eq(en_image_read(FMT_DATA "photo.jpg", 4, &a), 0);
    cr_assert_eq(en_image_read(FMT_DATA "photo.jpg", 3, &b), 0);
    cr_assert(a.shape[2] == 4 && a.shape[0] == 19 && a.shape[1] == 23);
    for (int64_t p = 0; p < 19 * 23; p++) {
        const uint8_t *x = (uint8_t *)a.data + 4 * p, *y = (uint8_t *)b.data + 3 * p;
        cr_assert(x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == 255, "pixel %lld", (long long)p);
    }
    en_ndbuf_free(&a); en_ndbuf_free(&b);
}

Test(image, png_write_roundtrip_all_channel_counts) {
    for (int ch = 1; ch <= 4; ch++) {
        en_ndbuf img, back;
        int64_t shape[3] = { 7, 11, ch };
        cr_assert_eq(en_ndbuf_alloc(&img, EN_U8, ch == 1 ? 2 : 3, shape), 0);
        for (size_t i = 0; i < img.nbytes; i++) ((uint8_t *)img.data)[i] = (uint8_t)(i * 53 + ch);
        const char *out = fmt_tmp("w.png");
        cr_assert_eq(en_image_write_png(out, &img), 0, "%s", en_error_msg());
        int want = ch == 2 || ch == 4 ? 4 : 3;
        cr_assert_eq(en_image_read(out, 0, &back), 0, "%s", en_error_msg());
        cr_assert_eq(back.shape[2], want);
        const uint8_t *s = img.data, *d = back.data;
        for (int p = 0; p < 7 * 11; p++) {
            int gray = ch <= 2;
            for (int c = 0; c < 3; c++)
                cr_assert_eq(d[p * want + c], s[p * ch + (gray ? 0 : c)], "ch=%d pixel %d comp %d", ch, p, c);
            if (want == 4) cr_assert_eq(d[p * 4 + 3], s[p * ch + ch - 1]);
        }
        en_ndbuf_free(&img); en_ndbuf_free(&back);
    }
}

static void expect_reject(const char *path, int channels, const char *what) {
    en_ndbuf img;
    cr_assert_eq(en_image_read(path, channels, &img), -1, "%s decoded, expected '%s'", path, what);
    cr_assert_null(img.data);
    const char *m = en_error_msg();
    cr_assert(strstr(m, path), "message does not name the file: %s", m);
    cr_assert(strstr(m, what), "message lacks '%s': %s", what, m);
}

Test(image, rejects_bad_input) {
    expect_reject(FMT_DATA "cmyk.jpg", 3, "CMYK");
    expect_reject(FMT_DATA "f4.npy", 3, "not a PNG or JPEG");
    expect_reject(FMT_DATA "rgb.png", 2, "channels must be");
    expect_reject("/nonexistent.png", 3, "cannot open");
    size_t old = en_image_set_max_pixels(100);
    expect_reject(FMT_DATA "rgb.png", 3, "larger than the limit");
    expect_reject(FMT_DATA "photo.jpg", 3, "larger than the limit");
    en_image_set_max_pixels(old);
    size_t n;
    unsigned char *png = fmt_slurp(FMT_DATA "rgb.png", &n);
    png[20] ^= 0x40;   /* inside IHDR: the CRC no longer matches */
    const char *p = fmt_tmp("crc.png");
    fmt_write(p, png, n);
    expect_reject(p, 3, "PNG: ");
    free(png);
    en_ndbuf bad = { .dtype = EN_F32, .ndim = 2, .shape = { 2, 2 }, .nbytes = 16 };
    cr_assert_eq(en_image_write_png(fmt_tmp("x.png"), &bad), -1);
    cr_assert(strstr(en_error_msg(), "U8 image"), "%s", en_error_msg());
}

/* Every truncation fails with a message (up to the trailer, which is not
 * needed), and random byte flips never crash; ASan/UBSan watch both. */
static void sweep(const char *file, size_t trailer) {
    size_t n;
    unsigned char *ref = fmt_slurp(file, &n);
    cr_assert(ref);
    for (size_t len = 0; len + trailer < n; len++) {
        unsigned char *cut = malloc(len ? len : 1);
        memcpy(cut, ref, len);
        en_ndbuf img;
        cr_assert_eq(en_image_decode(cut, len, "cut.img", 3, &img), -1, "%s cut to %zu of %zu bytes decoded", file, len, n);
        cr_assert(strstr(en_error_msg(), "cut.img"), "%s", en_error_msg());
        free(cut);
    }
    unsigned seed = 12345;
    int rejected = 0;
    unsigned char *mut = malloc(n);
    for (int k = 0; k < 400; k++) {
        memcpy(mut, ref, n);
        for (int j = 0; j < 1 + k % 4; j++) {
            seed = seed * 1103515245u + 12345u;
            mut[(seed >> 8) % n] ^= (unsigned char)(1u << (seed % 8));
        }
        en_ndbuf img;
        if (en_image_decode(mut, n, "flip.img", 0, &img)) rejected++;
        else en_ndbuf_free(&img);
    }
    cr_log_info("%s: %d of 400 mutants rejected", file, rejected);
    free(mut); free(ref);
}

Test(image, png_truncations_and_flips) { sweep(FMT_DATA "rgba.png", 12); }
Test(image, jpeg_truncations_and_flips) { sweep(FMT_DATA "photo.jpg", 2); }
Test(image, progressive_jpeg_truncations) { sweep(FMT_DATA "progressive.jpg", 2); }
