/* rp_layout — turns the document model into the typesetter's item list:
 * paragraphs become pango layouts split into line items; headings, figures,
 * tables and display math become boxes; listings, output, callouts and
 * errors become decorated lines. Inline math is a PangoAttrShape drawn by
 * a shape renderer that calls rp_math_draw. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmark-gfm-core-extensions.h>

#include "en_error.h"
#include "rp_typeset.h"

#define PAD 5.0           /* inside decorated blocks */
#define PARSKIP 0.55      /* space between paragraphs, in body sizes */

/* ---- items and paragraphs ------------------------------------------------ */

static rp_item *item_add(rp_ts *T, int kind, double h) {
    if (T->nitems == T->capitems) {
        T->capitems = T->capitems ? T->capitems * 2 : 256;
        T->items = realloc(T->items, T->capitems * sizeof *T->items);
        EN_ASSERT(T->items);
    }
    rp_item *it = &T->items[T->nitems++];
    memset(it, 0, sizeof *it);
    it->kind = kind;
    it->h = h;
    return it;
}

static void *box_keep(rp_ts *T, void *p) {
    if (T->nboxes == T->capboxes) {
        T->capboxes = T->capboxes ? T->capboxes * 2 : 64;
        T->boxes = realloc(T->boxes, T->capboxes * sizeof *T->boxes);
        EN_ASSERT(T->boxes);
    }
    T->boxes[T->nboxes++] = p;
    return p;
}

static PangoFontDescription *font(rp_ts *T, const char *family, double size, int bold, int italic) {
    PangoFontDescription *fd = pango_font_description_new();
    pango_font_description_set_family(fd, family);
    pango_font_description_set_absolute_size(fd, size * PANGO_SCALE);
    if (bold) pango_font_description_set_weight(fd, PANGO_WEIGHT_BOLD);
    if (italic) pango_font_description_set_style(fd, PANGO_STYLE_ITALIC);
    return fd;
}

typedef struct {
    GString *s;
    PangoAttrList *attrs;
    rp_link *links;
    int nlinks, caplinks;
    int *fn_at, *fn_id, nfn;
    rp_ts *T;
    double size;
    int fn_base;
    const char *family;
    int copy;   /* a second typesetting of the same text (the contents): no
                 * footnote marks, and math parsed afresh, since a formula
                 * keeps the size of its last layout */
} ib;

static void ib_init(ib *b, rp_ts *T, double size, const char *family) {
    memset(b, 0, sizeof *b);
    b->s = g_string_new(NULL);
    b->attrs = pango_attr_list_new();
    b->T = T;
    b->size = size;
    b->family = family;
}

static void attr_range(ib *b, PangoAttribute *a, size_t start) {
    a->start_index = start;
    a->end_index = b->s->len;
    pango_attr_list_insert(b->attrs, a);
}

static void color_range(ib *b, size_t start, double r, double g, double bl) {
    attr_range(b, pango_attr_foreground_new(r * 65535, g * 65535, bl * 65535), start);
}

static void link_add(ib *b, size_t start, const char *dest, const char *uri) {
    if (b->nlinks == b->caplinks) {
        b->caplinks = b->caplinks ? b->caplinks * 2 : 8;
        b->links = realloc(b->links, b->caplinks * sizeof *b->links);
        EN_ASSERT(b->links);
    }
    b->links[b->nlinks++] = (rp_link){ (int)start, (int)b->s->len, dest ? strdup(dest) : NULL, uri ? strdup(uri) : NULL };
}

static void shape_free(gpointer p) { (void)p; }
static gpointer shape_copy(gconstpointer p) { return (gpointer)p; }

static void ib_math(ib *b, rp_special *sp) {
    if (!sp->math) {     /* show the source, marked, rather than nothing */
        size_t st = b->s->len;
        g_string_append(b->s, sp->text);
        attr_range(b, pango_attr_family_new(b->T->mono), st);
        color_range(b, st, 0.75, 0.1, 0.1);
        return;
    }
    double w, a, de;
    rp_math *m = sp->math;
    if (b->copy) {
        char err[128];
        m = rp_math_parse(sp->text, 0, err, sizeof err);
        if (!m) return;
        rp_ts *T = b->T;
        if (T->nmaths == T->capmaths) {
            T->capmaths = T->capmaths ? T->capmaths * 2 : 8;
            T->maths = realloc(T->maths, T->capmaths * sizeof *T->maths);
            EN_ASSERT(T->maths);
        }
        T->maths[T->nmaths++] = m;
    }
    rp_math_layout(m, b->T->cr, b->T->serif, b->size, &w, &a, &de);
    PangoRectangle r = { 0, (int)(-a * PANGO_SCALE), (int)(w * PANGO_SCALE), (int)((a + de) * PANGO_SCALE) };
    size_t st = b->s->len;
    g_string_append(b->s, "\xef\xbf\xbc");   /* U+FFFC object replacement */
    attr_range(b, pango_attr_shape_new_with_data(&r, &r, m, shape_copy, shape_free), st);
}

static void ib_text(ib *b, const char *s) {
    const char *end;
    char kind;
    int idx;
    rp_doc *d = b->T->d;
    const char *p;
    while ((p = rp_md_placeholder(s, &kind, &idx, &end))) {
        g_string_append_len(b->s, s, p - s);
        rp_special *sp = &d->sp[idx];
        size_t st = b->s->len;
        if (kind == RP_SP_MATH || kind == RP_SP_DMATH) {
            ib_math(b, sp);
        } else if (kind == RP_SP_XREF) {
            char *t = rp_xref_text(d, sp->text);
            if (t) {
                g_string_append(b->s, t);
                color_range(b, st, 0.10, 0.25, 0.55);
                link_add(b, st, sp->text, NULL);
                free(t);
            } else {
                g_string_append_printf(b->s, "??%s", sp->text);
                attr_range(b, pango_attr_weight_new(PANGO_WEIGHT_BOLD), st);
                color_range(b, st, 0.8, 0.1, 0.1);
            }
        } else if (kind == RP_SP_CITE) {
            g_string_append(b->s, "[");
            char *keys = strdup(sp->text), *save = NULL;
            int first = 1;
            for (char *k = strtok_r(keys, ";", &save); k; k = strtok_r(NULL, ";", &save)) {
                if (!first) g_string_append(b->s, ", ");
                first = 0;
                const rp_ref *r = rp_xref_ref(d, k);
                size_t ks = b->s->len;
                if (r) {
                    char dest[200];
                    snprintf(dest, sizeof dest, "ref-%s", r->key);
                    g_string_append_printf(b->s, "%d", r->number);
                    color_range(b, ks, 0.10, 0.25, 0.55);
                    link_add(b, ks, dest, NULL);
                } else {
                    g_string_append_printf(b->s, "?%s", k);
                    color_range(b, ks, 0.8, 0.1, 0.1);
                }
            }
            free(keys);
            g_string_append(b->s, "]");
        }
        s = end;
    }
    g_string_append(b->s, s);
}

static void ib_children(ib *b, cmark_node *n);

static void ib_node(ib *b, cmark_node *n) {
    size_t st = b->s->len;
    switch (cmark_node_get_type(n)) {
    case CMARK_NODE_TEXT: ib_text(b, cmark_node_get_literal(n)); break;
    case CMARK_NODE_SOFTBREAK: g_string_append_c(b->s, ' '); break;
    case CMARK_NODE_LINEBREAK: g_string_append(b->s, "\xe2\x80\xa8"); break;   /* U+2028 */
    case CMARK_NODE_CODE:
        g_string_append(b->s, cmark_node_get_literal(n));
        attr_range(b, pango_attr_family_new(b->T->mono), st);
        attr_range(b, pango_attr_scale_new(0.86), st);
        color_range(b, st, 0.25, 0.18, 0.12);
        break;
    case CMARK_NODE_EMPH:
        ib_children(b, n);
        attr_range(b, pango_attr_style_new(PANGO_STYLE_ITALIC), st);
        break;
    case CMARK_NODE_STRONG:
        ib_children(b, n);
        attr_range(b, pango_attr_weight_new(PANGO_WEIGHT_BOLD), st);
        break;
    case CMARK_NODE_LINK: {
        ib_children(b, n);
        const char *url = cmark_node_get_url(n);
        color_range(b, st, 0.10, 0.25, 0.55);
        if (url && url[0] == '#') link_add(b, st, url + 1, NULL);
        else if (url) link_add(b, st, NULL, url);
        break;
    }
    case CMARK_NODE_IMAGE: {   /* images in prose: their alt text, italic */
        ib_children(b, n);
        attr_range(b, pango_attr_style_new(PANGO_STYLE_ITALIC), st);
        break;
    }
    case CMARK_NODE_HTML_INLINE: break;
    case CMARK_NODE_FOOTNOTE_REFERENCE: {
        if (b->copy) break;
        int ix = atoi(cmark_node_get_literal(n));
        int id = b->fn_base + ix - 1;
        g_string_append_printf(b->s, "%d", id + 1);
        attr_range(b, pango_attr_rise_new((int)(b->size * 0.36 * PANGO_SCALE)), st);
        attr_range(b, pango_attr_scale_new(0.68), st);
        b->fn_at = realloc(b->fn_at, (b->nfn + 1) * sizeof *b->fn_at);
        b->fn_id = realloc(b->fn_id, (b->nfn + 1) * sizeof *b->fn_id);
        b->fn_at[b->nfn] = (int)st;
        b->fn_id[b->nfn++] = id;
        break;
    }
    default:
        if (!strcmp(cmark_node_get_type_string(n), "strikethrough")) {
            ib_children(b, n);
            attr_range(b, pango_attr_strikethrough_new(TRUE), st);
        } else {
            ib_children(b, n);
        }
    }
}

