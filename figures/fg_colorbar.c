/* fg_colorbar — the key of a heatmap: a vertical gradient with ticks on its
 * right and an optional rotated label. The gradient is a vector pattern,
 * so the PDF holds no raster for it. */
#include "fg_internal.h"

#define BAR_W 9.0

static void cbar_ticks(fg_ticks *t, double vmin, double vmax, double h) {
    int m = (int)(h / 32) + 1;
    fg_ticks_make(t, FG_SCALE_LINEAR, vmin, vmax, m < 2 ? 2 : m, 0);
}

double fg_colorbar_width(cairo_t *cr, double h, double vmin, double vmax, const char *label) {
    const fg_style *st = fg_style_get();
    fg_ticks t;
    cbar_ticks(&t, vmin, vmax, h);
    double wm = 0, th = 0;
    for (int i = 0; i < t.n; i++) {
        double w;
        fg_text_size(cr, t.label[i], st->tick_size, 1, &w, NULL);
        if (w > wm) wm = w;
    }
    if ((label && *label) || *t.suffix) fg_text_size(cr, "Ag", st->size, 0, NULL, &th);
    return BAR_W + st->tick_len + st->pad + wm + (th > 0 ? st->pad + th : 0);
}

void fg_colorbar_draw(cairo_t *cr, fg_box b, fg_cmap m, double vmin, double vmax, const char *label) {
    const fg_style *st = fg_style_get();
    cairo_save(cr);
    cairo_pattern_t *g = cairo_pattern_create_linear(0, b.y + b.h, 0, b.y);
    for (int i = 0; i <= 32; i++) {
        fg_rgb c = fg_cmap_at(m, i / 32.0);
        cairo_pattern_add_color_stop_rgb(g, i / 32.0, c.r, c.g, c.b);
    }
    cairo_rectangle(cr, b.x, b.y, BAR_W, b.h);
    cairo_set_source(cr, g);
    cairo_fill(cr);
    cairo_pattern_destroy(g);

    fg_ticks t;
    int flat = !(vmax > vmin);
    if (flat) {
        t.n = 1; t.v[0] = vmin; t.suffix[0] = 0;
        fg_ticks_format(t.label[0], sizeof t.label[0], vmin, fabs(vmin) > 0 ? fabs(vmin) / 100 : 1);
    } else cbar_ticks(&t, vmin, vmax, b.h);
    fg_set_rgb(cr, st->ink);
    cairo_set_line_width(cr, st->axis_w);
    double wm = 0;
    for (int i = 0; i < t.n; i++) {
        double d = vmax - vmin;
        double u = flat ? 0.5 : isfinite(d) ? (t.v[i] - vmin) / d : (t.v[i] / 2 - vmin / 2) / (vmax / 2 - vmin / 2);
        if (!(u >= -1e-9 && u <= 1 + 1e-9)) continue;
        double y = b.y + b.h - u * b.h;
        cairo_move_to(cr, b.x + BAR_W, y);
        cairo_line_to(cr, b.x + BAR_W + st->tick_len, y);
        cairo_stroke(cr);
        fg_text_draw(cr, t.label[i], st->tick_size, 0, 1, b.x + BAR_W + st->tick_len + st->pad, y, 0, 0.5, 0);
        double w;
        fg_text_size(cr, t.label[i], st->tick_size, 1, &w, NULL);
        if (w > wm) wm = w;
    }
    if ((label && *label) || *t.suffix) {
        char *e = g_markup_escape_text(label ? label : "", -1);
        char *s = g_strconcat(e, t.suffix, NULL);
        double x = b.x + BAR_W + st->tick_len + st->pad + wm + st->pad;
        fg_text_draw(cr, s, st->size, 0, 1, x, b.y + b.h / 2, 0.5, 0, -M_PI / 2);
        g_free(s); g_free(e);
    }
    cairo_restore(cr);
}
