/* Shared by the libFuzzer targets: readers that take a path get the input
 * through a per-process temporary file. */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Writes data to /tmp/fuzz-<tag>-<pid><suffix> and returns that path. */
static inline const char *fuzz_file(const char *tag, const char *suffix, const uint8_t *data, size_t size) {
    static char path[4][256];
    static int slot;
    slot = (slot + 1) % 4;
    snprintf(path[slot], sizeof path[slot], "/tmp/fuzz-%s-%d%s", tag, (int)getpid(), suffix);
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
