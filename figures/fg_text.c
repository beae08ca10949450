/* fg_text — all figure text goes through pango, so a PDF keeps it as text
 * (searchable, pdftotext finds it) and fonts match the document.
 *
 * Metrics hinting is off: a label then has the same width in the PDF, the
 * SVG and the PNG, so the three layouts agree. */
#include <stdio.h>
#include <string.h>

#include "fg_internal.h"

PangoLayout *fg_text_layout(cairo_t *cr, const char *text, double size, int bold, int markup) {
    PangoLayout *l = pango_cairo_create_layout(cr);
    PangoContext *ctx = pango_layout_get_context(l);
    cairo_font_options_t *fo = cairo_font_options_create();
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
    pango_cairo_context_set_font_options(ctx, fo);
    cairo_font_options_destroy(fo);
    pango_layout_context_changed(l);

    PangoFontDescription *fd = pango_font_description_new();
    pango_font_description_set_family(fd, fg_style_get()->family);
    pango_font_description_set_absolute_size(fd, size * PANGO_SCALE);
    if (bold) pango_font_description_set_weight(fd, PANGO_WEIGHT_BOLD);
    pango_layout_set_font_description(l, fd);
    pango_font_description_free(fd);

    if (!text) text = "";
    char *valid = NULL;
    if (!g_utf8_validate(text, -1, NULL)) text = valid = g_utf8_make_valid(text, -1);   /* bytes from Lua */
    char *sup = NULL;
    if (markup && strstr(text, "<sup>")) {
        /* Pango's <sup> scales relative to a point size and comes out too
         * big with our absolute sizes: spell the superscript out. */
        char open[96];
        snprintf(open, sizeof open, "<span font_desc=\"%.2fpx\" rise=\"%d\">", size * 0.72, (int)(size * 0.42 * PANGO_SCALE));
        GString *g = g_string_new(NULL);
        for (const char *p = text; *p;) {
            if (!strncmp(p, "<sup>", 5)) { g_string_append(g, open); p += 5; }
            else if (!strncmp(p, "</sup>", 6)) { g_string_append(g, "</span>"); p += 6; }
            else g_string_append_c(g, *p++);
        }
        sup = g_string_free(g, FALSE);
        text = sup;
    }
    if (markup) {
        /* Malformed markup (user text) falls back to plain text. */
        if (!pango_parse_markup(text, -1, 0, NULL, NULL, NULL, NULL)) pango_layout_set_text(l, text, -1);
        else pango_layout_set_markup(l, text, -1);
    } else {
        pango_layout_set_text(l, text, -1);
    }
    g_free(sup);
    g_free(valid);
    return l;
}

void fg_text_size(cairo_t *cr, const char *text, double size, int markup, double *w, double *h) {
    PangoLayout *l = fg_text_layout(cr, text, size, 0, markup);
    PangoRectangle lr;
    pango_layout_get_extents(l, NULL, &lr);
    if (w) *w = (double)lr.width / PANGO_SCALE;
    if (h) *h = (double)lr.height / PANGO_SCALE;
    g_object_unref(l);
}

void fg_text_draw(cairo_t *cr, const char *text, double size, int bold, int markup,
                  double x, double y, double ax, double ay, double angle) {
    fg_text_draw_max(cr, text, size, bold, markup, x, y, ax, ay, angle, 0);
}

