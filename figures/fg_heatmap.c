/* fg_heatmap — a matrix as coloured cells (a confusion or similarity
 * matrix), with row and column labels, a colour bar and, when the cells
 * are large enough, their values.
 *
 * The cells are one small image scaled by nearest neighbour: crisp edges,
 * no hairline seams between neighbouring rectangles in PDF viewers, and a
 * 100×100 matrix costs one image, not 10,000 paths. */
#include <stdlib.h>
#include <string.h>

#include "fg_internal.h"

/* Position of v in [vmin, vmax]; halves keep ±1e308 spans finite. */
static double unit(double v, double vmin, double vmax, int flat) {
    if (flat) return 0.5;
    double d = vmax - vmin;
    return isfinite(d) ? (v - vmin) / d : (v / 2 - vmin / 2) / (vmax / 2 - vmin / 2);
}

static int auto_digits(const fg_spec *s, double vmin, double vmax) {
    int integral = 1;
    for (int i = 0; i < s->rows * s->cols; i++) {
        double v = s->cells[i];
        if (isfinite(v) && v != round(v)) { integral = 0; break; }
    }
    if (integral) return 0;
    double m = fmax(fabs(vmin), fabs(vmax));
    return m >= 100 ? 0 : m >= 10 ? 1 : 2;
}

