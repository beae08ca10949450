/* Reference images: every kind of figure is rendered from its spec in
 * tests/figures/ref/ and compared with the PNG beside it. Tolerance: a
 * pixel differs when a channel moves by more than 24/255; at most 0.1 % of
 * the pixels may differ (antialiasing of text on another freetype). The
 * worst difference and the fraction are printed either way.
 * FG_REGEN=1 rewrites the references instead: do it deliberately, and
 * look at every one. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fg.h"

#define REF "tests/figures/ref"
#define CH_TOL 24
#define FRAC_TOL 0.001

char *fgt_read(const char *path);

/* Under LeakSanitizer: fontconfig/pango keep process-lifetime caches; the
 * same list as tests/figures/lsan.supp, which the e2e script uses. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) {
    return "leak:libfontconfig\nleak:libpango\nleak:libpangoft2\nleak:libpangocairo\nleak:libglib\n"
           "leak:libgobject\nleak:libharfbuzz\nleak:libcairo\nleak:libfreetype\n";
}

char *fgt_read(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(n + 1);
    if (fread(b, 1, n, f) != (size_t)n) { free(b); fclose(f); return NULL; }
    b[n] = 0;
    fclose(f);
    return b;
}

static void compare(const char *kind) {
    char spec_path[256], ref_path[256], out_path[256], err[512] = "";
    snprintf(spec_path, sizeof spec_path, REF "/%s.json", kind);
    snprintf(ref_path, sizeof ref_path, REF "/%s.png", kind);
    snprintf(out_path, sizeof out_path, "/tmp/fg_test_%d_%s.png", (int)getpid(), kind);
    char *json = fgt_read(spec_path);
    cr_assert(json, "cannot read %s", spec_path);
    fg_spec *s = fg_spec_parse(json, REF, err, sizeof err);
    free(json);
    cr_assert(s, "%s: %s", spec_path, err);
    const char *regen = getenv("FG_REGEN");
    int rc = fg_render_file(s, regen && *regen == '1' ? ref_path : out_path, 390, 0, err, sizeof err);
    fg_spec_free(s);
    cr_assert_eq(rc, 0, "%s: %s", kind, err);
    if (regen && *regen == '1') { printf("figures: regenerated %s\n", ref_path); return; }

    cairo_surface_t *a = cairo_image_surface_create_from_png(out_path);
    cairo_surface_t *b = cairo_image_surface_create_from_png(ref_path);
    unlink(out_path);
    cr_assert_eq(cairo_surface_status(b), CAIRO_STATUS_SUCCESS, "no reference %s (FG_REGEN=1 makes one)", ref_path);
    int w = cairo_image_surface_get_width(a), h = cairo_image_surface_get_height(a);
    cr_assert(w == cairo_image_surface_get_width(b) && h == cairo_image_surface_get_height(b),
              "%s: size %dx%d, reference %dx%d", kind, w, h,
              cairo_image_surface_get_width(b), cairo_image_surface_get_height(b));
    const unsigned char *da = cairo_image_surface_get_data(a), *db = cairo_image_surface_get_data(b);
    int sa = cairo_image_surface_get_stride(a), sb = cairo_image_surface_get_stride(b);
    int worst = 0;
    long ndiff = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int m = 0;
            for (int c = 0; c < 4; c++) {
                int d = abs(da[y * sa + x * 4 + c] - db[y * sb + x * 4 + c]);
                if (d > m) m = d;
            }
            if (m > worst) worst = m;
            if (m > CH_TOL) ndiff++;
        }
    double frac = (double)ndiff / ((double)w * h);
    printf("figures: %-13s %dx%d px, worst channel diff %3d/255, differing pixels %.4f %% (tolerance %.2f %%)\n",
           kind, w, h, worst, 100 * frac, 100 * FRAC_TOL);
    cairo_surface_destroy(a);
    cairo_surface_destroy(b);
    cr_assert(frac <= FRAC_TOL, "%s: %.4f %% of pixels differ from %s (worst %d)", kind, 100 * frac, ref_path, worst);
}

Test(ref, line) { compare("line"); }
Test(ref, curve) { compare("curve"); }
Test(ref, category) { compare("category"); }
Test(ref, bar) { compare("bar"); }
Test(ref, heatmap) { compare("heatmap"); }
Test(ref, image_grid) { compare("image_grid"); }
Test(ref, mask_overlay) { compare("mask_overlay"); }
Test(ref, panels) { compare("panels"); }
