/* fg_legend — the legend, and where to put it.
 *
 * Placement: the data's ink is sampled into points (lines every 2 pt,
 * markers, band interiors, bars); each candidate corner is scored by the
 * ink it would hide, and the first clean one wins. When every corner hides
 * something the caller moves the legend outside the plot. */
#include <stdlib.h>
#include <string.h>

#include "fg_internal.h"

#define HANDLE_W 16.0
#define ROW_GAP 1.5
#define ITEM_GAP 10.0
#define INSET 4.0

void fg_ink_add(fg_ink *k, double x, double y) {
    if (!isfinite(x) || !isfinite(y)) return;
    if (k->n >= 400000) return;   /* enough to judge any corner */
    if (k->n == k->cap) {
        int cap = k->cap ? k->cap * 2 : 1024;
        double *nx = realloc(k->x, cap * sizeof *nx), *ny = realloc(k->y, cap * sizeof *ny);
        if (nx) k->x = nx;
        if (ny) k->y = ny;
        if (!nx || !ny) return;
        k->cap = cap;
    }
    k->x[k->n] = x; k->y[k->n] = y; k->n++;
}

void fg_ink_segment(fg_ink *k, double x0, double y0, double x1, double y1, double step) {
    double len = hypot(x1 - x0, y1 - y0);
    if (!isfinite(len)) return;
    int n = (int)(len / step) + 1;
    if (n > 2000) n = 2000;
    for (int i = 0; i <= n; i++) {
        double u = (double)i / n;
        fg_ink_add(k, x0 + u * (x1 - x0), y0 + u * (y1 - y0));
    }
}

void fg_ink_rect(fg_ink *k, double x, double y, double w, double h, double step) {
    if (!isfinite(w) || !isfinite(h)) return;
    int nx = (int)(fabs(w) / step) + 1, ny = (int)(fabs(h) / step) + 1;
    if (nx > 200) nx = 200;
    if (ny > 200) ny = 200;
    for (int i = 0; i <= nx; i++)
        for (int j = 0; j <= ny; j++) fg_ink_add(k, x + w * i / nx, y + h * j / ny);
}

int fg_ink_count(const fg_ink *k, double x, double y, double w, double h) {
    int c = 0;
    for (int i = 0; i < k->n; i++)
        if (k->x[i] >= x && k->x[i] <= x + w && k->y[i] >= y && k->y[i] <= y + h) c++;
    return c;
}

void fg_ink_free(fg_ink *k) {
    free(k->x); free(k->y);
    memset(k, 0, sizeof *k);
}

int fg_legend_place(const fg_ink *k, fg_box p, double w, double h, fg_legend_pos want,
                    double *x, double *y) {
    double l = p.x + INSET, r = p.x + p.w - INSET - w, t = p.y + INSET, b = p.y + p.h - INSET - h;
    double cx = p.x + (p.w - w) / 2;
    /* Preference order as a reader scans: top right first. */
    struct { fg_legend_pos pos; double x, y; } c[] = {
        { FG_LEG_UR, r, t }, { FG_LEG_UL, l, t }, { FG_LEG_LR, r, b }, { FG_LEG_LL, l, b },
        { FG_LEG_AUTO, cx, t }, { FG_LEG_AUTO, cx, b },
    };
    int nc = (int)(sizeof c / sizeof c[0]);
    if (w > p.w - 2 * INSET || h > p.h - 2 * INSET) return -1;
    for (int i = 0; i < nc; i++)
        if (want != FG_LEG_AUTO && c[i].pos == want) { *x = c[i].x; *y = c[i].y; return 0; }
    for (int i = 0; i < nc; i++) {
        if (fg_ink_count(k, c[i].x - 2, c[i].y - 2, w + 4, h + 4) == 0) {
            *x = c[i].x; *y = c[i].y;
            return 0;
        }
    }
    return -1;
}

static void item_size(cairo_t *cr, const fg_legend_item *it, double *w, double *h) {
    const fg_style *st = fg_style_get();
    fg_text_size(cr, it->label, st->tick_size, 0, w, h);
    *w += HANDLE_W + st->pad + 1;
}

