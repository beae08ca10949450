/* fg_style — every visual constant of the figures in one place: fonts,
 * sizes, line widths, the palette and the colour maps.
 *
 * Sizes are for print: a figure is about 390 pt wide on an A4 page, so
 * data lines are 1.1 pt and spines 0.6 pt, as a journal figure would be. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_internal.h"

static char g_family[128] = "DejaVu Sans";
static char g_mono[128] = "DejaVu Sans Mono";

static fg_style g_style = {
    .family = g_family, .mono = g_mono,
    .size = 9.0, .tick_size = 8.0,
    .line_w = 1.1, .axis_w = 0.6, .grid_w = 0.4, .tick_len = 3.0,
    .marker_r = 2.2, .pad = 3.0,
    .ink = { 0.13, 0.13, 0.13 }, .grid = { 0.88, 0.88, 0.88 }, .faint = { 0.45, 0.45, 0.45 },
};

void fg_set_fonts(const char *text_family, const char *mono_family, double size_pt) {
    if (text_family && *text_family) snprintf(g_family, sizeof g_family, "%s", text_family);
    if (mono_family && *mono_family) snprintf(g_mono, sizeof g_mono, "%s", mono_family);
    if (size_pt > 3 && size_pt < 40) {
        g_style.size = size_pt;
        g_style.tick_size = size_pt * 0.88;
    }
}

const fg_style *fg_style_get(void) { return &g_style; }

/* Okabe & Ito (2008), ordered so the first colours differ most in
 * lightness too (blue, vermillion, green, orange...); yellow comes last
 * because it is weak on white. */
static const fg_rgb okabe_ito[] = {
    { 0x00 / 255.0, 0x72 / 255.0, 0xB2 / 255.0 },  /* blue */
    { 0xD5 / 255.0, 0x5E / 255.0, 0x00 / 255.0 },  /* vermillion */
    { 0x00 / 255.0, 0x9E / 255.0, 0x73 / 255.0 },  /* bluish green */
    { 0xE6 / 255.0, 0x9F / 255.0, 0x00 / 255.0 },  /* orange */
    { 0xCC / 255.0, 0x79 / 255.0, 0xA7 / 255.0 },  /* reddish purple */
    { 0x56 / 255.0, 0xB4 / 255.0, 0xE9 / 255.0 },  /* sky blue */
    { 0x00 / 255.0, 0x00 / 255.0, 0x00 / 255.0 },  /* black */
    { 0xF0 / 255.0, 0xE4 / 255.0, 0x42 / 255.0 },  /* yellow */
};

fg_rgb fg_palette(int i) {
    int n = (int)(sizeof okabe_ito / sizeof okabe_ito[0]);
    if (i < 0) i = -i;
    return okabe_ito[i % n];
}

/* Colour maps as piecewise-linear stops; viridis from its published
 * nine-stop table (perceptually uniform, colour-blind safe). */
typedef struct { double t; unsigned hex; } stop;
static const stop viridis[] = {
    { 0.000, 0x440154 }, { 0.125, 0x472d7b }, { 0.250, 0x3b528b }, { 0.375, 0x2c728e },
    { 0.500, 0x21918c }, { 0.625, 0x28ae80 }, { 0.750, 0x5ec962 }, { 0.875, 0xaddc30 },
    { 1.000, 0xfde725 },
};
static const stop diverging[] = {   /* ColorBrewer RdBu, reversed: blue low */
    { 0.0, 0x2166ac }, { 0.25, 0x92c5de }, { 0.5, 0xf7f7f7 }, { 0.75, 0xf4a582 }, { 1.0, 0xb2182b },
};
static const stop gray[] = { { 0.0, 0xffffff }, { 1.0, 0x222222 } };
static const stop blues[] = {
    { 0.0, 0xf7fbff }, { 0.25, 0xc6dbef }, { 0.5, 0x6baed6 }, { 0.75, 0x2171b5 }, { 1.0, 0x08306b },
};

static fg_rgb hex(unsigned h) {
    return (fg_rgb){ ((h >> 16) & 255) / 255.0, ((h >> 8) & 255) / 255.0, (h & 255) / 255.0 };
}

fg_rgb fg_cmap_at(fg_cmap m, double t) {
    const stop *s; int n;
    switch (m) {
    case FG_CMAP_DIVERGING: s = diverging; n = 5; break;
    case FG_CMAP_GRAY: s = gray; n = 2; break;
    case FG_CMAP_BLUES: s = blues; n = 5; break;
    default: s = viridis; n = 9; break;
    }
    if (!(t >= 0)) t = 0;   /* NaN too */
    if (t > 1) t = 1;
    for (int i = 1; i < n; i++) {
        if (t <= s[i].t) {
            double u = (t - s[i - 1].t) / (s[i].t - s[i - 1].t);
            fg_rgb a = hex(s[i - 1].hex), b = hex(s[i].hex);
            return (fg_rgb){ a.r + u * (b.r - a.r), a.g + u * (b.g - a.g), a.b + u * (b.b - a.b) };
        }
    }
    return hex(s[n - 1].hex);
}

void fg_set_rgb(cairo_t *cr, fg_rgb c) { cairo_set_source_rgb(cr, c.r, c.g, c.b); }
void fg_set_rgba(cairo_t *cr, fg_rgb c, double a) { cairo_set_source_rgba(cr, c.r, c.g, c.b, a); }

void fg_set_dash(cairo_t *cr, int dash, double lw) {
    if (dash == 1) {
        double d[] = { 3.5 * lw + 1, 2.0 * lw + 1 };
        cairo_set_dash(cr, d, 2, 0);
    } else if (dash == 2) {
        double d[] = { 0.01, 1.6 * lw + 0.8 };
        cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
        cairo_set_dash(cr, d, 2, 0);
    } else {
        cairo_set_dash(cr, NULL, 0, 0);
    }
}

char *fg_strdup(const char *s) {
    if (!s) return NULL;
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* Formats into a scratch buffer first: an argument may be `err` itself
 * (adding context to a callee's message), and vsnprintf into the buffer it
 * reads from is undefined behaviour. */
void fg_err(char *err, size_t errlen, const char *fmt, ...) {
    if (!err || !errlen) return;
    char tmp[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    snprintf(err, errlen, "%s", tmp);
}

int fg_finite(double v) { return isfinite(v); }
