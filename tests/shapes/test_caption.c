/* Caption noise (en_caption_noise, engine/en_shapes.h): each factor at rate
 * 0 gives the exact captions, at rate r its measured share is r within a
 * binomial bound, and the same seed gives the same captions. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "en_shapes.h"

#define PICTURES 3000
#define VARIANTS 3

static uint64_t fnv(const char *s, uint64_t h) {
    for (const unsigned char *b = (const unsigned char *)s;; b++) {
        h = (h ^ *b) * 1099511628211ull;
        if (!*b) return h;
    }
}

/* FNV-1a of the 9,000 captions (seed 11, pretrain split, variants 0-2, each
 * with its NUL) that en_shapes_caption made before noise existed (commit
 * af34ec3): rate 0 must give them byte for byte. */
#define EXACT_HASH 0x21b6d37cdc264306ull

static uint64_t captions_hash(const en_caption_noise *nz, int noisy) {
    uint64_t h = 1469598103934665603ull;
    char buf[256];
    for (int i = 0; i < PICTURES; i++) {
        en_shapes_scene sc;
        en_shapes_scene_make(&sc, 11, EN_SPLIT_PRETRAIN, (uint64_t)i);
        for (uint64_t v = 0; v < VARIANTS; v++) {
            if (noisy) en_shapes_caption_noisy(&sc, v, nz, buf, sizeof buf, NULL);
            else en_shapes_caption(&sc, v, buf, sizeof buf, NULL);
            h = fnv(buf, h);
        }
    }
    return h;
}

Test(caption_noise, rate_zero_is_exact) {
    cr_assert_eq(captions_hash(NULL, 0), EXACT_HASH, "the noise-free captions changed");
    cr_assert_eq(captions_hash(NULL, 1), EXACT_HASH, "noise NULL is not the exact captions");
    en_caption_noise zero = {0};
    cr_assert_eq(captions_hash(&zero, 1), EXACT_HASH, "all rates 0 is not the exact captions");
    /* each factor alone: at 0 the exact captions, at 0.3 others */
    for (int f = 0; f < 6; f++) {
        en_caption_noise nz = {0};
        double *field[6] = { &nz.background, &nz.other, &nz.hypernym, &nz.synonym, &nz.merge, &nz.wrong };
        *field[f] = 0.0;
        cr_assert_eq(captions_hash(&nz, 1), EXACT_HASH, "factor %d at 0", f);
        *field[f] = 0.3;
        cr_assert_neq(captions_hash(&nz, 1), EXACT_HASH, "factor %d at 0.3 changed nothing", f);
    }
}

/* |share - r| <= 4.5 standard errors of a binomial share over n trials:
 * a false alarm about once in 150,000 runs; the counts are deterministic,
 * so a pass is a pass on every machine. */
static void check_share(const char *what, int hits, int n, double r) {
    double share = (double)hits / n, se = sqrt(r * (1 - r) / n), bound = 4.5 * se;
    cr_log_info("%-10s rate %.2f: %d of %d = %.4f (|diff| %.4f, bound %.4f)", what, r, hits, n, share,
                fabs(share - r), bound);
    cr_assert(fabs(share - r) <= bound, "%s: share %.4f of %d against rate %.2f (bound %.4f)", what, share, n, r,
              bound);
}

typedef struct { int captions, background, other, other_possible, colour_words, shape_words, wrong, merge,
                 hypernym, synonym; } totals;

static totals measure(const en_caption_noise *nz) {
    totals t = {0};
    char buf[256];
    for (int i = 0; i < PICTURES; i++) {
        en_shapes_scene sc;
        en_shapes_scene_make(&sc, 12, EN_SPLIT_PRETRAIN, (uint64_t)i);
        for (uint64_t v = 0; v < VARIANTS; v++) {
            en_caption_stats st;
            int n = en_shapes_caption_noisy(&sc, v, nz, buf, sizeof buf, &st);
            cr_assert(n > 8 && n < (int)sizeof buf, "caption length %d: '%s'", n, buf);
            t.captions++;
            t.background += st.background;
            t.other_possible += st.other_possible && !st.background;
            t.other += st.other;
            t.colour_words += st.colour_words; t.shape_words += st.shape_words;
            t.wrong += st.wrong; t.merge += st.merge; t.hypernym += st.hypernym; t.synonym += st.synonym;
        }
    }
    return t;
}

