/* fg_refline — horizontal reference lines (the zero-shot accuracy, chance)
 * for line and bar plots: a grey dashed line across the plot and its label,
 * put where it hides no data. */
#include "fg_internal.h"

/* Each reference-line label goes where it hides the least data: at the
 * right or left end, above or below its line. Its box then joins the ink,
 * so the legend keeps off it too. where[i]: bit 0 left, bit 1 below. */
void fg_hlines_place(cairo_t *cr, const fg_axes *a, const fg_spec *s, fg_ink *ink, int *where) {
    const fg_style *st = fg_style_get();
    for (int i = 0; i < s->n_hlines; i++) {
        where[i] = 0;
        double y = fg_scale_fwd(&a->y, fg_scale_t(a->y.kind, s->hlines[i].v));
        if (!s->hlines[i].label || !isfinite(y)) continue;
        double w, h;
        fg_text_size(cr, s->hlines[i].label, st->tick_size, 0, &w, &h);
        if (w > a->plot.w - 4) w = a->plot.w - 4;
        int best = 0, bestc = -1;
        for (int c = 0; c < 4; c++) {
            double x = (c & 1) ? a->plot.x + 2 : a->plot.x + a->plot.w - 2 - w;
            double ty = (c & 2) ? y + 1.5 : y - 1.5 - h;
            if (ty < a->plot.y - 1 || ty + h > a->plot.y + a->plot.h + 1) continue;   /* stay inside */
            int n = fg_ink_count(ink, x - 1, ty, w + 2, h);
            if (bestc < 0 || n < bestc) { bestc = n; best = c; }
        }
        where[i] = best;
        double x = (best & 1) ? a->plot.x + 2 : a->plot.x + a->plot.w - 2 - w;
        double ty = (best & 2) ? y + 1.5 : y - 1.5 - h;
        fg_ink_rect(ink, x, ty, w, h, 3);
    }
}

void fg_hlines_draw(cairo_t *cr, const fg_axes *a, const fg_spec *s, const int *where) {
    const fg_style *st = fg_style_get();
    for (int i = 0; i < s->n_hlines; i++) {
        double y = fg_scale_fwd(&a->y, fg_scale_t(a->y.kind, s->hlines[i].v));
        if (!isfinite(y) || y < a->plot.y || y > a->plot.y + a->plot.h) continue;
        cairo_save(cr);
        fg_set_rgb(cr, st->faint);
        cairo_set_line_width(cr, st->axis_w * 1.2);
        fg_set_dash(cr, s->hlines[i].dash >= 0 ? s->hlines[i].dash : 1, st->axis_w);
        cairo_move_to(cr, a->plot.x, y);
        cairo_line_to(cr, a->plot.x + a->plot.w, y);
        cairo_stroke(cr);
        if (s->hlines[i].label) {
            int left = where ? where[i] & 1 : 0, below = where ? where[i] & 2 : 0;
            fg_text_draw_bg(cr, s->hlines[i].label, st->tick_size, left ? a->plot.x + 2 : a->plot.x + a->plot.w - 2,
                            below ? y + 1.5 : y - 1.5, left ? 0 : 1, below ? 0 : 1, a->plot.w - 4);
        }
        cairo_restore(cr);
    }
}
