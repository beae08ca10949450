/* en_shapes — the mini profile's "shapes world": pictures of 1-4 objects
 * with captions, a class label, a semantic and an instance mask, and the
 * count and positions of the objects, all generated from a seed.
 *
 * Determinism: picture i of a split depends only on (seed, split, i), so
 * pictures can be made in any order and in parallel; the geometry uses
 * only IEEE double arithmetic (own sine/cosine, no contraction into FMA),
 * so the same seed gives byte-identical pictures on any x86-64 or ARM.
 *
 * The world: 8 shapes x 8 colours. Each object has a style (solid,
 * outlined, striped, shaded), is tilted (not spun: within +-0.22 rad) and
 * sits on a textured, noisy background of one
 * of four kinds, so a class (colour and shape of the main, i.e. largest,
 * object: 64 classes) has several distinct visual modes. Objects may
 * overlap (partial occlusion; later objects are drawn on top).
 */
#ifndef EN_SHAPES_H
#define EN_SHAPES_H

#include <stddef.h>
#include <stdint.h>

#define EN_SHAPES_N       8
#define EN_COLOURS_N      8
#define EN_SHAPES_CLASSES (EN_SHAPES_N * EN_COLOURS_N)
#define EN_SHAPES_MAX_OBJ 4
#define EN_STYLES_N       4
#define EN_BACKGROUNDS_N  4

typedef enum {
    EN_SPLIT_PRETRAIN, EN_SPLIT_CLS_TRAIN, EN_SPLIT_CLS_VAL, EN_SPLIT_CLS_TEST,
    EN_SPLIT_SEG_TRAIN, EN_SPLIT_SEG_VAL, EN_SPLIT_SEG_TEST, EN_SPLIT_COUNT
} en_split;

typedef struct {
    int shape, colour, style;
    double cx, cy, r, angle;   /* centre and radius in [0,1] image units */
    uint8_t rgb[3];            /* the jittered colour actually drawn */
} en_shape_obj;

typedef struct {
    int n_obj;
    en_shape_obj obj[EN_SHAPES_MAX_OBJ];
    int main;                  /* index of the largest object */
    int label;                 /* colour * EN_SHAPES_N + shape of the main object */
    int background;            /* 0 noise, 1 stripes, 2 checks, 3 gradient */
    uint8_t bg_rgb[3];
    uint64_t seed;             /* this picture's own seed (texture, noise, caption) */
} en_shapes_scene;

/* The scene of picture `index` of `split`. */
void en_shapes_scene_make(en_shapes_scene *sc, uint64_t seed, en_split split, uint64_t index);

/* Render at size x size: rgb (size,size,3); semantic (size,size): 0 for
 * background, else 1 + shape of the visible object; instance (size,size):
 * 0 or 1 + the object's index. Any output may be NULL. */
void en_shapes_render(const en_shapes_scene *sc, int size, uint8_t *rgb, uint8_t *semantic,
                      uint8_t *instance);

/* A caption for the scene; variant picks among the wordings (the same
 * variant gives the same caption). Returns the length; *rules (if not
 * NULL) gets a bit per grammar rule used (for coverage tests). */
int  en_shapes_caption(const en_shapes_scene *sc, uint64_t variant, char *buf, size_t cap,
                       uint32_t *rules);
#define EN_CAPTION_RULES 14

/* The ways web alt-text falls short of a label, as rates in [0, 1]; all
 * zero gives en_shapes_caption's exact captions, byte for byte (the noise
 * draws come from a generator of their own, so the grammar's are unchanged).
 * Per caption: `background`, it describes only the background ("a noisy
 * background"); else `other`, it describes another object of the picture
 * and never the main one (only pictures with an object of another colour or
 * shape; the share is of those). Per colour and per shape word of each noun
 * phrase, one draw picks at most one of: `wrong`, a random other colour or
 * shape; `merge` (colours only), the name of a neighbouring hue on the
 * colour circle; `hypernym`, a wider word ("polygon", "round shape",
 * "bright"); `synonym`, another name that keeps the class ("ring" for an
 * outlined circle, "disc", "crimson"), so that the class names of the
 * zero-shot prompts appear in captions less often. Hence wrong + merge +
 * hypernym + synonym <= 1 (en_caption_noise_check). */
typedef struct { double background, other, hypernym, synonym, merge, wrong; } en_caption_noise;

/* What one noisy caption became (for tests and measurements). */
typedef struct {
    uint32_t rules;               /* as en_shapes_caption's */
    int background, other;        /* 1: this caption describes only the background / another object */
    int other_possible;           /* 1: the picture has an object of another colour or shape */
    int colour_words, shape_words;
    int wrong, merge, hypernym, synonym;   /* words (colour and shape) each factor changed */
} en_caption_stats;

/* 0 when every rate is in [0, 1] and the word rates sum to <= 1, else -1 with en_error(). */
int  en_caption_noise_check(const en_caption_noise *nz);
/* en_shapes_caption with noise (NULL: none); stats may be NULL. */
int  en_shapes_caption_noisy(const en_shapes_scene *sc, uint64_t variant, const en_caption_noise *nz,
                             char *buf, size_t cap, en_caption_stats *stats);

/* Names: "circle", "red", "red circle" (class names for zero-shot prompts). */
const char *en_shape_name(int shape);
const char *en_shape_plural(int shape);
const char *en_colour_name(int colour);
void        en_shapes_class_name(int label, char *buf, size_t cap);
/* The class name a world's evaluation uses when `renamed` (0..8) of its
 * colours and as many of its shapes go by a synonym instead of the word the
 * captions use ("amber box" for the orange square): as CIFAR-100's
 * "aquarium fish" or "maple tree" are not how people caption a photo, the
 * zero-shot prompts then name a class in words the captions use only at the
 * synonym rate (en_caption_noise.synonym, each synonym half of it). The
 * words renamed first are the odd ones, 1 5 3 7, then 0 4 2 6; renamed = 0
 * is en_shapes_class_name. */
void        en_shapes_eval_name(int label, int renamed, char *buf, size_t cap);

/* Object count (1..4) and the 3x3 grid cell (row*3+col) of the main
 * object's centre: targets for the count and position probes. */
int  en_shapes_count(const en_shapes_scene *sc);
int  en_shapes_main_cell(const en_shapes_scene *sc);

/* n pictures [start, start+n) of a split, rendered in parallel into
 * contiguous arrays (any may be NULL); labels/counts/cells as int32. */
void en_shapes_batch(uint64_t seed, en_split split, uint64_t start, int n, int size,
                     uint8_t *rgb, uint8_t *semantic, uint8_t *instance, int32_t *labels,
                     int32_t *counts, int32_t *cells);

#endif
