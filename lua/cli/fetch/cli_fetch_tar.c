/* cli_fetch_untar — a small tar reader over zlib's gzread (which also reads
 * an uncompressed tar as it is): ustar and GNU/pax long names, regular
 * files only. Output paths are built from the manifest, never from the
 * archive, so a hostile archive cannot write outside the data folder. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "en_error.h"
#include "en_file.h"
#include "cli_fetch.h"

/* Octal (NUL/space padded) or GNU base-256 number; -1 when malformed. */
static int64_t tar_num(const unsigned char *p, int n) {
    if (p[0] & 0x80) {
        int64_t v = p[0] & 0x3f;
        for (int i = 1; i < n; i++) {
            if (v > (INT64_MAX >> 8)) return -1;
            v = (v << 8) | p[i];
        }
        return v;
    }
    int64_t v = 0;
    int i = 0, any = 0;
    while (i < n && (p[i] == ' ' || p[i] == 0)) i++;
    for (; i < n && p[i] >= '0' && p[i] <= '7'; i++, any = 1) {
        if (v > (INT64_MAX >> 3)) return -1;
        v = v * 8 + (p[i] - '0');
    }
    for (; i < n; i++)
        if (p[i] != ' ' && p[i] != 0) return -1;
    return any ? v : 0;
}

static int read_full(gzFile g, void *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        int r = gzread(g, (char *)buf + got, (unsigned)(n - got > (1u << 30) ? (1u << 30) : n - got));
        if (r <= 0) return -1;
        got += (size_t)r;
    }
    return 0;
}

static const char *gz_reason(gzFile g) {
    int code;
    const char *m = gzerror(g, &code);
    return code == Z_OK || !m || !*m ? "unexpected end of archive" : m;
}

/* Reads a member's data (size bytes, then padding to 512) into a malloc'd,
 * NUL-terminated buffer: long names and pax records. */
static char *read_small(gzFile g, int64_t size) {
    if (size < 0 || size > (1 << 20)) return NULL;
    int64_t padded = (size + 511) & ~(int64_t)511;
    char *b = malloc((size_t)padded + 1);
    if (!b) return NULL;
    if (read_full(g, b, (size_t)padded) < 0) { free(b); return NULL; }
    b[size] = 0;
    return b;
}

/* The "path=" record of a pax header, or NULL. */
static char *pax_path(const char *rec, int64_t size) {
    const char *p = rec, *end = rec + size;
    while (p < end) {
        char *sp;
        long len = strtol(p, &sp, 10);
        if (len <= 0 || *sp != ' ' || p + len > end) return NULL;
        const char *kv = sp + 1, *stop = p + len - 1; /* record ends in '\n' */
        if (stop > kv && !strncmp(kv, "path=", 5)) return strndup(kv + 5, (size_t)(stop - kv - 5));
        p += len;
    }
    return NULL;
}

static int copy_out(gzFile g, int64_t size, const char *archive, const char *out) {
    en_atomic a;
    FILE *f = en_atomic_open(&a, out);
    if (!f) return -1;
    size_t bufsz = 1 << 20;
    char *buf = malloc(bufsz);
    EN_ASSERT(buf);
    int64_t left = (size + 511) & ~(int64_t)511, data = size;
    while (left > 0) {
        size_t take = left < (int64_t)bufsz ? (size_t)left : bufsz;
        if (read_full(g, buf, take) < 0) {
            en_error("%s: %s (inside %s)", archive, gz_reason(g), out);
            goto fail;
        }
        size_t w = data < (int64_t)take ? (size_t)data : take;
        if (w && fwrite(buf, 1, w, f) != w) { en_error("%s: write failed: %s", out, strerror(errno)); goto fail; }
        data -= (int64_t)w;
        left -= (int64_t)take;
    }
    free(buf);
    return en_atomic_commit(&a);
fail:
    free(buf);
    en_atomic_abort(&a);
    return -1;
}

/* One pass over a .tar.gz: for each regular member, visit(ctx, g, name,
 * size) with the member's path (long GNU and pax names resolved, "./"
 * dropped) and the stream at its data. visit returns 1 when it read the
 * data (copy_out), 0 to have it skipped, 2 to stop the walk, -1 on an error
 * (set). Returns 0 at the end of the archive or on a stop, -1 on an error. */
typedef int (*tar_visit)(void *ctx, gzFile g, const char *name, int64_t size);

