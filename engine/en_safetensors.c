/* safetensors reader and writer.
 *
 * Why pread and not mmap: a checkpoint is read once, tensor by tensor, into
 * the engine's own float32 buffers, so a mapping would save no copy that
 * matters (F32 entries are read straight into the caller's buffer; F16/BF16
 * go through a 64 KiB chunk). A mapping would also turn a file truncated
 * after open (a checkpoint being rewritten, a network file system) into a
 * SIGBUS inside the loader, whereas a short pread is an ordinary error with
 * the file's name. The in-memory variant (en_st_open_mem) serves the fuzzer
 * and callers that already hold the bytes.
 */
#include "en_safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "en_error.h"
#include "en_file.h"
#include "en_utf8.h"

/* The reference implementation refuses headers above 100 MB; so do we, so
 * that a corrupt length cannot make us allocate the whole disk. */
#define ST_MAX_HEADER 100000000ull
#define ST_CHUNK      65536

struct en_st_file {
    char          *path;                 /* for messages */
    int            fd;                   /* -1 when reading from memory */
    const unsigned char *mem;
    uint64_t       data_start, data_len; /* data section, absolute */
    int            n, n_meta;
    en_st_entry   *entries;
    char         **meta_keys, **meta_values;
    const en_st_entry **by_name;         /* entries sorted by name, for en_st_find */
};

/* Dtypes the spec defines but clipbook does not read: listed so that a file
 * holding them still opens and its other tensors stay readable. */
static const struct { const char *name; size_t size; } st_other_dtypes[] = {
    { "I8", 1 }, { "I16", 2 }, { "U16", 2 }, { "U32", 4 }, { "U64", 8 },
    { "F8_E5M2", 1 }, { "F8_E4M3", 1 },
};

static int dtype_lookup(const char *name, en_dtype *dt, size_t *size) {
    int d = en_dtype_parse(name);
    if (d >= 0) { *dt = (en_dtype)d; *size = en_dtype_size((en_dtype)d); return 0; }
    for (size_t i = 0; i < sizeof st_other_dtypes / sizeof *st_other_dtypes; i++)
        if (!strcmp(name, st_other_dtypes[i].name)) {
            *dt = EN_DTYPE_COUNT;
            *size = st_other_dtypes[i].size;
            return 0;
        }
    return -1;
}

/* ---- reading bytes --------------------------------------------------- */

static int st_pread(en_st_file *f, void *out, size_t n, uint64_t at) {
    if (f->fd < 0) { memcpy(out, f->mem + at, n); return 0; }
    unsigned char *p = out;
    while (n) {
        ssize_t r = pread(f->fd, p, n, (off_t)at);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return en_error("%s: read failed: %s", f->path, strerror(errno));
        if (r == 0) return en_error("%s: unexpected end of file (was it truncated after opening?)", f->path);
        p += r; n -= (size_t)r; at += (uint64_t)r;
    }
    return 0;
}

/* ---- header validation ----------------------------------------------- */

