/* fg_grid — image grids and mask overlays: rows × columns of pictures with
 * row and column titles; a mask overlay is a grid whose mask cells were
 * blended at parse time, plus a legend of the classes.
 *
 * Cells keep the pictures' aspect and are as large as the box allows; a
 * picture that could not be loaded becomes a marked cell, and the figure
 * reports it. */
#include <stdlib.h>
#include <string.h>

#include "fg_internal.h"

/* Text fitted into a width: ellipsized rather than spilling into the
 * neighbour's cell. */
static void text_fit(cairo_t *cr, const char *t, double size, double x, double y, double maxw,
                     double ax, double ay) {
    if (!t || !*t || maxw <= 4) return;
    cairo_save(cr);
    PangoLayout *l = fg_text_layout(cr, t, size, 0, 0);
    pango_layout_set_width(l, (int)(maxw * PANGO_SCALE));
    pango_layout_set_ellipsize(l, PANGO_ELLIPSIZE_END);
    PangoRectangle lr;
    pango_layout_get_extents(l, NULL, &lr);
    double w = (double)lr.width / PANGO_SCALE, h = (double)lr.height / PANGO_SCALE;
    cairo_move_to(cr, x - ax * w - (double)lr.x / PANGO_SCALE, y - ay * h);
    pango_cairo_show_layout(cr, l);
    g_object_unref(l);
    cairo_restore(cr);
}

static double cell_aspect(const fg_spec *s) {
    for (int i = 0; i < s->img_rows * s->img_cols; i++)
        if (s->images[i].surf) {
            /* a 3000×1 strip still gets a visible cell */
            double a = (double)s->images[i].h / s->images[i].w;
            return a < 0.05 ? 0.05 : a > 20 ? 20 : a;
        }
    return 1.0;
}

double fg_grid_aspect(const fg_spec *s) {
    if (s->img_rows <= 0 || s->img_cols <= 0) return 0.3;
    double W = 390, ah = cell_aspect(s);
    double left = s->n_row_titles ? 60 : 0;
    double top = (s->n_col_titles ? 13 : 0) + (s->title ? 14 : 0);
    double bottom = s->kind == FG_MASK_OVERLAY && s->n_classes ? 16 : 0;
    double cw = (W - left - s->gap * (s->img_cols - 1)) / s->img_cols;
    if (cw > 160) cw = 160;   /* a single picture should not fill a page */
    double h = top + s->img_rows * cw * ah + s->gap * (s->img_rows - 1) + bottom;
    double a = h / W;
    return a < 0.1 ? 0.1 : a > 3 ? 3 : a;
}

int fg_grid_draw(cairo_t *cr, fg_box box, const fg_spec *s, char *err, size_t errlen) {
    const fg_style *st = fg_style_get();
    int R = s->img_rows, C = s->img_cols;
    int any = 0;
    for (int i = 0; i < R * C; i++) any |= s->images[i].surf != NULL || s->images[i].err != NULL;
    if (R <= 0 || C <= 0 || !any) {
        fg_mark_draw(cr, box, "no images");
        return 0;
    }
    cairo_save(cr);
    double th;
    fg_text_size(cr, "Ag", st->tick_size, 0, NULL, &th);
    double top = 0, left = 0, bottom = 0;
    if (s->title && *s->title) top += th + st->pad + 2;
    double title_y = box.y;
    if (s->n_col_titles) top += th + st->pad;
    if (s->n_row_titles) {
        for (int r = 0; r < s->n_row_titles && r < R; r++) {
            double w;
            fg_text_size(cr, s->row_titles[r], st->tick_size, 0, &w, NULL);
            if (w > left) left = w;
        }
        if (left > box.w * 0.3) left = box.w * 0.3;
        left += st->pad + 1;
    }
    fg_legend_item items[64];
    int nit = 0;
    double lw = 0, lh = 0;
    if (s->kind == FG_MASK_OVERLAY) {
        nit = fg_mask_legend_items(s, items, 64);
        if (nit) {
            fg_legend_size(cr, items, nit, 1, box.w, &lw, &lh);
            bottom = lh + 2;
        }
    }
    double right = 0;
    double g = s->gap, ah = cell_aspect(s);
    double aw = box.w - left - right - g * (C - 1), avh = box.h - top - bottom - g * (R - 1);
    double cw = aw / C;
    if (cw * ah > avh / R) cw = avh / R / ah;
    if (cw < 1) cw = 1;
    double ch = cw * ah;
    double gw = C * cw + (C - 1) * g;
    double x0 = box.x + left + (box.w - left - right - gw) / 2, y0 = box.y + top;

    if (s->title && *s->title) {
        fg_set_rgb(cr, st->ink);
        fg_text_draw(cr, s->title, st->size * 1.05, 0, 0, x0 + gw / 2, title_y, 0.5, 0, 0);
    }
    int rc = 0;
    fg_set_rgb(cr, st->ink);
    for (int c = 0; c < C && c < s->n_col_titles; c++)
        text_fit(cr, s->col_titles[c], st->tick_size, x0 + c * (cw + g) + cw / 2, y0 - st->pad, cw + g, 0.5, 1);
    for (int r = 0; r < R && r < s->n_row_titles; r++)
        text_fit(cr, s->row_titles[r], st->tick_size, x0 - st->pad, y0 + r * (ch + g) + ch / 2, left - st->pad, 1, 0.5);
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) {
            const fg_image *im = &s->images[r * C + c];
            fg_box cb = { x0 + c * (cw + g), y0 + r * (ch + g), cw, ch };
            if (im->err) {
                if (!rc) fg_err(err, errlen, "%s", im->err);
                rc = -1;
                fg_mark_draw(cr, cb, "missing");
                continue;
            }
            if (!im->surf) continue;
            fg_image_draw(cr, cb, im);
            /* a hairline frame: white pictures still have an edge */
            cairo_rectangle(cr, cb.x, cb.y, cb.w, cb.h);
            fg_set_rgba(cr, st->ink, 0.25);
            cairo_set_line_width(cr, 0.3);
            cairo_stroke(cr);
        }
    if (nit) fg_legend_draw(cr, items, nit, fmax(box.x, x0 + (gw - lw) / 2), y0 + R * ch + (R - 1) * g + 1, 1, box.w, 0);
    cairo_restore(cr);
    return rc;
}
