#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "en_cifar.h"
#include "en_error.h"
#include "fmt_util.h"

/* A fake CIFAR-100 file of n records: pixel (r, c) of plane k in record i
 * holds (i * 7 + k * 50 + r * 3 + c) mod 256. */
static const char *fake(const char *name, int n, int bad_record) {
    unsigned char *buf = malloc((size_t)n * EN_CIFAR_RECORD);
    for (int i = 0; i < n; i++) {
        unsigned char *r = buf + (size_t)i * EN_CIFAR_RECORD;
        r[0] = (unsigned char)(i % 20);
        r[1] = (unsigned char)(i == bad_record ? 100 : (i * 13) % 100);
        for (int k = 0; k < 3; k++)
            for (int p = 0; p < 1024; p++) r[2 + k * 1024 + p] = (unsigned char)(i * 7 + k * 50 + (p / 32) * 3 + p % 32);
    }
    const char *path = fmt_tmp(name);
    fmt_write(path, buf, (size_t)n * EN_CIFAR_RECORD);
    free(buf);
    return path;
}

Test(cifar, reads_records_hwc_and_planes) {
    const char *p = fake("train.bin", 5, -1);
    for (int planes = 0; planes < 2; planes++) {
        en_cifar c;
        cr_assert_eq(en_cifar_read(p, planes, &c), 0, "%s", en_error_msg());
        cr_assert(c.images.ndim == 4 && c.images.shape[0] == 5 && c.images.dtype == EN_U8);
        cr_assert_eq(c.images.shape[planes ? 1 : 3], 3);
        const uint8_t *img = c.images.data;
        for (int i = 0; i < 5; i++) {
            cr_assert_eq(((int64_t *)c.coarse.data)[i], i % 20);
            cr_assert_eq(((int64_t *)c.fine.data)[i], (i * 13) % 100);
            for (int r = 0; r < 32; r++)
                for (int col = 0; col < 32; col++)
                    for (int k = 0; k < 3; k++) {
                        size_t at = planes ? (((size_t)i * 3 + k) * 32 + r) * 32 + col : (((size_t)i * 32 + r) * 32 + col) * 3 + k;
                        cr_assert_eq(img[at], (uint8_t)(i * 7 + k * 50 + r * 3 + col), "img %d (%d,%d) ch %d", i, r, col, k);
                    }
        }
        en_cifar_free(&c);
    }
}

Test(cifar, rejects_bad_files) {
    en_cifar c;
    const char *p = fake("bad.bin", 3, 1);
    cr_assert_eq(en_cifar_read(p, 0, &c), -1);
    cr_assert(strstr(en_error_msg(), p) && strstr(en_error_msg(), "record 1"), "%s", en_error_msg());
    cr_assert_null(c.images.data);
    p = fmt_tmp("short.bin");
    unsigned char junk[3073] = { 0 };
    fmt_write(p, junk, sizeof junk);
    cr_assert_eq(en_cifar_read(p, 0, &c), -1);
    cr_assert(strstr(en_error_msg(), p) && strstr(en_error_msg(), "multiple of the 3074-byte"), "%s", en_error_msg());
    fmt_write(p, junk, 0);
    cr_assert_eq(en_cifar_read(p, 0, &c), -1);
    cr_assert_eq(en_cifar_read("/nonexistent/train.bin", 0, &c), -1);
    cr_assert(strstr(en_error_msg(), "/nonexistent/train.bin: cannot open"), "%s", en_error_msg());
}

Test(cifar, label_names) {
    const char *p = fmt_tmp("fine_label_names.txt");
    fmt_write(p, "apple\naquarium_fish\r\nbaby\n\n", 27);
    char **names; int n;
    cr_assert_eq(en_cifar_read_names(p, 3, &names, &n), 0, "%s", en_error_msg());
    cr_assert_eq(n, 3);
    cr_assert_str_eq(names[0], "apple");
    cr_assert_str_eq(names[1], "aquarium_fish");
    cr_assert_str_eq(names[2], "baby");
    en_cifar_free_names(names, n);
    cr_assert_eq(en_cifar_read_names(p, 100, &names, &n), -1);
    cr_assert(strstr(en_error_msg(), p) && strstr(en_error_msg(), "3 names, expected 100"), "%s", en_error_msg());
    cr_assert_null(names);
    fmt_write(p, "apple\n\nbaby\n", 12);
    cr_assert_eq(en_cifar_read_names(p, 0, &names, &n), -1);
    cr_assert(strstr(en_error_msg(), "blank line before line 3"), "%s", en_error_msg());
}
