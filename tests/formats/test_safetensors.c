#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "en_error.h"
#include "en_safetensors.h"
#include "fmt_util.h"

#define REF FMT_DATA "ref.safetensors"

static en_st_file *open_ok(const char *path) {
    en_st_file *f = en_st_open(path);
    cr_assert(f, "open %s: %s", path, en_error_msg());
    return f;
}

/* The file must be rejected with a message naming it and containing `what`. */
static void expect_reject(const char *path, const char *what) {
    en_error_clear();
    en_st_file *f = en_st_open(path);
    cr_assert_null(f, "%s opened but should fail with '%s'", path, what);
    const char *m = en_error_msg();
    cr_assert(strstr(m, path), "message does not name the file: %s", m);
    cr_assert(strstr(m, what), "message lacks '%s': %s", what, m);
}

Test(safetensors, reads_python_reference) {
    en_st_file *f = open_ok(REF);
    cr_assert_eq(en_st_count(f), 12);
    /* Header order is the JSON order: the reverse of the data order. */
    cr_assert_str_eq(en_st_entry_at(f, 0)->name, "s.scalar");

    const en_st_entry *a = en_st_find(f, "a.f32");
    cr_assert(a && a->dtype == EN_F32 && a->ndim == 2 && a->shape[0] == 2 && a->shape[1] == 3);
    float v[6];
    cr_assert_eq(en_st_read_f32(f, a, v, 6), 0, "%s", en_error_msg());
    for (int i = 0; i < 6; i++) cr_assert_eq(v[i], i * 0.5f - 1.25f, "a[%d]=%g", i, v[i]);

    /* F16 and BF16 against numpy's own float32 conversion, stored beside. */
    const char *pairs[2][2] = { { "b.f16", "b.f16.as_f32" }, { "c.bf16", "c.bf16.as_f32" } };
    for (int p = 0; p < 2; p++) {
        const en_st_entry *h = en_st_find(f, pairs[p][0]), *r = en_st_find(f, pairs[p][1]);
        cr_assert(h && r && h->numel == r->numel && h->numel > 0);
        float got[64], want[64];
        cr_assert_eq(en_st_read_f32(f, h, got, h->numel), 0, "%s", en_error_msg());
        cr_assert_eq(en_st_read_f32(f, r, want, r->numel), 0);
        float worst = 0;
        for (size_t i = 0; i < h->numel; i++) worst = fmaxf(worst, fabsf(got[i] - want[i]));
        cr_log_info("%s vs numpy: worst |diff| %g over %zu", pairs[p][0], worst, h->numel);
        cr_assert_eq(worst, 0.0f, "%s: worst diff %g (must be exact)", pairs[p][0], worst);
    }
    cr_assert_eq(en_st_find(f, "c.bf16")->dtype, EN_BF16);
    cr_assert_eq(en_st_find(f, "c.bf16")->ndim, 3);

    int64_t iv[8];
    const en_st_entry *d = en_st_find(f, "d.i32");
    cr_assert_eq(en_st_read_i64(f, d, iv, 7), 0);
    int64_t d_want[7] = { 0, 1, -1, 2147483647, -2147483648LL, 7, 42 };
    for (int i = 0; i < 7; i++) cr_assert_eq(iv[i], d_want[i]);
    cr_assert_eq(en_st_read_i64(f, en_st_find(f, "e.i64"), iv, 4), 0);
    cr_assert(iv[0] == (1LL << 40) + 3 && iv[1] == -5 && iv[2] == 0 && iv[3] == -(1LL << 62));
    cr_assert_eq(en_st_read_i64(f, en_st_find(f, "f.u8"), iv, 3), 0);
    cr_assert(iv[0] == 0 && iv[1] == 128 && iv[2] == 255);
    cr_assert_eq(en_st_read_i64(f, en_st_find(f, "k.bool"), iv, 3), 0);
    cr_assert(iv[0] == 1 && iv[1] == 0 && iv[2] == 1);
    cr_assert_eq(en_st_read_f32(f, en_st_find(f, "g.f64"), v, 2), 0);
    cr_assert(v[0] == 0.0f && v[1] == -2.5f); /* 1e-300 underflows float32 */

    const en_st_entry *e = en_st_find(f, "h.empty");
    cr_assert(e && e->numel == 0 && e->nbytes == 0 && e->shape[0] == 0 && e->shape[1] == 4);
    cr_assert_eq(en_st_read_f32(f, e, v, 0), 0);
    const en_st_entry *s = en_st_find(f, "s.scalar");
    cr_assert(s && s->ndim == 0 && s->numel == 1);
    cr_assert_eq(en_st_read_f32(f, s, v, 1), 0);
    cr_assert_eq(v[0], 3.5f);

    cr_assert_null(en_st_find(f, "nope"));
    cr_assert_eq(en_st_meta_count(f), 3);
    cr_assert_str_eq(en_st_meta_get(f, "embed_dim"), "512");
    cr_assert_str_eq(en_st_meta_get(f, "note"), "na\xc3\xaf" "ve \xc3\xbc" "n\xc3\xaf" "code");
    cr_assert_null(en_st_meta_get(f, "missing"));
    en_st_close(f);
}

