/* fg_line — line plots and training curves: series with markers, spread
 * bands, reference lines, annotations, on linear / log / categorical axes.
 *
 * Data are first moved into axis units (log exponents, category slots),
 * with anything undrawable (NaN, inf, ≤ 0 on a log axis) as NAN, which
 * breaks the line there. A curve can be smoothed (an exponential moving
 * average, de-biased like TensorBoard's); the raw values stay visible,
 * faint, behind it. */
#include <stdlib.h>
#include <string.h>

#include "fg_internal.h"

typedef struct { double *x, *y, *raw, *lo, *hi; int n, band, marker, dash; fg_rgb c; } prep;

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Categorical x without names: the distinct x values, sorted, are the slots. */
static int collect_cats(const fg_spec *s, double **vals) {
    int tot = 0;
    for (int i = 0; i < s->n_series; i++) tot += s->series[i].x.n;
    double *v = malloc((tot + 1) * sizeof *v);
    int n = 0;
    for (int i = 0; i < s->n_series; i++)
        for (int k = 0; k < s->series[i].x.n; k++)
            if (isfinite(s->series[i].x.v[k])) v[n++] = s->series[i].x.v[k];
    qsort(v, n, sizeof *v, cmp_d);
    int u = 0;
    for (int i = 0; i < n; i++)
        if (u == 0 || v[i] != v[u - 1]) v[u++] = v[i];
    if (u > FG_MAX_TICKS) u = FG_MAX_TICKS;   /* more slots than that is not categorical */
    *vals = v;
    return u;
}

static double cat_slot(const double *vals, int n, double x) {
    for (int i = 0; i < n; i++)
        if (vals[i] == x) return i;
    return NAN;
}

/* A data x in axis units: log exponent, or category slot (by value when
 * the slots are the distinct x values, by index when they are named). */
static double x_units(const fg_spec *s, const double *catv, int ncatv, double x) {
    if (s->x_scale != FG_SCALE_CATEGORY) return fg_scale_t(s->x_scale, x);
    if (s->n_x_cats > 0) return isfinite(x) ? x : NAN;
    return cat_slot(catv, ncatv, x);
}

static void ema(double *out, const double *y, int n, double w) {
    double s = 0, wt = 1;
    int started = 0;
    for (int i = 0; i < n; i++) {
        if (!isfinite(y[i])) { out[i] = NAN; continue; }
        s = started ? w * s + (1 - w) * y[i] : (1 - w) * y[i];
        wt = started ? wt * w : w;
        started = 1;
        out[i] = s / (1 - wt);
    }
}

static void polyline(cairo_t *cr, const fg_axes *a, const double *x, const double *y, int n) {
    fg_box clip = { a->plot.x - 20, a->plot.y - 20, a->plot.w + 40, a->plot.h + 40 };
    int pen = 0;
    double lx = 0, ly = 0;
    for (int i = 0; i + 1 < n; i++) {
        double x0 = fg_scale_fwd(&a->x, x[i]), y0 = fg_scale_fwd(&a->y, y[i]);
        double x1 = fg_scale_fwd(&a->x, x[i + 1]), y1 = fg_scale_fwd(&a->y, y[i + 1]);
        if (!isfinite(x0) || !isfinite(y0) || !isfinite(x1) || !isfinite(y1)) { pen = 0; continue; }
        double cx0 = x0, cy0 = y0, cx1 = x1, cy1 = y1;
        if (!fg_clip_segment(clip, &cx0, &cy0, &cx1, &cy1)) { pen = 0; continue; }
        if (!pen || cx0 != lx || cy0 != ly) cairo_move_to(cr, cx0, cy0);
        cairo_line_to(cr, cx1, cy1);
        lx = cx1; ly = cy1; pen = (cx1 == x1 && cy1 == y1);
    }
}