/* A JSON number that is an exact non-negative integer below 2^53. */
static int json_uint(const cJSON *j, uint64_t *out) {
    if (!cJSON_IsNumber(j)) return -1;
    double v = j->valuedouble;
    if (!(v >= 0 && v <= 9007199254740992.0) || floor(v) != v) return -1;
    *out = (uint64_t)v;
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_entry_name(const void *a, const void *b) {
    return strcmp((*(const en_st_entry *const *)a)->name, (*(const en_st_entry *const *)b)->name);
}

static int cmp_entry_offset(const void *a, const void *b) {
    const en_st_entry *x = *(const en_st_entry *const *)a, *y = *(const en_st_entry *const *)b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    if (x->nbytes != y->nbytes) return x->nbytes < y->nbytes ? -1 : 1;
    return 0;
}

static int parse_entry(en_st_file *f, const cJSON *j, en_st_entry *e) {
    const char *nm = j->string;
    if (!cJSON_IsObject(j)) return en_error("%s: tensor '%s': header value is not an object", f->path, nm);
    const cJSON *dt = NULL, *sh = NULL, *off = NULL, *it;
    cJSON_ArrayForEach(it, j) {
        const cJSON **slot = !strcmp(it->string, "dtype") ? &dt : !strcmp(it->string, "shape") ? &sh
                           : !strcmp(it->string, "data_offsets") ? &off : NULL;
        if (!slot) return en_error("%s: tensor '%s': unknown field '%s'", f->path, nm, it->string);
        if (*slot) return en_error("%s: tensor '%s': field '%s' given twice", f->path, nm, it->string);
        *slot = it;
    }
    if (!dt || !sh || !off)
        return en_error("%s: tensor '%s': missing field '%s'", f->path, nm,
                        !dt ? "dtype" : !sh ? "shape" : "data_offsets");
    if (!cJSON_IsString(dt)) return en_error("%s: tensor '%s': dtype is not a string", f->path, nm);
    size_t elsize;
    if (dtype_lookup(dt->valuestring, &e->dtype, &elsize))
        return en_error("%s: tensor '%s': unknown dtype '%.32s'", f->path, nm, dt->valuestring);
    if (!cJSON_IsArray(sh)) return en_error("%s: tensor '%s': shape is not an array", f->path, nm);
    int nd = cJSON_GetArraySize(sh);
    if (nd > EN_NDBUF_MAX_DIMS)
        return en_error("%s: tensor '%s': %d dimensions (at most %d supported)", f->path, nm, nd, EN_NDBUF_MAX_DIMS);
    e->ndim = 0;
    cJSON_ArrayForEach(it, sh) {
        uint64_t d;
        if (json_uint(it, &d)) return en_error("%s: tensor '%s': shape[%d] is not a non-negative integer", f->path, nm, e->ndim);
        e->shape[e->ndim++] = (int64_t)d;
    }
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2)
        return en_error("%s: tensor '%s': data_offsets is not a pair [begin, end]", f->path, nm);
    uint64_t b, en;
    if (json_uint(off->child, &b) || json_uint(off->child->next, &en))
        return en_error("%s: tensor '%s': data_offsets are not non-negative integers", f->path, nm);
    if (b > en)
        return en_error("%s: tensor '%s': data_offsets begin %llu > end %llu", f->path, nm,
                        (unsigned long long)b, (unsigned long long)en);
    if (en > f->data_len)
        return en_error("%s: tensor '%s': data_offsets end %llu is past the data section (%llu bytes; file truncated?)",
                        f->path, nm, (unsigned long long)en, (unsigned long long)f->data_len);
    size_t numel, nbytes;
    if (en_shape_size(e->shape, e->ndim, elsize, &numel, &nbytes))
        return en_error("%s: tensor '%s': shape element count overflows", f->path, nm);
    if ((uint64_t)nbytes != en - b)
        return en_error("%s: tensor '%s': data_offsets span %llu bytes but shape and dtype %s need %zu",
                        f->path, nm, (unsigned long long)(en - b), dt->valuestring, nbytes);
    e->offset = b;
    e->nbytes = nbytes;
    e->numel = numel;
    return 0;
}

static int parse_metadata(en_st_file *f, const cJSON *j) {
    if (!cJSON_IsObject(j)) return en_error("%s: __metadata__ is not an object", f->path);
    int n = cJSON_GetArraySize(j);
    f->meta_keys = calloc((size_t)n + 1, sizeof *f->meta_keys);
    f->meta_values = calloc((size_t)n + 1, sizeof *f->meta_values);
    if (!f->meta_keys || !f->meta_values) return en_error("%s: out of memory", f->path);
    const cJSON *it;
    cJSON_ArrayForEach(it, j) {
        if (!cJSON_IsString(it)) return en_error("%s: __metadata__ '%s' is not a string", f->path, it->string);
        f->meta_keys[f->n_meta] = strdup(it->string);
        f->meta_values[f->n_meta] = strdup(it->valuestring);
        if (!f->meta_keys[f->n_meta] || !f->meta_values[f->n_meta]) return en_error("%s: out of memory", f->path);
        f->n_meta++;
    }
    char **sorted = malloc(((size_t)n + 1) * sizeof *sorted);
    if (!sorted) return en_error("%s: out of memory", f->path);
    memcpy(sorted, f->meta_keys, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_str);
    for (int i = 1; i < n; i++)
        if (!strcmp(sorted[i - 1], sorted[i])) {
            en_error("%s: __metadata__ key '%s' appears twice", f->path, sorted[i]);
            free(sorted);
            return -1;
        }
    free(sorted);
    return 0;
}