Test(safetensors, type_mismatch_is_an_error) {
    en_st_file *f = open_ok(REF);
    float v[8]; int64_t iv[8];
    cr_assert_eq(en_st_read_f32(f, en_st_find(f, "d.i32"), v, 7), -1);
    cr_assert(strstr(en_error_msg(), "not a float type"), "%s", en_error_msg());
    cr_assert_eq(en_st_read_i64(f, en_st_find(f, "a.f32"), iv, 6), -1);
    cr_assert_eq(en_st_read_f32(f, en_st_find(f, "a.f32"), v, 5), -1);
    cr_assert(strstr(en_error_msg(), "6 elements"), "%s", en_error_msg());
    en_st_close(f);
}

/* Writes every dtype, reads it back, and matches the reference layout byte
 * for byte. */
Test(safetensors, write_matches_reference_layout) {
    en_st_file *f = open_ok(REF);
    const char *order[] = { "a.f32", "b.f16", "b.f16.as_f32", "c.bf16", "c.bf16.as_f32", "d.i32", "e.i64",
                            "f.u8", "g.f64", "h.empty", "k.bool", "s.scalar" };
    int n = 12;
    en_ndbuf bufs[12];
    for (int i = 0; i < n; i++)
        cr_assert_eq(en_st_read_ndbuf(f, en_st_find(f, order[i]), &bufs[i]), 0, "%s", en_error_msg());
    const char *mk[] = { "format", "embed_dim", "note" }, *mv[3];
    for (int i = 0; i < 3; i++) mv[i] = en_st_meta_get(f, mk[i]);
    const char *out = fmt_tmp("w.safetensors");
    cr_assert_eq(en_st_write(out, n, order, bufs, 3, mk, mv), 0, "%s", en_error_msg());

    size_t n1, n2;
    unsigned char *a = fmt_slurp(out, &n1), *b = fmt_slurp(FMT_DATA "c_layout.safetensors", &n2);
    cr_assert(a && b);
    size_t first = 0;
    while (first < n1 && first < n2 && a[first] == b[first]) first++;
    cr_assert(n1 == n2 && first == n1, "written file differs from reference at byte %zu (sizes %zu, %zu)",
              first, n1, n2);

    en_st_file *g = open_ok(out);
    cr_assert_eq(en_st_count(g), n);
    for (int i = 0; i < n; i++) {
        const en_st_entry *e = en_st_find(g, order[i]);
        en_ndbuf back;
        cr_assert_eq(en_st_read_ndbuf(g, e, &back), 0);
        cr_assert(back.dtype == bufs[i].dtype && back.ndim == bufs[i].ndim && back.nbytes == bufs[i].nbytes);
        cr_assert(!memcmp(back.data, bufs[i].data, back.nbytes), "%s differs", order[i]);
        en_ndbuf_free(&back);
    }
    for (int i = 0; i < n; i++) en_ndbuf_free(&bufs[i]);
    free(a); free(b);
    en_st_close(g);
    en_st_close(f);
}

Test(safetensors, roundtrip_float_conversions) {
    /* F32 values through F16 and BF16 storage: error within half an ulp. */
    enum { N = 1000 };
    static float src[N], back[N];
    for (int i = 0; i < N; i++) src[i] = sinf(i * 0.37f) * powf(2.0f, (float)(i % 10) - 5);
    en_ndbuf f32 = { .dtype = EN_F32, .ndim = 2, .shape = { 10, 100 }, .data = src, .nbytes = sizeof src };
    en_ndbuf h, bf;
    cr_assert_eq(en_ndbuf_convert(&f32, EN_F16, &h), 0);
    cr_assert_eq(en_ndbuf_convert(&f32, EN_BF16, &bf), 0);
    const char *names[] = { "w32", "w16", "wbf" };
    en_ndbuf bufs[] = { f32, h, bf };
    const char *out = fmt_tmp("rt.safetensors");
    cr_assert_eq(en_st_write(out, 3, names, bufs, 0, NULL, NULL), 0, "%s", en_error_msg());
    en_st_file *f = open_ok(out);
    cr_assert_eq(en_st_meta_count(f), 0);
    float rel[3] = { 0, 0x1p-11f, 0x1p-8f };
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(en_st_read_f32(f, en_st_find(f, names[k]), back, N), 0);
        float worst = 0;
        for (int i = 0; i < N; i++) worst = fmaxf(worst, fabsf(back[i] - src[i]) / fabsf(src[i] ? src[i] : 1));
        cr_log_info("%s: worst relative error %g (bound %g)", names[k], worst, rel[k]);
        cr_assert(worst <= rel[k], "%s: worst relative error %g > %g", names[k], worst, rel[k]);
    }
    en_st_close(f);
    en_ndbuf_free(&h); en_ndbuf_free(&bf);
}

