#include "en_cifar.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "en_error.h"

void en_cifar_free(en_cifar *c) {
    en_ndbuf_free(&c->images);
    en_ndbuf_free(&c->fine);
    en_ndbuf_free(&c->coarse);
}

int en_cifar_read(const char *path, int planes, en_cifar *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return en_error("%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) { fclose(f); return en_error("%s: not a regular file", path); }
    uint64_t size = (uint64_t)st.st_size;
    if (size == 0 || size % EN_CIFAR_RECORD) {
        fclose(f);
        return en_error("%s: size %llu is not a non-zero multiple of the %d-byte CIFAR-100 record "
                        "(truncated, or a CIFAR-10 file?)", path, (unsigned long long)size, EN_CIFAR_RECORD);
    }
    int64_t n = (int64_t)(size / EN_CIFAR_RECORD);
    int64_t ishape[4] = { n, 32, 32, 3 }, pshape[4] = { n, 3, 32, 32 };
    if (en_ndbuf_alloc(&out->images, EN_U8, 4, planes ? pshape : ishape) ||
        en_ndbuf_alloc(&out->fine, EN_I64, 1, &n) || en_ndbuf_alloc(&out->coarse, EN_I64, 1, &n)) {
        fclose(f);
        en_cifar_free(out);
        return en_error("%s: out of memory for %lld images", path, (long long)n);
    }
    unsigned char rec[EN_CIFAR_RECORD];
    uint8_t *img = out->images.data;
    int64_t *fine = out->fine.data, *coarse = out->coarse.data;
    int rc = 0;
    for (int64_t i = 0; i < n && !rc; i++) {
        if (fread(rec, 1, sizeof rec, f) != sizeof rec) { rc = en_error("%s: read failed at record %lld", path, (long long)i); break; }
        if (rec[0] >= EN_CIFAR_COARSE || rec[1] >= EN_CIFAR_FINE) {
            rc = en_error("%s: record %lld has labels coarse %d, fine %d (expected < %d, < %d): not a CIFAR-100 file?",
                          path, (long long)i, rec[0], rec[1], EN_CIFAR_COARSE, EN_CIFAR_FINE);
            break;
        }
        coarse[i] = rec[0];
        fine[i] = rec[1];
        uint8_t *o = img + i * 3072;
        if (planes) memcpy(o, rec + 2, 3072);
        else
            for (int p = 0; p < 1024; p++)
                for (int c = 0; c < 3; c++) o[p * 3 + c] = rec[2 + c * 1024 + p];
    }
    fclose(f);
    if (rc) en_cifar_free(out);
    return rc;
}

void en_cifar_free_names(char **names, int n) {
    if (!names) return;
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

int en_cifar_read_names(const char *path, int expected, char ***names, int *n) {
    *names = NULL;
    *n = 0;
    FILE *f = fopen(path, "r");
    if (!f) return en_error("%s: cannot open: %s", path, strerror(errno));
    char **list = NULL, *line = NULL;
    size_t cap = 0;
    int count = 0, blank = 0, rc = 0, lineno = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' ')) line[--len] = 0;
        if (len == 0) { blank++; continue; }
        if (blank) { rc = en_error("%s: blank line before line %d", path, lineno); break; }
        if (memchr(line, 0, (size_t)len)) { rc = en_error("%s: line %d holds a NUL byte", path, lineno); break; }
        char **grown = realloc(list, (size_t)(count + 1) * sizeof *list);
        if (!grown || !(grown[count] = strdup(line))) {
            if (grown) list = grown;
            rc = en_error("%s: out of memory", path);
            break;
        }
        list = grown;
        count++;
    }
    free(line);
    fclose(f);
    if (!rc && expected > 0 && count != expected)
        rc = en_error("%s: %d names, expected %d", path, count, expected);
    if (rc) { en_cifar_free_names(list, count); return rc; }
    *names = list;
    *n = count;
    return 0;
}
