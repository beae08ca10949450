#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "en_error.h"
#include "en_npy.h"
#include "fmt_util.h"

static void read_ok(const char *name, en_ndbuf *b) {
    char path[256];
    snprintf(path, sizeof path, FMT_DATA "%s.npy", name);
    cr_assert_eq(en_npy_read(path, b), 0, "%s: %s", path, en_error_msg());
}

static void shape_is(const en_ndbuf *b, en_dtype t, int ndim, const int64_t *shape) {
    cr_assert_eq(b->dtype, t, "dtype %s", en_dtype_name(b->dtype));
    cr_assert_eq(b->ndim, ndim);
    for (int i = 0; i < ndim; i++) cr_assert_eq(b->shape[i], shape[i], "dim %d", i);
}

Test(npy, reads_numpy_files) {
    en_ndbuf b;
    read_ok("f4", &b);
    shape_is(&b, EN_F32, 2, (int64_t[]){ 3, 4 });
    for (int i = 0; i < 12; i++) cr_assert_eq(((float *)b.data)[i], (float)i / 7.0f, "f4[%d]", i);
    en_ndbuf_free(&b);

    read_ok("f8", &b);
    shape_is(&b, EN_F64, 2, (int64_t[]){ 1, 3 });
    double *d = b.data;
    cr_assert(d[0] == 1.5 && d[1] == -2.25 && d[2] == 1e100);
    en_ndbuf_free(&b);

    read_ok("i4", &b);
    shape_is(&b, EN_I32, 1, (int64_t[]){ 3 });
    int32_t *i4 = b.data;
    cr_assert(i4[0] == -3 && i4[1] == 0 && i4[2] == 2147483647);
    en_ndbuf_free(&b);

    read_ok("i8", &b);
    shape_is(&b, EN_I64, 2, (int64_t[]){ 3, 2 });
    int64_t *i8 = b.data;
    cr_assert(i8[0] == 1LL << 40 && i8[1] == -1 && i8[4] == 7 && i8[5] == INT64_MIN);
    en_ndbuf_free(&b);

    read_ok("u1", &b);
    shape_is(&b, EN_U8, 3, (int64_t[]){ 2, 3, 4 });
    for (int i = 0; i < 24; i++) cr_assert_eq(((uint8_t *)b.data)[i], (uint8_t)(i * 10));
    en_ndbuf_free(&b);

    read_ok("f2", &b);
    shape_is(&b, EN_F16, 1, (int64_t[]){ 3 });
    uint16_t *h = b.data;
    cr_assert(en_f16_to_f32(h[0]) == 0.5f && en_f16_to_f32(h[1]) == -1.0f && en_f16_to_f32(h[2]) == 65504.0f);
    en_ndbuf_free(&b);

    read_ok("b1", &b);
    shape_is(&b, EN_BOOL, 1, (int64_t[]){ 2 });
    cr_assert(((uint8_t *)b.data)[0] == 1 && ((uint8_t *)b.data)[1] == 0);
    en_ndbuf_free(&b);

    read_ok("scalar", &b);
    cr_assert(b.ndim == 0 && b.nbytes == 4 && *(float *)b.data == 2.5f);
    en_ndbuf_free(&b);

    read_ok("empty", &b);
    shape_is(&b, EN_F32, 2, (int64_t[]){ 0, 3 });
    cr_assert_eq(b.nbytes, 0);
    en_ndbuf_free(&b);
}

Test(npy, reads_version_2_header) {
    en_ndbuf a, b;
    read_ok("v2", &a);
    read_ok("f4", &b);
    cr_assert(a.ndim == 2 && a.nbytes == b.nbytes && !memcmp(a.data, b.data, a.nbytes));
    en_ndbuf_free(&a); en_ndbuf_free(&b);
}

Test(npy, read_as_converts) {
    en_ndbuf b;
    cr_assert_eq(en_npy_read_as(FMT_DATA "f8.npy", EN_F32, &b), 0, "%s", en_error_msg());
    cr_assert(b.dtype == EN_F32 && ((float *)b.data)[1] == -2.25f && isinf(((float *)b.data)[2]));
    en_ndbuf_free(&b);
    cr_assert_eq(en_npy_read_as(FMT_DATA "i4.npy", EN_I64, &b), 0);
    cr_assert(((int64_t *)b.data)[2] == 2147483647);
    en_ndbuf_free(&b);
    cr_assert_eq(en_npy_read_as(FMT_DATA "i8.npy", EN_I32, &b), -1);
    cr_assert(strstr(en_error_msg(), "i8.npy") && strstr(en_error_msg(), "does not fit"), "%s", en_error_msg());
}

/* What en_npy_write produces must be what numpy.save produced. */
Test(npy, write_is_byte_identical_to_numpy) {
    const char *names[] = { "f4", "f8", "i4", "i8", "u1", "f2", "b1", "scalar", "empty" };
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        en_ndbuf b;
        read_ok(names[k], &b);
        const char *out = fmt_tmp("w.npy");
        cr_assert_eq(en_npy_write(out, &b), 0, "%s", en_error_msg());
        char ref[256];
        snprintf(ref, sizeof ref, FMT_DATA "%s.npy", names[k]);
        size_t n1, n2;
        unsigned char *x = fmt_slurp(out, &n1), *y = fmt_slurp(ref, &n2);
        size_t first = 0;
        while (first < n1 && first < n2 && x[first] == y[first]) first++;
        cr_assert(n1 == n2 && first == n1, "%s: differs from numpy at byte %zu (sizes %zu, %zu)", names[k], first, n1, n2);
        free(x); free(y);
        en_ndbuf_free(&b);
    }
}