/* Checks that the entries tile the data section: sorted by offset, each
 * starts where the previous ended, the last ends at the section's end. */
static int check_layout(en_st_file *f) {
    const en_st_entry **order = malloc(((size_t)f->n + 1) * sizeof *order);
    if (!order) return en_error("%s: out of memory", f->path);
    for (int i = 0; i < f->n; i++) order[i] = &f->entries[i];
    qsort(order, (size_t)f->n, sizeof *order, cmp_entry_offset);
    uint64_t at = 0;
    int rc = 0;
    for (int i = 0; i < f->n && !rc; i++) {
        const en_st_entry *e = order[i];
        if (e->offset > at)
            rc = en_error("%s: data bytes [%llu, %llu) belong to no tensor (a hole before '%s')", f->path,
                          (unsigned long long)at, (unsigned long long)e->offset, e->name);
        else if (e->offset < at)
            rc = en_error("%s: tensor '%s' overlaps '%s' in the data section", f->path, e->name, order[i - 1]->name);
        at = e->offset + e->nbytes;
    }
    if (!rc && at != f->data_len)
        rc = en_error("%s: data section has %llu bytes after the last tensor (expected none)", f->path,
                      (unsigned long long)(f->data_len - at));
    free(order);
    return rc;
}

static int parse_header(en_st_file *f, const char *hdr, size_t n) {
    if (n < 2 || hdr[0] != '{') return en_error("%s: header does not start with '{'", f->path);
    if (en_utf8_invalid_at(hdr, n) >= 0) return en_error("%s: header is not valid UTF-8", f->path);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, n, &end, 0);
    if (!root) {
        size_t at = end && end >= hdr && end <= hdr + n ? (size_t)(end - hdr) : 0;
        return en_error("%s: header is not valid JSON (near byte %zu of %zu)", f->path, at, n);
    }
    int rc = 0;
    for (const char *p = end; p < hdr + n && !rc; p++)
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t')
            rc = en_error("%s: header has trailing bytes after the JSON object", f->path);
    if (!rc && !cJSON_IsObject(root)) rc = en_error("%s: header is not a JSON object", f->path);
    int count = rc ? 0 : cJSON_GetArraySize(root);
    if (!rc) {
        f->entries = calloc((size_t)count + 1, sizeof *f->entries);
        f->by_name = calloc((size_t)count + 1, sizeof *f->by_name);
        if (!f->entries || !f->by_name) rc = en_error("%s: out of memory", f->path);
    }
    int seen_meta = 0;
    const cJSON *it;
    if (!rc) cJSON_ArrayForEach(it, root) {
        if (!strcmp(it->string, "__metadata__")) {
            if (seen_meta++) { rc = en_error("%s: __metadata__ appears twice", f->path); break; }
            if ((rc = parse_metadata(f, it))) break;
            continue;
        }
        en_st_entry *e = &f->entries[f->n];
        char *name = strdup(it->string);
        if (!name) { rc = en_error("%s: out of memory", f->path); break; }
        e->name = name;
        f->by_name[f->n] = e;
        f->n++;
        if ((rc = parse_entry(f, it, e))) break;
    }
    cJSON_Delete(root);
    if (rc) return rc;
    /* Names sorted once: duplicates are neighbours, and lookups bisect. */
    qsort(f->by_name, (size_t)f->n, sizeof *f->by_name, cmp_entry_name);
    for (int i = 1; i < f->n; i++)
        if (!strcmp(f->by_name[i - 1]->name, f->by_name[i]->name))
            return en_error("%s: duplicate tensor name '%s'", f->path, f->by_name[i]->name);
    return check_layout(f);
}

/* ---- open / close ---------------------------------------------------- */

static en_st_file *st_new(const char *name) {
    en_st_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(name))) { free(f); en_error("%s: out of memory", name); return NULL; }
    f->fd = -1;
    return f;
}

