/* .npy reader and writer. Files are read whole: arrays handed to and from
 * other tools are features and labels (MBs), and the whole-file read lets
 * the parser work on one bounded buffer, as the fuzzer does. */
#include "en_npy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "en_error.h"
#include "en_file.h"

static const struct { const char *descr; en_dtype dtype; } npy_types[] = {
    { "<f4", EN_F32 }, { "<f8", EN_F64 }, { "<f2", EN_F16 }, { "<i4", EN_I32 },
    { "<i8", EN_I64 }, { "|u1", EN_U8 },  { "|b1", EN_BOOL },
};
#define NPY_NTYPES (sizeof npy_types / sizeof *npy_types)

/* ---- header parsing -------------------------------------------------- */

typedef struct {
    const char *p, *end, *name, *start;
} npy_lex;

static void skip_ws(npy_lex *l) {
    while (l->p < l->end && (*l->p == ' ' || *l->p == '\t' || *l->p == '\n' || *l->p == '\r')) l->p++;
}

static int expect_ch(npy_lex *l, char c) {
    skip_ws(l);
    if (l->p >= l->end || *l->p != c) return en_error("%s: npy header: expected '%c' at offset %td", l->name, c, l->p - l->start);
    l->p++;
    return 0;
}

/* A Python string literal in single or double quotes, no escapes (numpy
 * writes none in this header). */
static int parse_str(npy_lex *l, char *out, size_t cap) {
    skip_ws(l);
    if (l->p >= l->end || (*l->p != '\'' && *l->p != '"')) return en_error("%s: npy header: expected a string", l->name);
    char q = *l->p++;
    size_t n = 0;
    while (l->p < l->end && *l->p != q) {
        if (*l->p == '\\') return en_error("%s: npy header: escapes in strings are not supported", l->name);
        if (n + 1 >= cap) return en_error("%s: npy header: string too long", l->name);
        out[n++] = *l->p++;
    }
    if (l->p >= l->end) return en_error("%s: npy header: unterminated string", l->name);
    l->p++;
    out[n] = 0;
    return 0;
}

static int parse_uint(npy_lex *l, int64_t *out) {
    skip_ws(l);
    if (l->p >= l->end || *l->p < '0' || *l->p > '9') return en_error("%s: npy header: shape holds a non-integer", l->name);
    int64_t v = 0;
    while (l->p < l->end && *l->p >= '0' && *l->p <= '9') {
        if (v > (INT64_MAX - 9) / 10) return en_error("%s: npy header: shape dimension too large", l->name);
        v = v * 10 + (*l->p++ - '0');
    }
    *out = v;
    return 0;
}

static int parse_shape(npy_lex *l, en_ndbuf *b) {
    if (expect_ch(l, '(')) return -1;
    int commas = 0;
    b->ndim = 0;
    for (;;) {
        skip_ws(l);
        if (l->p < l->end && *l->p == ')') { l->p++; break; }
        if (b->ndim == EN_NDBUF_MAX_DIMS) return en_error("%s: npy header: more than %d dimensions", l->name, EN_NDBUF_MAX_DIMS);
        if (parse_uint(l, &b->shape[b->ndim])) return -1;
        b->ndim++;
        skip_ws(l);
        if (l->p < l->end && *l->p == ',') { l->p++; commas++; continue; }
        if (l->p < l->end && *l->p == ')') { l->p++; break; }
        return en_error("%s: npy header: malformed shape tuple", l->name);
    }
    /* "(5)" is an int in Python, not a tuple. */
    if (b->ndim == 1 && commas == 0) return en_error("%s: npy header: shape (n) is not a tuple; expected (n,)", l->name);
    return 0;
}

