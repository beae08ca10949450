/* fg_mask — segmentation masks: a class map blended over its image in the
 * class palette, and the legend of the classes. The blend is done once,
 * at parse time, into an ordinary picture, so a mask overlay draws like an
 * image grid (crisp, nearest neighbour) plus this legend. */
#include <stdlib.h>

#include "fg_internal.h"

/* Class c in the figures' palette; the background class has none. */
fg_rgb fg_mask_color(int c, int bg) { return fg_palette(c > bg ? c - 1 : c); }

/* Overlay a class map on an image: each non-background class in its
 * palette colour at alpha, over the image (scaled to the mask's size by
 * nearest neighbour when sizes differ). */
int fg_mask_overlay(fg_image *out, const fg_image *img, const unsigned char *cls, int w, int h,
                    int bg, double alpha) {
    unsigned char *px = malloc((size_t)w * h * 4 + 1);
    if (!px) return -1;
    const unsigned char *id = NULL;
    int istride = 0, iw = 0, ih = 0;
    if (img && img->surf) {
        cairo_surface_flush(img->surf);
        id = cairo_image_surface_get_data(img->surf);
        istride = cairo_image_surface_get_stride(img->surf);
        iw = img->w; ih = img->h;
    }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double r = 0.92, g = 0.92, b = 0.92;   /* no image: light grey ground */
            if (id) {
                int sx = x * iw / w, sy = y * ih / h;
                uint32_t v = *(const uint32_t *)(id + sy * istride + sx * 4);
                unsigned a = v >> 24;
                double af = a / 255.0;
                /* premultiplied over white */
                r = ((v >> 16) & 255) / 255.0 + (1 - af);
                g = ((v >> 8) & 255) / 255.0 + (1 - af);
                b = (v & 255) / 255.0 + (1 - af);
            }
            int c = cls[(size_t)y * w + x];
            if (c != bg) {
                fg_rgb k = fg_mask_color(c, bg);
                r = (1 - alpha) * r + alpha * k.r;
                g = (1 - alpha) * g + alpha * k.g;
                b = (1 - alpha) * b + alpha * k.b;
            }
            unsigned char *q = px + ((size_t)y * w + x) * 4;
            q[0] = (unsigned char)lround(fmin(r, 1) * 255);
            q[1] = (unsigned char)lround(fmin(g, 1) * 255);
            q[2] = (unsigned char)lround(fmin(b, 1) * 255);
            q[3] = 255;
        }
    int rc = fg_image_from_pixels(out, w, h, 4, px);
    free(px);
    return rc;
}

int fg_mask_legend_items(const fg_spec *s, fg_legend_item *it, int max) {
    int n = 0;
    for (int c = 0; c < s->n_classes && n < max; c++) {
        if (c == s->bg_class) continue;
        it[n++] = (fg_legend_item){ .label = s->classes[c], .color = fg_mask_color(c, s->bg_class), .patch = 1, .alpha = 0.85 };
    }
    return n;
}
