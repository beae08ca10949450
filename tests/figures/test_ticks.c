/* Ticks, labels and legend placement: known answers of the extended
 * Wilkinson algorithm, properties over many ranges (bounded count, inside
 * the range, increasing, distinct labels), tick labels that never overlap
 * after layout, and a legend that finds the empty corner. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "fg_internal.h"

static void expect_w(double lo, double hi, int m, double elo, double ehi, double estep) {
    double a, b, s;
    cr_assert_eq(fg_ticks_wilkinson(lo, hi, m, 0, &a, &b, &s), 0);
    printf("figures: wilkinson [%g, %g] m=%d -> %g..%g step %g (expected %g..%g step %g)\n", lo, hi, m, a, b, s, elo, ehi, estep);
    cr_assert(fabs(a - elo) < 1e-9 && fabs(b - ehi) < 1e-9 && fabs(s - estep) < 1e-9);
}

Test(ticks, wilkinson_known) {
    expect_w(8.1, 14.1, 4, 8, 14, 2);       /* the paper's running example */
    expect_w(0, 100, 5, 0, 100, 25);
    expect_w(-1, 1, 5, -1, 1, 0.5);
    expect_w(0.13, 0.97, 5, 0, 1, 0.25);     /* coverage beats a tight 0.2..0.8 */
    double a, b, s;
    cr_assert_eq(fg_ticks_wilkinson(0.5, 7.5, 6, FG_TICKS_INTEGER, &a, &b, &s), 0);
    cr_assert(s >= 1 && s == round(s), "integer step %g", s);
    cr_assert_eq(fg_ticks_wilkinson(NAN, 1, 5, 0, &a, &b, &s), -1);
    cr_assert_eq(fg_ticks_wilkinson(1, 1, 5, 0, &a, &b, &s), -1);
    cr_assert_eq(fg_ticks_wilkinson(-1.7e308, 1.7e308, 5, 0, &a, &b, &s), -1);
}

static void check_ticks(const fg_ticks *t, fg_scale_kind k, double lo, double hi) {
    cr_assert(t->n >= 2 && t->n <= FG_MAX_TICKS, "[%g,%g]: %d ticks", lo, hi, t->n);
    for (int i = 0; i < t->n; i++) {
        cr_assert(isfinite(t->v[i]), "[%g,%g] tick %d not finite", lo, hi, i);
        double span = hi - lo;
        double eps = isfinite(span) ? 1e-6 * span : 0;
        cr_assert(t->v[i] >= lo - eps && t->v[i] <= hi + eps, "[%g,%g] scale %d: tick %g outside", lo, hi, k, t->v[i]);
        if (i) cr_assert(t->v[i] > t->v[i - 1], "[%g,%g]: ticks not increasing", lo, hi);
        for (int j = 0; j < i; j++)
            cr_assert(strcmp(t->label[i], t->label[j]), "[%.17g,%.17g] scale %d: label %s twice (%.17g, %.17g)", lo, hi, k, t->label[i], t->v[i], t->v[j]);
    }
}

Test(ticks, properties) {
    /* a deterministic spread of ranges: magnitudes 1e-12..1e12, signs,
     * widths from 1e-9 of the value to many decades */
    unsigned x = 12345;
    int tested = 0;
    for (int it = 0; it < 3000; it++) {
        x = x * 1103515245u + 12345u;
        double mag = pow(10.0, (int)(x >> 8) % 25 - 12);
        x = x * 1103515245u + 12345u;
        double c = mag * (((x >> 8) % 2001) / 1000.0 - 1.0);
        x = x * 1103515245u + 12345u;
        double w = mag * pow(10.0, -((int)(x >> 8) % 10)) * (1 + (x >> 20) % 7);
        double lo = c - w / 2, hi = c + w / 2;
        fg_range_finish(FG_SCALE_LINEAR, &lo, &hi, NAN, NAN, 0.05);
        for (int m = 2; m <= 10; m += 4) {
            fg_ticks t;
            fg_ticks_make(&t, FG_SCALE_LINEAR, lo, hi, m, (it & 1) ? FG_TICKS_INTEGER : 0);
            check_ticks(&t, FG_SCALE_LINEAR, lo, hi);
            tested++;
        }
    }
    /* log axes: exponent ranges */
    for (int a = -20; a <= 20; a += 3)
        for (int w = 0; w < 40; w += 3) {
            double lo = a * 0.37, hi = lo + 0.05 + w * 0.29;
            for (int k = FG_SCALE_LOG2; k <= FG_SCALE_LOG10; k++) {
                fg_ticks t;
                fg_ticks_make(&t, (fg_scale_kind)k, lo, hi, 6, 0);
                check_ticks(&t, (fg_scale_kind)k, lo, hi);
                tested++;
            }
        }
    printf("figures: tick properties held on %d axes\n", tested);
}