static void ib_children(ib *b, cmark_node *n) {
    for (cmark_node *c = cmark_node_first_child(n); c; c = cmark_node_next(c)) ib_node(b, c);
}

/* Builds a paragraph from b (consumed). align: 'j' justify, 'l', 'c', 'r'. */
static rp_para *para_make(rp_ts *T, ib *b, PangoFontDescription *fd, double width, char align,
                          double spacing, PangoWrapMode wrap) {
    rp_para *p = calloc(1, sizeof *p);
    EN_ASSERT(p);
    p->lay = pango_layout_new(T->ctx);
    pango_layout_set_font_description(p->lay, fd);
    pango_font_description_free(fd);
    pango_layout_set_width(p->lay, width > 0 ? (int)(width * PANGO_SCALE) : -1);
    pango_layout_set_wrap(p->lay, wrap);
    pango_layout_set_line_spacing(p->lay, spacing);
    if (align == 'j') pango_layout_set_justify(p->lay, TRUE);
    pango_layout_set_alignment(p->lay, align == 'c' ? PANGO_ALIGN_CENTER : align == 'r' ? PANGO_ALIGN_RIGHT : PANGO_ALIGN_LEFT);
    /* Trailing spaces / line separators would make empty last lines. */
    while (b->s->len && (b->s->str[b->s->len - 1] == ' ' || b->s->str[b->s->len - 1] == '\n'))
        g_string_truncate(b->s, b->s->len - 1);
    pango_layout_set_text(p->lay, b->s->str, (int)b->s->len);
    pango_layout_set_attributes(p->lay, b->attrs);
    pango_attr_list_unref(b->attrs);
    g_string_free(b->s, TRUE);
    p->links = b->links;
    p->nlinks = b->nlinks;
    p->fn_at = b->fn_at;
    p->fn_id = b->fn_id;
    p->nfn = b->nfn;
    p->nlines = pango_layout_get_line_count(p->lay);
    p->top = calloc(p->nlines, sizeof(double));
    p->h = calloc(p->nlines, sizeof(double));
    p->base = calloc(p->nlines, sizeof(double));
    p->lx = calloc(p->nlines, sizeof(double));
    PangoLayoutIter *it = pango_layout_get_iter(p->lay);
    int i = 0;
    do {
        int y0, y1;
        PangoRectangle lr;
        pango_layout_iter_get_line_yrange(it, &y0, &y1);
        pango_layout_iter_get_line_extents(it, NULL, &lr);
        p->top[i] = y0 / (double)PANGO_SCALE;
        p->h[i] = (y1 - y0) / (double)PANGO_SCALE;
        p->base[i] = pango_layout_iter_get_baseline(it) / (double)PANGO_SCALE;
        p->lx[i] = lr.x / (double)PANGO_SCALE;
        i++;
    } while (pango_layout_iter_next_line(it) && i < p->nlines);
    pango_layout_iter_free(it);
    p->height = p->nlines ? p->top[p->nlines - 1] + p->h[p->nlines - 1] : 0;
    if (T->nparas == T->capparas) {
        T->capparas = T->capparas ? T->capparas * 2 : 256;
        T->paras = realloc(T->paras, T->capparas * sizeof *T->paras);
        EN_ASSERT(T->paras);
    }
    T->paras[T->nparas++] = p;
    return p;
}

void rp_para_draw_lines(rp_ts *T, rp_para *p, int l0, int l1, double x, double y) {
    cairo_t *cr = T->cr;
    double y0 = p->top[l0];
    for (int l = l0; l < l1; l++) {
        PangoLayoutLine *ln = pango_layout_get_line_readonly(p->lay, l);
        double ty = y + p->top[l] - y0;
        cairo_move_to(cr, x + p->lx[l], ty + p->base[l] - p->top[l]);
        pango_cairo_show_layout_line(cr, ln);
        for (int k = 0; k < p->nlinks; k++) {
            rp_link *L = &p->links[k];
            int a = L->start > ln->start_index ? L->start : ln->start_index;
            int e = L->end < ln->start_index + ln->length ? L->end : ln->start_index + ln->length;
            if (a >= e) continue;
            int xa, xe;
            pango_layout_line_index_to_x(ln, a, FALSE, &xa);
            pango_layout_line_index_to_x(ln, e, FALSE, &xe);
            if (e == ln->start_index + ln->length) {
                PangoRectangle lr;
                pango_layout_line_get_extents(ln, NULL, &lr);
                xe = lr.x + lr.width;
            }
            char attr[600];
            double rx = x + p->lx[l] + xa / (double)PANGO_SCALE, rw = (xe - xa) / (double)PANGO_SCALE;
            if (L->dest)
                snprintf(attr, sizeof attr, "rect=[%.2f %.2f %.2f %.2f] dest='%s'", rx, ty, rw, p->h[l], L->dest);
            else
                snprintf(attr, sizeof attr, "rect=[%.2f %.2f %.2f %.2f] uri='%s'", rx, ty, rw, p->h[l], L->uri);
            cairo_tag_begin(cr, CAIRO_TAG_LINK, attr);
            cairo_tag_end(cr, CAIRO_TAG_LINK);
        }
    }
}

static void draw_line(rp_ts *T, rp_item *it, double x, double y) {
    rp_para_draw_lines(T, it->para, it->line, it->line + 1, x + it->indent, y);
}

/* Appends p's lines as items; orphan/widow control by keep chains. */
static void para_items(rp_ts *T, rp_para *p, double indent, double before, int deco, double deco_x, double deco_w) {
    int n = p->nlines;
    for (int l = 0; l < n; l++) {
        rp_item *it = item_add(T, RP_I_LINE, p->h[l]);
        it->para = p;
        it->line = l;
        it->indent = indent;
        it->before = l == 0 ? before : 0;
        it->keep = (l == 0 && n > 1) || (l == n - 2);
        it->draw = draw_line;
        it->deco = deco;
        it->deco_x = deco_x;
        it->deco_w = deco_w;
        PangoLayoutLine *ln = pango_layout_get_line_readonly(p->lay, l);
        for (int k = 0; k < p->nfn; k++)
            if (p->fn_at[k] >= ln->start_index && p->fn_at[k] < ln->start_index + ln->length) {
                it->fns = realloc(it->fns, (it->nfns + 1) * sizeof *it->fns);
                it->fns[it->nfns++] = p->fn_id[k];
            }
    }
}

static void glue(rp_ts *T, double h, int deco, double deco_x, double deco_w, int keep) {
    rp_item *it = item_add(T, RP_I_GLUE, h);
    it->deco = deco;
    it->deco_x = deco_x;
    it->deco_w = deco_w;
    it->keep = keep;
}

/* ---- boxes ---------------------------------------------------------------- */

typedef struct {
    rp_para *p;
    char *dest;
    double x;
} heading_box;