static en_st_file *st_finish(en_st_file *f, uint64_t size) {
    unsigned char lenbuf[8];
    if (size < 8) {
        en_error("%s: file too short for a safetensors header (%llu bytes)", f->path, (unsigned long long)size);
        goto fail;
    }
    if (st_pread(f, lenbuf, 8, 0)) goto fail;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | lenbuf[i];
    if (n > ST_MAX_HEADER) {
        en_error("%s: header length %llu is larger than the 100 MB limit (corrupt or not a safetensors file)",
                 f->path, (unsigned long long)n);
        goto fail;
    }
    if (n > size - 8) {
        en_error("%s: header length %llu exceeds the file's remaining %llu bytes (truncated?)", f->path,
                 (unsigned long long)n, (unsigned long long)(size - 8));
        goto fail;
    }
    f->data_start = 8 + n;
    f->data_len = size - 8 - n;
    char *hdr = malloc(n + 1);
    if (!hdr) { en_error("%s: out of memory for a %llu-byte header", f->path, (unsigned long long)n); goto fail; }
    if (st_pread(f, hdr, n, 8)) { free(hdr); goto fail; }
    hdr[n] = 0;
    int rc = parse_header(f, hdr, n);
    free(hdr);
    if (rc) goto fail;
    return f;
fail:
    en_st_close(f);
    return NULL;
}

en_st_file *en_st_open(const char *path) {
    en_st_file *f = st_new(path);
    if (!f) return NULL;
    f->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block us */
    if (f->fd < 0) {
        en_error("%s: cannot open: %s", path, strerror(errno));
        en_st_close(f);
        return NULL;
    }
    struct stat st;
    if (fstat(f->fd, &st) || !S_ISREG(st.st_mode)) {
        en_error("%s: not a regular file", path);
        en_st_close(f);
        return NULL;
    }
    return st_finish(f, (uint64_t)st.st_size);
}

en_st_file *en_st_open_mem(const void *data, size_t len, const char *name) {
    en_st_file *f = st_new(name ? name : "<memory>");
    if (!f) return NULL;
    f->mem = data;
    return st_finish(f, len);
}

void en_st_close(en_st_file *f) {
    if (!f) return;
    if (f->fd >= 0) close(f->fd);
    for (int i = 0; i < f->n; i++) free((char *)f->entries[i].name);
    for (int i = 0; i < f->n_meta; i++) { free(f->meta_keys[i]); free(f->meta_values[i]); }
    /* parse_metadata may fail between the two strdups of a pair. */
    if (f->meta_keys && f->meta_values) { free(f->meta_keys[f->n_meta]); free(f->meta_values[f->n_meta]); }
    free(f->meta_keys); free(f->meta_values);
    free(f->entries); free(f->by_name); free(f->path);
    free(f);
}

/* ---- queries --------------------------------------------------------- */

int en_st_count(const en_st_file *f) { return f->n; }

const en_st_entry *en_st_entry_at(const en_st_file *f, int i) {
    EN_ASSERT(i >= 0 && i < f->n);
    return &f->entries[i];
}

const en_st_entry *en_st_find(const en_st_file *f, const char *name) {
    en_st_entry key = { .name = name };
    const en_st_entry *kp = &key, *const *hit =
        bsearch(&kp, f->by_name, (size_t)f->n, sizeof *f->by_name, cmp_entry_name);
    return hit ? *hit : NULL;
}

int en_st_meta_count(const en_st_file *f) { return f->n_meta; }

void en_st_meta_at(const en_st_file *f, int i, const char **key, const char **value) {
    EN_ASSERT(i >= 0 && i < f->n_meta);
    *key = f->meta_keys[i];
    *value = f->meta_values[i];
}

const char *en_st_meta_get(const en_st_file *f, const char *key) {
    for (int i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta_keys[i], key)) return f->meta_values[i];
    return NULL;
}

/* ---- reading tensors ------------------------------------------------- */

static int check_entry(en_st_file *f, const en_st_entry *e) {
    EN_ASSERT(e >= f->entries && e < f->entries + f->n);
    if (e->dtype == EN_DTYPE_COUNT) return en_error("%s: tensor '%s' has a dtype clipbook does not read", f->path, e->name);
    return 0;
}