static void ink_build(fg_ink *k, const fg_axes *a, const prep *P, int np, const fg_spec *s) {
    for (int i = 0; i < np; i++) {
        const prep *p = &P[i];
        for (int j = 0; j < p->n; j++) {
            double x0 = fg_scale_fwd(&a->x, p->x[j]), y0 = fg_scale_fwd(&a->y, p->y[j]);
            fg_ink_add(k, x0, y0);
            if (p->raw) fg_ink_add(k, x0, fg_scale_fwd(&a->y, p->raw[j]));
            if (j + 1 < p->n) {
                double x1 = fg_scale_fwd(&a->x, p->x[j + 1]), y1 = fg_scale_fwd(&a->y, p->y[j + 1]);
                if (isfinite(x0 + y0 + x1 + y1)) fg_ink_segment(k, x0, y0, x1, y1, 2);
                if (p->raw) {
                    double r0 = fg_scale_fwd(&a->y, p->raw[j]), r1 = fg_scale_fwd(&a->y, p->raw[j + 1]);
                    if (isfinite(x0 + r0 + x1 + r1)) fg_ink_segment(k, x0, r0, x1, r1, 2);
                }
            }
            if (p->band) {
                double l = fg_scale_fwd(&a->y, p->lo[j]), h = fg_scale_fwd(&a->y, p->hi[j]);
                if (isfinite(l + h)) fg_ink_segment(k, x0, l, x0, h, 3);
                if (j + 1 < p->n) {
                    double x1 = fg_scale_fwd(&a->x, p->x[j + 1]);
                    double l1 = fg_scale_fwd(&a->y, p->lo[j + 1]), h1 = fg_scale_fwd(&a->y, p->hi[j + 1]);
                    /* x may be NaN or infinite (a log axis at 0): converting that to
                     * int is undefined, so test before the cast */
                    double dm = fabs(x1 - x0) / 3;
                    int m = isfinite(dm) ? (int)fmin(dm, 300) : 0;
                    for (int t = 1; t < m && isfinite(x0 + x1 + l + h + l1 + h1); t++) {
                        double u = (double)t / m;
                        fg_ink_segment(k, x0 + u * (x1 - x0), l + u * (l1 - l), x0 + u * (x1 - x0), h + u * (h1 - h), 3);
                    }
                }
            }
        }
    }
    for (int i = 0; i < s->n_hlines; i++) {
        double y = fg_scale_fwd(&a->y, fg_scale_t(a->y.kind, s->hlines[i].v));
        if (isfinite(y)) fg_ink_segment(k, a->plot.x, y, a->plot.x + a->plot.w, y, 3);
    }
}

/* An annotation's text goes in the quadrant around its point that hides
 * the least data and stays inside the plot; where[i]: bit 0 left of the
 * point, bit 1 below it. Its box joins the ink. */
static void place_notes(cairo_t *cr, const fg_axes *a, const fg_spec *s, const double *catv, int ncatv,
                        fg_ink *ink, int *where) {
    const fg_style *st = fg_style_get();
    for (int i = 0; i < s->n_notes; i++) {
        where[i] = 0;
        double px = fg_scale_fwd(&a->x, x_units(s, catv, ncatv, s->notes[i].x));
        double py = fg_scale_fwd(&a->y, fg_scale_t(a->y.kind, s->notes[i].y));
        if (!isfinite(px) || !isfinite(py) || !s->notes[i].text) continue;
        double w, h;
        fg_text_size(cr, s->notes[i].text, st->tick_size, 0, &w, &h);
        int best = px > a->plot.x + a->plot.w * 0.6 ? 1 : 0, bestc = -1;
        for (int c = 0; c < 4; c++) {
            double x = (c & 1) ? px - 3 - w : px + 3, y = (c & 2) ? py + 2 : py - 2 - h;
            if (x < a->plot.x || x + w > a->plot.x + a->plot.w || y < a->plot.y || y + h > a->plot.y + a->plot.h) continue;
            int n = fg_ink_count(ink, x - 1, y, w + 2, h);
            if (bestc < 0 || n < bestc) { bestc = n; best = c; }
        }
        where[i] = best;
        fg_ink_rect(ink, (best & 1) ? px - 3 - w : px + 3, (best & 2) ? py + 2 : py - 2 - h, w, h, 3);
    }
}

