/* Every reader's user-facing failure, as the whole message (issue 12.4):
 * a caller that adds context must keep the callee's reason to its end, and
 * never repeat the file name. Each row writes a bad file, calls the reader
 * and compares the complete message ("%s" stands for the file's path). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "en_bpe.h"
#include "en_cifar.h"
#include "en_clip.h"
#include "en_error.h"
#include "en_image.h"
#include "en_npy.h"
#include "en_ops.h"
#include "en_safetensors.h"
#include "fmt_util.h"

/* A version-1 .npy of one int64 element. */
static void write_npy_i64(const char *path, int64_t v) {
    char h[128 + 8];
    const char *dict = "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }";
    memcpy(h, "\x93NUMPY\x01\x00\x76\x00", 10);  /* 118 bytes of header: 128 in all */
    memset(h + 10, ' ', 118);
    memcpy(h + 10, dict, strlen(dict));
    h[127] = '\n';
    memcpy(h + 128, &v, 8);
    fmt_write(path, h, sizeof h);
}

static int row_npy_convert(const char *p) {
    write_npy_i64(p, (int64_t)1 << 40);
    en_ndbuf b;
    return en_npy_read_as(p, EN_I32, &b);
}

static int row_npy_header(const char *p) {
    fmt_write(p, "\x93NUMPY\x01\x00\xff\x00{}", 12);
    en_ndbuf b;
    return en_npy_read(p, &b);
}

static int row_npy_missing(const char *p) {
    en_ndbuf b;
    return en_npy_read(p, &b);
}

/* tests/clip/models/vit.safetensors with a __metadata__ entry that asks
 * for a text tower of 10^6 layers: the checkpoint's "metadata bomb". */
static int row_clip_metabomb(const char *p) {
    size_t n;
    unsigned char *d = fmt_slurp("tests/clip/models/vit.safetensors", &n);
    cr_assert(d);
    uint64_t hl;
    memcpy(&hl, d, 8);
    const char *key = "\"__metadata__\": {", *ins = "\"transformer_layers\": \"1000000\", ";
    unsigned char *at = memmem(d + 8, hl, key, strlen(key));
    cr_assert(at, "the checkpoint has no __metadata__");
    size_t il = strlen(ins), pre = (size_t)(at - d) + strlen(key);
    unsigned char *o = malloc(n + il);
    uint64_t nhl = hl + il;
    memcpy(o, d, pre);
    memcpy(o, &nhl, 8);
    memcpy(o + pre, ins, il);
    memcpy(o + pre + il, d + pre, n - pre);
    fmt_write(p, o, n + il);
    free(o); free(d);
    en_clip *m = en_clip_load(p);
    if (m) en_clip_free(m);
    return m ? 0 : -1;
}

static int row_st_hugeheader(const char *p) {
    unsigned char b[16] = { 0 };
    uint64_t hl = (uint64_t)1 << 40;
    memcpy(b, &hl, 8);
    memcpy(b + 8, "{}      ", 8);
    fmt_write(p, b, 16);
    en_st_file *f = en_st_open(p);
    if (f) en_st_close(f);
    return f ? 0 : -1;
}

static int row_bpe_gz(const char *p) {
    /* a valid gzip header, then a deflate block of the reserved type 3 */
    static const unsigned char gz[] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0x07, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
    fmt_write(p, gz, sizeof gz);
    en_bpe *b = en_bpe_load(p, -1);
    en_bpe_free(b);
    return b ? 0 : -1;
}

static int row_bpe_utf8(const char *p) {
    fmt_write(p, "#version: 0.2\n", 14);
    en_bpe *b = en_bpe_load(p, -1);
    cr_assert(b, "%s", en_error_msg());
    int32_t ids[77];
    int rc = en_bpe_tokenize(b, "caf\xc3 au lait", 77, 0, ids);
    en_bpe_free(b);
    return rc;
}

static int row_bpe_long(const char *p) {
    fmt_write(p, "#version: 0.2\n", 14);
    en_bpe *b = en_bpe_load(p, -1);
    cr_assert(b, "%s", en_error_msg());
    int32_t ids[8];
    int rc = en_bpe_tokenize(b, "red circle", 8, 0, ids);
    en_bpe_free(b);
    return rc;
}

static int row_png(const char *p) {
    fmt_write(p, "\x89PNG\r\n\x1a\nnot really", 18);
    en_ndbuf b;
    return en_image_read(p, 3, &b);
}

static int row_cifar(const char *p) {
    fmt_write(p, "short", 5);
    en_cifar c;
    return en_cifar_read(p, 3, &c);
}

static int row_reduce(const char *p) {
    (void)p;
    en_tensor *t = en_tensor_zeros(EN_DIMS(2, 3));
    int ax = 5;
    en_tensor *s = en_sum(t, 1, &ax, 0);
    en_tensor_release(t);
    en_tensor_release(s);
    return s ? 0 : -1;
}

static const struct {
    const char *file;
    int (*run)(const char *path);
    const char *want;  /* "%s" is the path */
} rows[] = {
    { "big.npy", row_npy_convert, "%s: en_convert: element 0 (1099511627776) does not fit I32" },
    { "hdr.npy", row_npy_header, "%s: npy header length 255 exceeds the file (12 bytes; truncated?)" },
    { "none.npy", row_npy_missing, "%s: cannot open: No such file or directory" },
    { "st_metabomb.safetensors", row_clip_metabomb, "%s: clip: config has a non-positive or too large size" },
    { "huge.safetensors", row_st_hugeheader,
      "%s: header length 1099511627776 is larger than the 100 MB limit (corrupt or not a safetensors file)" },
    { "vocab.txt.gz", row_bpe_gz, "%s: corrupt gzip data (zlib: invalid block type)" },
    { "m_utf8.txt", row_bpe_utf8, "invalid UTF-8 at byte 3 (0xc3)" },
    { "m_long.txt", row_bpe_long, "input is too long for context length 8: 11 tokens" },
    { "bad.png", row_png, NULL },
    { "bad.bin", row_cifar, NULL },
    { "", row_reduce, "sum: axis 5 out of range for a tensor of shape [2, 3]" },
};

Test(errors, every_reader_gives_its_whole_reason) {
    int bad = 0;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const char *path = fmt_tmp(rows[i].file);
        en_error("stale message");
        int rc = rows[i].run(path);
        const char *m = en_error_msg();
        char want[1024] = "";
        if (rows[i].want) snprintf(want, sizeof want, rows[i].want, path);
        /* the file is named once; a reason follows it */
        const char *first = rows[i].file[0] ? strstr(m, path) : NULL;
        int twice = first && strstr(first + 1, path) != NULL;
        int ok = rc < 0 && !twice && (rows[i].want ? !strcmp(m, want)
                                                   : first == m && strlen(m) > strlen(path) + 8);
        printf("%-26s %s  %s\n", rows[i].file[0] ? rows[i].file : "(tensor)", ok ? "ok  " : "FAIL", m);
        if (!ok) { bad++; if (rows[i].want) printf("%26s want  %s\n", "", want); }
    }
    cr_assert_eq(bad, 0, "%d reader messages incomplete (see above)", bad);
}