Test(npy, roundtrip_written_arrays) {
    int64_t shape[3] = { 2, 5, 7 };
    en_dtype types[] = { EN_F32, EN_F64, EN_I32, EN_I64, EN_U8 };
    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        en_ndbuf b, back;
        cr_assert_eq(en_ndbuf_alloc(&b, types[t], 3, shape), 0);
        for (size_t i = 0; i < b.nbytes; i++) ((uint8_t *)b.data)[i] = (uint8_t)(i * 31 + 7);
        const char *out = fmt_tmp("rt.npy");
        cr_assert_eq(en_npy_write(out, &b), 0, "%s", en_error_msg());
        cr_assert_eq(en_npy_read(out, &back), 0, "%s", en_error_msg());
        cr_assert(back.dtype == b.dtype && back.ndim == 3 && back.shape[2] == 7);
        cr_assert(back.nbytes == b.nbytes && !memcmp(back.data, b.data, b.nbytes), "%s", en_dtype_name(types[t]));
        en_ndbuf_free(&b); en_ndbuf_free(&back);
    }
}

/* ---- rejections ---------------------------------------------------- */

static void expect_reject_mem(const char *bytes, size_t n, const char *what) {
    en_ndbuf b;
    cr_assert_eq(en_npy_read_mem(bytes, n, "bad.npy", &b), -1, "accepted, expected '%s'", what);
    const char *m = en_error_msg();
    cr_assert(strstr(m, "bad.npy"), "message does not name the file: %s", m);
    cr_assert(strstr(m, what), "message lacks '%s': %s", what, m);
    cr_assert_null(b.data);
}

/* A v1 file with the given header dict and `data` bytes. */
static void expect_reject_hdr(const char *dict, size_t data, const char *what) {
    static char buf[512];
    size_t h = strlen(dict);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (char)(h & 0xff); buf[9] = (char)(h >> 8);
    memcpy(buf + 10, dict, h);
    memset(buf + 10 + h, 0x5a, data);
    expect_reject_mem(buf, 10 + h + data, what);
}

Test(npy, rejects_fortran_and_big_endian) {
    en_ndbuf b;
    cr_assert_eq(en_npy_read(FMT_DATA "fortran.npy", &b), -1);
    cr_assert(strstr(en_error_msg(), "fortran.npy") && strstr(en_error_msg(), "fortran_order=True"), "%s", en_error_msg());
    cr_assert_eq(en_npy_read(FMT_DATA "bigendian.npy", &b), -1);
    cr_assert(strstr(en_error_msg(), "bigendian.npy") && strstr(en_error_msg(), "big-endian"), "%s", en_error_msg());
    cr_assert_eq(en_npy_read("/nonexistent.npy", &b), -1);
    cr_assert(strstr(en_error_msg(), "/nonexistent.npy: cannot open"), "%s", en_error_msg());
}

Test(npy, rejects_corrupt_headers) {
    expect_reject_mem("\x93NUMPX\x01\x00\x00\x00", 10, "bad magic");
    expect_reject_mem("\x93NUMPY\x04\x00\x00\x00", 10, "version 4.0");
    expect_reject_mem("\x93NUMPY\x01\x00\x50\x00{}", 12, "exceeds the file");
    expect_reject_hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 7, "truncated");
    expect_reject_hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 9, "after the array");
    expect_reject_hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (2), }", 8, "not a tuple");
    expect_reject_hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", 8, "unknown key 'x'");
    expect_reject_hdr("{'descr': '<f4', 'shape': (2,), }", 8, "missing key 'fortran_order'");
    expect_reject_hdr("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", 8, "given twice");
    expect_reject_hdr("{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", 8, "unsupported npy dtype '<c8'");
    expect_reject_hdr("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", 8, "not True or False");
    expect_reject_hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", 8, "non-integer");
    expect_reject_hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }", 8, "overflows");
    expect_reject_hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 8, "too large");
    expect_reject_hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x", 8, "bytes after the dict");
    expect_reject_hdr("{'descr' '<f4', 'fortran_order': False, 'shape': (2,), }", 8, "expected ':'");
    expect_reject_hdr("{'descr': '<f4' 'fortran_order': False}", 8, "expected ',' or '}'");
}

Test(npy, truncations_and_byte_flips_never_crash) {
    size_t n;
    unsigned char *ref = fmt_slurp(FMT_DATA "u1.npy", &n);
    cr_assert(ref);
    for (size_t len = 0; len < n; len++) {
        unsigned char *cut = malloc(len ? len : 1);
        memcpy(cut, ref, len);
        en_ndbuf b;
        cr_assert_eq(en_npy_read_mem(cut, len, "cut.npy", &b), -1, "truncated to %zu bytes and accepted", len);
        cr_assert(strstr(en_error_msg(), "cut.npy"));
        free(cut);
    }
    int rejected = 0;
    unsigned char *mut = malloc(n);
    for (size_t i = 0; i < 128; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(mut, ref, n);
            mut[i] ^= (unsigned char)(1u << bit);
            en_ndbuf b;
            if (en_npy_read_mem(mut, n, "flip.npy", &b)) { rejected++; continue; }
            en_ndbuf_free(&b);
        }
    }
    cr_log_info("npy byte flips: %d of %d rejected", rejected, 128 * 8);
    cr_assert(rejected > 500);
    free(mut); free(ref);
}
