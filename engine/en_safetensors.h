/* en_safetensors — read and write the safetensors format
 * (https://github.com/huggingface/safetensors, "Format"):
 *   8 bytes   N, little-endian u64, the header length
 *   N bytes   JSON object: name -> {"dtype", "shape", "data_offsets": [begin, end]}
 *             plus an optional "__metadata__": {string: string}; may be
 *             right-padded with spaces
 *   rest      the data section; offsets are relative to its start, the
 *             entries tile it exactly (no holes, no overlap), C order, LE.
 *
 * Reading checks every size and offset against the file before anything is
 * read, so a truncated or corrupt file fails at open with a message that
 * names the file and the problem (en_error_msg()). Entries are listed in
 * header order (the JSON order, which need not be the data order).
 * Dtypes: F32 F16 BF16 F64 I32 I64 U8 BOOL.
 * Other spec dtypes (I8, U16, F8_*, ...) are listed with dtype EN_DTYPE_COUNT
 * so a file holding them opens; reading them is an error. Reads use pread,
 * so threads may read entries of one open file concurrently.
 */
#ifndef EN_SAFETENSORS_H
#define EN_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "en_ndbuf.h"

typedef struct {
    const char *name;
    en_dtype    dtype;
    int         ndim;
    int64_t     shape[EN_NDBUF_MAX_DIMS];
    uint64_t    offset;   /* from the start of the data section */
    uint64_t    nbytes;
    size_t      numel;
} en_st_entry;

typedef struct en_st_file en_st_file;

/* Opens and validates a file (NULL + message on any problem). */
en_st_file *en_st_open(const char *path);
/* The same over bytes in memory, which must outlive the handle; `name` is
 * used in messages. */
en_st_file *en_st_open_mem(const void *data, size_t len, const char *name);
void en_st_close(en_st_file *f);

int                en_st_count(const en_st_file *f);
const en_st_entry *en_st_entry_at(const en_st_file *f, int i);
const en_st_entry *en_st_find(const en_st_file *f, const char *name); /* NULL when absent (no message) */

/* The __metadata__ map: count, i-th pair, lookup (NULL when absent). */
int         en_st_meta_count(const en_st_file *f);
void        en_st_meta_at(const en_st_file *f, int i, const char **key, const char **value);
const char *en_st_meta_get(const en_st_file *f, const char *key);

/* Copies an entry's raw bytes into `out` (capacity `cap` bytes). */
int en_st_read_raw(en_st_file *f, const en_st_entry *e, void *out, size_t cap);
/* Converts a float entry (F32, F16, BF16, F64) into `out`, which holds
 * `count` floats; count must equal the entry's element count. */
int en_st_read_f32(en_st_file *f, const en_st_entry *e, float *out, size_t count);
/* Widens an integer entry (I32, I64, U8, BOOL) into int64. */
int en_st_read_i64(en_st_file *f, const en_st_entry *e, int64_t *out, size_t count);
/* A new buffer with the entry's own dtype and shape. */
int en_st_read_ndbuf(en_st_file *f, const en_st_entry *e, en_ndbuf *out);

/* Writes `n` tensors (names unique, not "__metadata__") and `n_meta`
 * metadata pairs to `path`, atomically (a temporary file renamed over it).
 * The header is padded with spaces so the data section starts 8-aligned;
 * data follows in the order given. */
int en_st_write(const char *path, int n, const char *const *names, const en_ndbuf *bufs,
                int n_meta, const char *const *meta_keys, const char *const *meta_values);
/* The same bytes into one malloc'd buffer (*out, *len; the caller frees it),
 * for callers that keep a file in memory (models in the memo store). */
int en_st_write_mem(void **out, size_t *len, int n, const char *const *names, const en_ndbuf *bufs,
                    int n_meta, const char *const *meta_keys, const char *const *meta_values);

#endif