static void draw_para_box(rp_ts *T, rp_item *it, double x, double y) {
    heading_box *hb = it->data;
    if (hb->dest) {
        char a[300];
        snprintf(a, sizeof a, "name='%s' x=%.2f y=%.2f", hb->dest, x, y);
        cairo_tag_begin(T->cr, CAIRO_TAG_DEST, a);
    }
    rp_para_draw_lines(T, hb->p, 0, hb->p->nlines, x + hb->x, y);
    if (hb->dest) cairo_tag_end(T->cr, CAIRO_TAG_DEST);
}

static rp_item *para_box(rp_ts *T, rp_para *p, double x, const char *dest, double before) {
    heading_box *hb = box_keep(T, calloc(1, sizeof *hb));
    hb->p = p;
    hb->x = x;
    rp_item *it = item_add(T, RP_I_BOX, p->height);
    it->dest = dest ? box_keep(T, strdup(dest)) : NULL;   /* rp_pdf emits the dest */
    it->draw = draw_para_box;
    it->data = hb;
    it->before = before;
    return it;
}

typedef struct {
    rp_math *m;
    double w, a, d, scale;   /* scale < 1: a formula wider than the text, shrunk */
    int number;
    const char *dest;
    rp_para *err;
} math_box;

static void draw_math(rp_ts *T, rp_item *it, double x, double y) {
    math_box *mb = it->data;
    if (mb->dest) {
        char a[300];
        snprintf(a, sizeof a, "name='%s' x=%.2f y=%.2f", mb->dest, x, y);
        cairo_tag_begin(T->cr, CAIRO_TAG_DEST, a);
    }
    if (mb->m) {
        cairo_save(T->cr);
        cairo_translate(T->cr, x + (T->tw - mb->w * mb->scale) / 2, y + 5 + mb->a * mb->scale);
        cairo_scale(T->cr, mb->scale, mb->scale);
        rp_math_draw(mb->m, T->cr, 0, 0);
        cairo_restore(T->cr);
    }
    else rp_para_draw_lines(T, mb->err, 0, mb->err->nlines, x, y + 3);
    if (mb->number) {
        PangoLayout *l = pango_layout_new(T->ctx);
        PangoFontDescription *fd = font(T, T->serif, T->size, 0, 0);
        pango_layout_set_font_description(l, fd);
        pango_font_description_free(fd);
        char num[32];
        snprintf(num, sizeof num, "(%d)", mb->number);
        pango_layout_set_text(l, num, -1);
        PangoRectangle r;
        pango_layout_get_extents(l, NULL, &r);
        double by = mb->m ? y + 5 + mb->a * mb->scale : y + 3 + T->size;
        cairo_move_to(T->cr, x + T->tw - r.width / (double)PANGO_SCALE,
                      by - pango_layout_get_baseline(l) / (double)PANGO_SCALE);
        pango_cairo_show_layout(T->cr, l);
        g_object_unref(l);
    }
    if (mb->dest) cairo_tag_end(T->cr, CAIRO_TAG_DEST);
}

static void math_item(rp_ts *T, rp_math *m, const char *tex, const char *err, int number, const char *dest) {
    math_box *mb = box_keep(T, calloc(1, sizeof *mb));
    mb->m = m;
    mb->number = number;
    mb->dest = dest;
    double h;
    if (m) {
        rp_math_layout(m, T->cr, T->serif, T->size * 1.05, &mb->w, &mb->a, &mb->d);
        double room = T->tw - (number ? 2 * 36 : 0);
        mb->scale = mb->w > room ? room / mb->w : 1;
        h = (mb->a + mb->d) * mb->scale + 10;
    } else {
        ib b;
        ib_init(&b, T, T->size, T->mono);
        g_string_append_printf(b.s, "math error: %s — %s", err ? err : "?", tex);
        color_range(&b, 0, 0.75, 0.1, 0.1);
        mb->err = para_make(T, &b, font(T, T->mono, T->size * 0.8, 0, 0), T->tw, 'l', 1.0, PANGO_WRAP_CHAR);
        h = mb->err->height + 6;
    }
    rp_item *it = item_add(T, RP_I_BOX, h);
    it->draw = draw_math;
    it->data = mb;
    it->dest = mb->dest ? box_keep(T, strdup(mb->dest)) : NULL;
    mb->dest = NULL;
    it->before = T->size * 0.45;
}

/* Caption: "Figure 3." in bold, then the caption text; centred if one line. */
static rp_para *caption_para(rp_ts *T, const char *what, int number, cmark_node *md, double width) {
    ib b;
    ib_init(&b, T, T->size * 0.9, T->serif);
    g_string_append_printf(b.s, "%s %d.", what, number);
    attr_range(&b, pango_attr_weight_new(PANGO_WEIGHT_BOLD), 0);
    g_string_append(b.s, " ");
    if (md)
        for (cmark_node *c = cmark_node_first_child(md); c; c = cmark_node_next(c)) {
            if (cmark_node_get_type(c) == CMARK_NODE_PARAGRAPH) ib_children(&b, c);
        }
    rp_para *p = para_make(T, &b, font(T, T->serif, T->size * 0.9, 0, 0), width, 'j', 1.0, PANGO_WRAP_WORD_CHAR);
    if (p->nlines == 1) {
        pango_layout_set_alignment(p->lay, PANGO_ALIGN_CENTER);
        PangoRectangle lr;
        PangoLayoutIter *it = pango_layout_get_iter(p->lay);
        pango_layout_iter_get_line_extents(it, NULL, &lr);
        p->lx[0] = lr.x / (double)PANGO_SCALE;
        pango_layout_iter_free(it);
    }
    return p;
}

typedef struct {
    const fg_spec *spec;
    const char *err;
    double w, h;
    rp_para *cap;
    const char *dest;
} fig_box;

static void draw_figure(rp_ts *T, rp_item *it, double x, double y) {
    fig_box *fb = it->data;
    if (fb->dest) {
        char a[300];
        snprintf(a, sizeof a, "name='%s' x=%.2f y=%.2f", fb->dest, x, y);
        cairo_tag_begin(T->cr, CAIRO_TAG_DEST, a);
    }
    fg_box box = { x + (T->tw - fb->w) / 2, y, fb->w, fb->h };
    char err[256] = "";
    cairo_save(T->cr);
    if (fb->spec) {
        if (fg_draw(T->cr, box, fb->spec, err, sizeof err))
            fprintf(stderr, "clipbook render: warning: figure: %s\n", err);
    } else {
        cairo_rectangle(T->cr, box.x, box.y, box.w, box.h);
        cairo_set_source_rgb(T->cr, 0.8, 0.1, 0.1);
        cairo_set_line_width(T->cr, 1);
        cairo_stroke(T->cr);
    }
    cairo_restore(T->cr);
    rp_para_draw_lines(T, fb->cap, 0, fb->cap->nlines, x + (T->tw - T->tw * 0.92) / 2, y + fb->h + 6);
    if (fb->dest) cairo_tag_end(T->cr, CAIRO_TAG_DEST);
}

static void figure_item(rp_ts *T, rp_block *b) {
    fig_box *fb = box_keep(T, calloc(1, sizeof *fb));
    fb->spec = b->spec;
    fb->dest = b->label;
    fb->w = T->tw * b->width;
    double aspect = b->spec ? fg_spec_aspect(b->spec) : 0.3;
    if (!(aspect > 0.05 && aspect < 5)) aspect = 0.62;
    fb->h = fb->w * aspect;
    if (fb->h > T->th * 0.62) { fb->h = T->th * 0.62; fb->w = fb->h / aspect; }
    fb->cap = caption_para(T, "Figure", b->number, b->caption, T->tw * 0.92);
    rp_item *it = item_add(T, RP_I_BOX, fb->h + 6 + fb->cap->height);
    it->draw = draw_figure;
    it->data = fb;
    it->dest = fb->dest ? box_keep(T, strdup(fb->dest)) : NULL;
    fb->dest = NULL;
    it->before = T->size * 1.0;
    it->is_float = 1;
}

/* ---- tables ---------------------------------------------------------------- */

typedef struct {
    int ncols, nrows;   /* nrows includes the header row */
    rp_para **cells;
    double *cw, *rh, w;
    const char *align;
    rp_para *cap;
    const char *dest;
} table_box;

#define CELLPAD 5.0

/* Rows [r0, r1) at y: the caption and top rule before row 0, a thin rule
 * under the header row, the bottom rule under the last row. */
