/* fg_svg — a figure as SVG text in memory, ready to inline in HTML.
 *
 * cairo names what it defines in an SVG (glyph0-1, clip1, image5...) the
 * same way in every file, so two figures inlined in one page would use
 * each other's glyphs. Every id and every reference to one (href="#…",
 * url(#…)) gets the caller's prefix, which makes the ids unique per page. */
#include <cairo-svg.h>
#include <stdlib.h>
#include <string.h>

#include "fg_internal.h"

typedef struct { char *b; size_t n, cap; int oom; } buf;

static cairo_status_t put(void *closure, const unsigned char *data, unsigned int len) {
    buf *B = closure;
    if (B->n + len + 1 > B->cap) {
        size_t cap = (B->cap ? B->cap * 2 : 1 << 16);
        while (cap < B->n + len + 1) cap *= 2;
        char *nb = realloc(B->b, cap);
        if (!nb) { B->oom = 1; return CAIRO_STATUS_NO_MEMORY; }
        B->b = nb; B->cap = cap;
    }
    memcpy(B->b + B->n, data, len);
    B->n += len;
    B->b[B->n] = 0;
    return CAIRO_STATUS_SUCCESS;
}

static char *prefix_ids(const char *s, size_t n, const char *pre, size_t *out_n) {
    static const char *pats[] = { "id=\"", "href=\"#", "url(#" };
    size_t pl = strlen(pre), count = 0;
    for (int k = 0; k < 3; k++)
        for (const char *p = s; (p = strstr(p, pats[k])); p++) count++;
    char *o = malloc(n + count * pl + 1);
    if (!o) return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n;) {
        int hit = -1;
        for (int k = 0; k < 3 && hit < 0; k++)
            if (!strncmp(s + i, pats[k], strlen(pats[k]))) hit = k;
        if (hit >= 0) {
            size_t L = strlen(pats[hit]);
            memcpy(o + j, s + i, L); j += L; i += L;
            memcpy(o + j, pre, pl); j += pl;
        } else o[j++] = s[i++];
    }
    o[j] = 0;
    *out_n = j;
    return o;
}

char *fg_render_svg(const fg_spec *spec, double width_pt, double height_pt, const char *id_prefix,
                    size_t *len, char *err, size_t errlen) {
    if (err && errlen) err[0] = 0;
    if (!spec) { fg_err(err, errlen, "no spec"); return NULL; }
    if (!(width_pt > 0)) width_pt = 390;
    if (width_pt > 5000) width_pt = 5000;
    if (!(height_pt > 0)) height_pt = width_pt * fg_spec_aspect(spec);
    if (height_pt > 5000) height_pt = 5000;
    buf B = { 0 };
    cairo_surface_t *surf = cairo_svg_surface_create_for_stream(put, &B, width_pt, height_pt);
    if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
        fg_err(err, errlen, "svg: %s", cairo_status_to_string(cairo_surface_status(surf)));
        cairo_surface_destroy(surf);
        return NULL;
    }
    cairo_t *cr = cairo_create(surf);
    int rc = fg_draw(cr, (fg_box){ 0, 0, width_pt, height_pt }, spec, err, errlen);
    cairo_destroy(cr);
    cairo_surface_finish(surf);
    cairo_surface_destroy(surf);
    if (B.oom || !B.b) { free(B.b); fg_err(err, errlen, "svg: out of memory"); return NULL; }
    /* A draw error (a missing PNG) still gives a figure with its mark:
     * return it, with err set, as fg_draw does. */
    (void)rc;
    size_t n = B.n;
    char *out = B.b;
    if (id_prefix && *id_prefix) {
        out = prefix_ids(B.b, B.n, id_prefix, &n);
        free(B.b);
        if (!out) { fg_err(err, errlen, "svg: out of memory"); return NULL; }
    }
    if (len) *len = n;
    return out;
}
