#include "en_shapes.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "en_rng.h"

/* This file is compiled with -ffp-contract=off (see the Makefile) and uses
 * its own sine and cosine, so that geometry is bit-identical everywhere. */

static const double PI = 3.14159265358979323846;

static double det_sin(double x) {
    x -= 2 * PI * floor((x + PI) / (2 * PI)); /* to [-pi, pi) */
    double x2 = x * x, term = x, sum = x;
    for (int k = 1; k < 14; k++) {
        term = -term * x2 / (double)((2 * k) * (2 * k + 1));
        sum += term;
    }
    return sum;
}

static double det_cos(double x) { return det_sin(x + PI / 2); }

static const char *const shape_names[EN_SHAPES_N] = {
    "circle", "square", "triangle", "diamond", "pentagon", "hexagon", "star", "cross"
};
static const char *const shape_plurals[EN_SHAPES_N] = {
    "circles", "squares", "triangles", "diamonds", "pentagons", "hexagons", "stars", "crosses"
};
static const char *const colour_names[EN_COLOURS_N] = {
    "red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink"
};
static const uint8_t colour_rgb[EN_COLOURS_N][3] = {
    {214, 39, 40}, {245, 133, 24}, {238, 214, 36}, {44, 160, 44},
    {36, 200, 214}, {40, 80, 220}, {140, 60, 190}, {240, 120, 185}
};

const char *en_shape_name(int s) { return s >= 0 && s < EN_SHAPES_N ? shape_names[s] : "?"; }
const char *en_shape_plural(int s) { return s >= 0 && s < EN_SHAPES_N ? shape_plurals[s] : "?"; }
const char *en_colour_name(int c) { return c >= 0 && c < EN_COLOURS_N ? colour_names[c] : "?"; }

void en_shapes_class_name(int label, char *buf, size_t cap) {
    snprintf(buf, cap, "%s %s", en_colour_name(label / EN_SHAPES_N), en_shape_name(label % EN_SHAPES_N));
}

/* ---- geometry: unit polygons, built once ------------------------------------ */

#define MAXV 12
typedef struct { int n; double x[MAXV], y[MAXV], slope[MAXV]; } poly;
static poly polys[EN_SHAPES_N];
static int polys_ready;

static void regular(poly *p, int n, double phase, double r_in) {
    /* r_in > 0: a star alternating radius 1 and r_in over 2n vertices */
    int m = r_in > 0 ? 2 * n : n;
    p->n = m;
    for (int i = 0; i < m; i++) {
        double a = phase + 2 * PI * i / m, rad = (r_in > 0 && (i & 1)) ? r_in : 1.0;
        p->x[i] = rad * det_cos(a);
        p->y[i] = rad * det_sin(a);
    }
}

static void polys_init(void) {
    if (polys_ready) return;
    #pragma omp critical(en_shapes_polys)
    {
        if (!polys_ready) {
            polys[0].n = 0; /* circle: exact test */
            regular(&polys[1], 4, PI / 4, 0);
            for (int i = 0; i < 4; i++) { polys[1].x[i] *= 1.2; polys[1].y[i] *= 1.2; } /* area like the circle's */
            regular(&polys[2], 3, -PI / 2, 0);
            for (int i = 0; i < 3; i++) { polys[2].x[i] *= 1.25; polys[2].y[i] *= 1.25; polys[2].y[i] += 0.2; }
            regular(&polys[3], 4, 0, 0);
            for (int i = 0; i < 4; i++) polys[3].x[i] *= 0.75;
            regular(&polys[4], 5, -PI / 2, 0);
            regular(&polys[5], 6, 0, 0);
            regular(&polys[6], 5, -PI / 2, 0.45);
            static const double cx[12] = {-0.33, 0.33, 0.33, 1, 1, 0.33, 0.33, -0.33, -0.33, -1, -1, -0.33};
            static const double cy[12] = {-1, -1, -0.33, -0.33, 0.33, 0.33, 1, 1, 0.33, 0.33, -0.33, -0.33};
            polys[7].n = 12;
            memcpy(polys[7].x, cx, sizeof cx);
            memcpy(polys[7].y, cy, sizeof cy);
            for (int k = 1; k < EN_SHAPES_N; k++) /* dx/dy of edge (i-1 -> i) */
                for (int i = 0, j = polys[k].n - 1; i < polys[k].n; j = i++)
                    polys[k].slope[i] = polys[k].y[j] != polys[k].y[i]
                        ? (polys[k].x[j] - polys[k].x[i]) / (polys[k].y[j] - polys[k].y[i]) : 0;
            __atomic_store_n(&polys_ready, 1, __ATOMIC_RELEASE);
        }
    }
}

