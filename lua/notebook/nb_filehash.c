/* Content hashes of data files and folders, remembered by stat (nb_filehash.h). */
#include "nb_filehash.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "en_error.h"
#include "en_file.h"
#include "en_sha256.h"
#include "en_strbuf.h"
#include "en_tmpfile.h"

#define LOCK_NAME "MANIFEST.lock"
#define LOCK_LEVELS 4 /* the folder itself and three above it */

typedef struct {
    char *rel;
    unsigned long long dev, ino;
    long long size, mtime_ns, ctime_ns;
    char sha[65];
} fh_rec;

typedef struct { fh_rec *r; int n, cap; } fh_list;

static fh_rec *list_add(fh_list *l) {
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->r = realloc(l->r, (size_t)l->cap * sizeof *l->r);
        EN_ASSERT(l->r);
    }
    fh_rec *r = &l->r[l->n++];
    memset(r, 0, sizeof *r);
    return r;
}

static void list_free(fh_list *l) {
    for (int i = 0; i < l->n; i++) free(l->r[i].rel);
    free(l->r);
    memset(l, 0, sizeof *l);
}

static int cmp_rec(const void *a, const void *b) { return strcmp(((const fh_rec *)a)->rel, ((const fh_rec *)b)->rel); }

static const fh_rec *list_find(const fh_list *l, const char *rel) {
    fh_rec key = { .rel = (char *)rel };
    return l->n ? bsearch(&key, l->r, (size_t)l->n, sizeof *l->r, cmp_rec) : NULL;
}

static int is_hex64(const char *s) {
    if (strlen(s) != 64) return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))) return 0;
    return 1;
}

/* "dev ino size mtime_ns ctime_ns sha256 rel" per line; a line that does
 * not parse is dropped (the file is then hashed again: never wrong). */
static void remembered_read(fh_list *l, const char *path) {
    char *t = en_file_read(path, NULL);
    en_error_clear();
    if (!t) return;
    for (char *line = strtok(t, "\n"); line; line = strtok(NULL, "\n")) {
        fh_rec r = { 0 };
        int off = 0;
        if (sscanf(line, "%llu %llu %lld %lld %lld %64s %n", &r.dev, &r.ino, &r.size, &r.mtime_ns, &r.ctime_ns, r.sha, &off) != 6 ||
            !off || !line[off] || !is_hex64(r.sha))
            continue;
        fh_rec *d = list_add(l);
        *d = r;
        d->rel = strdup(line + off);
    }
    free(t);
    qsort(l->r, (size_t)l->n, sizeof *l->r, cmp_rec);
}

/* clipbook fetch's lock: "path size mtime sha256" per line, paths relative
 * to the lock's folder (lua/cli/fetch/cli_fetch.h; read here, not linked:
 * the notebook does not depend on the command line). */
static void lock_read(fh_list *l, const char *path) {
    char *t = en_file_read(path, NULL);
    en_error_clear();
    if (!t) return;
    for (char *line = strtok(t, "\n"); line; line = strtok(NULL, "\n")) {
        char rel[1024];
        fh_rec r = { 0 };
        long long mtime_s;
        if (line[0] == '#' || sscanf(line, "%1023s %lld %lld %64s", rel, &r.size, &mtime_s, r.sha) != 4 || !is_hex64(r.sha)) continue;
        r.mtime_ns = mtime_s; /* seconds, as fetch records them */
        fh_rec *d = list_add(l);
        *d = r;
        d->rel = strdup(rel);
    }
    free(t);
    qsort(l->r, (size_t)l->n, sizeof *l->r, cmp_rec);
}

/* The nearest MANIFEST.lock at or above dir: read into *l, its folder in
 * lockdir ("" when there is none), its mtime (ns) in *written. */
static void lock_find(fh_list *l, const char *dir, char *lockdir, size_t cap, long long *written) {
    char d[PATH_MAX];
    snprintf(d, sizeof d, "%s", dir);
    lockdir[0] = 0;
    for (int k = 0; k < LOCK_LEVELS; k++) {
        char p[PATH_MAX + 32];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", d, LOCK_NAME);
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
            lock_read(l, p);
            snprintf(lockdir, cap, "%s", d);
            *written = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
            return;
        }
        char *slash = strrchr(d, '/');
        if (!slash || slash == d) return;
        *slash = 0;
    }
}

static int hash_file(const char *path, char hex[65], int64_t *bytes) {
    FILE *f = fopen(path, "rb");
    if (!f) return en_error("%s: cannot read: %s", path, strerror(errno));
    en_sha256 s;
    en_sha256_init(&s);
    enum { BUF = 1 << 20 };
    char *buf = malloc(BUF);
    EN_ASSERT(buf);
    size_t k;
    while ((k = fread(buf, 1, BUF, f)) > 0) { en_sha256_update(&s, buf, k); *bytes += (int64_t)k; }
    int err = ferror(f);
    fclose(f);
    free(buf);
    if (err) return en_error("%s: read error", path);
    uint8_t d[32];
    en_sha256_final(&s, d);
    en_sha256_tohex(hex, d);
    return 0;
}

static int skipped(const char *name) { return name[0] == '.' || en_tmpfile_pid(name) != 0; }

/* Every regular file below root (relative paths; symbolic links followed). */
static int walk(fh_list *out, const char *root, const char *rel, int depth) {
    if (depth > 32) return en_error("%s/%s: folders nested too deep", root, rel);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s%s%s", root, *rel ? "/" : "", rel);
    DIR *d = opendir(dir);
    if (!d) return en_error("%s: cannot list: %s", dir, strerror(errno));
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (skipped(e->d_name)) continue;
        char r[PATH_MAX], p[PATH_MAX * 2];
        snprintf(r, sizeof r, "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        snprintf(p, sizeof p, "%s/%s", root, r);
        struct stat st;
        if (stat(p, &st) < 0) continue; /* a dangling link holds nothing */
        if (S_ISDIR(st.st_mode)) rc = walk(out, root, r, depth + 1);
        else if (S_ISREG(st.st_mode)) list_add(out)->rel = strdup(r);
    }
    closedir(d);
    return rc;
}

