/* The study's formulas rendered at 3x and compared with the reference
 * picture beside this test (tests/math/ref/formulas.png), which a person
 * looked at. The rendering is also written to $BUILD/math_formulas.png.
 * The tolerance is tight on purpose: moving the hats of five letters by a
 * quarter em changes 0.03 % of the pixels.
 * RP_MATH_UPDATE_REF=1 rewrites the reference. */
#include <cairo.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "rp_math.h"

#define REF "tests/math/ref/formulas.png"

static const struct { const char *tex; int display; } formulas[] = {
    /* the contrastive loss of CLIP */
    {"\\mathrm{logits} = \\exp(t)\\cdot I_e\\,T_e^{\\top}, \\qquad "
     "\\mathcal{L} = \\frac{1}{2}\\left(\\mathrm{CE}_{\\text{rows}} + \\mathrm{CE}_{\\text{cols}}\\right)", 1},
    {"\\mathcal{L} = -\\frac{1}{2N}\\sum_{i=1}^{N}\\left[\\log\\frac{e^{s_{ii}/\\tau}}{\\sum_{j=1}^{N} e^{s_{ij}/\\tau}}"
     " + \\log\\frac{e^{s_{ii}/\\tau}}{\\sum_{j=1}^{N} e^{s_{ji}/\\tau}}\\right]", 1},
    {"\\mathcal{L} = \\frac{1}{2}\\Big(\\underbrace{\\mathrm{CE}(S, y)}_{\\text{image}\\to\\text{text}} + "
     "\\underbrace{\\mathrm{CE}(S^{\\top}, y)}_{\\text{text}\\to\\text{image}}\\Big)", 1},
    /* softmax and cross-entropy */
    {"\\hat{y}_i = \\mathrm{softmax}(z)_i = \\frac{\\exp(z_i)}{\\sum_{j} \\exp(z_j)}, \\qquad "
     "H(y, \\hat{y}) = -\\sum_{k=1}^{K} y_k \\log \\hat{y}_k", 1},
    /* the linear probe's objective */
    {"\\min_{W,\\,b}\\; C \\sum_{i=1}^{n} \\ell\\left(y_i, W x_i + b\\right) + \\frac{1}{2}\\|W\\|_2^2", 1},
    /* zero-shot classification by cosine similarity */
    {"\\cos(\\mathbf{u}, \\mathbf{v}) = \\frac{\\mathbf{u}^{\\top}\\mathbf{v}}{\\|\\mathbf{u}\\|\\,\\|\\mathbf{v}\\|},"
     " \\qquad \\hat{c} = \\operatorname*{argmax}_{c \\in \\{1,\\dots,C\\}} \\cos\\left(f(x), g(t_c)\\right)", 1},
    /* nested fractions, roots, Greek, accents, growing norms */
    {"\\sigma = \\sqrt{\\frac{1}{N}\\sum_{i=1}^{N}\\left(x_i - \\bar{x}\\right)^2}, \\quad "
     "\\frac{\\frac{a}{b}}{1 + \\frac{1}{x}}, \\quad \\left\\|\\frac{\\partial \\mathcal{L}}{\\partial W}\\right\\|_F"
     " \\le \\alpha\\beta\\gamma\\,\\Gamma\\Omega\\,\\boldsymbol{\\theta}", 1},
    /* environments */
    {"y = \\begin{cases} 1 & \\text{if } s_{ii} > \\max_{j \\ne i} s_{ij}, \\\\ 0 & \\text{otherwise,} \\end{cases}"
     " \\quad S = \\begin{pmatrix} s_{11} & \\cdots & s_{1N} \\\\ \\vdots & \\ddots & \\vdots \\\\ "
     "s_{N1} & \\cdots & s_{NN} \\end{pmatrix}", 1},
    /* text style: limits become scripts, fractions shrink */
    {"\\sum_{i=1}^{N} x_i \\text{ and } \\frac{a+b}{2} \\text{ inline, } \\max_{k} p_k, \\quad "
     "\\tilde{w} = (1-\\lambda) w_0 + \\lambda \\hat{w}", 0},
};
#define NF (sizeof formulas / sizeof formulas[0])

