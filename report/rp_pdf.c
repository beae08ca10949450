/* rp_pdf — the PDF writer: page geometry and fonts, pagination of the item
 * list (keep chains, floats deferred to the next page top, footnotes at the
 * foot of the page that references them), then drawing with running heads,
 * page numbers, link destinations and the outline. Output is byte-identical
 * for the same input: no clock is read (dates from SOURCE_DATE_EPOCH). */
#include <cairo-pdf.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "en_error.h"
#include "rp_typeset.h"

#define FN_GAP 10.0   /* between text and the footnote rule */

static void shape_renderer(cairo_t *cr, PangoAttrShape *attr, gboolean do_path, gpointer data) {
    (void)data;
    if (do_path || !attr->data) return;
    double x, y;
    cairo_get_current_point(cr, &x, &y);
    rp_math_draw(attr->data, cr, x, y);
}

static rp_page *page_new(rp_ts *T) {
    T->pages = realloc(T->pages, (T->npages + 1) * sizeof *T->pages);
    EN_ASSERT(T->pages);
    rp_page *p = &T->pages[T->npages++];
    memset(p, 0, sizeof *p);
    p->running = T->npages > 1 ? T->pages[T->npages - 2].running : NULL;
    return p;
}

static void place(rp_page *pg, int item, double y, double before) {
    if (pg->n == pg->cap) {
        pg->cap = pg->cap ? pg->cap * 2 : 64;
        pg->pl = realloc(pg->pl, pg->cap * sizeof *pg->pl);
        EN_ASSERT(pg->pl);
    }
    pg->pl[pg->n++] = (rp_place){ item, y, before };
}

/* Extra footnote height if item `it` lands on pg. */
static double fn_need(rp_ts *T, rp_page *pg, const rp_item *it) {
    double h = 0;
    int any = pg->nfns;
    for (int k = 0; k < it->nfns; k++) {
        int id = it->fns[k], dup = 0;
        for (int j = 0; j < pg->nfns; j++) dup |= pg->fns[j] == id;
        for (int j = 0; j < k; j++) dup |= it->fns[j] == id;
        if (dup || id >= T->nfns) continue;
        h += T->fns[id]->height + 2;
        if (!any) { h += FN_GAP; any = 1; }
    }
    return h;
}

static void fn_add(rp_ts *T, rp_page *pg, const rp_item *it) {
    double h = fn_need(T, pg, it);
    for (int k = 0; k < it->nfns; k++) {
        int id = it->fns[k], dup = 0;
        for (int j = 0; j < pg->nfns; j++) dup |= pg->fns[j] == id;
        if (dup || id >= T->nfns) continue;
        pg->fns = realloc(pg->fns, (pg->nfns + 1) * sizeof *pg->fns);
        pg->fns[pg->nfns++] = id;
    }
    pg->fn_h += h;
}

typedef struct {
    rp_ts *T;
    rp_page *pg;
    double y;
    int *queue, nq;
} pager;

static void put(pager *P, int i, double before) {
    rp_item *it = &P->T->items[i];
    if (it->head_h > 0 && P->y == 0) {   /* a table continues: repeat its header */
        it->head_drawn = 1;
        P->y = it->head_h;
    }
    place(P->pg, i, P->y + before, before);
    P->y += before + it->h;
    fn_add(P->T, P->pg, it);
    if (it->chapter_start) { P->pg->running = it->title; P->pg->chapter_start = 1; }
}

static int fits(pager *P, const rp_item *it, double before) {
    return P->y + before + it->h + P->pg->fn_h + fn_need(P->T, P->pg, it) <= P->T->th + 0.01;
}

/* A fresh page, topped with the floats that waited for it. */
static void next_page(pager *P) {
    P->pg = page_new(P->T);
    P->y = 0;
    int k = 0;
    while (k < P->nq) {
        rp_item *it = &P->T->items[P->queue[k]];
        double before = P->y > 0 ? it->before : 0;
        if (P->y > 0 && !fits(P, it, before)) break;
        put(P, P->queue[k], before);
        k++;
    }
    memmove(P->queue, P->queue + k, (P->nq - k) * sizeof *P->queue);
    P->nq -= k;
    if (P->y > 0) P->y += P->T->size * 0.8;   /* separate floats from the text below */
}

static void flush_floats(pager *P) {
    while (P->nq) next_page(P);
}

