/* cli_fetch_tree — the listing of a folder that `clipbook fetch` extracted
 * whole (the manifest's "tree"): which files it holds, their sizes and
 * SHA-256s, so later runs can tell a complete folder from a damaged one
 * without keeping thousands of lines in MANIFEST.lock (the lock keeps the
 * listing's own hash). Contract: cli_fetch.h. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "en_error.h"
#include "en_file.h"
#include "cli_fetch.h"

typedef struct {
    char **rel;
    int n, cap;
} names;

static int names_add(names *v, const char *rel) {
    if (v->n == v->cap) {
        int cap = v->cap ? 2 * v->cap : 256;
        char **g = realloc(v->rel, sizeof *g * (size_t)cap);
        if (!g) return en_error("out of memory listing files");
        v->rel = g;
        v->cap = cap;
    }
    if (!(v->rel[v->n] = strdup(rel))) return en_error("out of memory listing files");
    v->n++;
    return 0;
}

static void names_free(names *v) {
    for (int i = 0; i < v->n; i++) free(v->rel[i]);
    free(v->rel);
}

/* Regular files under root/sub, recursively, as paths relative to root. */
static int walk(const char *root, const char *sub, const char *skip, names *out) {
    char path[2048];
    snprintf(path, sizeof path, "%s%s%s", root, *sub ? "/" : "", sub);
    DIR *d = opendir(path);
    if (!d) return en_error("%s: cannot read folder: %s", path, strerror(errno));
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char rel[1024], full[3072];
        if (snprintf(rel, sizeof rel, "%s%s%s", sub, *sub ? "/" : "", e->d_name) >= (int)sizeof rel) {
            rc = en_error("%s/%s: path too long", path, e->d_name);
            break;
        }
        if (!strcmp(rel, skip) || strstr(e->d_name, ".tmp.")) continue; /* the listing; an interrupted write */
        snprintf(full, sizeof full, "%s/%s", root, rel);
        struct stat st;
        if (lstat(full, &st) < 0) { rc = en_error("%s: %s", full, strerror(errno)); break; }
        if (S_ISDIR(st.st_mode)) rc = walk(root, rel, skip, out);
        else if (S_ISREG(st.st_mode)) rc = names_add(out, rel);
    }
    closedir(d);
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int cli_fetch_tree_list(const char *root, const char *listing_name) {
    names v = {0};
    int rc = walk(root, "", listing_name, &v);
    if (rc == 0 && v.n == 0) rc = en_error("%s: no files", root);
    if (rc < 0) { names_free(&v); return -1; }
    qsort(v.rel, (size_t)v.n, sizeof *v.rel, cmp_str);
    char out[1200];
    snprintf(out, sizeof out, "%s/%s", root, listing_name);
    en_atomic a;
    FILE *f = en_atomic_open(&a, out);
    if (!f) { names_free(&v); return -1; }
    for (int i = 0; i < v.n && !rc; i++) {
        char full[2048], sha[65];
        int64_t size;
        snprintf(full, sizeof full, "%s/%s", root, v.rel[i]);
        if (cli_fetch_stat(full, &size, NULL) <= 0 || cli_fetch_hash_file(full, sha, NULL) < 0) rc = -1;
        else fprintf(f, "%" PRId64 " %s %s\n", size, sha, v.rel[i]);
    }
    names_free(&v);
    if (rc < 0) { a.failed = 1; en_atomic_commit(&a); return -1; }
    if (en_atomic_commit(&a) < 0) return -1;
    return 0;
}

/* Calls fn(root, size, sha, rel, arg) for each listing line; stops at the
 * first non-zero return. */
static int each_line(const char *root, const char *listing_name,
                     int (*fn)(const char *, int64_t, const char *, const char *, void *), void *arg) {
    char lp[1200], line[1400];
    snprintf(lp, sizeof lp, "%s/%s", root, listing_name);
    FILE *f = fopen(lp, "r");
    if (!f) return en_error("%s: cannot open: %s", lp, strerror(errno));
    int rc = 0, lineno = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        long long size;
        char sha[65];
        int off = 0;
        line[strcspn(line, "\n")] = 0;
        if (sscanf(line, "%lld %64s %n", &size, sha, &off) != 2 || !line[off] || strlen(sha) != 64)
            rc = en_error("%s:%d: malformed line", lp, lineno);
        else rc = fn(root, (int64_t)size, sha, line + off, arg);
    }
    fclose(f);
    return rc;
}

static int check_one(const char *root, int64_t size, const char *sha, const char *rel, void *arg) {
    int rehash = *(int *)arg;
    char full[2048], got[65];
    int64_t have;
    snprintf(full, sizeof full, "%s/%s", root, rel);
    if (cli_fetch_stat(full, &have, NULL) <= 0) return en_error("%s: missing", full);
    if (have != size) return en_error("%s: %" PRId64 " bytes, but %" PRId64 " when extracted", full, have, size);
    if (rehash) {
        if (cli_fetch_hash_file(full, got, NULL) < 0) return -1;
        if (strcmp(got, sha)) return en_error("%s: SHA-256 %s, but %s when extracted", full, got, sha);
    }
    return 0;
}

int cli_fetch_tree_check(const char *root, const char *listing_name, int rehash) {
    return each_line(root, listing_name, check_one, &rehash);
}

static int remove_one(const char *root, int64_t size, const char *sha, const char *rel, void *arg) {
    char full[2048];
    snprintf(full, sizeof full, "%s/%s", root, rel);
    unlink(full);
    return 0;
}

void cli_fetch_tree_remove(const char *root, const char *listing_name) {
    each_line(root, listing_name, remove_one, NULL);
    char lp[1200];
    snprintf(lp, sizeof lp, "%s/%s", root, listing_name);
    unlink(lp);
}
