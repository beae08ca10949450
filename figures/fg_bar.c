/* fg_bar — grouped bar charts with error bars: one group per category, one
 * bar per series inside it, bars from zero (or from the bottom of a log
 * axis), and an optional value above each bar. */
#include <stdlib.h>
#include <string.h>

#include "fg_internal.h"

#define GROUP_W 0.8

static double err_lo(const fg_series *se, int j) {
    if (se->lo.n > j) return se->lo.v[j];
    if (se->err.n > j) return se->y.v[j] - se->err.v[j];
    return NAN;
}
static double err_hi(const fg_series *se, int j) {
    if (se->hi.n > j) return se->hi.v[j];
    if (se->err.n > j) return se->y.v[j] + se->err.v[j];
    return NAN;
}

/* The bars (with their error bars and value labels) as ink, so legends
 * and reference-line labels keep off them. */
static void bar_ink(fg_ink *ink, const fg_axes *A, const fg_spec *s, int ncat, double bw, double base) {
    double vh = s->bar_values ? fg_style_get()->tick_size * 1.3 : 0;
    for (int i = 0; i < s->n_series; i++)
        for (int j = 0; j < s->series[i].y.n && j < ncat; j++) {
            double x0 = fg_scale_fwd(&A->x, j - GROUP_W / 2 + i * bw), x1 = fg_scale_fwd(&A->x, j - GROUP_W / 2 + (i + 1) * bw);
            double y0 = fg_scale_fwd(&A->y, base);
            double y1 = fg_scale_fwd(&A->y, fg_scale_t(s->y_scale, s->series[i].y.v[j]));
            double e1 = fg_scale_fwd(&A->y, fg_scale_t(s->y_scale, err_hi(&s->series[i], j)));
            if (isfinite(e1)) y1 = y0 > y1 ? fmin(y1, e1) : fmax(y1, e1);
            if (!isfinite(y1)) continue;
            y1 += y1 < y0 ? -vh : vh;
            y1 = fmax(A->plot.y - 5, fmin(A->plot.y + A->plot.h + 5, y1));
            fg_ink_rect(ink, x0, fmin(y0, y1), x1 - x0, fabs(y1 - y0), 3);
        }
}