void fg_text_draw_max(cairo_t *cr, const char *text, double size, int bold, int markup,
                      double x, double y, double ax, double ay, double angle, double maxw) {
    if (!text || !*text) return;
    cairo_save(cr);
    PangoLayout *l = fg_text_layout(cr, text, size, bold, markup);
    if (maxw > 4) {   /* too long: an ellipsis, never text over neighbours */
        PangoRectangle r0;
        pango_layout_get_extents(l, NULL, &r0);
        if ((double)r0.width / PANGO_SCALE > maxw) {
            pango_layout_set_width(l, (int)(maxw * PANGO_SCALE));
            pango_layout_set_ellipsize(l, PANGO_ELLIPSIZE_END);
        }
    }
    PangoRectangle lr;
    pango_layout_get_extents(l, NULL, &lr);
    double w = (double)lr.width / PANGO_SCALE, h = (double)lr.height / PANGO_SCALE;
    cairo_translate(cr, x, y);
    if (angle != 0) cairo_rotate(cr, angle);
    cairo_move_to(cr, -ax * w - (double)lr.x / PANGO_SCALE, -ay * h - (double)lr.y / PANGO_SCALE);
    pango_cairo_show_layout(cr, l);
    g_object_unref(l);
    cairo_restore(cr);
}

static PangoLayout *wrapped(cairo_t *cr, const char *text, double size, int markup, double width) {
    PangoLayout *l = fg_text_layout(cr, text, size, 0, markup);
    pango_layout_set_width(l, (int)(width * PANGO_SCALE));
    pango_layout_set_wrap(l, PANGO_WRAP_WORD_CHAR);
    pango_layout_set_alignment(l, PANGO_ALIGN_CENTER);
    return l;
}

void fg_text_size_wrapped(cairo_t *cr, const char *text, double size, int markup, double width,
                          double *w, double *h, int *lines) {
    PangoLayout *l = wrapped(cr, text, size, markup, width);
    PangoRectangle ink, lr;
    pango_layout_get_extents(l, &ink, &lr);
    if (w) *w = (double)ink.width / PANGO_SCALE;
    if (h) *h = (double)lr.height / PANGO_SCALE;
    if (lines) *lines = pango_layout_get_line_count(l);
    g_object_unref(l);
}

void fg_text_draw_wrapped(cairo_t *cr, const char *text, double size, int markup, double width,
                          double x, double y, double ax, double ay) {
    if (!text || !*text) return;
    cairo_save(cr);
    PangoLayout *l = wrapped(cr, text, size, markup, width);
    PangoRectangle lr;
    pango_layout_get_extents(l, NULL, &lr);
    double h = (double)lr.height / PANGO_SCALE;
    cairo_move_to(cr, x - ax * width, y - ay * h);
    pango_cairo_show_layout(cr, l);
    g_object_unref(l);
    cairo_restore(cr);
}

void fg_text_draw_bg(cairo_t *cr, const char *text, double size, double x, double y,
                     double ax, double ay, double maxw) {
    if (!text || !*text) return;
    double w, h;
    fg_text_size(cr, text, size, 0, &w, &h);
    if (maxw > 4 && w > maxw) w = maxw;
    cairo_save(cr);
    cairo_rectangle(cr, x - ax * w - 1, y - ay * h, w + 2, h);
    cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
    cairo_fill(cr);
    cairo_restore(cr);
    fg_text_draw_max(cr, text, size, 0, 0, x, y, ax, ay, 0, maxw);
}

/* A clear mark for a figure that has nothing to show or cannot be drawn:
 * a light frame with the reason in the middle, never an empty hole. */
void fg_mark_draw(cairo_t *cr, fg_box b, const char *msg) {
    const fg_style *st = fg_style_get();
    cairo_save(cr);
    double inset = 2;
    cairo_rectangle(cr, b.x + inset, b.y + inset, b.w - 2 * inset, b.h - 2 * inset);
    fg_set_rgb(cr, (fg_rgb){ 0.97, 0.97, 0.97 });
    cairo_fill_preserve(cr);
    fg_set_rgb(cr, st->grid);
    cairo_set_line_width(cr, st->axis_w);
    cairo_stroke(cr);
    fg_set_rgb(cr, st->faint);
    fg_text_draw(cr, msg ? msg : "no data", st->size, 0, 0, b.x + b.w / 2, b.y + b.h / 2, 0.5, 0.5, 0);
    cairo_restore(cr);
}