int fg_heatmap_draw(cairo_t *cr, fg_box box, const fg_spec *s, char *err, size_t errlen) {
    const fg_style *st = fg_style_get();
    int R = s->rows, C = s->cols;
    double vmin = INFINITY, vmax = -INFINITY;
    for (int i = 0; i < R * C; i++)
        if (isfinite(s->cells[i])) { vmin = fmin(vmin, s->cells[i]); vmax = fmax(vmax, s->cells[i]); }
    if (R <= 0 || C <= 0 || !isfinite(vmin)) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s%sno data", s->title ? s->title : "", s->title ? ": " : "");
        fg_mark_draw(cr, box, msg);
        return 0;
    }
    if (s->cmap == FG_CMAP_DIVERGING && !isfinite(s->vmin) && !isfinite(s->vmax)) {
        double m = fmax(fabs(vmin), fabs(vmax));
        vmin = -m; vmax = m;   /* white is zero */
    }
    if (isfinite(s->vmin)) vmin = s->vmin;
    if (isfinite(s->vmax)) vmax = s->vmax;
    if (vmax < vmin) { double t = vmin; vmin = vmax; vmax = t; }
    /* a span too small to divide by: every cell gets the middle colour */
    int flat = !(vmax - vmin > 1e-12 * fmax(fabs(vmin), fabs(vmax)));

    cairo_save(cr);
    double th, lh;
    fg_text_size(cr, "Ag", st->size, 0, NULL, &th);
    fg_text_size(cr, "Ag", st->tick_size, 0, NULL, &lh);
    double top = (s->title && *s->title) ? th + st->pad + 2 : 0;
    top += lh / 2;
    double left = 0, rowlw = 0, collw = 0;
    for (int r = 0; r < R && s->row_labels; r++) {
        double w;
        fg_text_size(cr, s->row_labels[r], st->tick_size, 0, &w, NULL);
        rowlw = fmax(rowlw, w);
    }
    for (int c = 0; c < C && s->col_labels; c++) {
        double w;
        fg_text_size(cr, s->col_labels[c], st->tick_size, 0, &w, NULL);
        collw = fmax(collw, w);
    }
    if (rowlw > box.w * 0.3) rowlw = box.w * 0.3;
    if (collw > box.h * 0.3) collw = box.h * 0.3;
    if (s->y_label && *s->y_label) left += th + st->pad;
    if (s->row_labels) left += rowlw + st->pad;
    double cbw = s->colorbar ? fg_colorbar_width(cr, box.h * 0.6, vmin, vmax, s->cbar_label) + 8 : 0;
    double xt = (s->x_label && *s->x_label) ? th + st->pad : 0;

    /* First guess of the cell size, to decide whether column labels fit
     * upright, then rotated, then only every k-th. */
    double aw = box.w - left - cbw - 4, ah = box.h - top - xt - lh - st->pad;
    double cs = fmin(aw / C, ah / R);
    int rot = 0, skip = 1;
    double bottom = xt;
    if (s->col_labels) {
        if (collw + 3 > cs) {
            rot = 1;
            bottom += collw * 0.7071 + lh * 0.7071 + st->pad;
            while (skip < C && cs * skip < lh * 1.3) skip++;
        } else bottom += lh + st->pad;
    }
    ah = box.h - top - bottom;
    double cw = aw / C, ch = ah / R;
    double side = fmin(cw, ch);   /* square cells unless the box forbids */
    if (cw > side * 1.6) cw = side * 1.6;
    if (ch > side * 1.6) ch = side * 1.6;
    if (cw < 0.5) cw = 0.5;
    if (ch < 0.5) ch = 0.5;
    double gw = C * cw, gh = R * ch;
    double x0 = box.x + left + (aw - gw) / 2, y0 = box.y + top;
    int rskip = 1;
    while (rskip < R && ch * rskip < lh * 1.05) rskip++;

    /* the cells */
    cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, C, R);
    int rc = 0;
    if (cairo_surface_status(img) == CAIRO_STATUS_SUCCESS) {
        cairo_surface_flush(img);
        unsigned char *d = cairo_image_surface_get_data(img);
        int stride = cairo_image_surface_get_stride(img);
        for (int r = 0; r < R; r++)
            for (int c = 0; c < C; c++) {
                double v = s->cells[(size_t)r * C + c];
                fg_rgb k = isfinite(v) ? fg_cmap_at(s->cmap, unit(v, vmin, vmax, flat)) : (fg_rgb){ 0.85, 0.85, 0.85 };
                *(uint32_t *)(d + r * stride + c * 4) = 0xff000000u | ((unsigned)lround(k.r * 255) << 16)
                                                        | ((unsigned)lround(k.g * 255) << 8) | (unsigned)lround(k.b * 255);
            }
        cairo_surface_mark_dirty(img);
        fg_image_paint(cr, img, C, R, (fg_box){ x0, y0, gw, gh });
    } else {
        fg_err(err, errlen, "heatmap: cannot make a %dx%d image", C, R);
        rc = -1;
    }
    cairo_surface_destroy(img);

    /* values in the cells, when they fit */
    int digits = s->digits >= 0 ? s->digits : auto_digits(s, vmin, vmax);
    int show = s->cell_values == 1 || (s->cell_values == -1 && R * C <= 400);
    double vs = fmin(st->tick_size, ch * 0.55);
    if (show && vs >= 4) {
        for (int r = 0; r < R; r++)
            for (int c = 0; c < C; c++) {
                double v = s->cells[(size_t)r * C + c];
                if (!isfinite(v)) continue;
                char b[64];
                if (fabs(v) >= 1e6) snprintf(b, sizeof b, "%.3g", v);   /* 1e308 is not 309 digits */
                else snprintf(b, sizeof b, "%.*f", digits, v);
                if (b[0] == '-' && strlen(b) + 3 < sizeof b) {
                    memmove(b + 3, b + 1, strlen(b));
                    memcpy(b, "\xe2\x88\x92", 3);
                }
                double w;
                fg_text_size(cr, b, vs, 0, &w, NULL);
                if (w > cw * 0.92) continue;
                fg_rgb k = fg_cmap_at(s->cmap, unit(v, vmin, vmax, flat));
                double lum = 0.2126 * k.r + 0.7152 * k.g + 0.0722 * k.b;
                if (lum < 0.5) cairo_set_source_rgb(cr, 1, 1, 1);
                else fg_set_rgb(cr, st->ink);
                fg_text_draw(cr, b, vs, 0, 0, x0 + (c + 0.5) * cw, y0 + (r + 0.5) * ch, 0.5, 0.5, 0);
            }
    }

    fg_set_rgb(cr, st->ink);
    for (int r = 0; r < R && s->row_labels; r += rskip)
        fg_text_draw_max(cr, s->row_labels[r], st->tick_size, 0, 0, x0 - st->pad, y0 + (r + 0.5) * ch, 1, 0.5, 0, rowlw);
    for (int c = 0; c < C && s->col_labels; c += skip) {
        double x = x0 + (c + 0.5) * cw, y = y0 + gh + st->pad;
        if (rot) fg_text_draw_max(cr, s->col_labels[c], st->tick_size, 0, 0, x + lh * 0.3, y, 1, 0.5, -M_PI / 4, collw);
        else fg_text_draw_max(cr, s->col_labels[c], st->tick_size, 0, 0, x, y, 0.5, 0, 0, collw);
    }
    if (s->x_label && *s->x_label)
        fg_text_draw(cr, s->x_label, st->size, 0, 0, x0 + gw / 2, fmin(box.y + box.h, y0 + gh + bottom), 0.5, 1, 0);
    if (s->y_label && *s->y_label)
        fg_text_draw(cr, s->y_label, st->size, 0, 0, box.x, y0 + gh / 2, 0.5, 0, -M_PI / 2);
    if (s->title && *s->title)
        fg_text_draw(cr, s->title, st->size * 1.05, 0, 0, x0 + gw / 2, box.y, 0.5, 0, 0);
    if (s->colorbar) {
        fg_box cb = { x0 + gw + 8, y0, 9, gh };
        fg_colorbar_draw(cr, cb, s->cmap, vmin, flat ? vmin : vmax, s->cbar_label);
    }
    cairo_restore(cr);
    return rc;
}