static int tar_walk(const char *archive, tar_visit visit, void *ctx) {
    gzFile g = gzopen(archive, "rb");
    if (!g) return en_error("%s: cannot open: %s", archive, strerror(errno));
    gzbuffer(g, 1 << 18);
    int rc = -1;
    char *longname = NULL;
    unsigned char h[512];
    for (;;) {
        if (read_full(g, h, 512) < 0) { en_error("%s: %s", archive, gz_reason(g)); goto done; }
        int zero = 1;
        for (int i = 0; i < 512 && zero; i++) zero = h[i] == 0;
        if (zero) break; /* end of archive */
        int64_t sum = tar_num(h + 148, 8), calc = 0;
        for (int i = 0; i < 512; i++) calc += (i >= 148 && i < 156) ? ' ' : h[i];
        if (sum != calc) { en_error("%s: not a tar archive, or corrupt (header checksum)", archive); goto done; }
        int64_t size = tar_num(h + 124, 12);
        if (size < 0) { en_error("%s: corrupt member size", archive); goto done; }
        char type = (char)h[156];
        if (type == 'L' || type == 'x') { /* the next member's name */
            char *b = read_small(g, size);
            if (!b) { en_error("%s: corrupt long name", archive); goto done; }
            free(longname);
            longname = type == 'L' ? b : pax_path(b, size);
            if (type == 'x') free(b);
            continue;
        }
        char name[512];
        if (longname) {
            snprintf(name, sizeof name, "%s", longname);
            free(longname);
            longname = NULL;
        } else if (!memcmp(h + 257, "ustar", 5) && h[345]) {
            snprintf(name, sizeof name, "%.155s/%.100s", (const char *)h + 345, (const char *)h);
        } else {
            snprintf(name, sizeof name, "%.100s", (const char *)h);
        }
        const char *nm = name;
        while (!strncmp(nm, "./", 2)) nm += 2;
        int v = type == '0' || type == 0 ? visit(ctx, g, nm, size) : 0;
        if (v < 0) goto done;
        if (v == 2) break;
        if (v == 0) {
            int64_t left = (size + 511) & ~(int64_t)511;
            char skip[4096];
            while (left > 0) {
                size_t take = left < (int64_t)sizeof skip ? (size_t)left : sizeof skip;
                if (read_full(g, skip, take) < 0) { en_error("%s: %s", archive, gz_reason(g)); goto done; }
                left -= (int64_t)take;
            }
        }
    }
    rc = 0;
done:
    free(longname);
    gzclose(g);
    return rc;
}

typedef struct {
    const char *archive, *dir, *outd;
    char (*members)[128];
    int n_members, nfound;
    int found[CLI_FETCH_MAX_MEMBERS];
} members_ctx;

static int visit_member(void *vctx, gzFile g, const char *nm, int64_t size) {
    members_ctx *c = vctx;
    size_t dl = strlen(c->dir);
    if (strncmp(nm, c->dir, dl) || nm[dl] != '/') return 0;
    int want = -1;
    for (int i = 0; i < c->n_members; i++)
        if (!strcmp(nm + dl + 1, c->members[i])) want = i;
    if (want < 0 || c->found[want]) return 0;
    char out[1200];
    snprintf(out, sizeof out, "%s/%s", c->outd, c->members[want]);
    if (copy_out(g, size, c->archive, out) < 0) return -1;
    c->found[want] = 1;
    return ++c->nfound == c->n_members ? 2 : 1;
}

int cli_fetch_untar(const char *archive, const char *dir, char members[][128], int n_members, const char *outdir) {
    char outd[1024];
    snprintf(outd, sizeof outd, "%s/%s", outdir, dir);
    if (en_mkdirs(outd) < 0) return -1;
    members_ctx c = { archive, dir, outd, members, n_members, 0, {0} };
    if (tar_walk(archive, visit_member, &c) < 0) return -1;
    for (int i = 0; i < n_members; i++)
        if (!c.found[i]) return en_error("%s: no member %s/%s", archive, dir, members[i]);
    return 0;
}

/* ---- whole folders (the manifest's "tree") --------------------------------- */

/* A member path taken from the archive, made safe to join under the output
 * folder: every component a plain name (not empty, ".", ".." or with
 * control characters). 0 ok, -1 not safe. */
static int safe_rel(const char *rel) {
    if (!*rel || rel[0] == '/') return -1;
    for (const char *c = rel; *c;) {
        const char *e = strchr(c, '/');
        size_t n = e ? (size_t)(e - c) : strlen(c);
        if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.')) return -1;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)c[i] < 0x20 || c[i] == 0x7f || c[i] == '\\') return -1;
        c += n + (e ? 1 : 0);
        if (!e) break;
    }
    return 0;
}

/* macOS tar leaves "._NAME" resource-fork files beside the real ones (the
 * Pet annotations hold one per trimap); they are not data. */
static int apple_double(const char *rel) {
    const char *b = strrchr(rel, '/');
    return !strncmp(b ? b + 1 : rel, "._", 2);
}

typedef struct {
    const char *archive, *from, *into;
    int count;
} tree_ctx;

static int visit_tree(void *vctx, gzFile g, const char *nm, int64_t size) {
    tree_ctx *c = vctx;
    size_t fl = strlen(c->from);
    if (strncmp(nm, c->from, fl) || nm[fl] != '/') return 0;
    const char *rel = nm + fl + 1;
    if (apple_double(rel)) return 0;
    if (safe_rel(rel) < 0) return en_error("%s: member '%s' has an unsafe path; not extracted", c->archive, nm);
    char out[1200];
    snprintf(out, sizeof out, "%s/%s", c->into, rel);
    char *slash = strrchr(out, '/');
    *slash = 0;
    if (en_mkdirs(out) < 0) return -1;
    *slash = '/';
    if (copy_out(g, size, c->archive, out) < 0) return -1;
    c->count++;
    return 1;
}

int cli_fetch_untar_tree(const char *archive, const char *from, const char *into) {
    if (en_mkdirs(into) < 0) return -1;
    tree_ctx c = { archive, from, into, 0 };
    if (tar_walk(archive, visit_tree, &c) < 0) return -1;
    if (!c.count) return en_error("%s: no files under %s/", archive, from);
    return c.count;
}
