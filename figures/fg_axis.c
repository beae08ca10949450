/* fg_axis — scales, axis ranges, and the axes frame: spines, ticks, tick
 * labels, axis titles, grid lines.
 *
 * Layout measures every tick label with pango before fixing the plot area,
 * then thins the ticks (fewer labels, then rotation, then every k-th
 * label) until no two labels overlap. */
#include <string.h>

#include "fg_internal.h"

double fg_scale_t(fg_scale_kind k, double v) {
    if (!isfinite(v)) return NAN;
    if (k == FG_SCALE_LOG2) return v > 0 ? log2(v) : NAN;
    if (k == FG_SCALE_LOG10) return v > 0 ? log10(v) : NAN;
    return v;
}

double fg_scale_inv_t(fg_scale_kind k, double t) {
    if (k == FG_SCALE_LOG2) return exp2(t);
    if (k == FG_SCALE_LOG10) return pow(10.0, t);
    return t;
}

/* v is in transformed units (log exponent, category index). */
double fg_scale_fwd(const fg_scale *s, double t) {
    if (!isfinite(t)) return NAN;
    double d = s->hi - s->lo;
    if (!(d > 0) || !isfinite(d)) {
        /* Overflowing spans (±1e308): scale both halves. */
        double u = (t / 2 - s->lo / 2) / (s->hi / 2 - s->lo / 2);
        return s->p0 + u * (s->p1 - s->p0);
    }
    return s->p0 + (t - s->lo) / d * (s->p1 - s->p0);
}

void fg_range_finish(fg_scale_kind k, double *lo, double *hi, double umin, double umax,
                     double pad_frac) {
    double a = *lo, b = *hi;
    double ua = fg_scale_t(k, umin), ub = fg_scale_t(k, umax);
    int pin_a = isfinite(ua), pin_b = isfinite(ub);
    if (pin_a) a = ua;
    if (pin_b) b = ub;
    if (!isfinite(a) && !isfinite(b)) { a = 0; b = 1; }
    else if (!isfinite(a)) a = b - 1;
    else if (!isfinite(b)) b = a + 1;
    if (a > b) { double t = a; a = b; b = t; }
    if (b - a <= 1e-12 * fmax(fabs(a), fabs(b)) || b == a) {
        /* All values equal: a small window around the value. */
        double d = (k == FG_SCALE_LINEAR) ? (a != 0 ? fabs(a) * 0.1 : 1.0) : 0.5;
        if (!pin_a) a -= d;
        if (!pin_b) b += d;
        if (!(b > a)) { a -= d; b += d; }
    }
    double span = b - a;
    if (isfinite(span)) {
        if (!pin_a) a -= pad_frac * span;
        if (!pin_b) b += pad_frac * span;
    }
    if (!isfinite(a)) a = -DBL_MAX;
    if (!isfinite(b)) b = DBL_MAX;
    *lo = a; *hi = b;
}

static double max_label_w(cairo_t *cr, const fg_ticks *t, double size, double *hmax) {
    double wm = 0, hm = 0;
    for (int i = 0; i < t->n; i++) {
        double w, h;
        fg_text_size(cr, t->label[i], size, 1, &w, &h);
        if (w > wm) wm = w;
        if (h > hm) hm = h;
    }
    if (hmax) *hmax = hm;
    return wm;
}

/* Do x labels collide when centred on their ticks (with a 4 pt gap)? */
static int x_labels_collide(cairo_t *cr, const fg_axes *a, double size, int skip) {
    double prev_r = -INFINITY;
    for (int i = 0; i < a->xt.n; i += skip) {
        double w;
        fg_text_size(cr, a->xt.label[i], size, 1, &w, NULL);
        double c = fg_scale_fwd(&a->x, a->xt.v[i]);
        if (c - w / 2 < prev_r + 4) return 1;
        prev_r = c + w / 2;
    }
    return 0;
}

/* Category names are user text: escaped for markup, cut at 48 characters
 * with an ellipsis so one long name cannot eat the plot. */
/* The closest pair of y ticks, in points (log ticks are uneven). */
static double y_gap(const fg_axes *a) {
    double gap = INFINITY;
    for (int i = 1; i < a->yt.n; i++)
        gap = fmin(gap, fabs(fg_scale_fwd(&a->y, a->yt.v[i]) - fg_scale_fwd(&a->y, a->yt.v[i - 1])));
    return gap;
}