/* Item positions: one column, or (horizontal) rows flowing within maxw. */
static void legend_layout(cairo_t *cr, const fg_legend_item *it, int n, int horizontal, double maxw,
                          double *px, double *py, double *w, double *h) {
    const fg_style *st = fg_style_get();
    double x = 0, y = 0, rowh = 0, W = 0;
    for (int i = 0; i < n; i++) {
        double iw, ih;
        item_size(cr, &it[i], &iw, &ih);
        if (horizontal) {
            if (x > 0 && maxw > 0 && x + ITEM_GAP + iw > maxw - 2 * st->pad) { y += rowh + ROW_GAP; x = 0; rowh = 0; }
            if (x > 0) x += ITEM_GAP;
            if (px) { px[i] = x; py[i] = y; }
            x += iw;
            if (ih > rowh) rowh = ih;
            if (x > W) W = x;
        } else {
            if (px) { px[i] = 0; py[i] = y; }
            y += ih + ROW_GAP;
            if (iw > W) W = iw;
        }
    }
    double H = horizontal ? y + rowh : (n ? y - ROW_GAP : 0);
    *w = W + 2 * st->pad;
    *h = H + 2 * st->pad * 0.8;
}

void fg_legend_size(cairo_t *cr, const fg_legend_item *it, int n, int horizontal, double maxw,
                    double *w, double *h) {
    legend_layout(cr, it, n, horizontal, maxw, NULL, NULL, w, h);
}

static void handle_draw(cairo_t *cr, const fg_legend_item *it, double x, double y) {
    const fg_style *st = fg_style_get();
    cairo_save(cr);
    if (it->patch) {
        double s = 7;
        cairo_rectangle(cr, x + (HANDLE_W - s) / 2 - 2, y - s / 2, s, s);
        fg_set_rgba(cr, it->color, it->alpha > 0 ? it->alpha : 1);
        cairo_fill(cr);
    } else {
        if (it->alpha > 0 && it->alpha < 1) {   /* a band behind the line */
            cairo_rectangle(cr, x, y - 3.5, HANDLE_W, 7);
            fg_set_rgba(cr, it->color, it->alpha);
            cairo_fill(cr);
        }
        cairo_set_line_width(cr, st->line_w);
        fg_set_dash(cr, it->dash, st->line_w);
        fg_set_rgb(cr, it->color);
        cairo_move_to(cr, x, y);
        cairo_line_to(cr, x + HANDLE_W, y);
        cairo_stroke(cr);
        if (it->marker > 0) fg_marker_draw(cr, it->marker, x + HANDLE_W / 2, y, st->marker_r, it->color);
    }
    cairo_restore(cr);
}

void fg_legend_draw(cairo_t *cr, const fg_legend_item *it, int n, double x, double y,
                    int horizontal, double maxw, int framed) {
    const fg_style *st = fg_style_get();
    if (n <= 0) return;
    cairo_save(cr);
    double w, h;
    double *px = malloc(n * sizeof *px), *py = malloc(n * sizeof *py);
    if (!px || !py) { free(px); free(py); cairo_restore(cr); return; }
    legend_layout(cr, it, n, horizontal, maxw, px, py, &w, &h);
    if (framed) {
        cairo_rectangle(cr, x, y, w, h);
        cairo_set_source_rgba(cr, 1, 1, 1, 0.9);
        cairo_fill_preserve(cr);
        fg_set_rgb(cr, st->grid);
        cairo_set_line_width(cr, st->grid_w);
        cairo_stroke(cr);
    }
    for (int i = 0; i < n; i++) {
        double iw, ih;
        item_size(cr, &it[i], &iw, &ih);
        double cx = x + st->pad + px[i], cy = y + st->pad * 0.8 + py[i];
        handle_draw(cr, &it[i], cx, cy + ih / 2);
        fg_set_rgb(cr, st->ink);
        fg_text_draw(cr, it[i].label, st->tick_size, 0, 0, cx + HANDLE_W + st->pad, cy, 0, 0, 0);
    }
    free(px); free(py);
    cairo_restore(cr);
}