static int remembered_write(const fh_list *l, const char *path) {
    en_strbuf b = { 0 };
    for (int i = 0; i < l->n; i++) {
        const fh_rec *r = &l->r[i];
        char line[200];
        snprintf(line, sizeof line, "%llu %llu %lld %lld %lld %s ", r->dev, r->ino, r->size, r->mtime_ns, r->ctime_ns, r->sha);
        en_strbuf_str(&b, line);
        en_strbuf_str(&b, r->rel);
        en_strbuf_str(&b, "\n");
    }
    size_t n = b.n;
    char *s = en_strbuf_take(&b);
    int rc = en_file_write_atomic(path, s, n);
    free(s);
    return rc;
}

int nb_filehash(const char *cache_dir, const char *path, char hex[65], const char **how, int64_t *bytes) {
    int64_t nread = 0;
    if (bytes) *bytes = 0;
    if (how) *how = "hashed";
    char abs[PATH_MAX];
    if (!realpath(path, abs)) return en_error("%s: %s", path, errno == ENOENT ? "missing" : strerror(errno));
    struct stat st0;
    if (stat(abs, &st0) < 0) return en_error("%s: %s", path, strerror(errno));
    int is_dir = S_ISDIR(st0.st_mode);
    if (!is_dir && !S_ISREG(st0.st_mode)) return en_error("%s: not a file or a folder", path);

    /* the remembered hashes of this path */
    uint8_t d[32];
    char key[65], mem_path[PATH_MAX + 100];
    en_sha256_digest(d, abs, strlen(abs));
    en_sha256_tohex(key, d);
    snprintf(mem_path, sizeof mem_path, "%s/filehash", cache_dir);
    if (en_mkdirs(mem_path) < 0) return -1;
    snprintf(mem_path, sizeof mem_path, "%s/filehash/%.32s.txt", cache_dir, key);
    fh_list mem = { 0 }, lock = { 0 }, cur = { 0 };
    remembered_read(&mem, mem_path);

    /* the files to hash, sorted by path ("." for a file asked for alone) */
    char base[PATH_MAX];
    snprintf(base, sizeof base, "%s", abs);
    if (is_dir) {
        if (walk(&cur, abs, "", 0) < 0) { list_free(&mem); list_free(&cur); return -1; }
        qsort(cur.r, (size_t)cur.n, sizeof *cur.r, cmp_rec);
    } else {
        list_add(&cur)->rel = strdup(".");
        char *slash = strrchr(base, '/');
        if (slash && slash != base) *slash = 0;
    }
    char lockdir[PATH_MAX];
    long long lock_written = 0;
    lock_find(&lock, base, lockdir, sizeof lockdir, &lock_written);

    int n_mem = 0, n_lock = 0, n_hash = 0, rc = 0;
    en_sha256 all;
    en_sha256_init(&all);
    for (int i = 0; i < cur.n && rc == 0; i++) {
        fh_rec *r = &cur.r[i];
        char p[PATH_MAX * 2];
        if (is_dir) snprintf(p, sizeof p, "%s/%s", abs, r->rel);
        else snprintf(p, sizeof p, "%s", abs);
        struct stat st;
        if (stat(p, &st) < 0) { rc = en_error("%s: %s", p, strerror(errno)); break; }
        r->dev = (unsigned long long)st.st_dev;
        r->ino = (unsigned long long)st.st_ino;
        r->size = (long long)st.st_size;
        r->mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
        r->ctime_ns = (long long)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec;
        const fh_rec *m = list_find(&mem, r->rel);
        const fh_rec *lk = NULL;
        if (lockdir[0]) {
            size_t ln = strlen(lockdir);
            if (!strncmp(p, lockdir, ln) && p[ln] == '/') lk = list_find(&lock, p + ln + 1);
        }
        if (m && m->dev == r->dev && m->ino == r->ino && m->size == r->size && m->mtime_ns == r->mtime_ns &&
            m->ctime_ns == r->ctime_ns) {
            memcpy(r->sha, m->sha, 65);
            n_mem++;
        } else if (lk && lk->size == r->size && lk->mtime_ns == (long long)st.st_mtim.tv_sec && r->ctime_ns <= lock_written) {
            /* the lock vouches, and the file has not been touched since
             * the lock was written (a rewrite moves ctime past it) */
            memcpy(r->sha, lk->sha, 65);
            n_lock++;
        } else {
            rc = hash_file(p, r->sha, &nread);
            n_hash++;
        }
        if (is_dir) {
            en_sha256_update(&all, r->rel, strlen(r->rel) + 1);
            en_sha256_update(&all, r->sha, 64);
            en_sha256_update(&all, "\n", 1);
        }
    }
    if (rc == 0) {
        if (is_dir) {
            en_sha256_final(&all, d);
            en_sha256_tohex(hex, d);
        } else {
            memcpy(hex, cur.r[0].sha, 65);
        }
        if (n_mem != cur.n && remembered_write(&cur, mem_path) < 0) en_error_clear(); /* advisory: hashed again next time */
        if (how) {
            int kinds = (n_mem > 0) + (n_lock > 0) + (n_hash > 0);
            *how = kinds > 1 ? "mixed" : n_lock ? "lock" : n_hash ? "hashed" : "remembered";
        }
        if (bytes) *bytes = nread;
    }
    list_free(&mem);
    list_free(&lock);
    list_free(&cur);
    return rc;
}