static int bar_body(cairo_t *cr, fg_box box, const fg_spec *s, char *err, size_t errlen) {
    const fg_style *st = fg_style_get();
    int ncat = s->n_x_cats;
    for (int i = 0; i < s->n_series && !s->x_cats; i++)
        if (s->series[i].y.n > ncat) ncat = s->series[i].y.n;
    if (ncat > FG_MAX_TICKS) ncat = FG_MAX_TICKS;
    int ns = s->n_series;
    double ylo = INFINITY, yhi = -INFINITY;
    for (int i = 0; i < ns; i++) {
        const fg_series *se = &s->series[i];
        for (int j = 0; j < se->y.n && j < ncat; j++) {
            double v[3] = { se->y.v[j], err_lo(se, j), err_hi(se, j) };
            for (int q = 0; q < 3; q++) {
                double t = fg_scale_t(s->y_scale, v[q]);
                if (isfinite(t) && (q == 0 || isfinite(fg_scale_t(s->y_scale, v[0])))) { ylo = fmin(ylo, t); yhi = fmax(yhi, t); }
            }
        }
    }
    if (ncat == 0 || ns == 0 || !isfinite(ylo)) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s%sno data", s->title ? s->title : "", s->title ? ": " : "");
        fg_mark_draw(cr, box, msg);
        return 0;
    }
    for (int i = 0; i < s->n_hlines; i++) {
        double y = fg_scale_t(s->y_scale, s->hlines[i].v);
        if (isfinite(y)) { ylo = fmin(ylo, y); yhi = fmax(yhi, y); }
    }
    if (s->y_scale == FG_SCALE_LINEAR) {   /* bars start at zero: show it */
        ylo = fmin(ylo, 0); yhi = fmax(yhi, 0);
    }
    int from_zero_lo = s->y_scale == FG_SCALE_LINEAR && ylo == 0 && !isfinite(s->y_min);
    int from_zero_hi = s->y_scale == FG_SCALE_LINEAR && yhi == 0 && !isfinite(s->y_max);
    fg_range_finish(s->y_scale, &ylo, &yhi, from_zero_lo ? 0 : s->y_min, from_zero_hi ? 0 : s->y_max, 0.05);
    if (from_zero_lo && isfinite(s->y_min)) ylo = s->y_min;

    char **names = NULL, num[FG_MAX_TICKS][16];
    if (!s->x_cats) {
        names = calloc(ncat + 1, sizeof *names);
        for (int j = 0; j < ncat; j++) { snprintf(num[j], sizeof num[j], "%d", j + 1); names[j] = num[j]; }
    }
    fg_spec t = *s;
    t.x_scale = FG_SCALE_CATEGORY;
    fg_axes A;
    memset(&A, 0, sizeof A);
    A.cats = s->x_cats ? s->x_cats : names;
    A.ncats = ncat;

    fg_legend_item items[64];
    int nit = 0;
    for (int i = 0; i < ns && nit < 64; i++)
        if (s->series[i].name && *s->series[i].name)
            items[nit++] = (fg_legend_item){ .label = s->series[i].name,
                                             .color = s->series[i].has_color ? s->series[i].color : fg_palette(i),
                                             .patch = 1 };
    int show_leg = nit > 0 && s->legend != FG_LEG_NONE && (ns > 1 || s->legend != FG_LEG_AUTO);
    A.y_int = 1;
    for (int i = 0; i < ns; i++)
        for (int j = 0; j < s->series[i].y.n; j++)
            if (isfinite(s->series[i].y.v[j]) && s->series[i].y.v[j] != round(s->series[i].y.v[j])) A.y_int = 0;
    fg_axes_layout(cr, &A, box, &t, -0.5, ncat - 0.5, ylo, yhi, 0, 0);
    double bw = GROUP_W / ns;
    double base = s->y_scale == FG_SCALE_LINEAR ? fmax(ylo, fmin(yhi, 0)) : ylo;
    double lw = 0, lh = 0, lx = 0, ly = 0;
    int outside = 0, horiz = 0;
    int *hwhere = calloc(s->n_hlines + 1, sizeof *hwhere);
    fg_ink ink = { 0 };
    bar_ink(&ink, &A, s, ncat, bw, base);
    fg_hlines_place(cr, &A, s, &ink, hwhere);
    if (show_leg) {
        fg_legend_size(cr, items, nit, 0, 0, &lw, &lh);
        outside = s->legend == FG_LEG_OUTSIDE || fg_legend_place(&ink, A.plot, lw, lh, s->legend, &lx, &ly) != 0;
        if (outside) {
            if (lw <= box.w * 0.28) {
                fg_axes_layout(cr, &A, box, &t, -0.5, ncat - 0.5, ylo, yhi, lw + 6, 0);
                lx = A.plot.x + A.plot.w + 8; ly = A.plot.y;
            } else {
                horiz = 1;
                fg_legend_size(cr, items, nit, 1, box.w - 8, &lw, &lh);
                fg_axes_layout(cr, &A, box, &t, -0.5, ncat - 0.5, ylo, yhi, 0, lh + 2);
                lx = fmax(box.x, fmin(A.plot.x + (A.plot.w - lw) / 2, box.x + box.w - lw));
                ly = A.plot.y - lh - 6;
            }
            fg_ink_free(&ink);   /* the plot moved: the labels choose again */
            bar_ink(&ink, &A, s, ncat, bw, base);
            fg_hlines_place(cr, &A, s, &ink, hwhere);
        }
    }
    fg_ink_free(&ink);

    fg_axes_draw_grid(cr, &A, st, s->grid);
    cairo_save(cr);
    cairo_rectangle(cr, A.plot.x, A.plot.y - 1, A.plot.w, A.plot.h + 1);
    cairo_clip(cr);
    fg_box clampb = { A.plot.x - 5, A.plot.y - 5, A.plot.w + 10, A.plot.h + 10 };
    double y0 = fg_scale_fwd(&A.y, base);
    for (int i = 0; i < ns; i++) {
        const fg_series *se = &s->series[i];
        fg_rgb c = se->has_color ? se->color : fg_palette(i);
        for (int j = 0; j < se->y.n && j < ncat; j++) {
            double x0 = fg_scale_fwd(&A.x, j - GROUP_W / 2 + i * bw), x1 = fg_scale_fwd(&A.x, j - GROUP_W / 2 + (i + 1) * bw);
            double y1 = fg_scale_fwd(&A.y, fg_scale_t(s->y_scale, se->y.v[j]));
            if (!isfinite(y1)) continue;
            y1 = fmax(clampb.y, fmin(clampb.y + clampb.h, y1));
            double gap = ns > 1 ? fmin(0.6, (x1 - x0) * 0.08) : 0;   /* neighbours stay apart */
            cairo_rectangle(cr, x0 + gap / 2, fmin(y0, y1), x1 - x0 - gap, fabs(y1 - y0));
            fg_set_rgb(cr, c);
            cairo_fill(cr);
            double el = fg_scale_fwd(&A.y, fg_scale_t(s->y_scale, err_lo(se, j)));
            double eh = fg_scale_fwd(&A.y, fg_scale_t(s->y_scale, err_hi(se, j)));
            double xm = (x0 + x1) / 2, cap = fmin(3, (x1 - x0) * 0.25);
            if (isfinite(el) || isfinite(eh)) {
                if (!isfinite(el)) el = y1;
                if (!isfinite(eh)) eh = y1;
                el = fmax(clampb.y, fmin(clampb.y + clampb.h, el));
                eh = fmax(clampb.y, fmin(clampb.y + clampb.h, eh));
                fg_set_rgb(cr, st->ink);
                cairo_set_line_width(cr, st->axis_w * 1.2);
                cairo_move_to(cr, xm, el); cairo_line_to(cr, xm, eh);
                cairo_move_to(cr, xm - cap, el); cairo_line_to(cr, xm + cap, el);
                cairo_move_to(cr, xm - cap, eh); cairo_line_to(cr, xm + cap, eh);
                cairo_stroke(cr);
            }
            if (s->bar_values) {
                char b[32];
                snprintf(b, sizeof b, "%.3g", se->y.v[j]);
                double top = isfinite(eh) ? fmin(eh, y1) : y1;
                fg_set_rgb(cr, st->ink);
                fg_text_draw(cr, b, st->tick_size * 0.9, 0, 0, xm, y1 <= y0 ? top - 1 : fmax(y1, isfinite(eh) ? eh : y1) + 1,
                             0.5, y1 <= y0 ? 1 : 0, 0);
            }
        }
    }
    fg_hlines_draw(cr, &A, s, hwhere);
    cairo_restore(cr);
    fg_axes_draw(cr, &A, st, &t);
    if (show_leg) fg_legend_draw(cr, items, nit, lx, ly, horiz, box.w - 8, !outside);
    free(names);
    free(hwhere);
    (void)err; (void)errlen;
    return 0;
}

int fg_bar_draw(cairo_t *cr, fg_box box, const fg_spec *s, char *err, size_t errlen) {
    cairo_save(cr);
    int rc = bar_body(cr, box, s, err, errlen);
    cairo_restore(cr);
    return rc;
}