static void draw_table_rows(rp_ts *T, table_box *tb, int r0, int r1, double x, double y) {
    cairo_t *cr = T->cr;
    double yy = y;
    double x0 = x + (T->tw - tb->w) / 2;
    if (r0 == 0) {
        if (tb->cap) {
            rp_para_draw_lines(T, tb->cap, 0, tb->cap->nlines, x + T->tw * 0.04, yy);
            yy += tb->cap->height + 5;
        }
        cairo_save(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_set_line_width(cr, 0.8);
        cairo_move_to(cr, x0, yy); cairo_line_to(cr, x0 + tb->w, yy); cairo_stroke(cr);
        cairo_restore(cr);
        yy += 1;
    }
    for (int r = r0; r < r1; r++) {
        double cx = x0;
        for (int c = 0; c < tb->ncols; c++) {
            rp_para *p = tb->cells[r * tb->ncols + c];
            if (p->nlines) rp_para_draw_lines(T, p, 0, p->nlines, cx + CELLPAD, yy + 3);
            cx += tb->cw[c];
        }
        yy += tb->rh[r];
        if (r == 0 || r == tb->nrows - 1) {
            cairo_save(cr);
            cairo_set_line_width(cr, r == 0 ? 0.5 : 0.8);
            cairo_move_to(cr, x0, yy); cairo_line_to(cr, x0 + tb->w, yy); cairo_stroke(cr);
            cairo_restore(cr);
            yy += 1;
        }
    }
}

static void draw_table(rp_ts *T, rp_item *it, double x, double y) {
    table_box *tb = it->data;
    draw_table_rows(T, tb, 0, tb->nrows, x, y);
}

typedef struct { table_box *tb; int r0, r1; } table_part;

static void draw_table_part(rp_ts *T, rp_item *it, double x, double y) {
    table_part *tp = it->data;
    if (it->head_drawn) {   /* the header row again, between rules, above this row */
        table_box *tb = tp->tb;
        double y0 = y - it->head_h, x0 = x + (T->tw - tb->w) / 2, cx = x0;
        cairo_save(T->cr);
        cairo_set_line_width(T->cr, 0.8);
        cairo_move_to(T->cr, x0, y0); cairo_line_to(T->cr, x0 + tb->w, y0); cairo_stroke(T->cr);
        for (int c = 0; c < tb->ncols; c++) {
            rp_para *p = tb->cells[c];
            if (p->nlines) rp_para_draw_lines(T, p, 0, p->nlines, cx + CELLPAD, y0 + 1 + 3);
            cx += tb->cw[c];
        }
        cairo_set_line_width(T->cr, 0.5);
        cairo_move_to(T->cr, x0, y - 1); cairo_line_to(T->cr, x0 + tb->w, y - 1); cairo_stroke(T->cr);
        cairo_restore(T->cr);
    }
    draw_table_rows(T, tp->tb, tp->r0, tp->r1, x, y);
}

static double para_natural(rp_para *p) {
    PangoRectangle r;
    pango_layout_get_extents(p->lay, NULL, &r);
    return r.width / (double)PANGO_SCALE;
}

/* cells: nrows*ncols md docs, row 0 the header. */
static void table_item(rp_ts *T, cmark_node **md, int ncols, int nrows, const char *align,
                       rp_para *cap, const char *dest, int is_float, double before) {
    table_box *tb = box_keep(T, calloc(1, sizeof *tb));
    tb->ncols = ncols;
    tb->nrows = nrows;
    tb->align = align;
    tb->cap = cap;
    tb->dest = dest;
    tb->cells = box_keep(T, calloc(ncols * nrows, sizeof *tb->cells));
    tb->cw = box_keep(T, calloc(ncols, sizeof(double)));
    tb->rh = box_keep(T, calloc(nrows, sizeof(double)));
    double fs = T->size * 0.92;
    /* Column widths as a browser's automatic table layout: each column gets
     * at least its widest word (min) and at most its unwrapped text (max);
     * when the max widths do not fit, the room between the two is shared in
     * proportion to it. Scaling the max widths alone squeezed short columns
     * until words broke mid-letter. */
    double *minw = box_keep(T, calloc(ncols, sizeof(double)));
    for (int pass = 0; pass < 2; pass++) {
        for (int r = 0; r < nrows; r++)
            for (int c = 0; c < ncols; c++) {
                ib b;
                ib_init(&b, T, fs, T->serif);
                cmark_node *doc = md[r * ncols + c];
                for (cmark_node *k = doc ? cmark_node_first_child(doc) : NULL; k; k = cmark_node_next(k)) {
                    if (cmark_node_get_type(k) == CMARK_NODE_PARAGRAPH) {   /* a cell from JSON */
                        if (b.s->len) g_string_append_c(b.s, ' ');
                        ib_children(&b, k);
                    } else {                                               /* a GFM cell */
                        ib_node(&b, k);
                    }
                }
                if (r == 0) attr_range(&b, pango_attr_weight_new(PANGO_WEIGHT_BOLD), 0);
                char al = align ? align[c] : 'l';
                double w = pass ? tb->cw[c] - 2 * CELLPAD : -1;
                rp_para *p = para_make(T, &b, font(T, T->serif, fs, 0, 0), w, pass ? al : 'l', 1.0, PANGO_WRAP_WORD_CHAR);
                if (!pass) {
                    double nw = para_natural(p) + 2 * CELLPAD;
                    if (nw > tb->cw[c]) tb->cw[c] = nw;
                    /* the widest word: lay out at 1 pt, words overflow whole */
                    pango_layout_set_wrap(p->lay, PANGO_WRAP_WORD);
                    pango_layout_set_width(p->lay, PANGO_SCALE);
                    double mw = para_natural(p) + 2 * CELLPAD;
                    if (mw > minw[c]) minw[c] = mw;
                } else {
                    tb->cells[r * ncols + c] = p;
                    if (p->height + 6 > tb->rh[r]) tb->rh[r] = p->height + 6;
                }
            }
        if (!pass) {
            double smax = 0, smin = 0;
            for (int c = 0; c < ncols; c++) { smax += tb->cw[c]; smin += minw[c]; }
            if (smax > T->tw) {
                if (smin >= T->tw) {
                    for (int c = 0; c < ncols; c++) tb->cw[c] = minw[c] * T->tw / smin;
                } else {
                    double f = (T->tw - smin) / (smax - smin);
                    for (int c = 0; c < ncols; c++) tb->cw[c] = minw[c] + (tb->cw[c] - minw[c]) * f;
                }
            }
        }
    }
    tb->w = 0;
    for (int c = 0; c < ncols; c++) tb->w += tb->cw[c];
    double h = 3 + (cap ? cap->height + 5 : 0);
    for (int r = 0; r < nrows; r++) h += tb->rh[r];
    if (h > T->th * 0.8 && nrows > 4) {
        /* Too tall to move as a whole: it flows row by row, the caption and
         * header kept with the first two rows, the last two rows together. */
        for (int r = 0; r < nrows; r++) {
            table_part *tp = box_keep(T, calloc(1, sizeof *tp));
            tp->tb = tb;
            tp->r0 = r;
            tp->r1 = r + 1;
            double rh = tb->rh[r] + (r == 0 ? 2 + (cap ? cap->height + 5 : 0) : r == nrows - 1 ? 1 : 0);
            rp_item *it = item_add(T, RP_I_BOX, rh);
            it->draw = draw_table_part;
            it->data = tp;
            it->keep = r < 2 || r >= nrows - 2;
            if (r > 0) it->head_h = tb->rh[0] + 2;
            if (r == 0) {
                it->before = before;
                it->dest = dest ? box_keep(T, strdup(dest)) : NULL;
            }
        }
        T->items[T->nitems - 1].keep = 0;
        return;
    }
    rp_item *it = item_add(T, RP_I_BOX, h);
    it->draw = draw_table;
    it->data = tb;
    it->dest = tb->dest ? box_keep(T, strdup(tb->dest)) : NULL;
    tb->dest = NULL;
    it->before = before;
    it->is_float = is_float;
}

static void md_table(rp_ts *T, cmark_node *tbl, double before) {
    int ncols = cmark_gfm_extensions_get_table_columns(tbl), nrows = 0;
    for (cmark_node *r = cmark_node_first_child(tbl); r; r = cmark_node_next(r)) nrows++;
    if (!ncols || !nrows) return;
    cmark_node **md = box_keep(T, calloc(ncols * nrows, sizeof *md));
    char *align = box_keep(T, calloc(ncols + 1, 1));
    uint8_t *al = cmark_gfm_extensions_get_table_alignments(tbl);
    for (int c = 0; c < ncols; c++) align[c] = al && al[c] == 'c' ? 'c' : al && al[c] == 'r' ? 'r' : 'l';
    int r = 0;
    for (cmark_node *row = cmark_node_first_child(tbl); row; row = cmark_node_next(row), r++) {
        int c = 0;
        for (cmark_node *cell = cmark_node_first_child(row); cell && c < ncols; cell = cmark_node_next(cell), c++)
            md[r * ncols + c] = cell;
    }
    table_item(T, md, ncols, nrows, align, NULL, NULL, 0, before);
}

/* ---- listings, output, errors ---------------------------------------------- */

static const double hl_rgb[RP_HL_COUNT][3] = {
    { 0.12, 0.12, 0.12 },   /* plain */
    { 0.50, 0.10, 0.45 },   /* keyword */
    { 0.10, 0.42, 0.15 },   /* string */
    { 0.45, 0.45, 0.42 },   /* comment */
    { 0.68, 0.33, 0.00 },   /* number */
    { 0.10, 0.30, 0.60 },   /* builtin */
};

typedef struct { int gutter_digits; } code_info;

static void draw_code_line(rp_ts *T, rp_item *it, double x, double y) {
    if (it->lineno) {
        PangoLayout *l = pango_layout_new(T->ctx);
        PangoFontDescription *fd = font(T, T->mono, T->size * 0.66, 0, 0);
        pango_layout_set_font_description(l, fd);
        pango_font_description_free(fd);
        char num[32];
        snprintf(num, sizeof num, "%d", it->lineno);
        pango_layout_set_text(l, num, -1);
        PangoRectangle r;
        pango_layout_get_extents(l, NULL, &r);
        cairo_save(T->cr);
        cairo_set_source_rgb(T->cr, 0.55, 0.55, 0.55);
        rp_para *p = it->para;
        double base = y + p->base[it->line] - p->top[it->line];
        cairo_move_to(T->cr, x + it->indent - 6 - r.width / (double)PANGO_SCALE,
                      base - pango_layout_get_baseline(l) / (double)PANGO_SCALE);
        pango_cairo_show_layout(T->cr, l);
        cairo_restore(T->cr);
        g_object_unref(l);
    }
    draw_line(T, it, x, y);
}

static char *expand_tabs(const char *s) {
    GString *g = g_string_new(NULL);
    int col = 0;
    for (; *s; s++) {
        if (*s == '\t') { do g_string_append_c(g, ' '); while (++col % 4); }
        else { g_string_append_c(g, *s); col = *s == '\n' ? 0 : col + 1; }
    }
    return g_string_free(g, FALSE);
}

/* A listing or an output block: one para per source line, char-wrapped. */
static void code_items(rp_ts *T, const char *text0, int lua, int numbers, int first_line,
                       const char *header, double before, int deco, double fsize, double grey,
                       double indent, double width) {
    char *text = expand_tabs(text0);
    size_t len = strlen(text);
    while (len && text[len - 1] == '\n') text[--len] = 0;
    rp_hl_span *sp = NULL;
    int nsp = lua ? rp_highlight_lua(text, len, &sp) : 0;
    int nlines = 1;
    for (size_t i = 0; i < len; i++) nlines += text[i] == '\n';
    double gutter = 0;
    if (numbers) {
        int last = first_line + nlines - 1, dig = 1;
        while (last >= 10) { last /= 10; dig++; }
        gutter = dig * fsize * 0.62 + 8;
    }
    double dx = indent, dw = width;
    double tx = indent + PAD + gutter, w = width - 2 * PAD - gutter;
    if (deco == RP_D_OUTPUT) { tx = indent + 10; w = width - 12; }
    if (deco == RP_D_ERROR) { tx = indent + 12; w = width - 20; }
    if (header) {
        ib b;
        ib_init(&b, T, T->size * 0.75, T->serif);
        g_string_append(b.s, header);
        color_range(&b, 0, 0.42, 0.42, 0.42);
        rp_para *p = para_make(T, &b, font(T, T->serif, T->size * 0.75, 0, 1), w, 'l', 1.0, PANGO_WRAP_WORD_CHAR);
        para_items(T, p, indent, before, RP_D_NONE, 0, 0);
        T->items[T->nitems - 1].keep = 1;
        before = 1;
    }
    glue(T, deco == RP_D_OUTPUT ? 2 : PAD, deco, dx, dw, 1);
    T->items[T->nitems - 1].before = before;
    /* visual lines: count first so keep chains know the last two */
    int first_item = T->nitems, s = 0, k = 0;
    size_t ls = 0;
    for (int ln = 0; ln < nlines; ln++) {
        size_t le = ls;
        while (le < len && text[le] != '\n') le++;
        ib b;
        ib_init(&b, T, fsize, T->mono);
        g_string_append_len(b.s, text + ls, le - ls);
        if (lua) {
            while (s < nsp && sp[s].start + sp[s].len <= ls) s++;
            for (int j = s; j < nsp && sp[j].start < le; j++) {
                size_t a = sp[j].start > ls ? sp[j].start : ls;
                size_t e = sp[j].start + sp[j].len < le ? sp[j].start + sp[j].len : le;
                if (a >= e || sp[j].kind == RP_HL_PLAIN) continue;
                const double *c = hl_rgb[sp[j].kind];
                PangoAttribute *at = pango_attr_foreground_new(c[0] * 65535, c[1] * 65535, c[2] * 65535);
                at->start_index = a - ls;
                at->end_index = e - ls;
                pango_attr_list_insert(b.attrs, at);
                if (sp[j].kind == RP_HL_COMMENT || sp[j].kind == RP_HL_KEYWORD) {
                    at = sp[j].kind == RP_HL_COMMENT ? pango_attr_style_new(PANGO_STYLE_OBLIQUE)
                                                     : pango_attr_weight_new(PANGO_WEIGHT_BOLD);
                    at->start_index = a - ls;
                    at->end_index = e - ls;
                    pango_attr_list_insert(b.attrs, at);
                }
            }
        } else if (grey > 0) {
            color_range(&b, 0, grey, grey, grey);
        }
        if (b.s->len == 0) g_string_append_c(b.s, ' ');
        attr_range(&b, pango_attr_insert_hyphens_new(FALSE), 0);   /* code wraps without hyphens */
        PangoFontDescription *fd = font(T, T->mono, fsize, 0, 0);
        rp_para *p = para_make(T, &b, fd, w, 'l', 1.0, PANGO_WRAP_CHAR);
        if (p->nlines == 0) { ls = le + 1; continue; }
        for (int l = 0; l < p->nlines; l++, k++) {
            rp_item *it = item_add(T, RP_I_LINE, p->h[l]);
            it->para = p;
            it->line = l;
            it->indent = tx;
            it->deco = deco;
            it->deco_x = dx;
            it->deco_w = dw;
            it->draw = draw_code_line;
            if (numbers && l == 0) it->lineno = first_line + ln;
        }
        ls = le + 1;
    }
    int nvis = T->nitems - first_item;
    for (int i = 0; i < nvis; i++)
        T->items[first_item + i].keep = i == 0 || i >= nvis - 2;
    glue(T, deco == RP_D_OUTPUT ? 2 : PAD, deco, dx, dw, 0);
    free(sp);
    free(text);
}

/* ---- markdown blocks ------------------------------------------------------- */

typedef struct {
    double indent, width;
    int deco;
    double dx, dw;
    int fn_base, tight;
} mctx;

static void md_blocks(rp_ts *T, cmark_node *parent, mctx *c, const char *marker, double before);

static int dmath_index(cmark_node *para) {
    cmark_node *t = cmark_node_first_child(para);
    if (!t || cmark_node_next(t) || cmark_node_get_type(t) != CMARK_NODE_TEXT) return -1;
    const char *s = cmark_node_get_literal(t), *end;
    char kind;
    int idx;
    const char *p = rp_md_placeholder(s, &kind, &idx, &end);
    if (!p || p != s || *end || kind != RP_SP_DMATH) return -1;
    return idx;
}

static void heading_item(rp_ts *T, cmark_node *n, mctx *c) {
    int level = cmark_node_get_heading_level(n);
    int li = rp_xref_heading_label(n);
    const rp_label *lab = li >= 0 ? &T->d->labels[li] : NULL;
    static const double sizes[] = { 0, 1.85, 1.3, 1.1, 1.0, 1.0, 1.0 };
    double fs = T->size * sizes[level > 6 ? 6 : level];
    ib b;
    ib_init(&b, T, fs, T->serif);
    if (lab && lab->number[0]) {
        g_string_append(b.s, lab->number);
        g_string_append(b.s, level == 1 ? "\xe2\x80\x83" : "\xe2\x80\x82");   /* em / en space */
    }
    ib_children(&b, n);
    rp_para *p = para_make(T, &b, font(T, T->serif, fs, 1, level >= 3), c->width, 'l', 1.0, PANGO_WRAP_WORD_CHAR);
    double before = level == 1 ? 0 : level == 2 ? T->size * 1.5 : T->size * 1.1;
    rp_item *it = para_box(T, p, c->indent, lab ? lab->label : NULL, before);
    it->keep = 1;
    if (lab && level <= 3) {
        it->outline = level;
        char *t = g_strdup_printf("%s %s", lab->number, lab->title);
        it->title = box_keep(T, strdup(t));
        g_free(t);
    }
    if (level == 1) {
        it->newpage = 1;
        it->chapter_start = 1;
        glue(T, T->size * 1.6, RP_D_NONE, 0, 0, 1);
    } else {
        glue(T, T->size * 0.25, RP_D_NONE, 0, 0, 1);
    }
}

typedef struct { cairo_surface_t *img; double w, h; } image_box;

static void draw_image(rp_ts *T, rp_item *it, double x, double y) {
    image_box *ib = it->data;
    cairo_t *cr = T->cr;
    cairo_save(cr);
    cairo_translate(cr, x + (T->tw - ib->w) / 2, y);
    cairo_scale(cr, ib->w / cairo_image_surface_get_width(ib->img), ib->h / cairo_image_surface_get_height(ib->img));
    cairo_set_source_surface(cr, ib->img, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_GOOD);
    cairo_paint(cr);
    cairo_restore(cr);
}

/* A paragraph that is one PNG image: a centred box, at most the text width
 * and half the text height. 0 if it is not one or cannot be read. */
static int image_item(rp_ts *T, cmark_node *para, double before) {
    cmark_node *im = cmark_node_first_child(para);
    if (!im || cmark_node_next(im) || cmark_node_get_type(im) != CMARK_NODE_IMAGE || !T->dir) return 0;
    const char *url = cmark_node_get_url(im);
    if (!url || strstr(url, "://")) return 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", T->dir, url);
    cairo_surface_t *img = cairo_image_surface_create_from_png(path);
    if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) {
        fprintf(stderr, "clipbook render: warning: %s: cannot read the PNG\n", path);
        cairo_surface_destroy(img);
        return 0;
    }
    image_box *b = box_keep(T, calloc(1, sizeof *b));
    b->img = img;
    double iw = cairo_image_surface_get_width(img), ih = cairo_image_surface_get_height(img);
    b->w = iw < T->tw ? iw : T->tw;
    b->h = b->w * ih / iw;
    if (b->h > T->th * 0.5) { b->h = T->th * 0.5; b->w = b->h * iw / ih; }
    rp_item *it = item_add(T, RP_I_BOX, b->h);
    it->draw = draw_image;
    it->data = b;
    it->before = before;
    if (T->nimages == T->capimages) {
        T->capimages = T->capimages ? T->capimages * 2 : 8;
        T->images = realloc(T->images, T->capimages * sizeof *T->images);
    }
    T->images[T->nimages++] = img;
    return 1;
}