static void make_cat_ticks(fg_ticks *t, char **cats, int n) {
    memset(t, 0, sizeof *t);
    for (int i = 0; i < n && t->n < FG_MAX_TICKS; i++) {
        const char *c = cats[i] ? cats[i] : "";
        char cut[160];
        if (g_utf8_validate(c, -1, NULL) && g_utf8_strlen(c, -1) > 48) {
            const char *end = g_utf8_offset_to_pointer(c, 47);
            snprintf(cut, sizeof cut, "%.*s\xe2\x80\xa6", (int)(end - c), c);
            c = cut;
        }
        char *e = g_markup_escape_text(c, -1);
        snprintf(t->label[t->n], sizeof t->label[0], "%s", e);
        g_free(e);
        t->v[t->n] = i;
        t->n++;
    }
}

void fg_axes_layout(cairo_t *cr, fg_axes *a, fg_box box, const fg_spec *s,
                    double xlo, double xhi, double ylo, double yhi,
                    double right_reserve, double top_reserve) {
    const fg_style *st = fg_style_get();
    double lh, th;   /* a line of tick text, of title text */
    fg_text_size(cr, "0", st->tick_size, 0, NULL, &lh);
    fg_text_size(cr, "Ag", st->size, 0, NULL, &th);

    a->x.kind = s->x_scale; a->x.lo = xlo; a->x.hi = xhi;
    a->y.kind = s->y_scale == FG_SCALE_CATEGORY ? FG_SCALE_LINEAR : s->y_scale;
    a->y.lo = ylo; a->y.hi = yhi;
    a->x_rot = 0; a->x_skip = 1;

    double top = top_reserve + lh / 2 + 2;
    if (s->title && *s->title) top += th + st->pad;
    double right = right_reserve + 6;
    double bottom_title, left_title;
    a->box = box;

    /* Two passes: tick counts depend on the plot size, which depends on the
     * label sizes. */
    fg_box p = { box.x + 40, box.y + top, box.w - 40 - right, box.h - top - 30 };
    double extra_left = 0;   /* rotated x labels reaching left of the y labels */
    for (int pass = 0; pass < 2; pass++) {
        if (p.h < 10) p.h = 10;
        if (p.w < 10) p.w = 10;
        int my = (int)(p.h / 45) + 1;   /* about one label per 45 pt: 5 on a typical plot */
        fg_ticks_make(&a->yt, a->y.kind, ylo, yhi, my < 3 ? 3 : my, a->y_int ? FG_TICKS_INTEGER : 0);
        a->y.p0 = p.y + p.h; a->y.p1 = p.y;
        for (int k = 0; k < 8; k++) {   /* y labels a line apart at least */
            if (a->yt.n < 3 || y_gap(a) >= lh * 1.3) break;
            my = a->yt.n - 1;
            fg_ticks_make(&a->yt, a->y.kind, ylo, yhi, my, a->y_int ? FG_TICKS_INTEGER : 0);
        }
        /* Fewer asked did not give fewer (uneven log ticks, a tiny axis):
         * keep every other tick until they fit. */
        for (int k = 0; k < 8 && a->yt.n > 2 && y_gap(a) < lh * 1.1; k++) {
            int n = 0;
            for (int i = 0; i < a->yt.n; i += 2) {
                a->yt.v[n] = a->yt.v[i];
                memcpy(a->yt.label[n], a->yt.label[i], sizeof a->yt.label[0]);
                n++;
            }
            a->yt.n = n;
        }
        double ylw = max_label_w(cr, &a->yt, st->tick_size, NULL);
        left_title = ((s->y_label && *s->y_label) || *a->yt.suffix) ? th + st->pad : 0;
        double left = left_title + ylw + st->pad + st->tick_len + 1;
        if (extra_left > left) left = extra_left;
        p.x = box.x + left;
        p.w = box.w - left - right;
        if (p.w < 10) p.w = 10;

        a->x.p0 = p.x; a->x.p1 = p.x + p.w;
        if (s->x_scale == FG_SCALE_CATEGORY) {
            make_cat_ticks(&a->xt, a->cats, a->ncats);
        } else {
            int mx = (int)(p.w / 55) + 1;
            if (mx < 3) mx = 3;
            fg_ticks_make(&a->xt, a->x.kind, xlo, xhi, mx, a->x_int ? FG_TICKS_INTEGER : 0);
            for (int k = 0; k < 10 && mx > 2 && x_labels_collide(cr, a, st->tick_size, 1); k++) {
                mx--;
                fg_ticks_make(&a->xt, a->x.kind, xlo, xhi, mx, a->x_int ? FG_TICKS_INTEGER : 0);
            }
        }
        double xlh = lh;
        bottom_title = ((s->x_label && *s->x_label) || *a->xt.suffix) ? th + st->pad : 0;
        a->x_rot = 0; a->x_skip = 1;
        a->x_wrap = 0;
        if (s->x_scale == FG_SCALE_CATEGORY && a->xt.n > 0 && x_labels_collide(cr, a, st->tick_size, 1)) {
            /* Categories: wrap names onto up to three lines first; rotate
             * only when a single word is wider than its slot. */
            double spacing = p.w / (a->x.hi - a->x.lo) - 4;
            int ok = spacing > 12;
            double hm = 0;
            for (int i = 0; i < a->xt.n && ok; i++) {
                double w, h;
                int lines;
                fg_text_size_wrapped(cr, a->xt.label[i], st->tick_size, 1, spacing, &w, &h, &lines);
                if (lines > 3 || w > spacing + 0.5) ok = 0;
                if (h > hm) hm = h;
            }
            if (ok) { a->x_wrap = spacing; xlh = hm; }
        }
        if (!a->x_wrap && x_labels_collide(cr, a, st->tick_size, 1)) {
            /* Rotated 45°: labels need only their height (×√2) apart. */
            double spacing = a->xt.n > 1 ? fabs(fg_scale_fwd(&a->x, a->xt.v[1]) - fg_scale_fwd(&a->x, a->xt.v[0])) : p.w;
            a->x_rot = 1;
            double need = lh * 1.45;
            a->x_skip = 1;
            while (a->x_skip < a->xt.n && spacing * a->x_skip < need) a->x_skip++;
            double wmax = max_label_w(cr, &a->xt, st->tick_size, NULL);
            if (wmax > p.h) wmax = p.h;   /* absurdly long labels get cut by the box */
            xlh = (wmax + lh) * 0.7071 + 1;
            for (int i = 0; i < a->xt.n; i += a->x_skip) {
                double w;
                fg_text_size(cr, a->xt.label[i], st->tick_size, 1, &w, NULL);
                double reach = fg_scale_fwd(&a->x, a->xt.v[i]) - box.x - (w * 0.7071 + lh * 0.1);
                double need = (p.x - box.x) - reach + 2;
                if (need > extra_left) extra_left = fmin(need, box.w * 0.4);
            }
        }
        double bottom = st->tick_len + st->pad + xlh + bottom_title + 2;
        p.y = box.y + top;
        p.h = box.h - top - bottom;
        if (p.h < 10) p.h = 10;
        a->y.p0 = p.y + p.h; a->y.p1 = p.y;
    }
    a->plot = p;
}