Test(caption_noise, shares_match_rates) {
    en_caption_noise nz = { .background = 0.2 };
    totals t = measure(&nz);
    check_share("background", t.background, t.captions, 0.2);
    nz = (en_caption_noise){ .other = 0.4 };
    t = measure(&nz);
    check_share("other", t.other, t.other_possible, 0.4);
    /* the word factors together: one draw per word picks at most one */
    nz = (en_caption_noise){ .wrong = 0.05, .merge = 0.25, .hypernym = 0.15, .synonym = 0.3 };
    t = measure(&nz);
    int words = t.colour_words + t.shape_words;
    check_share("wrong", t.wrong, words, 0.05);
    check_share("merge", t.merge, t.colour_words, 0.25);   /* colour words only */
    check_share("hypernym", t.hypernym, words, 0.15);
    check_share("synonym", t.synonym, words, 0.3);
}

/* What a factor does to the words, read back from the caption text. */
Test(caption_noise, factors_do_what_they_say) {
    char buf[256];
    int rings = 0, outlined_circles = 0, main_named = 0, others = 0;
    for (int i = 0; i < PICTURES; i++) {
        en_shapes_scene sc;
        en_shapes_scene_make(&sc, 13, EN_SPLIT_PRETRAIN, (uint64_t)i);
        const en_shape_obj *m = &sc.obj[sc.main];
        char name[64];
        en_shapes_class_name(sc.label, name, sizeof name);
        en_caption_stats st;
        /* background only: no colour or shape word of any object */
        en_caption_noise bg = { .background = 1 };
        en_shapes_caption_noisy(&sc, 0, &bg, buf, sizeof buf, &st);
        cr_assert(st.background && (strstr(buf, "background") || strstr(buf, "pattern") || strstr(buf, "texture")),
                  "'%s'", buf);
        for (int k = 0; k < sc.n_obj; k++)
            cr_assert(!strstr(buf, en_shape_name(sc.obj[k].shape)), "background-only '%s' names a shape", buf);
        /* another object: never the main object's colour-and-shape pair */
        en_caption_noise ot = { .other = 1 };
        en_shapes_caption_noisy(&sc, 0, &ot, buf, sizeof buf, &st);
        if (st.other) {
            others++;
            char pair[64];
            snprintf(pair, sizeof pair, "%s %s", en_colour_name(m->colour), en_shape_name(m->shape));
            cr_assert(!strstr(buf, pair), "'%s' is about another object but names the main %s", buf, pair);
            snprintf(pair, sizeof pair, "%s %s", en_colour_name(m->colour), en_shape_plural(m->shape));
            cr_assert(!strstr(buf, pair), "'%s' names the main %s", buf, pair);
        } else {
            cr_assert(!st.other_possible, "other = 1 left a caption about the main object: '%s'", buf);
        }
        /* synonyms: the class name never verbatim; the outlined circle is a ring */
        en_caption_noise sy = { .synonym = 1 };
        en_shapes_caption_noisy(&sc, 0, &sy, buf, sizeof buf, &st);
        cr_assert(!strstr(buf, name), "all synonyms, yet '%s' holds the class name '%s'", buf, name);
        if (m->shape == 0 && m->style == 1 && sc.n_obj == 1) {
            outlined_circles++;
            rings += strstr(buf, "ring") != NULL;
        }
        /* merge: the colour word names a neighbouring hue, never the true one */
        en_caption_noise mg = { .merge = 1 };
        en_shapes_caption_noisy(&sc, 0, &mg, buf, sizeof buf, &st);
        const char *left = en_colour_name((m->colour + EN_COLOURS_N - 1) % EN_COLOURS_N);
        const char *right = en_colour_name((m->colour + 1) % EN_COLOURS_N);
        if (sc.n_obj == 1) {
            cr_assert(strstr(buf, left) || strstr(buf, right), "'%s': no neighbour of %s", buf, en_colour_name(m->colour));
            main_named += strstr(buf, en_colour_name(m->colour)) != NULL;
        }
    }
    cr_assert(others > PICTURES / 2, "only %d captions about another object", others);
    cr_assert(outlined_circles > 10 && rings == outlined_circles, "%d of %d outlined circles are rings", rings,
              outlined_circles);
    /* (no colour name holds another, nor does any other word of a
     * one-object caption: a merged caption never names the true colour) */
    cr_assert_eq(main_named, 0, "%d merged captions still name the true colour", main_named);
}

