/* libFuzzer target for the safetensors reader: any input must either open
 * and then read consistently, or fail with a message; never crash or read
 * out of bounds. Built and run by `make fuzz`. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "en_error.h"
#include "en_safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    en_st_file *f = en_st_open_mem(data, size, "fuzz.safetensors");
    if (!f) {
        /* Every rejection carries a message naming the file. */
        if (!strstr(en_error_msg(), "fuzz.safetensors")) abort();
        return 0;
    }
    for (int i = 0; i < en_st_meta_count(f); i++) {
        const char *k, *v;
        en_st_meta_at(f, i, &k, &v);
        if (en_st_meta_get(f, k) == NULL) abort();
    }
    for (int i = 0; i < en_st_count(f); i++) {
        const en_st_entry *e = en_st_entry_at(f, i);
        if (en_st_find(f, e->name) != e) abort();
        if (e->numel > (1u << 16)) continue;
        if (e->dtype == EN_I32 || e->dtype == EN_I64 || e->dtype == EN_U8 || e->dtype == EN_BOOL) {
            int64_t *o = malloc(e->numel * sizeof *o + 1);
            if (en_st_read_i64(f, e, o, e->numel)) abort();
            free(o);
        } else if (e->dtype != EN_DTYPE_COUNT) {
            float *o = malloc(e->numel * sizeof *o + 1);
            if (en_st_read_f32(f, e, o, e->numel)) abort();
            free(o);
            en_ndbuf b;
            if (en_st_read_ndbuf(f, e, &b)) abort();
            en_ndbuf_free(&b);
        }
    }
    en_st_close(f);
    return 0;
}
