/* Robustness: the reference specs, mutated at random (numbers replaced by
 * extreme values, characters dropped, text cut short), must parse or fail
 * cleanly, and whatever parses must draw without crashing. Deterministic
 * (a fixed seed); run under ASan by `make test SANITIZE=1`. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg.h"

char *fgt_read(const char *path);

static unsigned rnd(unsigned *s) { *s = *s * 1664525u + 1013904223u; return *s >> 8; }

static const char *extremes[] = { "0", "-1", "1e308", "-1e308", "1e-320", "null", "3000", "-0", "1e9", "2.5", "\"x\"", "[]", "{}", "nan", "-inf", "Infinity" };

static char *mutate(const char *src, unsigned *seed) {
    size_t n = strlen(src);
    char *o = malloc(n * 2 + 64);
    size_t j = 0;
    int r = rnd(seed) % 10, kind = r < 7 ? 0 : r < 9 ? 2 : 3;   /* mostly numbers */
    size_t cut = kind == 3 ? rnd(seed) % (n + 1) : n;
    int in_str = 0;
    for (size_t i = 0; i < cut;) {
        int c = (unsigned char)src[i];
        if (c == '"' && (i == 0 || src[i - 1] != '\\')) in_str = !in_str;
        int start = i == 0 || !strchr("0123456789.eE+-", src[i - 1]);   /* a number's first character */
        int isnum = !in_str && start && ((c >= '0' && c <= '9') || (c == '-' && src[i + 1] >= '0' && src[i + 1] <= '9'));
        if (kind == 0 && isnum && rnd(seed) % 12 == 0) {
            /* replace the whole number */
            size_t k = i + 1;
            while (k < n && strchr("0123456789.eE+-", src[k])) k++;
            const char *e = extremes[rnd(seed) % (sizeof extremes / sizeof extremes[0])];
            size_t L = strlen(e);
            if (j + L < n * 2 + 32) { memcpy(o + j, e, L); j += L; }
            i = k;
            continue;
        }
        if (kind == 2 && rnd(seed) % 200 == 0) { i++; continue; }   /* drop a character */
        if (j < n * 2 + 32) o[j++] = src[i];
        i++;
    }
    o[j] = 0;
    return o;
}

Test(mutate, specs_never_crash, .timeout = 60) {
    const char *kinds[] = { "line", "curve", "category", "bar", "heatmap", "image_grid", "mask_overlay", "panels" };
    unsigned seed = getenv("FG_MUT_SEED") ? (unsigned)atoi(getenv("FG_MUT_SEED")) : 2026;   /* other seeds: fuzz by hand */
    int parsed = 0, failed = 0, drawn_err = 0;
    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 200, 140);
    for (int k = 0; k < 8; k++) {
        char path[128];
        snprintf(path, sizeof path, "tests/figures/ref/%s.json", kinds[k]);
        char *src = fgt_read(path);
        cr_assert(src, "%s", path);
        for (int it = 0; it < 60; it++) {
            char *m = mutate(src, &seed);
            char err[512];
            fg_spec *s = fg_spec_parse(m, "tests/figures/ref", err, sizeof err);
            if (!s) { failed++; cr_assert(err[0], "a failed parse says why"); if (getenv("FG_MUT_VERBOSE")) printf("rejected: %s\n%.300s\n", err, m); free(m); continue; }
            parsed++;
            cairo_t *cr = cairo_create(surf);
            if (fg_draw(cr, (fg_box){ 0, 0, 200, 140 }, s, err, sizeof err) != 0) drawn_err++;
            cr_assert_eq(cairo_status(cr), CAIRO_STATUS_SUCCESS, "cairo: %s\n%s", cairo_status_to_string(cairo_status(cr)), m);
            cairo_destroy(cr);
            fg_spec_free(s);
            free(m);
        }
        free(src);
    }
    cairo_surface_destroy(surf);
    printf("figures: 480 mutated specs: %d parsed and drawn (%d with a reported draw error), %d rejected with a message\n",
           parsed, drawn_err, failed);
    cr_assert_gt(parsed, 150);
}
