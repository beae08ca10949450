/* en_npy — NumPy's .npy format (numpy.lib.format), versions 1.0, 2.0, 3.0.
 *
 * Reading: little-endian '<f4' '<f8' '<f2' '<i4' '<i8' '|u1' '|b1', C order.
 * The header dict is parsed strictly (exactly the keys descr, fortran_order,
 * shape; Python literal syntax as numpy writes it); fortran_order True,
 * big-endian data and other dtypes are errors that say so. The data must be
 * exactly shape × item size bytes. Errors name the file.
 * Writing: the same dtypes, byte-identical to numpy.save (version 1.0
 * unless the header needs 2.0), atomically (temp file + rename).
 * To get float32 from an f8/i4 file, follow with en_ndbuf_convert.
 */
#ifndef EN_NPY_H
#define EN_NPY_H

#include <stddef.h>

#include "en_ndbuf.h"

int en_npy_read(const char *path, en_ndbuf *out);
/* The same from bytes in memory; `name` is used in messages. */
int en_npy_read_mem(const void *data, size_t len, const char *name, en_ndbuf *out);
/* Reads and converts to `dtype` in one step (e.g. EN_F32 from '<f8'). */
int en_npy_read_as(const char *path, en_dtype dtype, en_ndbuf *out);

int en_npy_write(const char *path, const en_ndbuf *b);

#endif
