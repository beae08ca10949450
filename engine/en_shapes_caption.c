/* Captions for shapes-world scenes: a small grammar over colour, shape,
 * size, count, style and position, with varied wording, and the ways
 * alt-text falls short of a label (en_caption_noise, engine/en_shapes.h).
 *
 * Two generators per caption: `r` makes the grammar's choices exactly as
 * the noise-free captions always did; `z`, seeded apart, makes every noise
 * choice. So rates of zero leave the captions byte-identical, and a rate
 * changes only the words it touches. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "en_error.h"
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

/* Other names for a class's words (singular, plural). synonyms keep the
 * class; hypernyms widen it. The outlined circle's synonym is a ring. */
typedef struct { const char *one, *many; } noun;
static const noun shape_synonyms[EN_SHAPES_N][2] = {
    {{"disc", "discs"}, {"dot", "dots"}},         {{"box", "boxes"}, {"tile", "tiles"}},
    {{"wedge", "wedges"}, {"arrowhead", "arrowheads"}},
    {{"rhombus", "rhombi"}, {"lozenge", "lozenges"}},
    {{"five-sided shape", "five-sided shapes"}, {"five-sided polygon", "five-sided polygons"}},
    {{"six-sided shape", "six-sided shapes"}, {"honeycomb cell", "honeycomb cells"}},
    {{"starburst", "starbursts"}, {"five-pointed shape", "five-pointed shapes"}},
    {{"plus sign", "plus signs"}, {"plus", "pluses"}},
};
static const noun ring = {"ring", "rings"};
static const noun shape_hypernyms[EN_SHAPES_N][2] = {
    {{"round shape", "round shapes"}, {"shape", "shapes"}}, {{"polygon", "polygons"}, {"shape", "shapes"}},
    {{"polygon", "polygons"}, {"shape", "shapes"}},         {{"polygon", "polygons"}, {"shape", "shapes"}},
    {{"polygon", "polygons"}, {"shape", "shapes"}},         {{"polygon", "polygons"}, {"shape", "shapes"}},
    {{"symbol", "symbols"}, {"shape", "shapes"}},           {{"symbol", "symbols"}, {"shape", "shapes"}},
};
static const char *const colour_synonyms[EN_COLOURS_N][2] = {
    {"crimson", "scarlet"}, {"amber", "tangerine"}, {"golden", "lemon"}, {"emerald", "lime"},
    {"turquoise", "aqua"},  {"navy", "cobalt"},     {"violet", "lilac"}, {"rose", "magenta"},
};
static const char *const colour_hypernyms[2] = {"bright", "colourful"};
static const char *const background_forms[4] = {
    "a %s background", "a picture of a %s background", "an abstract %s pattern", "a %s texture"
};

/* The order in which en_shapes_eval_name renames words: every other one
 * first, so any count spreads over the hue circle and the shapes. */
static const int rename_order[8] = { 1, 5, 3, 7, 0, 4, 2, 6 };
_Static_assert(EN_SHAPES_N == 8 && EN_COLOURS_N == 8, "rename_order covers 8 colours and 8 shapes");

void en_shapes_eval_name(int label, int renamed, char *buf, size_t cap) {
    int c = label / EN_SHAPES_N, s = label % EN_SHAPES_N, rc = 0, rs = 0;
    for (int i = 0; i < renamed && i < 8; i++) {
        rc |= rename_order[i] == c;
        rs |= rename_order[i] == s;
    }
    snprintf(buf, cap, "%s %s", rc ? colour_synonyms[c][0] : en_colour_name(c),
             rs ? shape_synonyms[s][0].one : en_shape_name(s));
}

typedef struct { char *p; size_t cap, n; uint32_t rules; const en_caption_noise *nz; en_rng *z;
                 en_caption_stats *st; } out;

/* One draw for a word: 0 keep, 1 wrong, 2 merge (colours), 3 hypernym, 4 synonym. */
enum { W_KEEP, W_WRONG, W_MERGE, W_HYPERNYM, W_SYNONYM };
static int word_fate(out *o, int colour) {
    if (!o->nz) return W_KEEP;
    double u = en_rng_uniform_f64(o->z), a = o->nz->wrong;
    if (u < a) return W_WRONG;
    if (colour && u < (a += o->nz->merge)) return W_MERGE;
    if (u < (a += o->nz->hypernym)) return W_HYPERNYM;
    if (u < a + o->nz->synonym) return W_SYNONYM;
    return W_KEEP;
}

static void count_fate(out *o, int fate) {
    if (!o->st) return;
    o->st->wrong += fate == W_WRONG; o->st->merge += fate == W_MERGE;
    o->st->hypernym += fate == W_HYPERNYM; o->st->synonym += fate == W_SYNONYM;
}

static int other_than(en_rng *z, int v, int n) { return (v + 1 + (int)en_rng_below(z, (uint64_t)n - 1)) % n; }

static const char *colour_word(out *o, int c) {
    int fate = word_fate(o, 1);
    count_fate(o, fate);
    if (o->st) o->st->colour_words++;
    switch (fate) {
    case W_WRONG: return en_colour_name(other_than(o->z, c, EN_COLOURS_N));
    case W_MERGE: /* red, orange, ..., pink form a circle of hues */
        return en_colour_name((c + (en_rng_below(o->z, 2) ? 1 : EN_COLOURS_N - 1)) % EN_COLOURS_N);
    case W_HYPERNYM: return colour_hypernyms[en_rng_below(o->z, 2)];
    case W_SYNONYM: return colour_synonyms[c][en_rng_below(o->z, 2)];
    default: return en_colour_name(c);
    }
}