int en_st_read_raw(en_st_file *f, const en_st_entry *e, void *out, size_t cap) {
    if (check_entry(f, e)) return -1;
    if (cap < e->nbytes) return en_error("%s: tensor '%s': buffer of %zu bytes, need %llu", f->path, e->name, cap,
                                         (unsigned long long)e->nbytes);
    return st_pread(f, out, e->nbytes, f->data_start + e->offset);
}

/* Reads and converts in chunks so that peak memory is the output plus 64 KiB. */
static int read_converted(en_st_file *f, const en_st_entry *e, void *out, en_dtype to, size_t count) {
    if (check_entry(f, e)) return -1;
    if (count != e->numel)
        return en_error("%s: tensor '%s' has %zu elements, the destination %zu", f->path, e->name, e->numel, count);
    if (e->dtype == to) return st_pread(f, out, e->nbytes, f->data_start + e->offset);
    size_t in_size = en_dtype_size(e->dtype), out_size = en_dtype_size(to);
    size_t per = ST_CHUNK / in_size;
    unsigned char *chunk = malloc(ST_CHUNK);
    if (!chunk) return en_error("%s: out of memory", f->path);
    int rc = 0;
    for (size_t i = 0; i < count && !rc; i += per) {
        size_t k = count - i < per ? count - i : per;
        rc = st_pread(f, chunk, k * in_size, f->data_start + e->offset + i * in_size);  /* names the file */
        if (!rc && (rc = en_convert((unsigned char *)out + i * out_size, to, chunk, e->dtype, k)))
            en_error_prefix("%s: tensor '%s'", f->path, e->name);
    }
    free(chunk);
    return rc;
}

int en_st_read_f32(en_st_file *f, const en_st_entry *e, float *out, size_t count) {
    if (check_entry(f, e)) return -1;
    if (e->dtype != EN_F32 && e->dtype != EN_F16 && e->dtype != EN_BF16 && e->dtype != EN_F64)
        return en_error("%s: tensor '%s' is %s, not a float type", f->path, e->name, en_dtype_name(e->dtype));
    return read_converted(f, e, out, EN_F32, count);
}

int en_st_read_i64(en_st_file *f, const en_st_entry *e, int64_t *out, size_t count) {
    if (check_entry(f, e)) return -1;
    if (e->dtype != EN_I32 && e->dtype != EN_I64 && e->dtype != EN_U8 && e->dtype != EN_BOOL)
        return en_error("%s: tensor '%s' is %s, not an integer type", f->path, e->name, en_dtype_name(e->dtype));
    return read_converted(f, e, out, EN_I64, count);
}

int en_st_read_ndbuf(en_st_file *f, const en_st_entry *e, en_ndbuf *out) {
    memset(out, 0, sizeof *out);
    if (check_entry(f, e)) return -1;
    if (en_ndbuf_alloc(out, e->dtype, e->ndim, e->shape)) return -1;
    if (st_pread(f, out->data, e->nbytes, f->data_start + e->offset)) { en_ndbuf_free(out); return -1; }
    return 0;
}

/* ---- writing --------------------------------------------------------- */