static void paginate(rp_ts *T) {
    pager P = { T, NULL, 0, calloc(T->nitems + 1, sizeof(int)), 0 };
    P.pg = page_new(T);
    for (int i = 0; i < T->nitems; i++) {
        rp_item *it = &T->items[i];
        if (it->newpage) {
            flush_floats(&P);
            if (P.pg->n) next_page(&P);
        }
        double before = P.y > 0 ? it->before : 0;
        if (it->kind == RP_I_GLUE && P.y == 0 && it->deco == RP_D_NONE) continue;
        if (it->is_float) {
            if (P.nq || !fits(&P, it, before)) {
                if (P.y == 0) { put(&P, i, 0); continue; }   /* too tall for any page */
                P.queue[P.nq++] = i;
                continue;
            }
            put(&P, i, before);
            continue;
        }
        /* the keep chain starting here, floats skipped */
        double gh = it->h;
        double fh = fn_need(T, P.pg, it);
        for (int j = i; T->items[j].keep && j + 1 < T->nitems;) {
            int k = j + 1;
            while (k < T->nitems && T->items[k].is_float) k++;
            if (k >= T->nitems || T->items[k].newpage) break;
            gh += T->items[k].before + T->items[k].h;
            fh += fn_need(T, P.pg, &T->items[k]);
            j = k;
            if (gh > T->th) break;
        }
        int group_fits = P.y + before + gh + P.pg->fn_h + fh <= T->th + 0.01;
        int alone_fits = fits(&P, it, before);
        if (it->optional && !alone_fits) continue;
        if (P.y > 0 && ((!group_fits && gh <= T->th * 0.9) || !alone_fits)) {
            next_page(&P);
            before = P.y > 0 ? it->before : 0;
            if (it->kind == RP_I_GLUE && P.y == 0 && it->deco == RP_D_NONE) continue;
        }
        put(&P, i, before);
    }
    flush_floats(&P);
    free(P.queue);
}

int rp_pdf_dest_page(rp_ts *T, const char *label) {
    for (int p = 0; p < T->npages; p++)
        for (int k = 0; k < T->pages[p].n; k++) {
            rp_item *it = &T->items[T->pages[p].pl[k].item];
            if (it->dest && !strcmp(it->dest, label)) return p + 1;
        }
    return 0;
}

/* ---- drawing ---------------------------------------------------------------- */

static void set_rgb(cairo_t *cr, double r, double g, double b) { cairo_set_source_rgb(cr, r, g, b); }

static void draw_deco(rp_ts *T, const rp_item *it, double x, double y0, double y1) {
    cairo_t *cr = T->cr;
    double dx = x + it->deco_x, dw = it->deco_w;
    cairo_save(cr);
    switch (it->deco) {
    case RP_D_CODE:
        set_rgb(cr, 0.955, 0.955, 0.945);
        cairo_rectangle(cr, dx, y0, dw, y1 - y0);
        cairo_fill(cr);
        break;
    case RP_D_OUTPUT:
        set_rgb(cr, 0.78, 0.78, 0.78);
        cairo_rectangle(cr, dx + 2, y0, 1.2, y1 - y0);
        cairo_fill(cr);
        break;
    case RP_D_QUOTE:
        set_rgb(cr, 0.75, 0.75, 0.75);
        cairo_rectangle(cr, dx, y0, dw, y1 - y0);
        cairo_fill(cr);
        break;
    case RP_D_NOTE: case RP_D_WARN: case RP_D_TIP: case RP_D_ERROR: {
        static const double bg[][3] = { { 0.93, 0.95, 0.99 }, { 1.0, 0.96, 0.90 }, { 0.93, 0.98, 0.94 }, { 1.0, 0.93, 0.93 } };
        static const double bar[][3] = { { 0.12, 0.32, 0.62 }, { 0.85, 0.50, 0.05 }, { 0.10, 0.55, 0.28 }, { 0.80, 0.08, 0.08 } };
        int k = it->deco - RP_D_NOTE;
        set_rgb(cr, bg[k][0], bg[k][1], bg[k][2]);
        cairo_rectangle(cr, dx, y0, dw, y1 - y0);
        cairo_fill(cr);
        set_rgb(cr, bar[k][0], bar[k][1], bar[k][2]);
        cairo_rectangle(cr, dx, y0, it->deco == RP_D_ERROR ? 3.5 : 2.5, y1 - y0);
        cairo_fill(cr);
        break;
    }
    }
    cairo_restore(cr);
}

static PangoLayout *small_layout(rp_ts *T, const char *text, double size, int italic) {
    PangoLayout *l = pango_layout_new(T->ctx);
    PangoFontDescription *fd = pango_font_description_new();
    pango_font_description_set_family(fd, T->serif);
    pango_font_description_set_absolute_size(fd, size * PANGO_SCALE);
    if (italic) pango_font_description_set_style(fd, PANGO_STYLE_ITALIC);
    pango_layout_set_font_description(l, fd);
    pango_font_description_free(fd);
    pango_layout_set_text(l, text, -1);
    return l;
}