static const char *shape_word(out *o, int s, int style, int plural) {
    int fate = word_fate(o, 0);
    count_fate(o, fate);
    if (o->st) o->st->shape_words++;
    const noun *w;
    switch (fate) {
    case W_WRONG: s = other_than(o->z, s, EN_SHAPES_N); /* fall through */
    default: return plural ? en_shape_plural(s) : en_shape_name(s);
    case W_HYPERNYM: w = &shape_hypernyms[s][en_rng_below(o->z, 2)]; break;
    case W_SYNONYM: w = s == 0 && style == 1 ? &ring : &shape_synonyms[s][en_rng_below(o->z, 2)]; break;
    }
    return plural ? w->many : w->one;
}

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
    const char *cw = colour_word(o, ob->colour), *sw = shape_word(o, ob->shape, ob->style, g.n > 1);
    const char *first = sz ? sz : st ? st : cw;
    if (g.n == 1) put(o, vowel(first) ? "an " : "a ");
    else { put(o, "%s ", count_words[g.n]); o->rules |= 1u << R_COUNT; }
    if (sz) { put(o, "%s ", sz); o->rules |= 1u << R_SIZE; }
    if (st) { put(o, "%s ", st); o->rules |= 1u << R_STYLE; }
    put(o, "%s %s", cw, sw);
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

int en_caption_noise_check(const en_caption_noise *nz) {
    const double v[6] = { nz->background, nz->other, nz->hypernym, nz->synonym, nz->merge, nz->wrong };
    static const char *const names[6] = { "background", "other", "hypernym", "synonym", "merge", "wrong" };
    for (int i = 0; i < 6; i++)
        if (!(v[i] >= 0 && v[i] <= 1)) return en_error("caption noise: %s = %g is not a rate in [0, 1]", names[i], v[i]);
    if (nz->wrong + nz->merge + nz->hypernym + nz->synonym > 1 + 1e-12)
        return en_error("caption noise: wrong + merge + hypernym + synonym = %g exceeds 1 (one draw decides a word)",
                        nz->wrong + nz->merge + nz->hypernym + nz->synonym);
    return 0;
}

int en_shapes_caption(const en_shapes_scene *sc, uint64_t variant, char *buf, size_t cap,
                      uint32_t *rules) {
    en_caption_stats st;
    int n = en_shapes_caption_noisy(sc, variant, NULL, buf, cap, rules ? &st : NULL);
    if (rules) *rules = st.rules;
    return n;
}

int en_shapes_caption_noisy(const en_shapes_scene *sc, uint64_t variant, const en_caption_noise *nz,
                            char *buf, size_t cap, en_caption_stats *stats) {
    en_rng r, z;
    en_rng_seed(&r, sc->seed ^ (variant * 0xa0761d6478bd642full + 0x1234567));
    en_rng_seed(&z, sc->seed ^ (variant * 0xe7037ed1a0b428dbull + 0x6e6f697365ull));
    if (stats) memset(stats, 0, sizeof *stats);
    out o = { buf, cap, 0, 0, nz, &z, stats };
    if (cap) buf[0] = 0;
    group g[EN_SHAPES_MAX_OBJ];
    int ng = groups_of(sc, g), mg = 0;
    for (int k = 0; k < ng; k++)
        for (int i = g[k].first; i < sc->n_obj; i++)
            if (i == sc->main && sc->obj[i].shape == sc->obj[g[k].first].shape &&
                sc->obj[i].colour == sc->obj[g[k].first].colour) mg = k;
    int form = (int)en_rng_below(&r, 5);
    /* noise per caption: only the background, or another object as the subject */
    int only_bg = nz && en_rng_uniform_f64(&z) < nz->background;
    int focus = mg, away = 0;
    if (nz && !only_bg && ng > 1 && en_rng_uniform_f64(&z) < nz->other) {
        focus = other_than(&z, mg, ng);
        away = 1;
    }
    if (stats) { stats->background = only_bg; stats->other = away; stats->other_possible = ng > 1; }
    if (only_bg) {
        put(&o, background_forms[en_rng_below(&z, 4)], bg_words[sc->background]);
        o.rules |= 1u << R_BACKGROUND;
        if (stats) stats->rules = o.rules;
        return (int)o.n;
    }
    const en_shape_obj *subject = away ? &sc->obj[g[focus].first] : &sc->obj[sc->main];
    /* a caption about another object must not name the main one: its
     * relation needs a third group, and its list form becomes form 0 */
    if (form == 2 && ng < (away ? 3 : 2)) form = 1;
    if (form == 3 && (sc->n_obj < 2 || away)) form = 0;
    switch (form) {
    case 0: /* a photo of a large red circle */
        put(&o, "a photo of "); o.rules |= 1u << R_PHOTO;
        noun_phrase(&o, sc, g[focus], &r);
        break;
    case 1: /* a large green star in the top left corner */
        prefix(&o, &r, g[focus].n > 1);
        noun_phrase(&o, sc, g[focus], &r);
        position(&o, subject);
        o.rules |= 1u << R_ABSPOS;
        break;
    case 2: { /* two small red circles above a blue square */
        int other = (focus + 1 + (int)en_rng_below(&r, (uint64_t)ng - 1)) % ng;
        if (away && other == mg) other = (other + 1) % ng == focus ? (other + 2) % ng : (other + 1) % ng;
        const en_shape_obj *a = subject, *b = &sc->obj[g[other].first];
        prefix(&o, &r, g[focus].n > 1);
        noun_phrase(&o, sc, g[focus], &r);
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
        prefix(&o, &r, g[focus].n > 1);
        noun_phrase(&o, sc, g[focus], &r);
        put(&o, " on a %s background", bg_words[sc->background]);
        o.rules |= 1u << R_BACKGROUND;
        break;
    }
    if (stats) stats->rules = o.rules;
    return (int)o.n;
}