static int in_shape(int shape, double x, double y) {
    if (shape == 0) return x * x + y * y <= 1.0;
    const poly *p = &polys[shape];
    int in = 0;
    for (int i = 0, j = p->n - 1; i < p->n; j = i++) {
        if ((p->y[i] > y) != (p->y[j] > y) &&
            x < p->slope[i] * (y - p->y[i]) + p->x[i])
            in = !in;
    }
    return in;
}

/* ---- scenes ----------------------------------------------------------------- */

static const uint64_t split_keys[EN_SPLIT_COUNT] = {
    0x5eed0001, 0x5eed0102, 0x5eed0103, 0x5eed0104, 0x5eed0205, 0x5eed0206, 0x5eed0207
};

static double unif(en_rng *r, double lo, double hi) { return lo + (hi - lo) * en_rng_uniform_f64(r); }

static uint8_t jitter(en_rng *r, int v, int amp) {
    int x = v + (int)en_rng_below(r, (uint64_t)(2 * amp + 1)) - amp;
    return (uint8_t)(x < 0 ? 0 : x > 255 ? 255 : x);
}

void en_shapes_scene_make(en_shapes_scene *sc, uint64_t seed, en_split split, uint64_t index) {
    en_rng base, r;
    en_rng_seed(&base, seed ^ (split_keys[split] * 0x9e3779b97f4a7c15ull));
    r = en_rng_fork(&base, index);
    memset(sc, 0, sizeof *sc);
    sc->n_obj = 1 + (int)en_rng_below(&r, EN_SHAPES_MAX_OBJ);
    for (int i = 0; i < sc->n_obj; i++) {
        en_shape_obj *o = &sc->obj[i];
        o->shape = (int)en_rng_below(&r, EN_SHAPES_N);
        o->colour = (int)en_rng_below(&r, EN_COLOURS_N);
        o->style = (int)en_rng_below(&r, EN_STYLES_N);
        /* object 0 is the main one: clearly the largest */
        /* (sizes, tilt, style contrast and texture contrast were tuned so that
         * a small tower learns shape within minutes: engine/NOTES.md) */
        o->r = i == 0 ? unif(&r, 0.25, 0.36) : unif(&r, 0.06, 0.10);
        o->angle = unif(&r, -0.22, 0.22); /* tilted, not spun: a turned square is a diamond */
        for (int tries = 0; tries < 12; tries++) {
            o->cx = unif(&r, o->r * 0.8, 1 - o->r * 0.8);
            o->cy = unif(&r, o->r * 0.8, 1 - o->r * 0.8);
            if (i == 0) break;
            /* keep the main object mostly visible: occlusion stays partial */
            double dx = o->cx - sc->obj[0].cx, dy = o->cy - sc->obj[0].cy;
            if (sqrt(dx * dx + dy * dy) > 0.75 * sc->obj[0].r) break;
        }
        for (int c = 0; c < 3; c++) o->rgb[c] = jitter(&r, colour_rgb[o->colour][c], 18);
    }
    /* shuffle the drawing order so the main object is sometimes occluded */
    for (int i = sc->n_obj - 1; i > 0; i--) {
        int j = (int)en_rng_below(&r, (uint64_t)i + 1);
        en_shape_obj t = sc->obj[i]; sc->obj[i] = sc->obj[j]; sc->obj[j] = t;
    }
    sc->main = 0;
    for (int i = 1; i < sc->n_obj; i++) if (sc->obj[i].r > sc->obj[sc->main].r) sc->main = i;
    sc->label = sc->obj[sc->main].colour * EN_SHAPES_N + sc->obj[sc->main].shape;
    sc->background = (int)en_rng_below(&r, EN_BACKGROUNDS_N);
    int g = 60 + (int)en_rng_below(&r, 130);
    for (int c = 0; c < 3; c++) sc->bg_rgb[c] = jitter(&r, g, 14);
    sc->seed = en_rng_u64(&r);
}