static double layout_w(PangoLayout *l) {
    PangoRectangle r;
    pango_layout_get_extents(l, NULL, &r);
    return r.width / (double)PANGO_SCALE;
}

static void draw_page_furniture(rp_ts *T, int p) {
    cairo_t *cr = T->cr;
    rp_page *pg = &T->pages[p];
    char num[16];
    snprintf(num, sizeof num, "%d", p + 1);
    PangoLayout *l = small_layout(T, num, T->size * 0.9, 0);
    set_rgb(cr, 0.2, 0.2, 0.2);
    cairo_move_to(cr, (T->pw - layout_w(l)) / 2, T->mt + T->th + 28);
    pango_cairo_show_layout(cr, l);
    g_object_unref(l);
    if (p == 0 || pg->chapter_start) return;
    const char *title = T->d->title ? T->d->title : "clipbook report";
    double hy = T->mt - 26;
    l = small_layout(T, title, T->size * 0.82, 1);
    cairo_move_to(cr, T->ml, hy);
    pango_cairo_show_layout(cr, l);
    g_object_unref(l);
    if (pg->running) {
        l = small_layout(T, pg->running, T->size * 0.82, 0);
        cairo_move_to(cr, T->ml + T->tw - layout_w(l), hy);
        pango_cairo_show_layout(cr, l);
        g_object_unref(l);
    }
    cairo_save(cr);
    set_rgb(cr, 0.55, 0.55, 0.55);
    cairo_set_line_width(cr, 0.4);
    cairo_move_to(cr, T->ml, hy + T->size * 1.25);
    cairo_line_to(cr, T->ml + T->tw, hy + T->size * 1.25);
    cairo_stroke(cr);
    cairo_restore(cr);
}

static void draw_pages(rp_ts *T) {
    cairo_t *cr = T->cr;
    int parents[8] = { CAIRO_PDF_OUTLINE_ROOT };
    for (int p = 0; p < T->npages; p++) {
        rp_page *pg = &T->pages[p];
        draw_page_furniture(T, p);
        for (int k = 0; k < pg->n; k++) {
            rp_item *it = &T->items[pg->pl[k].item];
            double y = T->mt + pg->pl[k].y, x = T->ml;
            /* a decorated block paints the space above an item only when
             * the item above belongs to the same kind of block */
            int joined = k > 0 && T->items[pg->pl[k - 1].item].deco == it->deco;
            if (it->deco) draw_deco(T, it, x, joined ? y - pg->pl[k].before : y, y + it->h);
            if (it->dest) {
                char a[300];
                snprintf(a, sizeof a, "name='%s' x=%.2f y=%.2f", it->dest, x, y);
                cairo_tag_begin(cr, CAIRO_TAG_DEST, a);
            }
            set_rgb(cr, 0, 0, 0);
            if (it->marker) {
                PangoLayout *l = small_layout(T, it->marker, T->size, 0);
                rp_para *pp = it->para;
                double base = pp ? pp->base[it->line] - pp->top[it->line] : T->size;
                cairo_move_to(cr, x + it->indent - 5 - layout_w(l), y + base - pango_layout_get_baseline(l) / (double)PANGO_SCALE);
                pango_cairo_show_layout(cr, l);
                g_object_unref(l);
            }
            if (it->draw) it->draw(T, it, x, y);
            if (it->dest) cairo_tag_end(cr, CAIRO_TAG_DEST);
            if (it->outline && it->title && it->dest) {
                int lv = it->outline < 7 ? it->outline : 7;
                char a[300];
                snprintf(a, sizeof a, "dest='%s'", it->dest);
                parents[lv] = cairo_pdf_surface_add_outline(T->surf, parents[lv - 1], it->title, a,
                                                            lv == 1 ? CAIRO_PDF_OUTLINE_FLAG_OPEN : 0);
                for (int q = lv + 1; q < 8; q++) parents[q] = parents[lv];
            }
        }
        if (pg->nfns) {
            double y = T->mt + T->th - pg->fn_h + FN_GAP;
            cairo_save(cr);
            set_rgb(cr, 0.3, 0.3, 0.3);
            cairo_set_line_width(cr, 0.5);
            cairo_move_to(cr, T->ml, y - FN_GAP / 2);
            cairo_line_to(cr, T->ml + T->tw / 3, y - FN_GAP / 2);
            cairo_stroke(cr);
            cairo_restore(cr);
            for (int k = 0; k < pg->nfns; k++) {
                rp_para *fp = T->fns[pg->fns[k]];
                set_rgb(cr, 0, 0, 0);
                rp_para_draw_lines(T, fp, 0, fp->nlines, T->ml, y);
                y += fp->height + 2;
            }
        }
        cairo_show_page(cr);
    }
}