Test(ticks, labels) {
    fg_ticks t;
    fg_ticks_make(&t, FG_SCALE_LINEAR, -1.02, 1.02, 5, 0);
    printf("figures: [-1,1] labels:");
    for (int i = 0; i < t.n; i++) printf(" %s", t.label[i]);
    printf("\n");
    cr_assert_str_eq(t.label[0], "\xe2\x88\x92" "1.0", "typographic minus, one decimal: %s", t.label[0]);
    fg_ticks_make(&t, FG_SCALE_LOG2, 0, 4, 6, 0);
    cr_assert_eq(t.n, 5);
    cr_assert_str_eq(t.label[4], "16");
    fg_ticks_make(&t, FG_SCALE_LOG10, -6, 6, 7, 0);
    cr_assert(strstr(t.label[0], "<sup>"), "10^-6 as a power: %s", t.label[0]);
    fg_ticks_make(&t, FG_SCALE_LINEAR, 0, 3.5e9, 5, 0);
    cr_assert(strstr(t.suffix, "10<sup>9</sup>"), "common power moves to the title: '%s'", t.suffix);
}

/* After layout no two drawn x labels overlap: unrotated ones are apart by
 * their half-widths, rotated ones by their height. */
static void check_layout(const char *json) {
    char err[256];
    fg_spec *s = fg_spec_parse(json, ".", err, sizeof err);
    cr_assert(s, "%s", err);
    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 10, 10);
    cairo_t *cr = cairo_create(surf);
    double widths[] = { 120, 200, 390, 600 };
    for (int wi = 0; wi < 4; wi++) {
        fg_axes a;
        memset(&a, 0, sizeof a);
        char *cats[64];
        int nc = 0;
        if (s->x_scale == FG_SCALE_CATEGORY) {
            for (; nc < s->n_x_cats && nc < 64; nc++) cats[nc] = s->x_cats[nc];
            a.cats = cats; a.ncats = nc;
        }
        double xlo = s->x_scale == FG_SCALE_CATEGORY ? -0.5 : s->x_min, xhi = s->x_scale == FG_SCALE_CATEGORY ? nc - 0.5 : s->x_max;
        if (s->x_scale != FG_SCALE_CATEGORY) {
            xlo = fg_scale_t(s->x_scale, xlo); xhi = fg_scale_t(s->x_scale, xhi);
        }
        fg_axes_layout(cr, &a, (fg_box){ 0, 0, widths[wi], widths[wi] * 0.62 }, s, xlo, xhi, 0, 1, 0, 0);
        double lh;
        fg_text_size(cr, "0", fg_style_get()->tick_size, 0, NULL, &lh);
        double prev_r = -INFINITY, prev_c = -INFINITY;
        for (int i = 0; i < a.xt.n; i += a.x_skip) {
            double w, c = fg_scale_fwd(&a.x, a.xt.v[i]);
            if (a.x_wrap > 0) fg_text_size_wrapped(cr, a.xt.label[i], fg_style_get()->tick_size, 1, a.x_wrap, &w, NULL, NULL);
            else fg_text_size(cr, a.xt.label[i], fg_style_get()->tick_size, 1, &w, NULL);
            if (a.x_rot) cr_assert(c - prev_c >= lh * 1.4 - 1e-9, "width %.0f: rotated labels %.1f apart, need %.1f", widths[wi], c - prev_c, lh * 1.4);
            else cr_assert(c - w / 2 >= prev_r + 1, "width %.0f: label '%s' overlaps its neighbour", widths[wi], a.xt.label[i]);
            prev_r = c + w / 2; prev_c = c;
        }
        printf("figures: layout %-40.40s w=%3.0f: %2d x ticks, skip %d, %s\n", json + 9, widths[wi], a.xt.n, a.x_skip,
               a.x_wrap > 0 ? "wrapped" : a.x_rot ? "rotated" : "upright");
    }
    cairo_destroy(cr);
    cairo_surface_destroy(surf);
    fg_spec_free(s);
}