static cJSON *build_header(const char *path, int n, const char *const *names, const en_ndbuf *bufs,
                           int n_meta, const char *const *mk, const char *const *mv) {
    cJSON *root = cJSON_CreateObject();
    if (!root) { en_error("%s: out of memory", path); return NULL; }
    if (n_meta > 0) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        for (int i = 0; m && i < n_meta; i++) {
            for (int k = 0; k < i; k++)
                if (!strcmp(mk[k], mk[i])) { en_error("%s: metadata key '%s' given twice", path, mk[i]); goto fail; }
            if (!cJSON_AddStringToObject(m, mk[i], mv[i])) m = NULL;
        }
        if (!m) { en_error("%s: out of memory", path); goto fail; }
    }
    uint64_t at = 0;
    for (int i = 0; i < n; i++) {
        const en_ndbuf *b = &bufs[i];
        size_t nbytes;
        if ((unsigned)b->dtype >= EN_DTYPE_COUNT ||
            en_shape_size(b->shape, b->ndim, en_dtype_size(b->dtype), NULL, &nbytes) || nbytes != b->nbytes) {
            en_error("%s: tensor '%s': shape, dtype and byte count disagree", path, names[i]);
            goto fail;
        }
        if (!strcmp(names[i], "__metadata__")) { en_error("%s: '__metadata__' is not a tensor name", path); goto fail; }
        if (cJSON_GetObjectItemCaseSensitive(root, names[i])) {
            en_error("%s: duplicate tensor name '%s'", path, names[i]);
            goto fail;
        }
        /* cJSON prints numbers as doubles: exact as integers below 1e15. */
        if (at + nbytes >= 1000000000000000ull) { en_error("%s: tensors too large", path); goto fail; }
        /* Field order as the reference writer emits it: dtype, shape, data_offsets. */
        cJSON *e = cJSON_AddObjectToObject(root, names[i]);
        int ok = e && cJSON_AddStringToObject(e, "dtype", en_dtype_name(b->dtype));
        cJSON *shape = ok ? cJSON_AddArrayToObject(e, "shape") : NULL;
        cJSON *off = shape ? cJSON_AddArrayToObject(e, "data_offsets") : NULL;
        ok = ok && shape && off;
        for (int d = 0; ok && d < b->ndim; d++) ok = cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)b->shape[d]));
        ok = ok && cJSON_AddItemToArray(off, cJSON_CreateNumber((double)at)) &&
             cJSON_AddItemToArray(off, cJSON_CreateNumber((double)(at + nbytes)));
        if (!ok) { en_error("%s: out of memory", path); goto fail; }
        at += nbytes;
    }
    return root;
fail:
    cJSON_Delete(root);
    return NULL;
}

/* The 8-byte length and the padded JSON header, malloc'd; *len its size. */
static char *header_bytes(const char *path, int n, const char *const *names, const en_ndbuf *bufs,
                          int n_meta, const char *const *meta_keys, const char *const *meta_values, size_t *len) {
    cJSON *root = build_header(path, n, names, bufs, n_meta, meta_keys, meta_values);
    if (!root) return NULL;
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!json) { en_error("%s: out of memory", path); return NULL; }
    size_t jl = strlen(json), padded = (jl + 8 + 7) / 8 * 8 - 8;
    char *hdr = malloc(8 + padded);
    if (!hdr) { free(json); en_error("%s: out of memory", path); return NULL; }
    for (int i = 0; i < 8; i++) hdr[i] = (char)(((uint64_t)padded >> (8 * i)) & 0xff);
    memcpy(hdr + 8, json, jl);
    memset(hdr + 8 + jl, ' ', padded - jl);
    free(json);
    *len = 8 + padded;
    return hdr;
}

int en_st_write(const char *path, int n, const char *const *names, const en_ndbuf *bufs,
                int n_meta, const char *const *meta_keys, const char *const *meta_values) {
    size_t hlen;
    char *hdr = header_bytes(path, n, names, bufs, n_meta, meta_keys, meta_values, &hlen);
    if (!hdr) return -1;
    en_atomic a;
    FILE *f = en_atomic_open(&a, path);
    if (!f) { free(hdr); return -1; }
    int bad = fwrite(hdr, 1, hlen, f) != hlen;
    for (int i = 0; !bad && i < n; i++) bad = bufs[i].nbytes && fwrite(bufs[i].data, 1, bufs[i].nbytes, f) != bufs[i].nbytes;
    if (bad) a.failed = 1, en_error("%s: write failed: %s", path, strerror(errno));
    free(hdr);
    return en_atomic_commit(&a);
}

int en_st_write_mem(void **out, size_t *len, int n, const char *const *names, const en_ndbuf *bufs,
                    int n_meta, const char *const *meta_keys, const char *const *meta_values) {
    *out = NULL;
    *len = 0;
    size_t hlen, total;
    char *hdr = header_bytes("<memory>", n, names, bufs, n_meta, meta_keys, meta_values, &hlen);
    if (!hdr) return -1;
    total = hlen;
    for (int i = 0; i < n; i++) total += bufs[i].nbytes;
    char *b = realloc(hdr, total);
    if (!b) { free(hdr); return en_error("safetensors: out of memory for %zu bytes", total); }
    size_t at = hlen;
    for (int i = 0; i < n; i++) { memcpy(b + at, bufs[i].data, bufs[i].nbytes); at += bufs[i].nbytes; }
    *out = b;
    *len = total;
    return 0;
}