Test(safetensors, writer_rejects_bad_input) {
    float x[4] = { 0 };
    en_ndbuf b = { .dtype = EN_F32, .ndim = 1, .shape = { 4 }, .data = x, .nbytes = 16 };
    en_ndbuf two[2] = { b, b };
    const char *dup[] = { "x", "x" };
    const char *out = fmt_tmp("bad.safetensors");
    cr_assert_eq(en_st_write(out, 2, dup, two, 0, NULL, NULL), -1);
    cr_assert(strstr(en_error_msg(), "duplicate tensor name 'x'"), "%s", en_error_msg());
    const char *meta[] = { "__metadata__" };
    cr_assert_eq(en_st_write(out, 1, meta, &b, 0, NULL, NULL), -1);
    b.nbytes = 12;
    const char *one[] = { "x" };
    cr_assert_eq(en_st_write(out, 1, one, &b, 0, NULL, NULL), -1);
    cr_assert(strstr(en_error_msg(), "disagree"), "%s", en_error_msg());
    cr_assert_eq(access(out, F_OK), -1, "a failed write left a file behind");
}

/* ---- corruption: each class is rejected, with the file named -------- */

#define E32(off0, off1) "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[" #off0 "," #off1 "]}"

Test(safetensors, rejects_short_and_bad_lengths) {
    const char *p = fmt_tmp("short.safetensors");
    fmt_write(p, "\x05\0\0", 3);
    expect_reject(p, "too short");
    unsigned char big[16] = { 0xff, 0xff, 0xff, 0x00 };  /* 16 MB header in a 16-byte file */
    p = fmt_tmp("trunc.safetensors");
    fmt_write(p, big, 16);
    expect_reject(p, "exceeds the file");
    unsigned char huge[16] = { 0, 0, 0, 0, 0, 0, 0, 0x80 };
    fmt_write(p, huge, 16);
    expect_reject(p, "100 MB limit");
    expect_reject("/nonexistent/x.safetensors", "cannot open");
}

Test(safetensors, rejects_bad_json) {
    expect_reject(fmt_st_file("j1.safetensors", "{\"a\":", 0), "not valid JSON");
    expect_reject(fmt_st_file("j2.safetensors", "[1,2]   ", 0), "does not start with '{'");
    expect_reject(fmt_st_file("j3.safetensors", "{}  x", 0), "trailing bytes");
    expect_reject(fmt_st_file("j4.safetensors", "{\"a\xff\":1}", 0), "UTF-8");
    expect_reject(fmt_st_file("j5.safetensors", "{\"a\":1}", 0), "not an object");
    /* Padding with spaces is valid, an empty file of tensors too. */
    en_st_file *f = open_ok(fmt_st_file("ok.safetensors", "{}      ", 0));
    cr_assert_eq(en_st_count(f), 0);
    en_st_close(f);
}

