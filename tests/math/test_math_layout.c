/* Layout sanity: the relations TeX's rules guarantee, measured on boxes. */
#include <cairo.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rp_math.h"

#define FAMILY "TeX Gyre Pagella"

typedef struct { double w, a, d; } ext;

static cairo_surface_t *surf;
static cairo_t *cr;

static void setup(void) {
    surf = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 8, 8);
    cr = cairo_create(surf);
}
static void teardown(void) {
    cairo_destroy(cr);
    cairo_surface_destroy(surf);
}

static ext measure_in(const char *tex, int display, double size, const char *math_family) {
    char err[256];
    rp_math *m = rp_math_parse(tex, display, err, sizeof err);
    cr_assert(m, "%s: %s", tex, err);
    if (math_family) rp_math_set_math_family(m, math_family);
    ext e;
    rp_math_layout(m, cr, FAMILY, size, &e.w, &e.a, &e.d);
    rp_math_free(m);
    cr_assert(isfinite(e.w) && isfinite(e.a) && isfinite(e.d), "%s: non-finite extents", tex);
    return e;
}
static ext measure(const char *tex, int display) { return measure_in(tex, display, 10, NULL); }

TestSuite(math_layout, .init = setup, .fini = teardown);

Test(math_layout, fraction_taller_than_numerator) {
    ext a = measure("a", 0), f = measure("\\frac{a}{b}", 0), fd = measure("\\frac{a}{b}", 1);
    cr_log_info("a: %.2f+%.2f  frac T: %.2f+%.2f  frac D: %.2f+%.2f", a.a, a.d, f.a, f.d, fd.a, fd.d);
    cr_assert_gt(f.a + f.d, a.a + a.d);
    cr_assert_gt(f.a, a.a, "numerator raised above the baseline");
    cr_assert_gt(f.d, a.d, "denominator below the baseline");
    cr_assert_gt(fd.a + fd.d, f.a + f.d, "display fraction is larger than text fraction");
}

Test(math_layout, scripts_are_smaller) {
    ext x = measure("x", 0), abc = measure("abc", 0), xs = measure("x^{abc}", 0), xi = measure("x_{abc}", 0);
    double sup_w = xs.w - x.w, ratio = sup_w / abc.w;
    cr_log_info("abc %.2f pt, as superscript %.2f pt (ratio %.3f, expect about 0.7)", abc.w, sup_w, ratio);
    cr_assert(ratio > 0.65 && ratio < 0.78, "superscript scale %.3f", ratio);
    cr_assert_gt(xs.a, x.a, "superscript raises the top");
    cr_assert_gt(xi.d, x.d, "subscript lowers the bottom");
    /* a script's script is set at 50 % */
    ext xy = measure("x^{y}", 0), xyz = measure("x^{y^{abc}}", 0);
    double r2 = (xyz.w - xy.w) / abc.w;
    cr_log_info("second-level ratio %.3f, expect about 0.5", r2);
    cr_assert(r2 > 0.45 && r2 < 0.58, "second-level script scale %.3f", r2);
}

Test(math_layout, display_sum_taller_than_inline) {
    ext t = measure("\\sum_{i=1}^{N} x_i", 0), d = measure("\\sum_{i=1}^{N} x_i", 1);
    cr_log_info("inline %.2f+%.2f x %.2f, display %.2f+%.2f x %.2f", t.a, t.d, t.w, d.a, d.d, d.w);
    cr_assert_gt(d.a + d.d, 1.3 * (t.a + t.d));
    cr_assert_lt(d.w, t.w, "limits above/below make display narrower");
    ext mx = measure("\\max_{W,b} f", 1), mxt = measure("\\max_{W,b} f", 0);
    cr_assert_gt(mx.d, mxt.d, "argmax-style limit below in display style");
}

Test(math_layout, spacing) {
    ext a = measure("a", 0), apb = measure("a+b", 0), ab = measure("ab", 0), plus = measure("+", 0);
    cr_assert_gt(apb.w, a.w);
    /* a medium space (4 mu) on each side of a binary operator */
    double space = apb.w - ab.w - plus.w;
    cr_log_info("space around + = %.3f pt, expect 2 x 4/18 em = %.3f", space, 8 / 18.0 * 10);
    cr_assert(fabs(space - 80 / 18.0) < 0.5, "space %.3f", space);
    ext aeq = measure("a=b", 0), eq = measure("=", 0);
    double thick = aeq.w - ab.w - eq.w;
    cr_assert(fabs(thick - 100 / 18.0) < 0.5, "thick space %.3f", thick);
    /* unary minus takes no space */
    ext neg = measure("-b", 0), b = measure("b", 0), minus = measure("-", 0);
    cr_assert(fabs(neg.w - b.w - minus.w) < 0.3, "unary minus spaced: %.3f", neg.w - b.w - minus.w);
    /* no medium space in script style */
    ext s1 = measure("x^{a+b}", 0), s2 = measure("x^{ab+}", 0);
    cr_assert(fabs(s1.w - s2.w) < 0.3, "script-style spacing %.3f vs %.3f", s1.w, s2.w);
}

