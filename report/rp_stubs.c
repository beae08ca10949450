/* TEMPORARY stand-in for the math typesetter (rp_math.h) until the math
 * branch is merged; deleted on merge. Draws the TeX source in italics. */
#include <pango/pangocairo.h>
#include <stdlib.h>
#include <string.h>

#include "rp_math.h"

#define RP_STUB_MATH 1


#if RP_STUB_MATH
struct rp_math { char *tex; int display; PangoLayout *lay; double asc; };
rp_math *rp_math_parse(const char *tex, int display, char *err, size_t errlen) {
    rp_math *m = calloc(1, sizeof *m);
    m->tex = strdup(tex);
    m->display = display;
    return m;
}
void rp_math_free(rp_math *m) {
    if (!m) return;
    if (m->lay) g_object_unref(m->lay);
    free(m->tex);
    free(m);
}
void rp_math_layout(rp_math *m, cairo_t *cr, const char *family, double size_pt,
                    double *width, double *ascent, double *descent) {
    if (m->lay) g_object_unref(m->lay);
    m->lay = pango_cairo_create_layout(cr);
    PangoFontDescription *fd = pango_font_description_new();
    pango_font_description_set_family(fd, family);
    pango_font_description_set_style(fd, PANGO_STYLE_ITALIC);
    pango_font_description_set_absolute_size(fd, size_pt * PANGO_SCALE);
    pango_layout_set_font_description(m->lay, fd);
    pango_font_description_free(fd);
    pango_layout_set_text(m->lay, m->tex, -1);
    PangoRectangle lr;
    pango_layout_get_extents(m->lay, NULL, &lr);
    m->asc = pango_layout_get_baseline(m->lay) / (double)PANGO_SCALE;
    *width = lr.width / (double)PANGO_SCALE;
    *ascent = m->asc;
    *descent = lr.height / (double)PANGO_SCALE - m->asc;
}
void rp_math_draw(rp_math *m, cairo_t *cr, double x, double y) {
    if (!m->lay) return;
    cairo_save(cr);
    cairo_move_to(cr, x, y - m->asc);
    pango_cairo_show_layout(cr, m->lay);
    cairo_restore(cr);
}
char *rp_math_to_mathml(const rp_math *m) {
    size_t n = strlen(m->tex) * 6 + 128;
    char *s = malloc(n), *p = s;
    p += sprintf(p, "<math%s><mtext>", m->display ? " display=\"block\"" : "");
    for (const char *t = m->tex; *t; t++) {
        if (*t == '<') p += sprintf(p, "&lt;");
        else if (*t == '&') p += sprintf(p, "&amp;");
        else if (*t == '>') p += sprintf(p, "&gt;");
        else *p++ = *t;
    }
    sprintf(p, "</mtext></math>");
    return s;
}
#endif