static void md_block(rp_ts *T, cmark_node *n, mctx *c, const char *marker, double before) {
    cmark_node_type t = cmark_node_get_type(n);
    const char *ts = cmark_node_get_type_string(n);
    if (t == CMARK_NODE_PARAGRAPH) {
        if (!marker && image_item(T, n, before)) return;
        int di = dmath_index(n);
        if (di >= 0) {
            rp_special *sp = &T->d->sp[di];
            const rp_label *l = sp->label ? rp_xref_find(T->d, sp->label) : NULL;
            math_item(T, sp->math, sp->text, sp->err, l ? atoi(l->number) : 0, l ? l->label : NULL);
            return;
        }
        ib b;
        ib_init(&b, T, T->size, T->serif);
        b.fn_base = c->fn_base;
        ib_children(&b, n);
        rp_para *p = para_make(T, &b, font(T, T->serif, T->size, 0, 0), c->width, 'j', 1.16, PANGO_WRAP_WORD_CHAR);
        int first = T->nitems;
        para_items(T, p, c->indent, before, c->deco, c->dx, c->dw);
        if (marker && T->nitems > first) T->items[first].marker = box_keep(T, strdup(marker));
    } else if (t == CMARK_NODE_HEADING) {
        heading_item(T, n, c);
    } else if (t == CMARK_NODE_LIST) {
        int ordered = cmark_node_get_list_type(n) == CMARK_ORDERED_LIST;
        int num = cmark_node_get_list_start(n);
        mctx sub = *c;
        sub.indent += 16;
        sub.width -= 16;
        sub.tight = cmark_node_get_list_tight(n);
        int i = 0;
        for (cmark_node *item = cmark_node_first_child(n); item; item = cmark_node_next(item), i++) {
            char mk[32];
            if (ordered) snprintf(mk, sizeof mk, "%d.", num + i);
            else snprintf(mk, sizeof mk, "%s", c->indent > 20 ? "\xe2\x80\x93" : "\xe2\x80\xa2");
            md_blocks(T, item, &sub, mk, i == 0 ? before : (sub.tight ? T->size * 0.15 : T->size * PARSKIP));
        }
    } else if (t == CMARK_NODE_BLOCK_QUOTE) {
        mctx sub = *c;
        sub.indent += 14;
        sub.width -= 20;
        if (sub.deco == RP_D_NONE) { sub.deco = RP_D_QUOTE; sub.dx = c->indent + 2; sub.dw = 2; }
        md_blocks(T, n, &sub, NULL, before);
    } else if (t == CMARK_NODE_CODE_BLOCK) {
        const char *info = cmark_node_get_fence_info(n);
        int lua = info && !strncmp(info, "lua", 3);
        code_items(T, cmark_node_get_literal(n), lua, T->d->line_numbers, 1, NULL, before,
                   RP_D_CODE, T->size * 0.78, 0, c->indent, c->width);
    } else if (t == CMARK_NODE_THEMATIC_BREAK) {
        glue(T, T->size, RP_D_NONE, 0, 0, 0);
    } else if (t == CMARK_NODE_FOOTNOTE_DEFINITION || t == CMARK_NODE_HTML_BLOCK) {
        /* footnotes are typeset at the foot of the page; raw HTML only in HTML */
    } else if (!strcmp(ts, "table")) {
        md_table(T, n, before);
    } else {
        md_blocks(T, n, c, marker, before);
    }
}