Test(math_layout, delimiters_grow) {
    ext p = measure("(\\frac{a}{b})", 1), lr = measure("\\left(\\frac{a}{b}\\right)", 1);
    ext big = measure("\\left(\\frac{\\frac{a}{b}}{\\frac{c}{d}}\\right)", 1);
    ext tall = measure("\\left(\\frac{\\frac{\\frac{a}{b}}{\\frac{c}{d}}}{\\frac{\\frac{a}{b}}{\\frac{c}{d}}}\\right)", 1);
    cr_log_info("( ) %.2f  \\left( \\right) %.2f  nested %.2f  deeper %.2f", p.a + p.d, lr.a + lr.d, big.a + big.d,
                tall.a + tall.d);
    ext f = measure("\\frac{a}{b}", 1), ff = measure("\\frac{\\frac{\\frac{a}{b}}{\\frac{c}{d}}}{\\frac{\\frac{a}{b}}{\\frac{c}{d}}}", 1);
    cr_assert_geq(lr.a + lr.d, f.a + f.d, "\\left( covers the fraction");
    cr_assert_geq(tall.a + tall.d, 0.9 * (ff.a + ff.d), "an assembled delimiter covers a tall formula");
    cr_assert_gt(big.a + big.d, lr.a + lr.d);
}

Test(math_layout, sqrt_and_accents) {
    ext x = measure("x", 0), r = measure("\\sqrt{x}", 0), h = measure("\\hat{x}", 0);
    cr_assert_gt(r.a, x.a, "the radical's rule is above x");
    cr_assert_gt(r.w, x.w);
    cr_assert_gt(h.a, x.a, "the hat is above x");
    cr_assert(fabs(h.w - measure("x", 0).w) < 0.5, "an accent does not widen its nucleus");
}

Test(math_layout, braces_over_and_under) {
    ext body = measure("a+b+c", 1), under = measure("\\underbrace{a+b+c}", 1), over = measure("\\overbrace{a+b+c}", 1);
    ext lab = measure("\\underbrace{a+b+c}_{\\text{label}}", 1);
    cr_log_info("body %.2f+%.2f, under %.2f+%.2f, over %.2f+%.2f, labelled %.2f+%.2f", body.a, body.d, under.a,
                under.d, over.a, over.d, lab.a, lab.d);
    cr_assert_gt(under.d, body.d + 3, "the brace hangs below");
    cr_assert_gt(over.a, body.a + 3, "the brace stands above");
    cr_assert_gt(lab.d, under.d + 3, "the label goes below the brace");
    cr_assert(fabs(under.w - body.w) < 1, "a brace as wide as its body: %.2f vs %.2f", under.w, body.w);
}

Test(math_layout, scales_with_size) {
    const char *tex = "\\hat{y}_i = \\frac{\\exp(z_i)}{\\sum_{j=1}^{N}\\exp(z_j)}";
    ext a = measure_in(tex, 1, 10, NULL), b = measure_in(tex, 1, 20, NULL);
    double r = b.w / a.w;
    cr_log_info("width at 10 pt %.3f, at 20 pt %.3f, ratio %.4f", a.w, b.w, r);
    cr_assert(fabs(r - 2) < 0.04, "ratio %.4f", r);
    cr_assert(fabs((b.a + b.d) / (a.a + a.d) - 2) < 0.1);
}

/* Dark pixels of a rendering, and whether they stay in the formula's box. */
static void ink_inside(const char *tex, const char *math_family) {
    char err[256];
    rp_math *m = rp_math_parse(tex, 1, err, sizeof err);
    cr_assert(m, "%s", err);
    if (math_family) rp_math_set_math_family(m, math_family);
    double w, a, d, s = 4, pad = 10;
    rp_math_layout(m, cr, FAMILY, 10, &w, &a, &d);
    int W = (int)((w + 2 * pad) * s), H = (int)((a + d + 2 * pad) * s);
    cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, W, H);
    cairo_t *c = cairo_create(img);
    cairo_scale(c, s, s);
    cairo_set_source_rgb(c, 1, 1, 1);
    cairo_paint(c);
    cairo_set_source_rgb(c, 0, 0, 0);
    rp_math_draw(m, c, pad, pad + a);
    cairo_surface_flush(img);
    unsigned char *px = cairo_image_surface_get_data(img);
    int stride = cairo_image_surface_get_stride(img), dark = 0, outside = 0;
    double tol = 0.5; /* pt: ink may overhang a glyph's advance slightly */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            if (px[y * stride + 4 * x + 1] > 128) continue;
            dark++;
            double ux = x / s - pad, uy = y / s - pad;
            if (ux < -tol || ux > w + tol || uy < -tol || uy > a + d + tol) outside++;
        }
    cr_log_info("%s [%s]: %d dark pixels, %d outside the box", tex, math_family ? math_family : "default", dark,
                outside);
    cr_assert_gt(dark, 50, "%s renders something", tex);
    cr_assert_lt(outside, dark / 100 + 1, "%s: ink outside the layout box", tex);
    cairo_destroy(c);
    cairo_surface_destroy(img);
    rp_math_free(m);
}

