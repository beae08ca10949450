/* libFuzzer target for PNG and JPEG decoding (one entry point sniffs the
 * format). `make fuzz` builds it with FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION,
 * which makes the PNG decoder ignore CRC and Adler-32 checksums so that
 * mutations reach the pixel decoding. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "en_error.h"
#include "en_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int init;
    if (!init) { en_image_set_max_pixels((size_t)1 << 20); init = 1; }
    en_ndbuf img;
    if (en_image_decode(data, size, "fuzz.img", 0, &img)) {
        if (!strstr(en_error_msg(), "fuzz.img") || img.data) abort();
        return 0;
    }
    if (img.ndim != 3 || (img.shape[2] != 3 && img.shape[2] != 4) ||
        img.nbytes != (size_t)(img.shape[0] * img.shape[1] * img.shape[2]))
        abort();
    en_ndbuf_free(&img);
    /* The other channel layouts take other libpng transform paths. */
    if (!en_image_decode(data, size, "fuzz.img", 3, &img)) en_ndbuf_free(&img);
    if (!en_image_decode(data, size, "fuzz.img", 4, &img)) en_ndbuf_free(&img);
    return 0;
}