Test(caption_noise, deterministic_from_seed) {
    en_caption_noise nz = { .background = 0.1, .other = 0.3, .wrong = 0.05, .merge = 0.2, .hypernym = 0.1, .synonym = 0.3 };
    uint64_t a = captions_hash(&nz, 1), b = captions_hash(&nz, 1);
    cr_assert_eq(a, b, "same seed and rates, different captions");
    /* another variant (epoch) or another seed gives other captions */
    char x[256], y[256];
    int differ_variant = 0, differ_seed = 0;
    for (int i = 0; i < 200; i++) {
        en_shapes_scene s1, s2;
        en_shapes_scene_make(&s1, 11, EN_SPLIT_PRETRAIN, (uint64_t)i);
        en_shapes_scene_make(&s2, 12, EN_SPLIT_PRETRAIN, (uint64_t)i);
        en_shapes_caption_noisy(&s1, 0, &nz, x, sizeof x, NULL);
        en_shapes_caption_noisy(&s1, 1, &nz, y, sizeof y, NULL);
        differ_variant += strcmp(x, y) != 0;
        en_shapes_caption_noisy(&s2, 0, &nz, y, sizeof y, NULL);
        differ_seed += strcmp(x, y) != 0;
    }
    cr_assert(differ_variant > 100 && differ_seed > 150, "variant %d, seed %d of 200 differ", differ_variant,
              differ_seed);
}

Test(caption_noise, rates_checked) {
    en_caption_noise ok = { .wrong = 0.2, .merge = 0.3, .hypernym = 0.2, .synonym = 0.3, .other = 1 };
    cr_assert_eq(en_caption_noise_check(&ok), 0);
    en_caption_noise over = { .wrong = 0.3, .merge = 0.3, .hypernym = 0.2, .synonym = 0.3 };
    cr_assert_eq(en_caption_noise_check(&over), -1);
    en_caption_noise neg = { .background = -0.1 };
    cr_assert_eq(en_caption_noise_check(&neg), -1);
    en_caption_noise nan = { .other = NAN };
    cr_assert_eq(en_caption_noise_check(&nan), -1);
}

/* Evaluation names (en_shapes_eval_name): renamed = 0 is the class name;
 * k renames exactly k colours and k shapes (so (8-k)^2 classes keep both
 * words); every renamed word is one the captions use as a synonym, so a
 * world with synonym > 0 teaches it and one with synonym = 0 never does. */
Test(caption_noise, eval_names_rename_k_words) {
    char name[64], eval[64], buf[256];
    for (int k = 0; k <= 8; k++) {
        int kept = 0;
        for (int l = 0; l < EN_SHAPES_CLASSES; l++) {
            en_shapes_class_name(l, name, sizeof name);
            en_shapes_eval_name(l, k, eval, sizeof eval);
            kept += strcmp(name, eval) == 0;
            if (k == 0) cr_assert_str_eq(eval, name);
        }
        cr_assert_eq(kept, (8 - k) * (8 - k), "renamed %d: %d classes keep both words, want %d", k, kept, (8 - k) * (8 - k));
    }
    /* with synonym = 1 the captions' words of a class include its renamed ones */
    int found[EN_SHAPES_CLASSES] = {0}, seen[EN_SHAPES_CLASSES] = {0};
    en_caption_noise syn = { .synonym = 1 };
    for (int i = 0; i < PICTURES; i++) {
        en_shapes_scene sc;
        en_shapes_scene_make(&sc, 13, EN_SPLIT_PRETRAIN, (uint64_t)i);
        if (sc.obj[sc.main].style == 1) continue;   /* outlined circles are "rings" */
        en_shapes_eval_name(sc.label, 8, eval, sizeof eval);
        seen[sc.label]++;
        for (uint64_t v = 0; v < 8 && !found[sc.label]; v++) {
            en_shapes_caption_noisy(&sc, v, &syn, buf, sizeof buf, NULL);
            found[sc.label] |= strstr(buf, eval) != NULL;
        }
    }
    for (int l = 0; l < EN_SHAPES_CLASSES; l++)
        if (seen[l] >= 20) {
            en_shapes_eval_name(l, 8, eval, sizeof eval);
            cr_assert(found[l], "'%s' (class %d) never appears in %d pictures' synonym captions", eval, l, seen[l]);
        }
}