static int parse_header(const char *h, size_t n, const char *name, en_ndbuf *b) {
    npy_lex l = { h, h + n, name, h };
    int have_descr = 0, have_fortran = 0, have_shape = 0;
    if (expect_ch(&l, '{')) return -1;
    for (;;) {
        skip_ws(&l);
        if (l.p < l.end && *l.p == '}') { l.p++; break; }
        char key[32], val[32];
        if (parse_str(&l, key, sizeof key) || expect_ch(&l, ':')) return -1;
        if (!strcmp(key, "descr")) {
            if (have_descr++) return en_error("%s: npy header: key 'descr' given twice", name);
            if (parse_str(&l, val, sizeof val)) return -1;
            size_t i = 0;
            while (i < NPY_NTYPES && strcmp(val, npy_types[i].descr)) i++;
            if (i == NPY_NTYPES) {
                if (val[0] == '>') return en_error("%s: big-endian data ('%s') is not supported", name, val);
                return en_error("%s: unsupported npy dtype '%s' (supported: <f4 <f8 <f2 <i4 <i8 |u1 |b1)", name, val);
            }
            b->dtype = npy_types[i].dtype;
        } else if (!strcmp(key, "fortran_order")) {
            if (have_fortran++) return en_error("%s: npy header: key 'fortran_order' given twice", name);
            skip_ws(&l);
            if ((size_t)(l.end - l.p) >= 5 && !memcmp(l.p, "False", 5)) l.p += 5;
            else if ((size_t)(l.end - l.p) >= 4 && !memcmp(l.p, "True", 4))
                return en_error("%s: fortran_order=True arrays are not supported (save a C-contiguous array)", name);
            else return en_error("%s: npy header: fortran_order is not True or False", name);
        } else if (!strcmp(key, "shape")) {
            if (have_shape++) return en_error("%s: npy header: key 'shape' given twice", name);
            if (parse_shape(&l, b)) return -1;
        } else {
            return en_error("%s: npy header: unknown key '%s'", name, key);
        }
        skip_ws(&l);
        if (l.p < l.end && *l.p == ',') { l.p++; continue; }
        if (l.p < l.end && *l.p == '}') { l.p++; break; }
        return en_error("%s: npy header: expected ',' or '}' after '%s'", name, key);
    }
    if (!have_descr || !have_fortran || !have_shape)
        return en_error("%s: npy header: missing key '%s'", name,
                        !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");
    skip_ws(&l);
    if (l.p != l.end) return en_error("%s: npy header: bytes after the dict", name);
    return 0;
}

/* ---- reading --------------------------------------------------------- */

int en_npy_read_mem(const void *data, size_t len, const char *name, en_ndbuf *out) {
    const unsigned char *d = data;
    memset(out, 0, sizeof *out);
    if (!name) name = "<memory>";
    if (len < 10 || memcmp(d, "\x93NUMPY", 6)) return en_error("%s: not an npy file (bad magic)", name);
    unsigned major = d[6], minor = d[7];
    if (major < 1 || major > 3 || minor != 0) return en_error("%s: unsupported npy version %u.%u", name, major, minor);
    size_t pre = major == 1 ? 10 : 12;
    if (len < pre) return en_error("%s: truncated npy header", name);
    size_t hlen = major == 1 ? (size_t)d[8] | (size_t)d[9] << 8
                             : (size_t)d[8] | (size_t)d[9] << 8 | (size_t)d[10] << 16 | (size_t)d[11] << 24;
    if (hlen > len - pre) return en_error("%s: npy header length %zu exceeds the file (%zu bytes; truncated?)", name, hlen, len);
    en_ndbuf b = { 0 };
    if (parse_header((const char *)d + pre, hlen, name, &b)) return -1;
    size_t nbytes;
    if (en_shape_size(b.shape, b.ndim, en_dtype_size(b.dtype), NULL, &nbytes))
        return en_error("%s: npy shape element count overflows", name);
    size_t have = len - pre - hlen;
    if (have < nbytes) return en_error("%s: npy data truncated: %zu bytes, shape needs %zu", name, have, nbytes);
    if (have > nbytes) return en_error("%s: npy data has %zu bytes after the array (shape needs %zu)", name, have - nbytes, nbytes);
    if (en_ndbuf_alloc(out, b.dtype, b.ndim, b.shape)) {
        en_error_prefix("%s", name);
        return -1;
    }
    memcpy(out->data, d + pre + hlen, nbytes);
    return 0;
}

static unsigned char *slurp(const char *path, size_t *n) {
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block us */
    if (fd < 0) { en_error("%s: cannot open: %s", path, strerror(errno)); return NULL; }
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) { close(fd); en_error("%s: not a regular file", path); return NULL; }
    size_t len = (size_t)st.st_size, got = 0;
    unsigned char *p = malloc(len ? len : 1);
    if (!p) { close(fd); en_error("%s: out of memory for %zu bytes", path, len); return NULL; }
    while (got < len) {
        ssize_t r = read(fd, p + got, len - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) { en_error("%s: read failed: %s", path, r ? strerror(errno) : "file shrank"); free(p); close(fd); return NULL; }
        got += (size_t)r;
    }
    close(fd);
    *n = len;
    return p;
}