Test(ticks, no_overlap) {
    check_layout("{\"kind\":\"line\",\"x_min\":0,\"x_max\":1000000}");
    check_layout("{\"kind\":\"line\",\"x_min\":123456789,\"x_max\":123456790}");
    check_layout("{\"kind\":\"line\",\"x_min\":1e-9,\"x_max\":7e-9}");
    check_layout("{\"kind\":\"line\",\"x_scale\":\"log10\",\"x_min\":1e-12,\"x_max\":1e12}");
    check_layout("{\"kind\":\"line\",\"x_scale\":\"log2\",\"x_min\":1,\"x_max\":1048576}");
    check_layout("{\"kind\":\"line\",\"x_scale\":\"category\",\"x_categories\":[\"airplane\",\"automobile\",\"bird\",\"cat\",\"deer\",\"dog\","
                 "\"frog\",\"horse\",\"ship\",\"truck\",\"aquarium_fish\",\"maple_tree\",\"pickup_truck\",\"sweet_pepper\",\"willow_tree\"]}");
    check_layout("{\"kind\":\"line\",\"x_scale\":\"category\",\"x_categories\":[\"supercalifragilisticexpialidocious\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\"]}");
}

Test(legend, finds_empty_corner) {
    fg_box p = { 0, 0, 300, 200 };
    fg_ink k = { 0 };
    /* a line along the top edge: both upper corners are taken */
    fg_ink_segment(&k, 0, 10, 300, 10, 2);
    double x, y;
    cr_assert_eq(fg_legend_place(&k, p, 60, 30, FG_LEG_AUTO, &x, &y), 0);
    printf("figures: legend with the top taken -> (%.0f, %.0f)\n", x, y);
    cr_assert(y > 100, "legend should go to the bottom, got y=%.0f", y);
    cr_assert(x > 150, "bottom right first, got x=%.0f", x);
    /* ink everywhere: no corner is clean */
    fg_ink_rect(&k, 0, 0, 300, 200, 5);
    cr_assert_eq(fg_legend_place(&k, p, 60, 30, FG_LEG_AUTO, &x, &y), -1);
    /* an explicit corner is obeyed */
    cr_assert_eq(fg_legend_place(&k, p, 60, 30, FG_LEG_LL, &x, &y), 0);
    cr_assert(x < 10 && y > 150);
    fg_ink_free(&k);
}

/* y labels are at least a line of text apart, on uneven log ticks too. */
Test(ticks, y_no_overlap) {
    char err[256];
    const char *specs[] = { "{\"kind\":\"line\",\"y_scale\":\"log10\"}", "{\"kind\":\"line\",\"y_scale\":\"log2\"}", "{\"kind\":\"line\"}" };
    double ranges[][2] = { { -0.6, 0.42 }, { -3, 4 }, { 0.1, 0.3 }, { -12, 12 }, { 0, 1 } };
    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 10, 10);
    cairo_t *cr = cairo_create(surf);
    double lh;
    fg_text_size(cr, "0", fg_style_get()->tick_size, 0, NULL, &lh);
    int checked = 0;
    for (int si = 0; si < 3; si++) {
        fg_spec *s = fg_spec_parse(specs[si], ".", err, sizeof err);
        cr_assert(s, "%s", err);
        for (int ri = 0; ri < 5; ri++)
            for (double h = 50; h <= 400; h += 35) {
                fg_axes a;
                memset(&a, 0, sizeof a);
                fg_axes_layout(cr, &a, (fg_box){ 0, 0, 390, h }, s, 0, 1, ranges[ri][0], ranges[ri][1], 0, 0);
                for (int i = 1; i < a.yt.n; i++) {
                    double g = fabs(fg_scale_fwd(&a.y, a.yt.v[i]) - fg_scale_fwd(&a.y, a.yt.v[i - 1]));
                    cr_assert(g >= lh - 1e-9, "%s [%g,%g] h=%.0f: labels '%s' and '%s' %.1f pt apart (line %.1f)",
                              specs[si], ranges[ri][0], ranges[ri][1], h, a.yt.label[i - 1], a.yt.label[i], g, lh);
                }
                checked++;
            }
        fg_spec_free(s);
    }
    printf("figures: y labels a line apart on %d axes\n", checked);
    cairo_destroy(cr);
    cairo_surface_destroy(surf);
}