void fg_axes_draw_grid(cairo_t *cr, const fg_axes *a, const fg_style *st, int grid) {
    if (!grid) return;
    cairo_save(cr);
    fg_set_rgb(cr, st->grid);
    cairo_set_line_width(cr, st->grid_w);
    for (int i = 0; i < a->yt.n; i++) {
        double y = fg_scale_fwd(&a->y, a->yt.v[i]);
        if (!isfinite(y) || y < a->plot.y - 0.5 || y > a->plot.y + a->plot.h + 0.5) continue;
        cairo_move_to(cr, a->plot.x, y);
        cairo_line_to(cr, a->plot.x + a->plot.w, y);
    }
    cairo_stroke(cr);
    cairo_restore(cr);
}

void fg_axes_draw(cairo_t *cr, const fg_axes *a, const fg_style *st, const fg_spec *s) {
    cairo_save(cr);
    fg_box p = a->plot;
    fg_set_rgb(cr, st->ink);
    cairo_set_line_width(cr, st->axis_w);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_SQUARE);
    /* Left and bottom spines only: the box adds ink, not information. */
    cairo_move_to(cr, p.x, p.y);
    cairo_line_to(cr, p.x, p.y + p.h);
    cairo_line_to(cr, p.x + p.w, p.y + p.h);
    cairo_stroke(cr);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);

    double lh;
    fg_text_size(cr, "0", st->tick_size, 0, NULL, &lh);
    for (int i = 0; i < a->yt.n; i++) {
        double y = fg_scale_fwd(&a->y, a->yt.v[i]);
        if (!isfinite(y) || y < p.y - 0.5 || y > p.y + p.h + 0.5) continue;
        cairo_move_to(cr, p.x, y);
        cairo_line_to(cr, p.x - st->tick_len, y);
        cairo_stroke(cr);
        fg_text_draw(cr, a->yt.label[i], st->tick_size, 0, 1, p.x - st->tick_len - st->pad, y, 1, 0.5, 0);
    }
    cairo_set_line_width(cr, st->axis_w * 0.7);
    for (int i = 0; i < a->yt.nminor; i++) {
        double y = fg_scale_fwd(&a->y, a->yt.minor[i]);
        if (!isfinite(y) || y < p.y || y > p.y + p.h) continue;
        cairo_move_to(cr, p.x, y);
        cairo_line_to(cr, p.x - st->tick_len * 0.6, y);
    }
    for (int i = 0; i < a->xt.nminor; i++) {
        double x = fg_scale_fwd(&a->x, a->xt.minor[i]);
        if (!isfinite(x) || x < p.x || x > p.x + p.w) continue;
        cairo_move_to(cr, x, p.y + p.h);
        cairo_line_to(cr, x, p.y + p.h + st->tick_len * 0.6);
    }
    cairo_stroke(cr);
    cairo_set_line_width(cr, st->axis_w);
    for (int i = 0; i < a->xt.n; i++) {
        double x = fg_scale_fwd(&a->x, a->xt.v[i]);
        if (!isfinite(x) || x < p.x - 0.5 || x > p.x + p.w + 0.5) continue;
        cairo_move_to(cr, x, p.y + p.h);
        cairo_line_to(cr, x, p.y + p.h + st->tick_len);
        cairo_stroke(cr);
        if (i % a->x_skip) continue;
        double ly = p.y + p.h + st->tick_len + st->pad;
        if (a->x_wrap > 0) fg_text_draw_wrapped(cr, a->xt.label[i], st->tick_size, 1, a->x_wrap, x, ly, 0.5, 0);
        else if (a->x_rot) fg_text_draw(cr, a->xt.label[i], st->tick_size, 0, 1, x + lh * 0.3, ly, 1, 0.5, -M_PI / 4);
        else fg_text_draw(cr, a->xt.label[i], st->tick_size, 0, 1, x, ly, 0.5, 0, 0);
    }

    /* Titles: x centred under the labels, y rotated along the left edge.
     * User text is escaped: only the power-of-ten suffix is markup. */
    const char *xl = s->x_label ? s->x_label : "", *yl = s->y_label ? s->y_label : "";
    if (*xl || *a->xt.suffix) {
        char *e = g_markup_escape_text(xl, -1);
        char *t = g_strconcat(e, a->xt.suffix, NULL);
        fg_text_draw_max(cr, t, st->size, 0, 1, p.x + p.w / 2, a->box.y + a->box.h, 0.5, 1, 0, a->box.w);
        g_free(t); g_free(e);
    }
    if (*yl || *a->yt.suffix) {
        char *e = g_markup_escape_text(yl, -1);
        char *t = g_strconcat(e, a->yt.suffix, NULL);
        fg_text_draw_max(cr, t, st->size, 0, 1, a->box.x, p.y + p.h / 2, 0.5, 0, -M_PI / 2, p.h + 16);
        g_free(t); g_free(e);
    }
    if (s->title && *s->title)
        fg_text_draw_max(cr, s->title, st->size * 1.05, 0, 0, p.x + p.w / 2, a->box.y, 0.5, 0, 0, a->box.w);
    cairo_restore(cr);
}
