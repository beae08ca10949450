/* en_file — whole files: read one into memory; replace one atomically.
 *
 *   char *text = en_file_read(path, &n);      malloc'd, NUL-terminated
 *
 *   en_atomic a;                              write path so that a reader
 *   FILE *f = en_atomic_open(&a, path);       sees the old file or the
 *   fwrite(..., f); ...                       whole new one, never a part:
 *   if (en_atomic_commit(&a) < 0) ...         a temporary file beside it,
 *                                             fsynced, renamed over it
 *
 * Errors a user can cause (no such file, disk full) return NULL / -1 with
 * en_error set naming the path; out of memory aborts. */
#ifndef EN_FILE_H
#define EN_FILE_H

#include <stddef.h>
#include <stdio.h>

/* The whole file (a regular file in one read; pipes and the like in
 * chunks), NUL-terminated; its length in *n when n is not NULL. */
char *en_file_read(const char *path, size_t *n);

typedef struct {
    FILE *f;
    char *tmp;   /* PATH.tmp.PID.N (en_tmpfile.h) */
    char *path;
    int failed;  /* set by the caller to make commit abort instead */
} en_atomic;

/* A temporary file beside path, opened for writing ("wb", mode 0644).
 * NULL + en_error (and *a left so that commit/abort are harmless). */
FILE *en_atomic_open(en_atomic *a, const char *path);
/* Flush, fsync, close and rename over path; on any failure (or when
 * a->failed is set, or the stream saw a write error) the temporary file is
 * removed and path is untouched. 0, or -1 with en_error (the message set
 * by the caller is kept when a->failed). */
int  en_atomic_commit(en_atomic *a);
/* Close and remove the temporary file; path is untouched. */
void en_atomic_abort(en_atomic *a);

/* Replace path with n bytes of data atomically (as above). 0, or -1. */
int en_file_write_atomic(const char *path, const void *data, size_t n);

/* mkdir -p: dir and every missing parent (0777 before the umask). 0, or -1
 * with en_error naming the folder that could not be made. */
int en_mkdirs(const char *dir);

#endif
