/* libFuzzer target for the .npy reader. Built and run by `make fuzz`. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "en_error.h"
#include "en_npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    en_ndbuf b;
    if (en_npy_read_mem(data, size, "fuzz.npy", &b)) {
        if (!strstr(en_error_msg(), "fuzz.npy") || b.data) abort();
        return 0;
    }
    if (b.nbytes != en_ndbuf_numel(&b) * en_dtype_size(b.dtype)) abort();
    /* Exercise the conversions loaders use next (float to float, int to int). */
    en_ndbuf c;
    int is_int = b.dtype == EN_I32 || b.dtype == EN_I64 || b.dtype == EN_U8 || b.dtype == EN_BOOL;
    if (!en_ndbuf_convert(&b, is_int ? EN_I64 : EN_F32, &c)) en_ndbuf_free(&c);
    en_ndbuf_free(&b);
    return 0;
}