Test(safetensors, rejects_bad_entries) {
    expect_reject(fmt_st_file("e1.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8), "missing field 'data_offsets'");
    expect_reject(fmt_st_file("e2.safetensors", "{\"a\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8), "unknown dtype 'Q7'");
    expect_reject(fmt_st_file("e3.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8), "shape[0]");
    expect_reject(fmt_st_file("e4.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}", 8), "shape[0]");
    expect_reject(fmt_st_file("e5.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8), "pair");
    expect_reject(fmt_st_file("e6.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8), "unknown field 'x'");
    expect_reject(fmt_st_file("e7.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4), "9 dimensions");
    expect_reject(fmt_st_file("e8.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-1,8]}}", 8), "non-negative");
    expect_reject(fmt_st_file("e9.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8), "given twice");
}

Test(safetensors, rejects_bad_offsets_and_sizes) {
    expect_reject(fmt_st_file("o1.safetensors", "{\"a\":" E32(8, 0) "}", 8), "begin 8 > end 0");
    expect_reject(fmt_st_file("o2.safetensors", "{\"a\":" E32(0, 8) "}", 7), "past the data section");
    expect_reject(fmt_st_file("o3.safetensors", "{\"a\":" E32(0, 12) "}", 12), "need 8");
    /* 2^31 * 2^31 * 2^31 * 4 bytes overflows 64 bits. */
    expect_reject(fmt_st_file("o4.safetensors",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2147483648,2147483648,2147483648],\"data_offsets\":[0,8]}}", 8), "overflows");
    expect_reject(fmt_st_file("o5.safetensors", "{\"a\":" E32(0, 8) ",\"b\":" E32(12, 20) "}", 20), "belong to no tensor");
    expect_reject(fmt_st_file("o6.safetensors", "{\"a\":" E32(0, 8) ",\"b\":" E32(4, 12) "}", 12), "overlaps");
    expect_reject(fmt_st_file("o7.safetensors", "{\"a\":" E32(0, 8) "}", 9), "after the last tensor");
    expect_reject(fmt_st_file("o8.safetensors", "{\"a\":" E32(0, 8) ",\"a\":" E32(8, 16) "}", 16), "duplicate tensor name 'a'");
    expect_reject(fmt_st_file("o9.safetensors", "{\"a\":" E32(0, 8) ",\"b\":" E32(0, 8) "}", 8), "overlaps");
    expect_reject(fmt_st_file("o10.safetensors", "{\"a\":" E32(0, 9007199254740994) "}", 8), "non-negative");
    /* Entries out of order in the JSON are fine (the spec orders data, not keys). */
    en_st_file *f = open_ok(fmt_st_file("ok2.safetensors", "{\"b\":" E32(8, 16) ",\"a\":" E32(0, 8) "}", 16));
    cr_assert_eq(en_st_find(f, "a")->offset, 0);
    en_st_close(f);
}

Test(safetensors, rejects_bad_metadata) {
    expect_reject(fmt_st_file("m1.safetensors", "{\"__metadata__\":{\"k\":3}}", 0), "'k' is not a string");
    expect_reject(fmt_st_file("m2.safetensors", "{\"__metadata__\":[]}", 0), "__metadata__ is not an object");
    expect_reject(fmt_st_file("m3.safetensors", "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0), "appears twice");
    expect_reject(fmt_st_file("m4.safetensors", "{\"__metadata__\":{},\"__metadata__\":{}}", 0), "appears twice");
}

/* Every truncation of a valid file, and every single-byte change to its
 * header, either opens (and then reads consistently) or fails with a
 * message; under ASan this also proves no out-of-bounds access. */
Test(safetensors, truncations_and_byte_flips_never_crash) {
    size_t n;
    unsigned char *ref = fmt_slurp(REF, &n);
    cr_assert(ref);
    int opened = 0;
    for (size_t len = 0; len < n; len++) {
        unsigned char *cut = malloc(len ? len : 1);   /* exact-size copy: ASan sees overreads */
        memcpy(cut, ref, len);
        en_st_file *f = en_st_open_mem(cut, len, "cut.safetensors");
        if (f) { opened++; en_st_close(f); }
        else cr_assert(strstr(en_error_msg(), "cut.safetensors"), "%s", en_error_msg());
        free(cut);
    }
    cr_assert_eq(opened, 0, "a truncated file opened");
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | ref[i];
    int rejected = 0;
    unsigned char *mut = malloc(n);
    for (size_t i = 0; i < 8 + hlen; i++) {
        memcpy(mut, ref, n);
        mut[i] ^= (unsigned char)(1u << (i % 8));
        en_st_file *f = en_st_open_mem(mut, n, "flip.safetensors");
        if (!f) { rejected++; continue; }
        float buf[64];
        for (int k = 0; k < en_st_count(f); k++) {
            const en_st_entry *e = en_st_entry_at(f, k);
            if (e->numel <= 64 && (e->dtype == EN_F32 || e->dtype == EN_F16)) en_st_read_f32(f, e, buf, e->numel);
        }
        en_st_close(f);
    }
    cr_log_info("byte flips: %d of %llu rejected", rejected, (unsigned long long)(8 + hlen));
    cr_assert(rejected > 0);
    free(mut);
    free(ref);
}

/* A dtype of the spec that clipbook does not read does not stop the rest
 * of the file from loading. */
Test(safetensors, other_spec_dtypes_listed_not_read) {
    en_st_file *f = open_ok(fmt_st_file("i8.safetensors",
        "{\"q\":{\"dtype\":\"I8\",\"shape\":[3],\"data_offsets\":[0,3]},\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[3,7]}}", 7));
    const en_st_entry *q = en_st_find(f, "q"), *w = en_st_find(f, "w");
    cr_assert(q && w && q->dtype == EN_DTYPE_COUNT && q->nbytes == 3);
    int64_t iv[3];
    cr_assert_eq(en_st_read_i64(f, q, iv, 3), -1);
    cr_assert(strstr(en_error_msg(), "'q' has a dtype clipbook does not read"), "%s", en_error_msg());
    float v;
    cr_assert_eq(en_st_read_f32(f, w, &v, 1), 0, "%s", en_error_msg());
    en_st_close(f);
}
