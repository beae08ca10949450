/* Shared by the libFuzzer targets: readers that take a path get the input
 * through a per-process temporary file. */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Writes data to <tmpfs>/fuzz-<tag>-<pid><suffix> and returns that path:
 * /dev/shm where there is one (a file on a busy disk costs ~10 ms, 100x
 * the parse), else /tmp. */
static char fuzz_paths[8][256];

static void fuzz_files_remove(void) {
    for (int i = 0; i < 8; i++) if (fuzz_paths[i][0]) unlink(fuzz_paths[i]);
}

static inline const char *fuzz_file(const char *tag, const char *suffix, const uint8_t *data, size_t size) {
    static char (*path)[256] = fuzz_paths;
    static int slot, registered;
    if (!registered++) atexit(fuzz_files_remove);
    const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    slot = (slot + 1) % 8;
    snprintf(path[slot], sizeof path[slot], "%s/fuzz-%s-%d%s", dir, tag, (int)getpid(), suffix);
    FILE *f = fopen(path[slot], "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f)) abort();
    return path[slot];
}

/* A NUL-terminated copy (the parsers take C strings). */
static inline char *fuzz_str(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s) abort();
    memcpy(s, data, size);
    s[size] = 0;
    return s;
}

#endif