static void set_metadata(rp_ts *T) {
    rp_doc *d = T->d;
    cairo_pdf_surface_set_metadata(T->surf, CAIRO_PDF_METADATA_TITLE, d->title ? d->title : "clipbook report");
    if (d->nauthors) {
        GString *g = g_string_new(NULL);
        for (int i = 0; i < d->nauthors; i++) g_string_append_printf(g, "%s%s", i ? ", " : "", d->authors[i]);
        cairo_pdf_surface_set_metadata(T->surf, CAIRO_PDF_METADATA_AUTHOR, g->str);
        g_string_free(g, TRUE);
    }
    if (d->subtitle) cairo_pdf_surface_set_metadata(T->surf, CAIRO_PDF_METADATA_SUBJECT, d->subtitle);
    cairo_pdf_surface_set_metadata(T->surf, CAIRO_PDF_METADATA_CREATOR, "clipbook render");
    /* Reproducible: the date comes from SOURCE_DATE_EPOCH, else a fixed one. */
    time_t t = 1767225600;   /* 2026-01-01T00:00:00Z */
    const char *e = getenv("SOURCE_DATE_EPOCH");
    if (e && *e) t = (time_t)strtoll(e, NULL, 10);
    struct tm tm;
    gmtime_r(&t, &tm);
    char iso[64];
    strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &tm);
    cairo_pdf_surface_set_metadata(T->surf, CAIRO_PDF_METADATA_CREATE_DATE, iso);
    cairo_pdf_surface_set_metadata(T->surf, CAIRO_PDF_METADATA_MOD_DATE, iso);
}

int rp_pdf_write(rp_doc *d, const char *path) {
    rp_ts T = { 0 };
    T.d = d;
    T.serif = "TeX Gyre Pagella";
    /* DejaVu Sans Mono: open, clear at small sizes (0/O, 1/l/I distinct), full
     * Greek and symbol coverage for output, and its large x-height matches
     * Pagella's when set at 0.78 of the body size. TeX Gyre Cursor (the
     * Courier clone) is too thin beside Pagella. */
    T.mono = "DejaVu Sans Mono";
    T.size = 10.5;
    int letter = d->paper && !strcmp(d->paper, "letter");
    T.pw = letter ? 612 : 595.276;
    T.ph = letter ? 792 : 841.89;
    T.tw = 418;                  /* ~66 characters a line */
    T.ml = (T.pw - T.tw) / 2;
    T.mt = 86;
    T.th = T.ph - T.mt - 96;
    T.surf = cairo_pdf_surface_create(path, T.pw, T.ph);
    if (cairo_surface_status(T.surf) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(T.surf);
        return en_error("%s: cannot create the PDF", path);
    }
    set_metadata(&T);
    T.cr = cairo_create(T.surf);
    T.fm = pango_cairo_font_map_new();
    T.ctx = pango_font_map_create_context(T.fm);
    pango_cairo_context_set_resolution(T.ctx, 72);
    cairo_font_options_t *fo = cairo_font_options_create();
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
    pango_cairo_context_set_font_options(T.ctx, fo);
    cairo_font_options_destroy(fo);
    pango_cairo_context_set_shape_renderer(T.ctx, shape_renderer, NULL, NULL);
    fg_set_fonts(T.serif, T.mono, T.size * 0.85);
    rp_layout_document(&T);
    paginate(&T);
    /* cairo 1.16 writes a dangling structure-tree reference for each link
     * unless the links sit inside a structure element. */
    cairo_tag_begin(T.cr, "Document", NULL);
    draw_pages(&T);
    cairo_tag_end(T.cr, "Document");
    cairo_destroy(T.cr);
    cairo_surface_finish(T.surf);
    int rc = cairo_surface_status(T.surf) == CAIRO_STATUS_SUCCESS ? 0 : en_error("%s: cannot write the PDF", path);
    cairo_surface_destroy(T.surf);
    for (int p = 0; p < T.npages; p++) { free(T.pages[p].pl); free(T.pages[p].fns); }
    free(T.pages);
    rp_layout_free(&T);
    g_object_unref(T.ctx);
    g_object_unref(T.fm);
    return rc;
}