static void md_blocks(rp_ts *T, cmark_node *parent, mctx *c, const char *marker, double before) {
    int first = 1;
    for (cmark_node *n = cmark_node_first_child(parent); n; n = cmark_node_next(n)) {
        double b = first ? before : (c->tight ? T->size * 0.15 : T->size * PARSKIP);
        md_block(T, n, c, first ? marker : NULL, b);
        if (cmark_node_get_type(n) != CMARK_NODE_FOOTNOTE_DEFINITION) first = 0;
    }
}

/* Footnote definitions of a document: typeset now, referenced by id. */
static int md_footnotes(rp_ts *T, cmark_node *doc) {
    int base = T->nfns;
    for (cmark_node *n = cmark_node_first_child(doc); n; n = cmark_node_next(n)) {
        if (cmark_node_get_type(n) != CMARK_NODE_FOOTNOTE_DEFINITION) continue;
        ib b;
        double fs = T->size * 0.82;
        ib_init(&b, T, fs, T->serif);
        b.fn_base = base;
        g_string_append_printf(b.s, "%d", T->nfns + 1);
        attr_range(&b, pango_attr_rise_new((int)(fs * 0.36 * PANGO_SCALE)), 0);
        attr_range(&b, pango_attr_scale_new(0.7), 0);
        g_string_append(b.s, "\xe2\x80\x89");   /* thin space */
        for (cmark_node *k = cmark_node_first_child(n); k; k = cmark_node_next(k)) {
            if (b.s->len > 8) g_string_append_c(b.s, ' ');
            ib_children(&b, k);
        }
        rp_para *p = para_make(T, &b, font(T, T->serif, fs, 0, 0), T->tw, 'j', 1.0, PANGO_WRAP_WORD_CHAR);
        if (T->nfns == T->capfns) {
            T->capfns = T->capfns ? T->capfns * 2 : 32;
            T->fns = realloc(T->fns, T->capfns * sizeof *T->fns);
            EN_ASSERT(T->fns);
        }
        T->fns[T->nfns++] = p;
    }
    return base;
}

