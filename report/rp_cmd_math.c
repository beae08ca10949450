/* clipbook math — typesets one formula, for development and for tests:
 *
 *   clipbook math [--inline] [--size PT] [--scale S] [--family F]
 *                 [--mathml | --dump | --out FILE.png|.pdf|.svg] 'TEX'
 *
 * --mathml and --dump print to stdout; --out draws the formula on a white
 * page with a small margin (PNG at --scale pixels per point, default 3).
 */
#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <cairo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rp_math.h"

int rp_cmd_math(int argc, char **argv);

static int usage(void) {
    fprintf(stderr, "usage: clipbook math [--inline] [--size PT] [--scale S] [--family F] "
                    "[--mathml | --dump | --out FILE.png|.pdf|.svg] 'TEX'\n");
    return 2;
}

int rp_cmd_math(int argc, char **argv) {
    int display = 1, mathml = 0, dump = 0;
    double size = 12, scale = 3;
    const char *family = "TeX Gyre Pagella", *out = NULL, *tex = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--inline")) display = 0;
        else if (!strcmp(a, "--mathml")) mathml = 1;
        else if (!strcmp(a, "--dump")) dump = 1;
        else if (!strcmp(a, "--size") && i + 1 < argc) size = atof(argv[++i]);
        else if (!strcmp(a, "--scale") && i + 1 < argc) scale = atof(argv[++i]);
        else if (!strcmp(a, "--family") && i + 1 < argc) family = argv[++i];
        else if (!strcmp(a, "--out") && i + 1 < argc) out = argv[++i];
        else if (a[0] == '-' && a[1] == '-') return usage();
        else if (!tex) tex = a;
        else return usage();
    }
    if (!tex || (!mathml && !dump && !out) || size <= 0 || scale <= 0) return usage();
    char err[256];
    rp_math *m = rp_math_parse(tex, display, err, sizeof err);
    if (!m) {
        fprintf(stderr, "clipbook math: %s\n", err);
        return 1;
    }
    int rc = 0;
    if (mathml || dump) {
        char *s = mathml ? rp_math_to_mathml(m) : rp_math_dump(m);
        printf("%s\n", s);
        free(s);
    }
    if (out) {
        cairo_surface_t *probe = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1);
        cairo_t *pc = cairo_create(probe);
        double w, a, d;
        rp_math_layout(m, pc, family, size, &w, &a, &d);
        cairo_destroy(pc);
        cairo_surface_destroy(probe);
        double margin = size / 2, W = w + 2 * margin, H = a + d + 2 * margin;
        const char *ext = strrchr(out, '.');
        cairo_surface_t *s;
        if (ext && !strcmp(ext, ".pdf")) s = cairo_pdf_surface_create(out, W, H), scale = 1;
        else if (ext && !strcmp(ext, ".svg")) s = cairo_svg_surface_create(out, W, H), scale = 1;
        else s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)(W * scale + 0.999), (int)(H * scale + 0.999));
        cairo_t *cr = cairo_create(s);
        cairo_scale(cr, scale, scale);
        cairo_set_source_rgb(cr, 1, 1, 1);
        cairo_paint(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        rp_math_draw(m, cr, margin, margin + a);
        cairo_destroy(cr);
        if (cairo_surface_get_type(s) == CAIRO_SURFACE_TYPE_IMAGE &&
            cairo_surface_write_to_png(s, out) != CAIRO_STATUS_SUCCESS) {
            fprintf(stderr, "clipbook math: cannot write %s\n", out);
            rc = 1;
        }
        cairo_surface_finish(s);
        if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
            fprintf(stderr, "clipbook math: cannot write %s\n", out);
            rc = 1;
        }
        cairo_surface_destroy(s);
    }
    rp_math_free(m);
    return rc;
}
