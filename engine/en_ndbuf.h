/* en_ndbuf — a plain n-dimensional buffer: what the file-format readers
 * (safetensors, npy, images, CIFAR) hand out and the writers take, before
 * any tensor wraps it. Row-major (C order), little-endian, contiguous.
 *
 * Ownership: a buffer filled by a reader owns `data` (malloc'd) and is
 * released with en_ndbuf_free(). A buffer a caller builds for a writer may
 * point at anything; writers never free it.
 */
#ifndef EN_NDBUF_H
#define EN_NDBUF_H

#include <stddef.h>
#include <stdint.h>

#include "en_dtype.h"

#define EN_NDBUF_MAX_DIMS 8

typedef struct {
    en_dtype dtype;
    int      ndim;                        /* 0 = scalar (one element) */
    int64_t  shape[EN_NDBUF_MAX_DIMS];
    void    *data;
    size_t   nbytes;                      /* numel * en_dtype_size(dtype) */
} en_ndbuf;

/* Number of elements of `shape` into *numel and, when `elsize` is non-zero,
 * the byte count into *nbytes; 0 on success, -1 when a dimension is
 * negative or the product overflows (no message set: the caller names the
 * file). */
int en_shape_size(const int64_t *shape, int ndim, size_t elsize, size_t *numel, size_t *nbytes);

/* Element count of a well-formed buffer. */
size_t en_ndbuf_numel(const en_ndbuf *b);

/* Allocates a zeroed buffer of the given shape (sets an error and returns -1
 * on overflow or when out of memory). */
int en_ndbuf_alloc(en_ndbuf *b, en_dtype dtype, int ndim, const int64_t *shape);

/* Frees data and leaves an empty buffer (safe to call twice). */
void en_ndbuf_free(en_ndbuf *b);

/* Converts `n` elements from `src` (type `from`) into `dst` (type `to`).
 * Float ↔ float is rounding conversion (F16/BF16 via en_dtype), float → int
 * truncates toward zero, int → float rounds. Source bytes may be unaligned.
 * Returns -1 (with a message) for BOOL targets from floats or unknown types. */
int en_convert(void *dst, en_dtype to, const void *src, en_dtype from, size_t n);

/* A new buffer holding `in` converted to `to`. */
int en_ndbuf_convert(const en_ndbuf *in, en_dtype to, en_ndbuf *out);

#endif
