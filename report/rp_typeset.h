/* rp_typeset — the PDF typesetter's internals, shared by rp_layout.c (the
 * model turned into a vertical list of items: paragraph lines, boxes, glue)
 * and rp_pdf.c (pagination into pages, then drawing, links, outline).
 *
 * Items are laid out once; pagination only assigns them to pages, so the
 * table of contents can show page numbers without a second layout pass
 * (its entries have a fixed height). Keep chains (item.keep) hold a heading
 * to what follows and stop single lines at a page top or bottom; floats
 * (figures, tables) that do not fit go to the top of the next page while
 * text carries on.
 */
#ifndef RP_TYPESET_H
#define RP_TYPESET_H

#include <pango/pangocairo.h>

#include "rp_model.h"

typedef struct { int start, end; char *dest, *uri; } rp_link;

typedef struct {
    PangoLayout *lay;
    rp_link *links;
    int nlinks;
    int *fn_at, *fn_id, nfn;   /* footnote refs: byte index, global footnote id */
    int nlines;
    double *top, *h, *base, *lx;  /* per line: top, height, baseline, x offset */
    double height;
} rp_para;

enum { RP_I_LINE, RP_I_BOX, RP_I_GLUE };
enum { RP_D_NONE, RP_D_CODE, RP_D_OUTPUT, RP_D_QUOTE, RP_D_NOTE, RP_D_WARN, RP_D_TIP, RP_D_ERROR };

typedef struct rp_ts rp_ts;
typedef struct rp_item rp_item;
typedef void (*rp_draw_fn)(rp_ts *T, rp_item *it, double x, double y);

struct rp_item {
    int kind;
    double h, before;   /* before: space above, dropped at a page top */
    int keep;           /* stay on the page of the next non-float item */
    int is_float, newpage;
    int optional;       /* dropped rather than starting a page (provenance line) */
    rp_para *para;      /* RP_I_LINE: line `line` of para */
    int line;
    double indent;      /* from the left margin */
    char *marker;       /* list marker drawn left of indent */
    int deco;           /* background / bar, RP_D_* */
    double deco_x, deco_w;
    int lineno;         /* listing line number to show, 0 none */
    rp_draw_fn draw;    /* RP_I_BOX */
    void *data;
    char *dest;         /* a link target at this item */
    int outline;        /* heading level for the PDF outline, 0 none */
    char *title;        /* outline / running head text */
    int chapter_start;
    int *fns, nfns;     /* footnotes referenced on this item */
    double head_h;      /* a table row: height of the header repeated above it */
    int head_drawn;     /* set by pagination: this row starts a page, header above */
};

typedef struct { int item; double y, before; } rp_place;
typedef struct {
    rp_place *pl;
    int n, cap;
    int *fns, nfns;
    double fn_h;
    const char *running;
    int chapter_start;
} rp_page;

struct rp_ts {
    rp_doc *d;
    cairo_surface_t *surf;
    cairo_t *cr;
    PangoFontMap *fm;
    PangoContext *ctx;
    const char *serif, *mono;
    double size;                 /* body size, points */
    double pw, ph, ml, mt, tw, th;
    rp_item *items;
    int nitems, capitems;
    rp_para **paras;             /* every para, to free */
    int nparas, capparas;
    rp_para **fns;               /* footnotes, by global id */
    int nfns, capfns;
    rp_page *pages;
    int npages;
    const char *dir;             /* the chapter's folder, for image paths */
    cairo_surface_t **images;    /* decoded PNGs, to free */
    rp_math **maths;             /* formulas parsed again for the contents */
    int nmaths, capmaths;
    int nimages, capimages;
    void **boxes;                /* box data to free */
    int nboxes, capboxes;
};

/* rp_layout.c */
void     rp_layout_document(rp_ts *T);
void     rp_layout_free(rp_ts *T);
/* Lines [l0, l1) of p with their top at (x, y), links included. */
void     rp_para_draw_lines(rp_ts *T, rp_para *p, int l0, int l1, double x, double y);
/* Page number of a dest label (1-based), 0 if not placed. rp_pdf.c */
int      rp_pdf_dest_page(rp_ts *T, const char *label);

#endif
