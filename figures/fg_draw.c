/* fg_draw — the entry points: draw a spec into a box (dispatching on its
 * kind), lay out panels, size figures, and render one to a file.
 *
 * fg_draw never creates a surface: the two entry points that render to
 * bytes make one each at the top and hand fg_draw its cairo_t, as kplot
 * does (fg_render_file here, choosing PDF, SVG or PNG from the file name;
 * fg_render_svg in fg_svg.c, SVG text in memory with prefixed ids). */
#include <stdlib.h>
#include <string.h>
#include <cairo-pdf.h>
#include <cairo-svg.h>

#include "fg_internal.h"

#define PNG_SCALE 2.0   /* pixels per point: 144 dpi previews */

static int panels_draw(cairo_t *cr, fg_box box, const fg_spec *s, char *err, size_t errlen);

static int draw_kind(cairo_t *cr, fg_box box, const fg_spec *s, char *err, size_t errlen) {
    switch (s->kind) {
    case FG_LINE:
    case FG_CURVE: return fg_line_draw(cr, box, s, err, errlen);
    case FG_BAR: return fg_bar_draw(cr, box, s, err, errlen);
    case FG_HEATMAP: return fg_heatmap_draw(cr, box, s, err, errlen);
    case FG_IMAGE_GRID:
    case FG_MASK_OVERLAY: return fg_grid_draw(cr, box, s, err, errlen);
    case FG_PANELS: return panels_draw(cr, box, s, err, errlen);
    default: break;
    }
    fg_err(err, errlen, "unknown figure kind");
    fg_mark_draw(cr, box, "cannot draw this figure");
    return -1;
}

int fg_draw(cairo_t *cr, fg_box box, const fg_spec *s, char *err, size_t errlen) {
    if (err && errlen) err[0] = 0;
    if (!cr || cairo_status(cr) != CAIRO_STATUS_SUCCESS) { fg_err(err, errlen, "no cairo context"); return -1; }
    if (!s) {
        fg_err(err, errlen, "no figure spec");
        fg_mark_draw(cr, box, "cannot draw: no figure spec");
        return -1;
    }
    if (!(box.w > 20 && box.h > 20) || !isfinite(box.x + box.y + box.w + box.h)) {
        fg_err(err, errlen, "figure box %.0fx%.0f pt is too small", box.w, box.h);
        return -1;
    }
    cairo_save(cr);
    cairo_new_path(cr);
    int rc = draw_kind(cr, box, s, err, errlen);
    cairo_restore(cr);
    return rc;
}

double fg_spec_aspect(const fg_spec *s) {
    if (!s) return 0.62;
    if (s->aspect > 0) return s->aspect;
    switch (s->kind) {
    case FG_HEATMAP: {
        if (s->rows <= 0 || s->cols <= 0) return 0.62;
        /* square cells, plus room for labels and the colour bar */
        double a = (double)s->rows / s->cols * 0.78 + 0.12;
        return a < 0.35 ? 0.35 : a > 1.4 ? 1.4 : a;
    }
    case FG_IMAGE_GRID:
    case FG_MASK_OVERLAY: return fg_grid_aspect(s);
    case FG_PANELS: {
        int cols = s->panel_cols > 0 ? s->panel_cols : 1, n = s->n_panels;
        if (n == 0) return 0.3;
        double h = 0;   /* in units of the figure width */
        for (int r = 0; r * cols < n; r++) {
            double m = 0;
            for (int c = 0; c < cols && r * cols + c < n; c++) {
                double a = fg_spec_aspect(s->panels[r * cols + c]);
                if (a > m) m = a;
            }
            h += m / cols + 0.035;   /* the (a) label row */
        }
        return h < 0.1 ? 0.1 : h > 3 ? 3 : h;
    }
    default: return 0.62;
    }
}

