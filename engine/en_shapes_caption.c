/* Captions for shapes-world scenes: a small grammar over colour, shape,
 * size, count, style and position, with varied wording. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "en_rng.h"
#include "en_shapes.h"

enum {
    R_PHOTO, R_ABSPOS, R_RELATION, R_LIST, R_BACKGROUND, R_SIZE, R_COUNT, R_PREFIX,
    R_VERTICAL, R_HORIZONTAL, R_CORNER, R_EDGE, R_STYLE, R_AND
};
_Static_assert(R_AND + 1 == EN_CAPTION_RULES, "update EN_CAPTION_RULES");

static const char *const count_words[] = { "no", "one", "two", "three", "four" };
static const char *const style_words[] = { NULL, "outlined", "striped", "shaded" };
static const char *const bg_words[] = { "noisy", "striped", "checked", "shaded" };
static const char *const cells[9] = {
    "in the top left corner", "at the top", "in the top right corner",
    "on the left", "in the centre", "on the right",
    "in the bottom left corner", "at the bottom", "in the bottom right corner"
};

typedef struct { char *p; size_t cap, n; uint32_t rules; } out;

static void put(out *o, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(o->p + o->n, o->n < o->cap ? o->cap - o->n : 0, fmt, ap);
    va_end(ap);
    if (k > 0) o->n += (size_t)k;
}

/* Groups: objects of the same colour and shape are counted together. */
typedef struct { int first, n; } group;

static int groups_of(const en_shapes_scene *sc, group *g) {
    int ng = 0;
    for (int i = 0; i < sc->n_obj; i++) {
        int found = -1;
        for (int k = 0; k < ng; k++) {
            const en_shape_obj *a = &sc->obj[g[k].first], *b = &sc->obj[i];
            if (a->shape == b->shape && a->colour == b->colour) { found = k; break; }
        }
        if (found >= 0) g[found].n++;
        else g[ng++] = (group){ i, 1 };
    }
    return ng;
}

/* radii in picture widths: the main object 0.25-0.36, the others 0.06-0.10 */
static const char *size_word(double r) { return r >= 0.31 ? "large" : r <= 0.08 ? "small" : NULL; }

static int vowel(const char *w) { return w && strchr("aeiou", w[0]) != NULL; }

/* "a small red circle", "two striped blue squares", "an orange star" */
static void noun_phrase(out *o, const en_shapes_scene *sc, group g, en_rng *r) {
    const en_shape_obj *ob = &sc->obj[g.first];
    const char *sz = en_rng_below(r, 3) ? size_word(ob->r) : NULL;
    const char *st = en_rng_below(r, 3) == 0 ? style_words[ob->style] : NULL;
    const char *first = sz ? sz : st ? st : en_colour_name(ob->colour);
    if (g.n == 1) put(o, vowel(first) ? "an " : "a ");
    else { put(o, "%s ", count_words[g.n]); o->rules |= 1u << R_COUNT; }
    if (sz) { put(o, "%s ", sz); o->rules |= 1u << R_SIZE; }
    if (st) { put(o, "%s ", st); o->rules |= 1u << R_STYLE; }
    put(o, "%s %s", en_colour_name(ob->colour), g.n == 1 ? en_shape_name(ob->shape) : en_shape_plural(ob->shape));
}

static void prefix(out *o, en_rng *r, int plural) {
    switch (en_rng_below(r, 5)) {
    case 0: put(o, "a picture of "); break;
    case 1: put(o, "an image of "); break;
    case 2: put(o, plural ? "there are " : "there is "); break;
    default: return;
    }
    o->rules |= 1u << R_PREFIX;
}

static void position(out *o, const en_shape_obj *ob) {
    int col = ob->cx < 1.0 / 3 ? 0 : ob->cx < 2.0 / 3 ? 1 : 2, row = ob->cy < 1.0 / 3 ? 0 : ob->cy < 2.0 / 3 ? 1 : 2;
    int cell = row * 3 + col;
    put(o, " %s", cells[cell]);
    o->rules |= 1u << ((cell == 0 || cell == 2 || cell == 6 || cell == 8) ? R_CORNER : R_EDGE);
}

int en_shapes_caption(const en_shapes_scene *sc, uint64_t variant, char *buf, size_t cap,
                      uint32_t *rules) {
    en_rng r;
    en_rng_seed(&r, sc->seed ^ (variant * 0xa0761d6478bd642full + 0x1234567));
    out o = { buf, cap, 0, 0 };
    if (cap) buf[0] = 0;
    group g[EN_SHAPES_MAX_OBJ];
    int ng = groups_of(sc, g), mg = 0;
    for (int k = 0; k < ng; k++)
        for (int i = g[k].first; i < sc->n_obj; i++)
            if (i == sc->main && sc->obj[i].shape == sc->obj[g[k].first].shape &&
                sc->obj[i].colour == sc->obj[g[k].first].colour) mg = k;
    int form = (int)en_rng_below(&r, 5);
    if (form == 2 && ng < 2) form = 1;
    if (form == 3 && sc->n_obj < 2) form = 0;
    switch (form) {
    case 0: /* a photo of a large red circle */
        put(&o, "a photo of "); o.rules |= 1u << R_PHOTO;
        noun_phrase(&o, sc, g[mg], &r);
        break;
    case 1: /* a large green star in the top left corner */
        prefix(&o, &r, g[mg].n > 1);
        noun_phrase(&o, sc, g[mg], &r);
        position(&o, &sc->obj[sc->main]);
        o.rules |= 1u << R_ABSPOS;
        break;
    case 2: { /* two small red circles above a blue square */
        int other = (mg + 1 + (int)en_rng_below(&r, (uint64_t)ng - 1)) % ng;
        const en_shape_obj *a = &sc->obj[sc->main], *b = &sc->obj[g[other].first];
        prefix(&o, &r, g[mg].n > 1);
        noun_phrase(&o, sc, g[mg], &r);
        double dx = b->cx - a->cx, dy = b->cy - a->cy;
        if (dy * dy > dx * dx) { put(&o, dy > 0 ? " above " : " below "); o.rules |= 1u << R_VERTICAL; }
        else { put(&o, dx > 0 ? " to the left of " : " to the right of "); o.rules |= 1u << R_HORIZONTAL; }
        noun_phrase(&o, sc, g[other], &r);
        o.rules |= 1u << R_RELATION;
        break;
    }
    case 3: /* three shapes: a red circle, a blue square and a green star */
        put(&o, "%s shapes: ", count_words[sc->n_obj]);
        for (int k = 0; k < ng; k++) {
            int kk = (mg + k) % ng;
            if (k) put(&o, k == ng - 1 ? " and " : ", ");
            noun_phrase(&o, sc, g[kk], &r);
        }
        o.rules |= 1u << R_LIST;
        if (ng > 1) o.rules |= 1u << R_AND;
        break;
    default: /* a blue hexagon on a checked background */
        prefix(&o, &r, g[mg].n > 1);
        noun_phrase(&o, sc, g[mg], &r);
        put(&o, " on a %s background", bg_words[sc->background]);
        o.rules |= 1u << R_BACKGROUND;
        break;
    }
    if (rules) *rules = o.rules;
    return (int)o.n;
}