static int line_body(cairo_t *cr, fg_box box, const fg_spec *s, char *err, size_t errlen) {
    const fg_style *st = fg_style_get();
    int curve = s->kind == FG_CURVE;
    fg_axes A;
    memset(&A, 0, sizeof A);
    double *catv = NULL;
    int ncatv = 0;
    char **catnames = NULL;
    if (s->x_scale == FG_SCALE_CATEGORY) {
        if (s->n_x_cats > 0) {
            A.cats = s->x_cats;
            A.ncats = s->n_x_cats > FG_MAX_TICKS ? FG_MAX_TICKS : s->n_x_cats;
        } else {
            ncatv = collect_cats(s, &catv);
            catnames = calloc(ncatv + 1, sizeof *catnames);
            for (int i = 0; i < ncatv; i++) {
                char b[48];
                snprintf(b, sizeof b, "%g", catv[i]);
                catnames[i] = fg_strdup(b);
            }
            A.cats = catnames; A.ncats = ncatv;
        }
    }

    prep *P = calloc(s->n_series + 1, sizeof *P);
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    int npts = 0;
    for (int i = 0; i < s->n_series; i++) {
        const fg_series *se = &s->series[i];
        prep *p = &P[i];
        int n = se->y.n;
        p->n = n;
        p->x = malloc((n + 1) * sizeof(double));
        p->y = malloc((n + 1) * sizeof(double));
        p->band = se->lo.n == n && se->hi.n == n && n > 0;
        if (!p->band && se->err.n == n && n > 0) p->band = 2;
        if (p->band) { p->lo = malloc((n + 1) * sizeof(double)); p->hi = malloc((n + 1) * sizeof(double)); }
        for (int j = 0; j < n; j++) {
            double x;
            if (s->x_scale == FG_SCALE_CATEGORY)
                x = A.ncats && s->n_x_cats ? (j < A.ncats ? j : NAN) : cat_slot(catv, ncatv, j < se->x.n ? se->x.v[j] : NAN);
            else
                x = fg_scale_t(s->x_scale, se->x.n ? (j < se->x.n ? se->x.v[j] : NAN) : j + 1);
            p->x[j] = x;
            p->y[j] = fg_scale_t(s->y_scale, se->y.v[j]);
            if (p->band == 1) {
                p->lo[j] = fg_scale_t(s->y_scale, se->lo.v[j]);
                p->hi[j] = fg_scale_t(s->y_scale, se->hi.v[j]);
            } else if (p->band == 2) {
                p->lo[j] = fg_scale_t(s->y_scale, se->y.v[j] - se->err.v[j]);
                p->hi[j] = fg_scale_t(s->y_scale, se->y.v[j] + se->err.v[j]);
            }
        }
        double sm = isfinite(se->smooth) ? se->smooth : (n >= 30 ? s->smooth : 0);
        if (curve && sm > 0 && sm < 1) {
            p->raw = p->y;
            p->y = malloc((n + 1) * sizeof(double));
            ema(p->y, p->raw, n, sm);
        }
        int valid = 0;
        for (int j = 0; j < n; j++) {
            if (!isfinite(p->x[j])) continue;
            double ys[4] = { p->y[j], p->raw ? p->raw[j] : NAN, p->band ? p->lo[j] : NAN, p->band ? p->hi[j] : NAN };
            int any = 0;
            for (int q = 0; q < 4; q++)
                if (isfinite(ys[q])) { ylo = fmin(ylo, ys[q]); yhi = fmax(yhi, ys[q]); any = 1; }
            if (any) { xlo = fmin(xlo, p->x[j]); xhi = fmax(xhi, p->x[j]); npts++; }
            if (isfinite(p->y[j])) valid++;
        }
        p->c = se->has_color ? se->color : fg_palette(i);
        p->dash = se->dash >= 0 ? se->dash : 0;
        int want = se->marker;
        if (want == FG_MARK_AUTO) {
            int on = s->markers >= 0 ? s->markers : (!curve && n <= 40);
            want = on ? (i % (FG_MARK_COUNT - 1)) + 1 : FG_MARK_NONE;
        }
        if (want == FG_MARK_NONE && valid == 1) want = FG_MARK_CIRCLE;   /* a lone point must show */
        p->marker = want;
    }
    for (int i = 0; i < s->n_hlines; i++) {
        double y = fg_scale_t(s->y_scale, s->hlines[i].v);
        if (isfinite(y)) { ylo = fmin(ylo, y); yhi = fmax(yhi, y); }
    }
    for (int i = 0; i < s->n_vlines; i++) {
        if (s->x_scale == FG_SCALE_CATEGORY) continue;   /* slots are already the x range */
        double x = fg_scale_t(s->x_scale, s->vlines[i].v);
        if (isfinite(x)) { xlo = fmin(xlo, x); xhi = fmax(xhi, x); }
    }

    /* Whole-number data (epochs, shots, counts) get whole-number ticks. */
    A.x_int = A.y_int = 1;
    for (int i = 0; i < s->n_series; i++)
        for (int j = 0; j < P[i].n; j++) {
            const fg_series *se = &s->series[i];
            double x = se->x.n ? (j < se->x.n ? se->x.v[j] : NAN) : j + 1, y = se->y.v[j];
            if (isfinite(x) && x != round(x)) A.x_int = 0;
            if (isfinite(y) && y != round(y)) A.y_int = 0;
            if (P[i].band) A.y_int = 0;
        }
    int rc = 0;
    if (npts == 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s%sno data", s->title ? s->title : "", s->title ? ": " : "");
        fg_mark_draw(cr, box, msg);
        goto done;
    }
    if (s->x_scale == FG_SCALE_CATEGORY) { xlo = -0.5; xhi = A.ncats - 0.5; if (A.ncats < 1) xhi = 0.5; }
    else fg_range_finish(s->x_scale, &xlo, &xhi, s->x_min, s->x_max, 0.03);
    fg_range_finish(s->y_scale, &ylo, &yhi, s->y_min, s->y_max, 0.05);

    /* Legend items: named series only. */
    fg_legend_item *items = calloc(s->n_series + 1, sizeof *items);
    int nit = 0;
    for (int i = 0; i < s->n_series; i++) {
        if (!s->series[i].name || !*s->series[i].name) continue;
        items[nit++] = (fg_legend_item){ .label = s->series[i].name, .color = P[i].c, .dash = P[i].dash,
                                         .marker = P[i].marker, .alpha = P[i].band ? 0.2 : 0 };
    }
    int leg_outside = 0, leg_horiz = 0;
    int *hwhere = calloc(s->n_hlines + 1, sizeof *hwhere), *nwhere = calloc(s->n_notes + 1, sizeof *nwhere);
    double lw = 0, lh = 0, lx = 0, ly = 0;
    fg_axes_layout(cr, &A, box, s, xlo, xhi, ylo, yhi, 0, 0);
    fg_ink ink = { 0 };
    ink_build(&ink, &A, P, s->n_series, s);
    fg_hlines_place(cr, &A, s, &ink, hwhere);
    place_notes(cr, &A, s, catv, ncatv, &ink, nwhere);
    if (nit > 0 && s->legend != FG_LEG_NONE) {
        fg_legend_size(cr, items, nit, 0, 0, &lw, &lh);
        if (s->legend == FG_LEG_OUTSIDE) leg_outside = 1;
        else leg_outside = fg_legend_place(&ink, A.plot, lw, lh, s->legend, &lx, &ly) != 0;
        if (leg_outside) {
            /* A narrow column on the right, else rows above the plot. */
            if (lw <= box.w * 0.28) {
                fg_axes_layout(cr, &A, box, s, xlo, xhi, ylo, yhi, lw + 6, 0);
                lx = A.plot.x + A.plot.w + 8;
                ly = A.plot.y;
            } else {
                leg_horiz = 1;
                fg_legend_size(cr, items, nit, 1, box.w - 8, &lw, &lh);
                fg_axes_layout(cr, &A, box, s, xlo, xhi, ylo, yhi, 0, lh + 2);
                lx = fmax(box.x, fmin(A.plot.x + (A.plot.w - lw) / 2, box.x + box.w - lw));
                ly = A.plot.y - lh - 2 - 4;
            }
            /* the plot moved: the labels choose again */
            fg_ink_free(&ink);
            ink_build(&ink, &A, P, s->n_series, s);
            fg_hlines_place(cr, &A, s, &ink, hwhere);
    place_notes(cr, &A, s, catv, ncatv, &ink, nwhere);
        }
    }
    fg_ink_free(&ink);

    fg_axes_draw_grid(cr, &A, st, s->grid);
    cairo_save(cr);
    fg_box pc = { A.plot.x - st->marker_r * 2, A.plot.y - st->marker_r * 2, A.plot.w + st->marker_r * 4, A.plot.h + st->marker_r * 4 };
    cairo_rectangle(cr, pc.x, pc.y, pc.w, pc.h);
    cairo_clip(cr);
    for (int i = 0; i < s->n_series; i++) {
        if (!P[i].band) continue;
        fg_vec vx = { P[i].x, P[i].n }, vl = { P[i].lo, P[i].n }, vh = { P[i].hi, P[i].n };
        fg_axes bandax = A;
        bandax.y.kind = FG_SCALE_LINEAR;   /* already in axis units */
        bandax.x.kind = FG_SCALE_LINEAR;
        fg_band_draw(cr, &bandax, &vx, &vl, &vh, P[i].c, 0.2);
    }
    fg_hlines_draw(cr, &A, s, hwhere);
    for (int i = 0; i < s->n_vlines; i++) {
        double x = fg_scale_fwd(&A.x, x_units(s, catv, ncatv, s->vlines[i].v));
        if (!isfinite(x) || x < A.plot.x || x > A.plot.x + A.plot.w) continue;
        cairo_save(cr);
        fg_set_rgb(cr, st->faint);
        cairo_set_line_width(cr, st->axis_w * 1.2);
        fg_set_dash(cr, s->vlines[i].dash >= 0 ? s->vlines[i].dash : 2, st->axis_w);
        cairo_move_to(cr, x, A.plot.y);
        cairo_line_to(cr, x, A.plot.y + A.plot.h);
        cairo_stroke(cr);
        if (s->vlines[i].label)
            fg_text_draw_bg(cr, s->vlines[i].label, st->tick_size, x + 2, A.plot.y + 1, 0, 0, A.plot.x + A.plot.w - x - 3);
        cairo_restore(cr);
    }
    fg_axes lin = A;
    lin.x.kind = FG_SCALE_LINEAR; lin.y.kind = FG_SCALE_LINEAR;
    for (int i = 0; i < s->n_series; i++) {
        prep *p = &P[i];
        double lw_s = s->series[i].width > 0 ? s->series[i].width : st->line_w;
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
        if (p->raw) {
            fg_set_rgba(cr, p->c, 0.25);
            cairo_set_line_width(cr, lw_s * 0.7);
            polyline(cr, &lin, p->x, p->raw, p->n);
            cairo_stroke(cr);
        }
        cairo_save(cr);
        fg_set_rgb(cr, p->c);
        cairo_set_line_width(cr, lw_s);
        fg_set_dash(cr, p->dash, lw_s);
        polyline(cr, &lin, p->x, p->y, p->n);
        cairo_stroke(cr);
        cairo_restore(cr);
        if (p->marker > 0)
            for (int j = 0; j < p->n; j++) {
                double x = fg_scale_fwd(&lin.x, p->x[j]), y = fg_scale_fwd(&lin.y, p->y[j]);
                if (!isfinite(x) || !isfinite(y) || x < pc.x || x > pc.x + pc.w || y < pc.y || y > pc.y + pc.h) continue;
                fg_marker_draw(cr, p->marker, x, y, st->marker_r, p->c);
            }
    }
    cairo_restore(cr);
    for (int i = 0; i < s->n_notes; i++) {
        double px = fg_scale_fwd(&A.x, x_units(s, catv, ncatv, s->notes[i].x)), py = fg_scale_fwd(&A.y, fg_scale_t(A.y.kind, s->notes[i].y));
        if (!isfinite(px) || !isfinite(py) || px < A.plot.x - 1 || px > A.plot.x + A.plot.w + 1
            || py < A.plot.y - 1 || py > A.plot.y + A.plot.h + 1) continue;
        cairo_save(cr);
        fg_set_rgb(cr, st->ink);
        cairo_arc(cr, px, py, 1.2, 0, 2 * M_PI);
        cairo_fill(cr);
        int left = nwhere[i] & 1, below = nwhere[i] & 2;
        fg_text_draw_bg(cr, s->notes[i].text, st->tick_size, px + (left ? -3 : 3), below ? py + 2 : py - 2, left, below ? 0 : 1,
                        left ? px - A.plot.x - 3 : A.plot.x + A.plot.w - px - 3);
        cairo_restore(cr);
    }
    fg_axes_draw(cr, &A, st, s);
    if (nit > 0 && s->legend != FG_LEG_NONE) fg_legend_draw(cr, items, nit, lx, ly, leg_horiz, box.w - 8, !leg_outside);
    free(items);
    free(hwhere);
    free(nwhere);
done:
    for (int i = 0; i < s->n_series; i++) { free(P[i].x); free(P[i].y); free(P[i].raw); free(P[i].lo); free(P[i].hi); }
    free(P);
    free(catv);
    if (catnames) { for (int i = 0; i < ncatv; i++) free(catnames[i]); free(catnames); }
    (void)err; (void)errlen;
    return rc;
}

int fg_line_draw(cairo_t *cr, fg_box box, const fg_spec *s, char *err, size_t errlen) {
    cairo_save(cr);
    int rc = line_body(cr, box, s, err, errlen);
    cairo_restore(cr);
    return rc;
}
