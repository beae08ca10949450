/* fg_image — pictures for grids and overlays: decoding (base64, HWC bytes,
 * PNG via cairo) into ARGB32 surfaces, and drawing one into a box.
 *
 * Small images shown large are scaled by nearest neighbour, so a 32×32
 * sample stays a crisp 32×32 grid of squares instead of a blur; in a PDF
 * the image carries /Interpolate false and the viewer keeps it crisp. */
#include <stdlib.h>
#include <string.h>

#include "fg_internal.h"

/* The value of a base64 character (standard and URL-safe alphabets), or
 * -1. A function, not a lazily filled table: figures may be parsed from
 * several threads. */
static int b64(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

unsigned char *fg_base64_decode(const char *s, size_t *n) {
    size_t len = strlen(s);
    unsigned char *out = malloc(len / 4 * 3 + 4);
    if (!out) return NULL;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '=') break;
        if (c == '\n' || c == '\r' || c == ' ' || c == '\t') continue;
        int v = b64(c);
        if (v < 0) { free(out); return NULL; }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) { bits -= 8; out[o++] = (unsigned char)(acc >> bits); acc &= (1u << bits) - 1; }
    }
    *n = o;
    return out;
}

int fg_image_from_pixels(fg_image *im, int w, int h, int ch, const unsigned char *px) {
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w, h);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) { cairo_surface_destroy(s); return -1; }
    cairo_surface_flush(s);
    unsigned char *d = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const unsigned char *p = px + ((size_t)y * w + x) * ch;
            unsigned r, g, b, a = 255;
            if (ch == 1) r = g = b = p[0];
            else { r = p[0]; g = p[1]; b = p[2]; if (ch == 4) a = p[3]; }
            /* cairo wants premultiplied alpha */
            r = r * a / 255; g = g * a / 255; b = b * a / 255;
            *(uint32_t *)(d + y * stride + x * 4) = (a << 24) | (r << 16) | (g << 8) | b;
        }
    cairo_surface_mark_dirty(s);
    im->surf = s; im->w = w; im->h = h; im->empty = 0;
    return 0;
}

void fg_image_clear(fg_image *im) {
    if (im->surf) cairo_surface_destroy(im->surf);
    free(im->err);
    memset(im, 0, sizeof *im);
}

/* Paint a w×h image surface to fill box. Upscaling is nearest neighbour;
 * on vector targets the pixels are also replicated by an integer factor
 * first (to about 2 px per pt), because SVG has no portable nearest filter
 * and several PDF viewers ignore /Interpolate false: a viewer smoothing a
 * 192 px image over 90 pt still shows crisp 6 px blocks. */
void fg_image_paint(cairo_t *cr, cairo_surface_t *img, int w, int h, fg_box box) {
    if (!img || w <= 0 || h <= 0 || !(box.w > 0) || !(box.h > 0)) return;
    cairo_surface_type_t t = cairo_surface_get_type(cairo_get_target(cr));
    int vector = t == CAIRO_SURFACE_TYPE_PDF || t == CAIRO_SURFACE_TYPE_SVG || t == CAIRO_SURFACE_TYPE_PS
                 || t == CAIRO_SURFACE_TYPE_RECORDING;
    int k = 1;
    if (vector && box.w > w * 1.5) {
        k = (int)ceil(2.0 * box.w / w);
        while (k > 1 && ((long)w * k > 2048 || (long)h * k > 2048)) k--;
    }
    cairo_surface_t *src = img, *big = NULL;
    if (k > 1) {
        big = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, w * k, h * k);
        if (cairo_surface_status(big) == CAIRO_STATUS_SUCCESS) {
            cairo_surface_flush(img);
            cairo_surface_flush(big);
            const unsigned char *s = cairo_image_surface_get_data(img);
            unsigned char *d = cairo_image_surface_get_data(big);
            int ss = cairo_image_surface_get_stride(img), ds = cairo_image_surface_get_stride(big);
            for (int y = 0; y < h * k; y++)
                for (int x = 0; x < w * k; x++)
                    *(uint32_t *)(d + y * ds + x * 4) = *(const uint32_t *)(s + (y / k) * ss + (x / k) * 4);
            cairo_surface_mark_dirty(big);
            src = big;
        } else k = 1;
    }
    cairo_save(cr);
    cairo_rectangle(cr, box.x, box.y, box.w, box.h);
    cairo_clip(cr);
    cairo_translate(cr, box.x, box.y);
    cairo_scale(cr, box.w / (w * k), box.h / (h * k));
    cairo_set_source_surface(cr, src, 0, 0);
    /* Upscaling: nearest; downscaling: a proper filter, or it aliases. */
    cairo_pattern_set_filter(cairo_get_source(cr), box.w >= w * 0.999 ? CAIRO_FILTER_NEAREST : CAIRO_FILTER_GOOD);
    cairo_paint(cr);
    cairo_restore(cr);
    if (big) cairo_surface_destroy(big);
}

/* Draw im to fill box (the caller keeps the aspect). */
void fg_image_draw(cairo_t *cr, fg_box box, const fg_image *im) {
    fg_image_paint(cr, im->surf, im->w, im->h, box);
}