Test(math_layout, ink_within_extents) {
    ink_inside("\\hat{y}_i = \\frac{\\exp(z_i)}{\\sum_{j=1}^{N}\\exp(z_j)}", NULL);
    ink_inside("\\left\\|\\frac{W}{2}\\right\\|_F^2 + \\sqrt{\\frac{a}{b}}", NULL);
    ink_inside("\\operatorname*{argmax}_{c} \\left[\\frac{\\frac{a}{b}}{\\frac{c}{d}}\\right]", NULL);
    ink_inside("S = \\begin{pmatrix} s_{11} & \\cdots & s_{1N} \\\\ \\vdots & \\ddots & \\vdots \\\\ s_{N1} & \\cdots & "
               "s_{NN} \\end{pmatrix}", NULL);
}

Test(math_layout, fallback_without_math_font) {
    /* a font without a MATH table, and a missing one: still a formula */
    const char *tex = "\\left(\\frac{\\frac{a}{b}}{\\frac{c}{d}}\\right) + \\left\\{x\\right\\} + \\sum_{i=1}^{N} "
                      "\\left\\|W\\right\\| + \\sqrt{\\frac{1}{2}}";
    ink_inside(tex, "DejaVu Sans");
    ink_inside(tex, "No Such Math Font");
    ext withm = measure_in("\\left(\\frac{\\frac{a}{b}}{\\frac{c}{d}}\\right)", 1, 10, NULL);
    ext without = measure_in("\\left(\\frac{\\frac{a}{b}}{\\frac{c}{d}}\\right)", 1, 10, "No Such Math Font");
    cr_log_info("with math font %.2f tall, without %.2f", withm.a + withm.d, without.a + without.d);
    cr_assert(fabs((withm.a + withm.d) - (without.a + without.d)) < 0.3 * (withm.a + withm.d));
}

Test(math_layout, tables_stack_rows_and_align_columns) {
    ext one = measure("\\begin{matrix} a \\end{matrix}", 1);
    ext two = measure("\\begin{matrix} a \\\\ b \\end{matrix}", 1);
    ext three = measure("\\begin{matrix} a \\\\ b \\\\ c \\end{matrix}", 1);
    ext wide = measure("\\begin{matrix} a & b \\end{matrix}", 1);
    cr_log_info("rows 1/2/3: %.2f %.2f %.2f pt tall", one.a + one.d, two.a + two.d, three.a + three.d);
    double step = (three.a + three.d) - (two.a + two.d);
    cr_assert(fabs(step - 12) < 1.5, "rows 1.2 em apart at 10 pt, got %.2f", step);
    cr_assert_gt(wide.w, one.w + 10, "a column gap of 1 em");
    /* centred on the axis: two rows straddle it equally */
    cr_assert(fabs((two.a - 2.5) - (two.d + 2.5)) < 1.0, "ascent %.2f descent %.2f", two.a, two.d);
    ext p = measure("\\begin{pmatrix} a \\\\ b \\\\ c \\end{pmatrix}", 1);
    cr_assert_geq(p.a + p.d, three.a + three.d, "parentheses cover the rows");
}

Test(math_layout, null_context_measures_the_same) {
    const char *tex = "\\hat{y} = \\operatorname*{argmax}_c \\frac{\\exp(z_c)}{\\sum_j \\exp(z_j)}";
    ext a = measure(tex, 1);
    char err[256];
    rp_math *m = rp_math_parse(tex, 1, err, sizeof err);
    cr_assert(m);
    ext b;
    rp_math_layout(m, NULL, FAMILY, 10, &b.w, &b.a, &b.d);
    rp_math_free(m);
    cr_assert(fabs(a.w - b.w) < 1e-6 && fabs(a.a - b.a) < 1e-6 && fabs(a.d - b.d) < 1e-6,
              "with a context %.4f %.4f %.4f, without %.4f %.4f %.4f", a.w, a.a, a.d, b.w, b.a, b.d);
}

/* Renders tex at 10 pt, 8 px per pt, baseline at row `base`; the caller
 * frees the surface. */