static cairo_surface_t *render(void) {
    const double size = 12, scale = 3, margin = 8, gap = 10;
    rp_math *m[NF];
    double w[NF], a[NF], d[NF], W = 0, H = margin;
    cairo_surface_t *probe = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1);
    cairo_t *pc = cairo_create(probe);
    for (size_t i = 0; i < NF; i++) {
        char err[256];
        m[i] = rp_math_parse(formulas[i].tex, formulas[i].display, err, sizeof err);
        cr_assert(m[i], "formula %zu: %s", i, err);
        rp_math_layout(m[i], pc, "TeX Gyre Pagella", size, &w[i], &a[i], &d[i]);
        W = fmax(W, w[i]);
        H += a[i] + d[i] + gap;
    }
    cairo_destroy(pc);
    cairo_surface_destroy(probe);
    W += 2 * margin;
    H += margin - gap;
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)ceil(W * scale), (int)ceil(H * scale));
    cairo_t *cr = cairo_create(s);
    cairo_scale(cr, scale, scale);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    double y = margin;
    for (size_t i = 0; i < NF; i++) {
        /* the layout box in light blue, to check extents by eye */
        cairo_set_source_rgb(cr, 0.85, 0.92, 1);
        cairo_rectangle(cr, margin, y, w[i], a[i] + d[i]);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        rp_math_draw(m[i], cr, margin, y + a[i]);
        y += a[i] + d[i] + gap;
        rp_math_free(m[i]);
    }
    cairo_destroy(cr);
    cairo_surface_flush(s);
    return s;
}

Test(math_render, study_formulas_match_reference) {
    cairo_surface_t *s = render();
    const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
    char out[512];
    snprintf(out, sizeof out, "%s/math_formulas.png", build);
    cairo_surface_write_to_png(s, out);
    if (getenv("RP_MATH_UPDATE_REF")) {
        cr_assert_eq(cairo_surface_write_to_png(s, REF), CAIRO_STATUS_SUCCESS);
        cr_log_warn("rewrote %s", REF);
    }
    cairo_surface_t *ref = cairo_image_surface_create_from_png(REF);
    cr_assert_eq(cairo_surface_status(ref), CAIRO_STATUS_SUCCESS, "cannot read %s", REF);
    int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s);
    int rw = cairo_image_surface_get_width(ref), rh = cairo_image_surface_get_height(ref);
    cr_assert(abs(w - rw) <= 3 && abs(h - rh) <= 3, "size %dx%d, reference %dx%d (see %s)", w, h, rw, rh, out);
    unsigned char *p = cairo_image_surface_get_data(s), *q = cairo_image_surface_get_data(ref);
    int ps = cairo_image_surface_get_stride(s), qs = cairo_image_surface_get_stride(ref);
    double sum = 0;
    long differ = 0, n = 0;
    int worst = 0;
    for (int y = 0; y < h && y < rh; y++)
        for (int x = 0; x < w && x < rw; x++, n++) {
            int diff = abs((int)p[y * ps + 4 * x + 1] - (int)q[y * qs + 4 * x + 1]); /* green channel */
            sum += diff;
            differ += diff > 64;
            if (diff > worst) worst = diff;
        }
    double mean = sum / n, frac = (double)differ / n;
    cr_log_info("%dx%d px: mean |diff| %.4f (tolerance 0.05), %.4f %% of pixels off by > 64 (tolerance 0.01 %%), "
                "worst %d",
                w, h, mean, 100 * frac, worst);
    cr_expect_lt(mean, 0.05, "mean difference %.3f; look at %s", mean, out);
    cr_expect_lt(frac, 0.0001, "%.3f %% of pixels differ; look at %s", 100 * frac, out);
    cairo_surface_destroy(ref);
    cairo_surface_destroy(s);
}