static void md_doc(rp_ts *T, cmark_node *doc, double indent, double width, int deco, double dx, double dw, double before) {
    mctx c = { indent, width, deco, dx, dw, 0, 0 };
    c.fn_base = md_footnotes(T, doc);
    md_blocks(T, doc, &c, NULL, before);
}

/* ---- chapter blocks ---------------------------------------------------------- */

static void simple_para(rp_ts *T, const char *text, const char *family, double fs, int bold, int italic,
                        double r, double g, double bl, double indent, double width, double before,
                        int deco, double dx, double dw, char align, PangoWrapMode wrap) {
    ib b;
    ib_init(&b, T, fs, family);
    g_string_append(b.s, text);
    color_range(&b, 0, r, g, bl);
    if (family == T->mono) attr_range(&b, pango_attr_insert_hyphens_new(FALSE), 0);
    rp_para *p = para_make(T, &b, font(T, family, fs, bold, italic), width, align, 1.0, wrap);
    para_items(T, p, indent, before, deco, dx, dw);
}

static void callout_items(rp_ts *T, rp_block *b, double before) {
    const char *k = b->callout ? b->callout : "note";
    int deco = !strcmp(k, "warning") ? RP_D_WARN : !strcmp(k, "tip") ? RP_D_TIP : RP_D_NOTE;
    static const double col[][3] = { { 0.12, 0.32, 0.62 }, { 0.70, 0.40, 0.00 }, { 0.10, 0.48, 0.25 } };
    const double *cc = col[deco - RP_D_NOTE];
    glue(T, PAD + 1, deco, 0, T->tw, 1);
    T->items[T->nitems - 1].before = before;
    char title[256];
    snprintf(title, sizeof title, "%s", b->title ? b->title : !strcmp(k, "warning") ? "Warning" : !strcmp(k, "tip") ? "Tip" : "Note");
    simple_para(T, title, T->serif, T->size, 1, 0, cc[0], cc[1], cc[2], 12, T->tw - 20, 0, deco, 0, T->tw, 'l', PANGO_WRAP_WORD_CHAR);
    T->items[T->nitems - 1].keep = 1;
    md_doc(T, b->md, 12, T->tw - 20, deco, 0, T->tw, T->size * 0.2);
    glue(T, PAD + 1, deco, 0, T->tw, 0);
}

static void error_items(rp_ts *T, rp_block *b, double before) {
    glue(T, PAD + 1, RP_D_ERROR, 0, T->tw, 1);
    T->items[T->nitems - 1].before = before;
    char title[512];
    int n = snprintf(title, sizeof title, "Error");
    if (b->cell) n += snprintf(title + n, sizeof title - n, " in cell %d", b->cell);
    if (b->title) n += snprintf(title + n, sizeof title - n, " \xe2\x80\x9c%s\xe2\x80\x9d", b->title);
    if (b->line) snprintf(title + n, sizeof title - n, ", line %d", b->line);
    simple_para(T, title, T->serif, T->size, 1, 0, 0.70, 0.05, 0.05, 12, T->tw - 20, 0, RP_D_ERROR, 0, T->tw, 'l', PANGO_WRAP_WORD_CHAR);
    T->items[T->nitems - 1].keep = 1;
    simple_para(T, b->message, T->mono, T->size * 0.8, 0, 0, 0.45, 0.0, 0.0, 12, T->tw - 20, 2, RP_D_ERROR, 0, T->tw, 'l', PANGO_WRAP_CHAR);
    if (b->traceback && b->traceback[0])
        code_items(T, b->traceback, 0, 0, 1, NULL, 0, RP_D_ERROR, T->size * 0.68, 0.35, 0, T->tw);
    glue(T, PAD + 1, RP_D_ERROR, 0, T->tw, 0);
}

static void chapter_items(rp_ts *T, rp_chapter *ch) {
    T->dir = ch->dir;
    for (int i = 0; i < ch->nblocks; i++) {
        rp_block *b = &ch->blocks[i];
        double before = T->size * 0.8;
        switch (b->kind) {
        case RP_B_MD: md_doc(T, b->md, 0, T->tw, RP_D_NONE, 0, 0, T->size * PARSKIP); break;
        case RP_B_CODE: {
            char hdr[300] = "";
            int n = 0;
            if (b->cell) n += snprintf(hdr, sizeof hdr, "cell %d", b->cell);
            if (b->title) n += snprintf(hdr + n, sizeof hdr - n, "%s%s", n ? " \xc2\xb7 " : "", b->title);
            if (b->line) snprintf(hdr + n, sizeof hdr - n, "%sline %d", n ? " \xc2\xb7 " : "", b->line);
            int lua = b->lang && !strcmp(b->lang, "lua");
            code_items(T, b->text, lua, b->numbers || T->d->line_numbers, b->line > 0 ? b->line : 1,
                       hdr[0] ? hdr : NULL, before, RP_D_CODE, T->size * 0.78, 0, 0, T->tw);
            break;
        }
        case RP_B_OUTPUT:
            code_items(T, b->text, 0, 0, 1, NULL, T->size * 0.3, RP_D_OUTPUT, T->size * 0.72, 0.33, 0, T->tw);
            break;
        case RP_B_FIGURE: figure_item(T, b); break;
        case RP_B_TABLE: {
            rp_para *cap = caption_para(T, "Table", b->number, b->caption, T->tw * 0.92);
            table_item(T, b->cells, b->ncols, b->nrows + 1, b->align, cap, b->label, 1, T->size);
            break;
        }
        case RP_B_CALLOUT: callout_items(T, b, before); break;
        case RP_B_ERROR: error_items(T, b, before); break;
        case RP_B_COUNT: break; /* not a kind; -Wswitch makes a new kind need its case here */
        }
    }
    if (ch->prov) {
        char line[600];
        snprintf(line, sizeof line, "Computed by clipbook: %s", ch->prov);
        int first = T->nitems;
        simple_para(T, line, T->serif, T->size * 0.78, 0, 1, 0.45, 0.45, 0.45, 0, T->tw, T->size * 1.5,
                    RP_D_NONE, 0, 0, 'r', PANGO_WRAP_WORD_CHAR);
        for (int i = first; i < T->nitems; i++) T->items[i].optional = 1;
    }
}

/* ---- title block, contents, references --------------------------------------- */

typedef struct { rp_para *p; const char *dest; double indent; } toc_box;

static void draw_toc(rp_ts *T, rp_item *it, double x, double y) {
    toc_box *tb = it->data;
    cairo_t *cr = T->cr;
    char a[300];
    snprintf(a, sizeof a, "dest='%s'", tb->dest);
    cairo_tag_begin(cr, CAIRO_TAG_LINK, a);
    rp_para_draw_lines(T, tb->p, 0, tb->p->nlines, x + tb->indent, y);
    int page = rp_pdf_dest_page(T, tb->dest);
    PangoLayout *l = pango_layout_new(T->ctx);
    PangoFontDescription *fd = font(T, T->serif, T->size, it->lineno == 1, 0);
    pango_layout_set_font_description(l, fd);
    pango_font_description_free(fd);
    char num[16];
    snprintf(num, sizeof num, "%d", page);
    pango_layout_set_text(l, num, -1);
    PangoRectangle r;
    pango_layout_get_extents(l, NULL, &r);
    double nw = r.width / (double)PANGO_SCALE;
    rp_para *p = tb->p;
    int last = p->nlines - 1;
    double base = y + p->top[last] - p->top[0] + p->base[last] - p->top[last];
    cairo_move_to(cr, x + T->tw - nw, base - pango_layout_get_baseline(l) / (double)PANGO_SCALE);
    pango_cairo_show_layout(cr, l);
    g_object_unref(l);
    /* dot leaders between the title's end and the page number */
    PangoRectangle lr;
    pango_layout_line_get_extents(pango_layout_get_line_readonly(p->lay, last), NULL, &lr);
    double from = x + tb->indent + p->lx[last] + lr.width / (double)PANGO_SCALE + 6, to = x + T->tw - nw - 6;
    cairo_save(cr);
    cairo_set_source_rgb(cr, 0.45, 0.45, 0.45);
    for (double dx = ceil(from / 4.5) * 4.5; dx < to; dx += 4.5) {
        cairo_arc(cr, dx, base - 1.2, 0.45, 0, 2 * M_PI);
        cairo_fill(cr);
    }
    cairo_restore(cr);
    cairo_tag_end(cr, CAIRO_TAG_LINK);
}