#define PX 8
static cairo_surface_t *raster(const char *tex, double *w_out, int *base) {
    char err[256];
    rp_math *m = rp_math_parse(tex, 1, err, sizeof err);
    cr_assert(m, "%s", err);
    double w, a, d;
    rp_math_layout(m, NULL, FAMILY, 10, &w, &a, &d);
    int W = (int)((w + 4) * PX), H = (int)((a + d + 4) * PX);
    cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_A8, W, H);
    cairo_t *c = cairo_create(img);
    cairo_scale(c, PX, PX);
    rp_math_draw(m, c, 2, 2 + a);
    cairo_destroy(c);
    cairo_surface_flush(img);
    rp_math_free(m);
    *w_out = w;
    *base = (int)((2 + a) * PX);
    return img;
}

/* The row with the most ink, in pt above the baseline. */
static double heaviest_row(cairo_surface_t *img, int base) {
    unsigned char *p = cairo_image_surface_get_data(img);
    int st = cairo_image_surface_get_stride(img), best = 0;
    long most = -1;
    for (int y = 0; y < cairo_image_surface_get_height(img); y++) {
        long sum = 0;
        for (int x = 0; x < cairo_image_surface_get_width(img); x++) sum += p[y * st + x];
        if (sum > most) most = sum, best = y;
    }
    return (base - best - 0.5) / PX;
}

Test(math_layout, fraction_bar_on_the_math_axis) {
    double w;
    int base;
    /* the minus sign is drawn on the axis by design */
    cairo_surface_t *minus = raster("-", &w, &base);
    double axis = heaviest_row(minus, base);
    cairo_surface_destroy(minus);
    cairo_surface_t *frac = raster("\\frac{a}{b}", &w, &base);
    double bar = heaviest_row(frac, base);
    cairo_surface_destroy(frac);
    cairo_surface_t *wide = raster("\\frac{1}{x+y+z}", &w, &base);
    double bar2 = heaviest_row(wide, base);
    cairo_surface_destroy(wide);
    cr_log_info("minus bar %.3f pt above the baseline, fraction bars %.3f and %.3f pt", axis, bar, bar2);
    cr_assert(axis > 1.5 && axis < 3.5, "axis %.3f pt at 10 pt", axis);
    cr_assert(fabs(bar - axis) < 0.25 && fabs(bar2 - axis) < 0.25, "bars %.3f %.3f, axis %.3f", bar, bar2, axis);
}

/* Horizontal ink centre of the rows from y0 to y1 (pixel rows). */
static double ink_centre(cairo_surface_t *img, int y0, int y1) {
    unsigned char *p = cairo_image_surface_get_data(img);
    int st = cairo_image_surface_get_stride(img);
    double sum = 0, mass = 0;
    for (int y = y0; y < y1; y++)
        for (int x = 0; x < cairo_image_surface_get_width(img); x++) sum += x * (double)p[y * st + x], mass += p[y * st + x];
    return mass > 0 ? sum / mass / PX : -1;
}

Test(math_layout, accents_centred_over_their_letter) {
    static const char *letters[] = {"x", "a", "W", "\\alpha", "\\theta", "1"};
    for (int i = 0; i < 6; i++) {
        char tex[64];
        double w, wa;
        int base, base_a;
        cairo_surface_t *plain = raster(letters[i], &w, &base);
        snprintf(tex, sizeof tex, "\\hat{%s}", letters[i]);
        cairo_surface_t *acc = raster(tex, &wa, &base_a);
        /* the letter's top half against the accent alone (rows above the letter) */
        int top = base;
        unsigned char *p = cairo_image_surface_get_data(plain);
        int st = cairo_image_surface_get_stride(plain);
        for (int y = 0; y < base; y++) {
            int any = 0;
            for (int x = 0; x < cairo_image_surface_get_width(plain); x++) any |= p[y * st + x] > 32;
            if (any) { top = y; break; }
        }
        int dy = base_a - base; /* same baseline offset in both pictures */
        double letter = ink_centre(plain, top, top + (base - top) / 2);
        double hat = ink_centre(acc, 0, top + dy - 2);
        /* TeX skews accents by a per-letter kern (W: 1/12 em right of the centre);
         * within an eighth of the letter's width of its upper half is near enough */
        cr_log_info("%s: letter top centre %.2f pt, hat centre %.2f pt (tolerance %.2f)", letters[i], letter, hat,
                    0.125 * w);
        cr_expect(hat > 0 && fabs(hat - letter) < 0.125 * w, "%s: hat at %.2f, letter top at %.2f", letters[i], hat,
                  letter);
        cr_expect(fabs(wa - w) < 0.01, "%s: an accent does not change the width", letters[i]);
        cairo_surface_destroy(plain);
        cairo_surface_destroy(acc);
    }
}