int en_shapes_count(const en_shapes_scene *sc) { return sc->n_obj; }

int en_shapes_main_cell(const en_shapes_scene *sc) {
    const en_shape_obj *o = &sc->obj[sc->main];
    int col = o->cx < 1.0 / 3 ? 0 : o->cx < 2.0 / 3 ? 1 : 2;
    int row = o->cy < 1.0 / 3 ? 0 : o->cy < 2.0 / 3 ? 1 : 2;
    return row * 3 + col;
}

/* ---- rendering ---------------------------------------------------------------- */

#define SS 4 /* samples per pixel side */

typedef struct {
    double cx, cy, c, s, inv_r;
    int x0, x1, y0, y1; /* pixel bounding box */
    double stripe_c, stripe_s;
} obj_frame;

static void background_at(const en_shapes_scene *sc, double u, double v, double tc, double ts, int rgb[3]) {
    double f = 1.0;
    switch (sc->background) {
    case 1: f = ((long)floor((u * tc + v * ts) * 7) & 1) ? 1.18 : 0.85; break;
    case 2: f = (((long)floor(u * 6) + (long)floor(v * 6)) & 1) ? 1.15 : 0.87; break;
    case 3: f = 0.7 + 0.6 * (u * tc * 0.5 + v * ts * 0.5 + 0.5); break;
    default: break;
    }
    f = 1 + (f - 1) * 0.5; /* textures at half contrast: a shape's edge must win over them */
    for (int c = 0; c < 3; c++) rgb[c] = (int)(sc->bg_rgb[c] * f);
}

