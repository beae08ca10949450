#include "en_file.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "en_error.h"
#include "en_tmpfile.h"

char *en_file_read(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return en_error("%s: cannot open: %s", path, strerror(errno)), NULL;
    /* A regular file's size makes one allocation and one read of the big
     * ones (memo entries, checkpoints); the loop still runs to EOF, since
     * pipes and /proc files report no size, or a wrong one. */
    struct stat st;
    size_t cap = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 65536;
    size_t len = 0;
    char *p = malloc(cap);
    EN_ASSERT(p);
    for (;;) {
        if (len + 1 >= cap) {
            cap *= 2;
            p = realloc(p, cap);
            EN_ASSERT(p);
        }
        size_t got = fread(p + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) { free(p); return en_error("%s: read error", path), NULL; }
    p[len] = 0;
    if (n) *n = len;
    return p;
}

FILE *en_atomic_open(en_atomic *a, const char *path) {
    memset(a, 0, sizeof *a);
    a->path = strdup(path);
    EN_ASSERT(a->path);
    /* PATH.tmp.PID.N (en_tmpfile.h): an orphan left by a killed writer is
     * recognisable by its dead PID, and the memo store removes it */
    int fd = en_tmpfile_open(path, &a->tmp);
    if (fd < 0) {
        en_atomic_abort(a);
        return NULL;
    }
    /* en_tmpfile makes it 0600; the file replaces an ordinary output */
    if (fchmod(fd, 0644) || !(a->f = fdopen(fd, "wb"))) {
        en_error("%s: cannot open a temporary file: %s", path, strerror(errno));
        close(fd);
        unlink(a->tmp);
        en_atomic_abort(a);
        return NULL;
    }
    return a->f;
}

void en_atomic_abort(en_atomic *a) {
    if (a->f) { fclose(a->f); unlink(a->tmp); }
    free(a->tmp);
    free(a->path);
    memset(a, 0, sizeof *a);
}

int en_atomic_commit(en_atomic *a) {
    if (!a->f) { en_atomic_abort(a); return -1; }
    int rc = a->failed ? -1 : 0;
    if (!rc && (fflush(a->f) || ferror(a->f) || fsync(fileno(a->f))))
        rc = en_error("%s: write failed: %s", a->path, strerror(errno));
    if (fclose(a->f) && !rc) rc = en_error("%s: write failed: %s", a->path, strerror(errno));
    a->f = NULL;
    if (!rc && rename(a->tmp, a->path)) rc = en_error("%s: rename failed: %s", a->path, strerror(errno));
    if (rc) unlink(a->tmp);
    en_atomic_abort(a);
    return rc;
}

int en_file_write_atomic(const char *path, const void *data, size_t n) {
    en_atomic a;
    FILE *f = en_atomic_open(&a, path);
    if (!f) return -1;
    if (n && fwrite(data, 1, n, f) != n) a.failed = 1, en_error("%s: write failed: %s", path, strerror(errno));
    return en_atomic_commit(&a);
}

int en_mkdirs(const char *dir) {
    char buf[4096];
    size_t n = strlen(dir);
    if (n >= sizeof buf) return en_error("%s: path too long", dir);
    memcpy(buf, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != 0) continue;
        char c = buf[i];
        buf[i] = 0;
        if (mkdir(buf, 0777) < 0 && errno != EEXIST) return en_error("%s: cannot create folder: %s", buf, strerror(errno));
        buf[i] = c;
    }
    return 0;
}