int en_npy_read(const char *path, en_ndbuf *out) {
    memset(out, 0, sizeof *out);
    size_t n;
    unsigned char *d = slurp(path, &n);
    if (!d) return -1;
    int rc = en_npy_read_mem(d, n, path, out);
    free(d);
    return rc;
}

int en_npy_read_as(const char *path, en_dtype dtype, en_ndbuf *out) {
    en_ndbuf raw;
    if (en_npy_read(path, &raw)) { memset(out, 0, sizeof *out); return -1; }
    if (raw.dtype == dtype) { *out = raw; return 0; }
    int rc = en_ndbuf_convert(&raw, dtype, out);
    if (rc) en_error_prefix("%s", path);
    en_ndbuf_free(&raw);
    return rc;
}

/* ---- writing --------------------------------------------------------- */

int en_npy_write(const char *path, const en_ndbuf *b) {
    const char *descr = NULL;
    for (size_t i = 0; i < NPY_NTYPES; i++)
        if (npy_types[i].dtype == b->dtype) descr = npy_types[i].descr;
    if (!descr) return en_error("%s: dtype %s cannot be written as npy", path, en_dtype_name(b->dtype));
    size_t nbytes;
    if (en_shape_size(b->shape, b->ndim, en_dtype_size(b->dtype), NULL, &nbytes) || nbytes != b->nbytes)
        return en_error("%s: shape, dtype and byte count disagree", path);

    /* numpy's _write_array_header: the dict with sorted keys, spare spaces so
     * the first axis can grow to 21 digits in place, then padding so that
     * the data starts 64-aligned, ending in '\n'. */
    char hdr[512];
    int n = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (int i = 0; i < b->ndim; i++)
        n += snprintf(hdr + n, sizeof hdr - (size_t)n, i ? ", %lld" : "%lld", (long long)b->shape[i]);
    n += snprintf(hdr + n, sizeof hdr - (size_t)n, "%s), }", b->ndim == 1 ? "," : "");
    if (b->ndim > 0) {
        int digits = snprintf(NULL, 0, "%lld", (long long)b->shape[0]);
        for (int i = digits; i < 21; i++) hdr[n++] = ' ';
    }
    size_t hlen = (size_t)n + 1, pre = 10;
    size_t pad = 64 - (pre + hlen) % 64;
    if (hlen + pad > 65535) { pre = 12; pad = 64 - (pre + hlen) % 64; }
    size_t total_hdr = hlen + pad;   /* the length field's value */
    unsigned char *buf = malloc(pre + total_hdr);
    if (!buf) return en_error("%s: out of memory", path);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = pre == 10 ? 1 : 2;
    buf[7] = 0;
    for (size_t i = 0; i < pre - 8; i++) buf[8 + i] = (unsigned char)(total_hdr >> (8 * i));
    memcpy(buf + pre, hdr, (size_t)n);
    memset(buf + pre + n, ' ', pad);
    buf[pre + total_hdr - 1] = '\n';

    en_atomic a;
    FILE *f = en_atomic_open(&a, path);
    if (!f) { free(buf); return -1; }
    if (fwrite(buf, 1, pre + total_hdr, f) != pre + total_hdr || (nbytes && fwrite(b->data, 1, nbytes, f) != nbytes))
        a.failed = 1, en_error("%s: write failed: %s", path, strerror(errno));
    free(buf);
    return en_atomic_commit(&a);
}
