/* libFuzzer target for figure specs (figures/fg_spec.c, the JSON format of
 * figures/FORMAT.md): parse, then draw what parsed into a small image
 * surface, so the drawing code meets every spec the parser lets through. */
#include "fuzz_util.h"

#include <cairo.h>

#include "fg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 1 << 16) return 0;  /* figures with 10^5 points are slow, not interesting */
    char *json = fuzz_str(data, size);
    char err[512] = "";
    fg_spec *s = fg_spec_parse(json, "/nonexistent", err, sizeof err);
    if (s) {
        cairo_surface_t *sf = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 96, 64);
        cairo_t *cr = cairo_create(sf);
        fg_box box = { 2, 2, 92, 60 };
        err[0] = 0;
        (void)fg_spec_aspect(s);
        fg_draw(cr, box, s, err, sizeof err);
        cairo_destroy(cr);
        cairo_surface_destroy(sf);
        fg_spec_free(s);
    } else if (!err[0]) {
        abort();  /* a rejection says why */
    }
    free(json);
    return 0;
}
