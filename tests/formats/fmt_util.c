#include "fmt_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <unistd.h>

static char dir[64];

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb; (void)flag; (void)ftw;
    return remove(p);
}

static void rm_dir(void) { if (dir[0]) nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS); }

const char *fmt_tmp(const char *name) {
    static char path[4][256];
    static int slot;
    if (!dir[0]) {
        strcpy(dir, "/tmp/cbfmt.XXXXXX");
        if (!mkdtemp(dir)) abort();
        atexit(rm_dir);
    }
    slot = (slot + 1) % 4;
    snprintf(path[slot], sizeof path[slot], "%s/%s", dir, name);
    return path[slot];
}

void fmt_write(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f)) abort();
}

unsigned char *fmt_slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)len + 1);
    if (!p || fread(p, 1, (size_t)len, f) != (size_t)len) abort();
    fclose(f);
    *n = (size_t)len;
    return p;
}

const char *fmt_st_file(const char *name, const char *header, size_t data_len) {
    size_t h = strlen(header);
    unsigned char *buf = malloc(8 + h + data_len);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(((uint64_t)h >> (8 * i)) & 0xff);
    memcpy(buf + 8, header, h);
    for (size_t i = 0; i < data_len; i++) buf[8 + h + i] = (unsigned char)(i * 37 + 11);
    const char *path = fmt_tmp(name);
    fmt_write(path, buf, 8 + h + data_len);
    free(buf);
    return path;
}