void en_shapes_render(const en_shapes_scene *sc, int size, uint8_t *rgb, uint8_t *semantic,
                      uint8_t *instance) {
    polys_init();
    en_rng r;
    en_rng_seed(&r, sc->seed);
    double tex_a = unif(&r, 0, PI), tc = det_cos(tex_a), ts = det_sin(tex_a);
    obj_frame fr[EN_SHAPES_MAX_OBJ];
    for (int i = 0; i < sc->n_obj; i++) {
        const en_shape_obj *o = &sc->obj[i];
        double ext = o->r * 1.3;
        fr[i].cx = o->cx; fr[i].cy = o->cy;
        fr[i].c = det_cos(o->angle); fr[i].s = det_sin(o->angle);
        fr[i].inv_r = 1.0 / o->r;
        fr[i].x0 = (int)floor((o->cx - ext) * size); fr[i].x1 = (int)ceil((o->cx + ext) * size);
        fr[i].y0 = (int)floor((o->cy - ext) * size); fr[i].y1 = (int)ceil((o->cy + ext) * size);
        double sa = unif(&r, 0, PI);
        fr[i].stripe_c = det_cos(sa); fr[i].stripe_s = det_sin(sa);
    }
    for (int py = 0; py < size; py++)
        for (int px = 0; px < size; px++) {
            int acc[3] = {0, 0, 0}, hits[EN_SHAPES_MAX_OBJ + 1] = {0};
            for (int sy = 0; sy < SS; sy++)
                for (int sx = 0; sx < SS; sx++) {
                    double u = (px + (sx + 0.5) / SS) / size, v = (py + (sy + 0.5) / SS) / size;
                    int col[3], who = -1;
                    for (int i = sc->n_obj - 1; i >= 0 && who < 0; i--) {
                        if (px < fr[i].x0 || px > fr[i].x1 || py < fr[i].y0 || py > fr[i].y1) continue;
                        double dx = u - fr[i].cx, dy = v - fr[i].cy;
                        double lx = (dx * fr[i].c + dy * fr[i].s) * fr[i].inv_r;
                        double ly = (-dx * fr[i].s + dy * fr[i].c) * fr[i].inv_r;
                        const en_shape_obj *o = &sc->obj[i];
                        if (!in_shape(o->shape, lx, ly)) continue;
                        double f = 1.0;
                        if (o->style == 1 && in_shape(o->shape, lx / 0.45, ly / 0.45)) continue; /* outlined */
                        if (o->style == 2)
                            f = ((long)floor((lx * fr[i].stripe_c + ly * fr[i].stripe_s) * 2.5 + 8) & 1) ? 1.0 : 0.775;
                        if (o->style == 3) f = 0.6 + 0.4 * (lx + 1) * 0.5 + 0.15 * (1 - ly) * 0.5;
                        for (int c = 0; c < 3; c++) { int x = (int)(o->rgb[c] * f); col[c] = x > 255 ? 255 : x; }
                        who = i;
                    }
                    if (who < 0) background_at(sc, u, v, tc, ts, col);
                    hits[who + 1]++;
                    for (int c = 0; c < 3; c++) acc[c] += col[c];
                }
            size_t at = (size_t)py * (size_t)size + (size_t)px;
            if (rgb) {
                /* sensor noise: per channel a sum of three uniforms on 0..10, less 15 */
                uint64_t b0 = en_rng_u64(&r), b1 = en_rng_u64(&r);
                uint8_t bytes[16]; /* byte order fixed by shifts, not by the machine */
                for (int k = 0; k < 8; k++) { bytes[k] = (uint8_t)(b0 >> (8 * k)); bytes[8 + k] = (uint8_t)(b1 >> (8 * k)); }
                for (int c = 0; c < 3; c++) {
                    int noise = ((bytes[3 * c] * 11) >> 8) + ((bytes[3 * c + 1] * 11) >> 8) + ((bytes[3 * c + 2] * 11) >> 8) - 15;
                    int x = (acc[c] + SS * SS / 2) / (SS * SS) + noise;
                    rgb[at * 3 + (size_t)c] = (uint8_t)(x < 0 ? 0 : x > 255 ? 255 : x);
                }
            }
            int best = 0;
            for (int i = 1; i <= sc->n_obj; i++) if (hits[i] > hits[best]) best = i;
            if (hits[best] * 2 < SS * SS) best = 0;
            if (best && hits[0] > hits[best]) best = 0;
            if (instance) instance[at] = (uint8_t)best;
            if (semantic) semantic[at] = (uint8_t)(best ? sc->obj[best - 1].shape + 1 : 0);
        }
}

void en_shapes_batch(uint64_t seed, en_split split, uint64_t start, int n, int size,
                     uint8_t *rgb, uint8_t *semantic, uint8_t *instance, int32_t *labels,
                     int32_t *counts, int32_t *cells) {
    polys_init();
    size_t px = (size_t)size * (size_t)size;
    #pragma omp parallel for schedule(dynamic, 8)
    for (int i = 0; i < n; i++) {
        en_shapes_scene sc;
        en_shapes_scene_make(&sc, seed, split, start + (uint64_t)i);
        en_shapes_render(&sc, size, rgb ? rgb + (size_t)i * px * 3 : NULL,
                         semantic ? semantic + (size_t)i * px : NULL,
                         instance ? instance + (size_t)i * px : NULL);
        if (labels) labels[i] = sc.label;
        if (counts) counts[i] = sc.n_obj;
        if (cells) cells[i] = en_shapes_main_cell(&sc);
    }
}
