/* fg_band — a spread band (mean ± sd, min..max) behind a series, and the
 * series markers. Bands break at missing values like lines do. */
#include "fg_internal.h"

static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

void fg_band_draw(cairo_t *cr, const fg_axes *a, const fg_vec *x, const fg_vec *lo,
                  const fg_vec *hi, fg_rgb c, double alpha) {
    int n = x->n;
    if (lo->n < n) n = lo->n;
    if (hi->n < n) n = hi->n;
    if (n < 1) return;
    cairo_save(cr);
    fg_box p = a->plot;
    cairo_rectangle(cr, p.x, p.y, p.w, p.h);
    cairo_clip(cr);
    fg_set_rgba(cr, c, alpha);
    /* Coordinates are clamped a little outside the plot: cairo's fixed
     * point cannot hold 1e300, and the clip hides the difference. */
    double X0 = p.x - 50, X1 = p.x + p.w + 50, Y0 = p.y - 50, Y1 = p.y + p.h + 50;
    int i = 0;
    while (i < n) {
        int ok;
        /* one run of consecutive valid points */
        while (i < n) {
            ok = isfinite(fg_scale_fwd(&a->x, x->v[i])) && isfinite(fg_scale_fwd(&a->y, lo->v[i]))
                 && isfinite(fg_scale_fwd(&a->y, hi->v[i]));
            if (ok) break;
            i++;
        }
        int j = i;
        while (j < n && isfinite(fg_scale_fwd(&a->x, x->v[j])) && isfinite(fg_scale_fwd(&a->y, lo->v[j]))
               && isfinite(fg_scale_fwd(&a->y, hi->v[j]))) j++;
        if (j - i >= 1) {
            double w1 = j - i == 1 ? 2.0 : 0.0;   /* a lone point: a short bar */
            for (int k = i; k < j; k++) {
                double px = clampd(fg_scale_fwd(&a->x, x->v[k]), X0, X1);
                double py = clampd(fg_scale_fwd(&a->y, hi->v[k]), Y0, Y1);
                if (k == i) cairo_move_to(cr, px - w1, py);
                else cairo_line_to(cr, px, py);
                if (w1 > 0) cairo_line_to(cr, px + w1, py);
            }
            for (int k = j - 1; k >= i; k--) {
                double px = clampd(fg_scale_fwd(&a->x, x->v[k]), X0, X1);
                double py = clampd(fg_scale_fwd(&a->y, lo->v[k]), Y0, Y1);
                if (w1 > 0) cairo_line_to(cr, px + w1, py);
                cairo_line_to(cr, px - w1, py);
            }
            cairo_close_path(cr);
            cairo_fill(cr);
        }
        i = j;
    }
    cairo_restore(cr);
}

/* Markers: filled shapes with a thin white rim, so they stay apart where
 * series cross. Distinct shapes keep series apart in grey print too. */
void fg_marker_draw(cairo_t *cr, int marker, double x, double y, double r, fg_rgb c) {
    if (marker <= 0 || !isfinite(x) || !isfinite(y)) return;
    cairo_save(cr);
    cairo_new_path(cr);
    switch ((marker - 1) % (FG_MARK_COUNT - 1) + 1) {
    case FG_MARK_SQUARE: { double s = r * 0.9; cairo_rectangle(cr, x - s, y - s, 2 * s, 2 * s); break; }
    case FG_MARK_TRIANGLE: {
        double s = r * 1.25;
        cairo_move_to(cr, x, y - s);
        cairo_line_to(cr, x + s * 0.866, y + s * 0.5);
        cairo_line_to(cr, x - s * 0.866, y + s * 0.5);
        cairo_close_path(cr);
        break;
    }
    case FG_MARK_DIAMOND: {
        double s = r * 1.2;
        cairo_move_to(cr, x, y - s); cairo_line_to(cr, x + s, y);
        cairo_line_to(cr, x, y + s); cairo_line_to(cr, x - s, y);
        cairo_close_path(cr);
        break;
    }
    default: cairo_arc(cr, x, y, r, 0, 2 * M_PI); break;
    }
    fg_set_rgb(cr, c);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_set_line_width(cr, 0.5);
    cairo_set_dash(cr, NULL, 0, 0);
    cairo_stroke(cr);
    cairo_restore(cr);
}

/* Liang–Barsky: clip a segment to box b; 0 when nothing is left. */
int fg_clip_segment(fg_box b, double *x0, double *y0, double *x1, double *y1) {
    double t0 = 0, t1 = 1, dx = *x1 - *x0, dy = *y1 - *y0;
    double p[4] = { -dx, dx, -dy, dy };
    double q[4] = { *x0 - b.x, b.x + b.w - *x0, *y0 - b.y, b.y + b.h - *y0 };
    for (int i = 0; i < 4; i++) {
        if (p[i] == 0) {
            if (q[i] < 0) return 0;
        } else {
            double t = q[i] / p[i];
            if (p[i] < 0) { if (t > t1) return 0; if (t > t0) t0 = t; }
            else { if (t < t0) return 0; if (t < t1) t1 = t; }
        }
    }
    double ax = *x0 + t0 * dx, ay = *y0 + t0 * dy, bx = *x0 + t1 * dx, by = *y0 + t1 * dy;
    if (!isfinite(ax) || !isfinite(ay) || !isfinite(bx) || !isfinite(by)) return 0;
    *x0 = ax; *y0 = ay; *x1 = bx; *y1 = by;
    return 1;
}