static int panels_draw(cairo_t *cr, fg_box box, const fg_spec *s, char *err, size_t errlen) {
    const fg_style *st = fg_style_get();
    int n = s->n_panels, cols = s->panel_cols > 0 ? s->panel_cols : 1;
    if (n == 0) { fg_mark_draw(cr, box, "no panels"); return 0; }
    int rows = (n + cols - 1) / cols;
    double lh = 0;
    if (s->panel_labels) fg_text_size(cr, "(a)", st->size, 0, NULL, &lh);
    /* Row heights follow the tallest panel of each row, scaled to fit. */
    double want[64], tot = 0, cw = box.w / cols;
    for (int r = 0; r < rows; r++) {
        want[r] = 0;
        for (int c = 0; c < cols && r * cols + c < n; c++) {
            double a = fg_spec_aspect(s->panels[r * cols + c]) * cw;
            if (a > want[r]) want[r] = a;
        }
        want[r] += lh;
        tot += want[r];
    }
    double k = tot > 0 ? box.h / tot : 1;
    int rc = 0;
    double y = box.y;
    for (int r = 0; r < rows; r++) {
        double rh = want[r] * k;
        for (int c = 0; c < cols && r * cols + c < n; c++) {
            int i = r * cols + c;
            fg_box cb = { box.x + c * cw, y, cw, rh };
            if (s->panel_labels) {
                char lab[16];
                if (i < 26) snprintf(lab, sizeof lab, "(%c)", 'a' + i);
                else snprintf(lab, sizeof lab, "(%d)", i + 1);
                cairo_save(cr);
                fg_set_rgb(cr, st->ink);
                fg_text_draw(cr, lab, st->size, 1, 0, cb.x + 1, cb.y, 0, 0, 0);
                cairo_restore(cr);
                cb.y += lh; cb.h -= lh;
            }
            cb.x += 3; cb.w -= 6;   /* a gutter between neighbours */
            char sub[256] = "";
            if (fg_draw(cr, cb, s->panels[i], sub, sizeof sub) != 0 && !rc) {
                fg_err(err, errlen, "panel %d: %s", i + 1, sub);
                rc = -1;
            }
        }
        y += rh;
    }
    return rc;
}

static int ends_with(const char *s, const char *e) {
    size_t a = strlen(s), b = strlen(e);
    return a >= b && !strcasecmp(s + a - b, e);
}

int fg_render_file(const fg_spec *spec, const char *path, double width_pt, double height_pt,
                   char *err, size_t errlen) {
    if (err && errlen) err[0] = 0;
    if (!spec || !path) { fg_err(err, errlen, "no spec or no path"); return -1; }
    if (!(width_pt > 0)) width_pt = 390;
    if (width_pt > 5000) width_pt = 5000;
    if (!(height_pt > 0)) height_pt = width_pt * fg_spec_aspect(spec);
    if (height_pt > 5000) height_pt = 5000;
    if (height_pt < 30) height_pt = 30;
    cairo_surface_t *surf;
    int png = 0;
    if (ends_with(path, ".pdf")) surf = cairo_pdf_surface_create(path, width_pt, height_pt);
    else if (ends_with(path, ".svg")) surf = cairo_svg_surface_create(path, width_pt, height_pt);
    else if (ends_with(path, ".png")) {
        png = 1;
        surf = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, (int)ceil(width_pt * PNG_SCALE), (int)ceil(height_pt * PNG_SCALE));
    } else {
        fg_err(err, errlen, "%s: unknown output type (use .pdf, .svg or .png)", path);
        return -1;
    }
    if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
        fg_err(err, errlen, "%s: %s", path, cairo_status_to_string(cairo_surface_status(surf)));
        cairo_surface_destroy(surf);
        return -1;
    }
    cairo_t *cr = cairo_create(surf);
    if (png) {
        cairo_set_source_rgb(cr, 1, 1, 1);   /* previews on white, like the page */
        cairo_paint(cr);
        cairo_scale(cr, PNG_SCALE, PNG_SCALE);
    }
    int rc = fg_draw(cr, (fg_box){ 0, 0, width_pt, height_pt }, spec, err, errlen);
    cairo_destroy(cr);
    if (png) {
        cairo_status_t st = cairo_surface_write_to_png(surf, path);
        if (st != CAIRO_STATUS_SUCCESS) {
            fg_err(err, errlen, "%s: %s", path, cairo_status_to_string(st));
            rc = -1;
        }
    } else {
        cairo_surface_finish(surf);
        if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
            fg_err(err, errlen, "%s: %s", path, cairo_status_to_string(cairo_surface_status(surf)));
            rc = -1;
        }
    }
    cairo_surface_destroy(surf);
    return rc;
}