static void toc_entry(rp_ts *T, const char *number, const char *title, cmark_node *node, const char *dest, int level) {
    toc_box *tb = box_keep(T, calloc(1, sizeof *tb));
    ib b;
    ib_init(&b, T, T->size, T->serif);
    b.copy = 1;
    if (number && number[0]) g_string_append_printf(b.s, "%s\xe2\x80\x82", number);
    if (node) ib_children(&b, node);   /* math in a title typeset as in the text */
    else g_string_append(b.s, title);
    tb->indent = level == 1 ? 0 : 22 * (level - 1);
    tb->p = para_make(T, &b, font(T, T->serif, T->size, level == 1, 0), T->tw - tb->indent - 40, 'l', 1.0, PANGO_WRAP_WORD_CHAR);
    tb->dest = dest;
    rp_item *it = item_add(T, RP_I_BOX, tb->p->height);
    it->draw = draw_toc;
    it->data = tb;
    it->outline = 0;
    it->before = level == 1 ? T->size * 0.55 : 0.5;
    /* draw_toc reads the level through outline only for the bold number */
    it->lineno = level;
}

static void title_block(rp_ts *T) {
    rp_doc *d = T->d;
    const char *title = d->title ? d->title : "clipbook report";
    simple_para(T, title, T->serif, T->size * 2.3, 1, 0, 0, 0, 0, 0, T->tw, T->size * 3, RP_D_NONE, 0, 0, 'c', PANGO_WRAP_WORD_CHAR);
    if (d->subtitle)
        simple_para(T, d->subtitle, T->serif, T->size * 1.35, 0, 1, 0.2, 0.2, 0.2, 0, T->tw, T->size * 0.6, RP_D_NONE, 0, 0, 'c', PANGO_WRAP_WORD_CHAR);
    if (d->nauthors) {
        GString *g = g_string_new(NULL);
        for (int i = 0; i < d->nauthors; i++) {
            if (i) g_string_append(g, i == d->nauthors - 1 ? " and " : ", ");
            g_string_append(g, d->authors[i]);
        }
        simple_para(T, g->str, T->serif, T->size * 1.15, 0, 0, 0, 0, 0, 0, T->tw, T->size * 1.6, RP_D_NONE, 0, 0, 'c', PANGO_WRAP_WORD_CHAR);
        g_string_free(g, TRUE);
    }
    if (d->date)
        simple_para(T, d->date, T->serif, T->size, 0, 0, 0.25, 0.25, 0.25, 0, T->tw, T->size * 0.5, RP_D_NONE, 0, 0, 'c', PANGO_WRAP_WORD_CHAR);
    if (d->abstract) {
        simple_para(T, "Abstract", T->serif, T->size * 0.95, 1, 0, 0, 0, 0, 0, T->tw, T->size * 2.2, RP_D_NONE, 0, 0, 'c', PANGO_WRAP_WORD_CHAR);
        T->items[T->nitems - 1].keep = 1;
        md_doc(T, d->abstract, 36, T->tw - 72, RP_D_NONE, 0, 0, T->size * 0.4);
    }
    /* contents */
    simple_para(T, "Contents", T->serif, T->size * 1.3, 1, 0, 0, 0, 0, 0, T->tw, T->size * 2.6, RP_D_NONE, 0, 0, 'l', PANGO_WRAP_WORD_CHAR);
    rp_item *h = &T->items[T->nitems - 1];
    h->keep = 1;
    h->dest = box_keep(T, strdup("contents"));
    h->outline = 1;
    h->title = box_keep(T, strdup("Contents"));
    glue(T, T->size * 0.3, RP_D_NONE, 0, 0, 1);
    for (int i = 0; i < d->nlabels; i++) {
        rp_label *l = &d->labels[i];
        if (l->kind == 's' && l->level <= 2) toc_entry(T, l->number, l->title, l->node, l->label, l->level);
    }
    if (d->nrefs) toc_entry(T, NULL, "References", NULL, "references", 1);
}

static int ref_cmp(const void *a, const void *b) {
    return (*(const rp_ref *const *)a)->number - (*(const rp_ref *const *)b)->number;
}

static void references(rp_ts *T) {
    rp_doc *d = T->d;
    if (!d->nrefs) return;
    ib hb;
    ib_init(&hb, T, T->size * 1.85, T->serif);
    g_string_append(hb.s, "References");
    rp_para *hp = para_make(T, &hb, font(T, T->serif, T->size * 1.85, 1, 0), T->tw, 'l', 1.0, PANGO_WRAP_WORD_CHAR);
    rp_item *it = para_box(T, hp, 0, "references", 0);
    it->keep = 1;
    it->newpage = 1;
    it->chapter_start = 1;
    it->outline = 1;
    it->title = box_keep(T, strdup("References"));
    glue(T, T->size * 1.6, RP_D_NONE, 0, 0, 1);
    const rp_ref **order = malloc(d->nrefs * sizeof *order);
    for (int i = 0; i < d->nrefs; i++) order[i] = &d->refs[i];
    qsort(order, d->nrefs, sizeof *order, ref_cmp);
    for (int i = 0; i < d->nrefs; i++) {
        const rp_ref *r = order[i];
        ib b;
        double fs = T->size * 0.95;
        ib_init(&b, T, fs, T->serif);
        if (r->authors) g_string_append_printf(b.s, "%s%s", r->authors, g_str_has_suffix(r->authors, ".") ? " " : ". ");
        if (r->title) {
            size_t st = b.s->len;
            g_string_append(b.s, r->title);
            attr_range(&b, pango_attr_style_new(PANGO_STYLE_ITALIC), st);
            g_string_append(b.s, ". ");
        }
        if (r->venue) g_string_append_printf(b.s, "%s%s", r->venue, r->year ? ", " : ". ");
        if (r->year) g_string_append_printf(b.s, "%d. ", r->year);
        if (r->url) {
            size_t st = b.s->len;
            g_string_append(b.s, r->url);
            attr_range(&b, pango_attr_family_new(T->mono), st);
            attr_range(&b, pango_attr_scale_new(0.82), st);
            color_range(&b, st, 0.10, 0.25, 0.55);
            link_add(&b, st, NULL, r->url);
        }
        rp_para *p = para_make(T, &b, font(T, T->serif, fs, 0, 0), T->tw - 26, 'l', 1.0, PANGO_WRAP_WORD_CHAR);
        int first = T->nitems;
        para_items(T, p, 26, i ? T->size * 0.35 : 0, RP_D_NONE, 0, 0);
        char mk[32], dest[200];
        snprintf(mk, sizeof mk, "[%d]", r->number);
        snprintf(dest, sizeof dest, "ref-%s", r->key);
        T->items[first].marker = box_keep(T, strdup(mk));
        T->items[first].dest = box_keep(T, strdup(dest));
    }
    free(order);
}

void rp_layout_document(rp_ts *T) {
    title_block(T);
    for (int c = 0; c < T->d->nchapters; c++) chapter_items(T, &T->d->chapters[c]);
    references(T);
}

void rp_layout_free(rp_ts *T) {
    for (int i = 0; i < T->nitems; i++) free(T->items[i].fns);
    free(T->items);
    for (int i = 0; i < T->nparas; i++) {
        rp_para *p = T->paras[i];
        g_object_unref(p->lay);
        for (int k = 0; k < p->nlinks; k++) { free(p->links[k].dest); free(p->links[k].uri); }
        free(p->links); free(p->fn_at); free(p->fn_id);
        free(p->top); free(p->h); free(p->base); free(p->lx);
        free(p);
    }
    free(T->paras);
    free(T->fns);
    for (int i = 0; i < T->nmaths; i++) rp_math_free(T->maths[i]);
    free(T->maths);
    for (int i = 0; i < T->nimages; i++) cairo_surface_destroy(T->images[i]);
    free(T->images);
    for (int i = 0; i < T->nboxes; i++) free(T->boxes[i]);
    free(T->boxes);
}
