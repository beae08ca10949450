/* Helpers shared by the tests/formats suites. */
#ifndef FMT_UTIL_H
#define FMT_UTIL_H

#include <stddef.h>

#define FMT_DATA "tests/formats/data/"

/* A fresh file name under a per-process temporary directory. */
const char *fmt_tmp(const char *name);
/* Writes bytes to a file; aborts on failure (test infrastructure). */
void fmt_write(const char *path, const void *data, size_t n);
/* Reads a whole file (malloc'd); *n gets its size. */
unsigned char *fmt_slurp(const char *path, size_t *n);
/* Builds a safetensors file from a header string and `data_len` data bytes
 * (filled with a pattern), returns its path. */
const char *fmt_st_file(const char *name, const char *header, size_t data_len);

#endif
