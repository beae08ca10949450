/* rp_math_layout — TeX's math layout (The TeXbook, appendix G, simplified)
 * with the OpenType MATH table of the symbol font standing in for TeX's
 * font parameters, and the drawing of the resulting boxes with cairo.
 *
 * Letters, digits, names and \text come from the text family through
 * pango (shaped, with the family's own kerning); symbols, big operators,
 * accents and delimiters are glyphs of the math font, drawn by glyph id so
 * that the size variants and assemblies of its MATH table can be used.
 * Boxes follow TeX's convention: width, height above the baseline, depth
 * below it; a child sits at (x, y) with y measured upwards.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <hb-ot.h>
#include <hb.h>
#include <pango/pangocairo.h>

#include "en_error.h"
#include "en_utf8.h"
#include "rp_math.h"
#include "rp_math_int.h"

enum { BX_HLIST, BX_TEXT, BX_GLYPH, BX_RULE, BX_PATH };
#define ACC_NONE (-1e30) /* combining accents have negative attachments */

struct rm_box {
    int kind;
    double w, h, d;     /* extents; a RULE fills from -d to h */
    double x, y;        /* origin relative to the parent's, y upwards */
    rm_box *first, *last, *next;
    PangoLayout *layout; /* TEXT */
    double base;        /* TEXT: baseline below the layout's top */
    cairo_font_face_t *face; /* GLYPH */
    unsigned gid;       /* GLYPH */
    double size;        /* GLYPH, PATH: font size */
    char delim[8];      /* PATH: which delimiter to draw */
    double ic;          /* italic correction */
    double acc;         /* top accent attachment, ACC_NONE when unknown */
    int single;         /* one character: scripts attach as to a letter */
    int emboldened;     /* GLYPH: outlined as well as filled (a poor man's bold) */
    char utf8[8];       /* GLYPH: the character it shows, for PDF text extraction */
};

/* Font parameters, in em of the current style's size (percentages for
 * the *_PCT entries); read from the MATH table when there is one. */
enum {
    MC_AXIS, MC_NUM_UP, MC_NUM_UP_D, MC_DEN_DN, MC_DEN_DN_D, MC_NUM_GAP, MC_NUM_GAP_D, MC_FRAC_RULE,
    MC_DEN_GAP, MC_DEN_GAP_D, MC_SUP_UP, MC_SUP_UP_CR, MC_SUB_DN, MC_SUP_DROP, MC_SUB_DROP, MC_SUP_BOT_MIN,
    MC_SUB_TOP_MAX, MC_SUBSUP_GAP, MC_SUP_BOT_MAX_SUB, MC_SPACE_AFTER_SCRIPT, MC_UL_GAP, MC_UL_RISE,
    MC_LL_GAP, MC_LL_DROP, MC_RAD_GAP, MC_RAD_GAP_D, MC_RAD_RULE, MC_RAD_EXTRA, MC_RAD_KERN_BEFORE,
    MC_RAD_KERN_AFTER, MC_RAD_DEG_PCT, MC_ACCENT_BASE, MC_DISP_OP_MIN, MC_OVER_GAP, MC_OVER_RULE,
    MC_OVER_EXTRA, MC_SCRIPT_PCT, MC_SSCRIPT_PCT, MC_COUNT
};

static const struct { hb_ot_math_constant_t hb; double dflt; } mconst[MC_COUNT] = {
    [MC_AXIS] = {HB_OT_MATH_CONSTANT_AXIS_HEIGHT, 0.25},
    [MC_NUM_UP] = {HB_OT_MATH_CONSTANT_FRACTION_NUMERATOR_SHIFT_UP, 0.394},
    [MC_NUM_UP_D] = {HB_OT_MATH_CONSTANT_FRACTION_NUMERATOR_DISPLAY_STYLE_SHIFT_UP, 0.677},
    [MC_DEN_DN] = {HB_OT_MATH_CONSTANT_FRACTION_DENOMINATOR_SHIFT_DOWN, 0.345},
    [MC_DEN_DN_D] = {HB_OT_MATH_CONSTANT_FRACTION_DENOMINATOR_DISPLAY_STYLE_SHIFT_DOWN, 0.686},
    [MC_NUM_GAP] = {HB_OT_MATH_CONSTANT_FRACTION_NUMERATOR_GAP_MIN, 0.04},
    [MC_NUM_GAP_D] = {HB_OT_MATH_CONSTANT_FRACTION_NUM_DISPLAY_STYLE_GAP_MIN, 0.12},
    [MC_FRAC_RULE] = {HB_OT_MATH_CONSTANT_FRACTION_RULE_THICKNESS, 0.04},
    [MC_DEN_GAP] = {HB_OT_MATH_CONSTANT_FRACTION_DENOMINATOR_GAP_MIN, 0.04},
    [MC_DEN_GAP_D] = {HB_OT_MATH_CONSTANT_FRACTION_DENOM_DISPLAY_STYLE_GAP_MIN, 0.12},
    [MC_SUP_UP] = {HB_OT_MATH_CONSTANT_SUPERSCRIPT_SHIFT_UP, 0.363},
    [MC_SUP_UP_CR] = {HB_OT_MATH_CONSTANT_SUPERSCRIPT_SHIFT_UP_CRAMPED, 0.289},
    [MC_SUB_DN] = {HB_OT_MATH_CONSTANT_SUBSCRIPT_SHIFT_DOWN, 0.247},
    [MC_SUP_DROP] = {HB_OT_MATH_CONSTANT_SUPERSCRIPT_BASELINE_DROP_MAX, 0.386},
    [MC_SUB_DROP] = {HB_OT_MATH_CONSTANT_SUBSCRIPT_BASELINE_DROP_MIN, 0.05},
    [MC_SUP_BOT_MIN] = {HB_OT_MATH_CONSTANT_SUPERSCRIPT_BOTTOM_MIN, 0.108},
    [MC_SUB_TOP_MAX] = {HB_OT_MATH_CONSTANT_SUBSCRIPT_TOP_MAX, 0.344},
    [MC_SUBSUP_GAP] = {HB_OT_MATH_CONSTANT_SUB_SUPERSCRIPT_GAP_MIN, 0.16},
    [MC_SUP_BOT_MAX_SUB] = {HB_OT_MATH_CONSTANT_SUPERSCRIPT_BOTTOM_MAX_WITH_SUBSCRIPT, 0.344},
    [MC_SPACE_AFTER_SCRIPT] = {HB_OT_MATH_CONSTANT_SPACE_AFTER_SCRIPT, 0.056},
    [MC_UL_GAP] = {HB_OT_MATH_CONSTANT_UPPER_LIMIT_GAP_MIN, 0.2},
    [MC_UL_RISE] = {HB_OT_MATH_CONSTANT_UPPER_LIMIT_BASELINE_RISE_MIN, 0.111},
    [MC_LL_GAP] = {HB_OT_MATH_CONSTANT_LOWER_LIMIT_GAP_MIN, 0.167},
    [MC_LL_DROP] = {HB_OT_MATH_CONSTANT_LOWER_LIMIT_BASELINE_DROP_MIN, 0.6},
    [MC_RAD_GAP] = {HB_OT_MATH_CONSTANT_RADICAL_VERTICAL_GAP, 0.05},
    [MC_RAD_GAP_D] = {HB_OT_MATH_CONSTANT_RADICAL_DISPLAY_STYLE_VERTICAL_GAP, 0.148},
    [MC_RAD_RULE] = {HB_OT_MATH_CONSTANT_RADICAL_RULE_THICKNESS, 0.04},
    [MC_RAD_EXTRA] = {HB_OT_MATH_CONSTANT_RADICAL_EXTRA_ASCENDER, 0.04},
    [MC_RAD_KERN_BEFORE] = {HB_OT_MATH_CONSTANT_RADICAL_KERN_BEFORE_DEGREE, 0.278},
    [MC_RAD_KERN_AFTER] = {HB_OT_MATH_CONSTANT_RADICAL_KERN_AFTER_DEGREE, -0.556},
    [MC_RAD_DEG_PCT] = {HB_OT_MATH_CONSTANT_RADICAL_DEGREE_BOTTOM_RAISE_PERCENT, 60},
    [MC_ACCENT_BASE] = {HB_OT_MATH_CONSTANT_ACCENT_BASE_HEIGHT, 0.45},
    [MC_DISP_OP_MIN] = {HB_OT_MATH_CONSTANT_DISPLAY_OPERATOR_MIN_HEIGHT, 1.3},
    [MC_OVER_GAP] = {HB_OT_MATH_CONSTANT_OVERBAR_VERTICAL_GAP, 0.12},
    [MC_OVER_RULE] = {HB_OT_MATH_CONSTANT_OVERBAR_RULE_THICKNESS, 0.04},
    [MC_OVER_EXTRA] = {HB_OT_MATH_CONSTANT_OVERBAR_EXTRA_ASCENDER, 0.04},
    [MC_SCRIPT_PCT] = {HB_OT_MATH_CONSTANT_SCRIPT_PERCENT_SCALE_DOWN, 70},
    [MC_SSCRIPT_PCT] = {HB_OT_MATH_CONSTANT_SCRIPT_SCRIPT_PERCENT_SCALE_DOWN, 50},
};

typedef struct {
    PangoContext *pc;
    const char *family;      /* text family */
    char math_name[160];     /* the symbol font tried last */
    double size;             /* text style size, user units */
    cairo_font_face_t *face; /* math font, NULL when it is not installed */
    hb_font_t *hb;           /* same font at scale = upem */
    double upem;
    int has_math;            /* the font has an OpenType MATH table */
    double c[MC_COUNT];
    double middle;           /* size for \middle delimiters, 0 on the first pass */
} rm_ctx;

/* ---- styles --------------------------------------------------------------- */

static double ssize(const rm_ctx *x, int s) {
    int l = rm_level(s);
    return l <= 1 ? x->size : l == 2 ? x->size * x->c[MC_SCRIPT_PCT] / 100 : x->size * x->c[MC_SSCRIPT_PCT] / 100;
}
static double K(const rm_ctx *x, int mc, int s) { return x->c[mc] * ssize(x, s); }

/* ---- boxes ---------------------------------------------------------------- */

static rm_box *box_new(int kind) {
    rm_box *b = calloc(1, sizeof *b);
    EN_ASSERT(b);
    b->kind = kind;
    b->acc = ACC_NONE;
    return b;
}

void rm_box_free(rm_box *b) {
    while (b) {
        rm_box *next = b->next;
        rm_box_free(b->first);
        if (b->layout) g_object_unref(b->layout);
        if (b->face) cairo_font_face_destroy(b->face);
        free(b);
        b = next;
    }
}

/* Appends kid to an hlist at (x, y) and grows the list's extents. */
static void box_add(rm_box *l, rm_box *k, double x, double y) {
    k->x = x;
    k->y = y;
    k->next = NULL;
    if (l->last) l->last->next = k;
    else l->first = k;
    l->last = k;
    if (x + k->w > l->w) l->w = x + k->w;
    if (y + k->h > l->h) l->h = y + k->h;
    if (k->d - y > l->d) l->d = k->d - y;
}

static rm_box *rule_box(double w, double bottom, double top) {
    rm_box *r = box_new(BX_RULE);
    r->w = w;
    r->h = top;
    r->d = -bottom;
    return r;
}

static rm_box *kern_box(double w) {
    rm_box *k = box_new(BX_HLIST);
    k->w = w;
    return k;
}

/* A run of text in the text family (or another family) through pango. */
static rm_box *text_box(rm_ctx *x, const char *family, const char *text, int italic, int bold, double size) {
    PangoLayout *lay = pango_layout_new(x->pc);
    PangoFontDescription *fd = pango_font_description_new();
    pango_font_description_set_family(fd, family);
    pango_font_description_set_style(fd, italic ? PANGO_STYLE_ITALIC : PANGO_STYLE_NORMAL);
    pango_font_description_set_weight(fd, bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
    pango_font_description_set_absolute_size(fd, size * PANGO_SCALE);
    pango_layout_set_font_description(lay, fd);
    pango_font_description_free(fd);
    pango_layout_set_text(lay, text, -1);
    PangoRectangle ink, log;
    pango_layout_get_extents(lay, &ink, &log);
    double base = pango_layout_get_baseline(lay) / (double)PANGO_SCALE;
    rm_box *b = box_new(BX_TEXT);
    b->layout = lay;
    b->base = base;
    b->w = log.width / (double)PANGO_SCALE;
    if (ink.width > 0 && ink.height > 0) {
        b->h = base - ink.y / (double)PANGO_SCALE;
        b->d = (ink.y + ink.height) / (double)PANGO_SCALE - base;
        double right = (ink.x + ink.width) / (double)PANGO_SCALE;
        if (italic && right > b->w) b->ic = right - b->w;
        /* an italic letter's top leans right: put accents over its top */
        double cx = (ink.x + ink.width / 2.0) / (double)PANGO_SCALE;
        b->acc = italic ? cx + 0.08 * (b->h + b->d) : cx;
    }
    size_t chars = 0;
    for (const char *s = text; *s; s++) chars += ((unsigned char)*s & 0xC0) != 0x80;
    b->single = chars == 1;
    return b;
}

static unsigned math_glyph(rm_ctx *x, unsigned cp) {
    hb_codepoint_t g = 0;
    if (!x->hb || !hb_font_get_nominal_glyph(x->hb, cp, &g)) return 0;
    return g;
}

/* A glyph of the math font at size. */
static rm_box *glyph_box(rm_ctx *x, unsigned gid, double size) {
    double sc = size / x->upem;
    hb_glyph_extents_t e = {0, 0, 0, 0};
    rm_box *b = box_new(BX_GLYPH);
    b->gid = gid;
    b->size = size;
    b->face = cairo_font_face_reference(x->face);
    b->w = hb_font_get_glyph_h_advance(x->hb, gid) * sc;
    if (hb_font_get_glyph_extents(x->hb, gid, &e)) {
        b->h = e.y_bearing * sc;
        b->d = -(e.y_bearing + e.height) * sc;
    }
    if (x->has_math) {
        b->ic = hb_ot_math_get_glyph_italics_correction(x->hb, gid) * sc;
        b->acc = hb_ot_math_get_glyph_top_accent_attachment(x->hb, gid) * sc;
    }
    if (b->w == 0) b->acc = (e.x_bearing + e.width / 2.0) * sc; /* combining marks */
    b->single = 1;
    return b;
}

/* Records which character a glyph (or an assembly's first part) shows,
 * so that copying from the PDF gives ∑ rather than nothing. */
static rm_box *tagged(rm_box *b, const char *utf8) {
    rm_box *g = b;
    while (g && g->kind == BX_HLIST) g = g->first;
    if (g && g->kind == BX_GLYPH && strlen(utf8) < sizeof g->utf8) strcpy(g->utf8, utf8);
    return b;
}

/* A symbol from the math font, or through pango when the font lacks it. */
static rm_box *sym_box(rm_ctx *x, unsigned cp, const char *utf8, double size) {
    unsigned g = math_glyph(x, cp);
    if (g) return tagged(glyph_box(x, g, size), utf8);
    return text_box(x, x->family, utf8, 0, 0, size); /* pango finds a font that has it */
}

/* ---- letters in the math alphabets ---------------------------------------- */

/* Letters, digits and names: the text family, except for the alphabets
 * that only the math font has (calligraphic, blackboard, italic Greek). */
static rm_box *letters_box(rm_ctx *x, const char *text, int font, double size) {
    int italic = font == RF_ITALIC || font == RF_BOLDITALIC;
    int bold = font == RF_BOLD || font == RF_BOLDITALIC;
    const char *s = text;
    unsigned c = en_utf8_next(&s);
    if (!*s) { /* one character */
        unsigned cp = bold && c < 0x370 ? 0 : rm_alpha_cp(c, font); /* bold Latin: the text family's */
        if (cp && math_glyph(x, cp)) return tagged(glyph_box(x, math_glyph(x, cp), size), text);
        if (bold && c >= 0x370 && c < 0x400) { /* no bold Greek in the font: embolden its own */
            unsigned g = math_glyph(x, rm_alpha_cp(c, italic ? RF_ITALIC : RF_ROMAN));
            if (!g) g = math_glyph(x, c);
            if (g) {
                rm_box *b = glyph_box(x, g, size);
                b->emboldened = 1;
                b->w += 0.03 * size;
                return b;
            }
        }
        if (c >= 0x370 && c < 0x400 && math_glyph(x, c)) return tagged(glyph_box(x, math_glyph(x, c), size), text);
        return text_box(x, font == RF_SF ? "sans" : font == RF_TT ? "monospace" : x->family, text, italic, bold,
                        size);
    }
    if (font == RF_CAL || font == RF_BB || font == RF_SF || font == RF_TT) {
        rm_box *l = box_new(BX_HLIST);
        char one[8];
        for (s = text; *s;) {
            const char *st = s;
            en_utf8_next(&s);
            snprintf(one, sizeof one, "%.*s", (int)(s - st), st);
            rm_box *k = letters_box(x, one, font, size);
            box_add(l, k, l->w, 0);
        }
        return l;
    }
    return text_box(x, x->family, text, italic, bold, size);
}

/* ---- delimiters ------------------------------------------------------------ */

/* An assembly of the glyph's parts at least `need` long: vertical with
 * its bottom on the baseline, or horizontal from the origin. NULL when the
 * font has none for the glyph. */
static rm_box *assembly_box(rm_ctx *x, unsigned gid, double need, double size, int horiz) {
    double sc = size / x->upem;
    hb_direction_t dir = horiz ? HB_DIRECTION_LTR : HB_DIRECTION_BTT;
    unsigned n = hb_ot_math_get_glyph_assembly(x->hb, gid, dir, 0, NULL, NULL, NULL);
    if (n == 0 || n > 16) return NULL;
    hb_ot_math_glyph_part_t parts[16];
    hb_position_t ic;
    unsigned cnt = n;
    hb_ot_math_get_glyph_assembly(x->hb, gid, dir, 0, &cnt, parts, &ic);
    double omin = hb_ot_math_get_min_connector_overlap(x->hb, dir);
    double need_fu = need / sc;
    int reps = 0, k = 0;
    double sum = 0;
    for (reps = 0; reps < 64; reps++) {
        k = 0;
        sum = 0;
        for (unsigned i = 0; i < cnt; i++) {
            int r = (parts[i].flags & HB_OT_MATH_GLYPH_PART_FLAG_EXTENDER) ? reps : 1;
            k += r;
            sum += r * (double)parts[i].full_advance;
        }
        if (k > 0 && sum - (k - 1) * omin >= need_fu) break;
    }
    if (k == 0) return NULL;
    /* one overlap for every joint, as large as the connectors allow */
    double omax = 1e30;
    for (unsigned i = 0; i < cnt; i++) {
        double e = parts[i].end_connector_length, s = parts[i].start_connector_length;
        if (i + 1 < cnt && e < omax) omax = e;
        if (i > 0 && s < omax) omax = s;
    }
    double o = k > 1 ? (sum - need_fu) / (k - 1) : 0;
    if (o > omax) o = omax;
    if (o < omin) o = omin;
    rm_box *l = box_new(BX_HLIST);
    double pos = 0;
    for (unsigned i = 0; i < cnt; i++) {
        int r = (parts[i].flags & HB_OT_MATH_GLYPH_PART_FLAG_EXTENDER) ? reps : 1;
        for (int j = 0; j < r; j++) {
            rm_box *g = glyph_box(x, parts[i].glyph, size);
            if (horiz) box_add(l, g, pos * sc, 0);
            else box_add(l, g, 0, pos * sc + g->d);
            pos += parts[i].full_advance - o;
        }
    }
    if (horiz) { /* true ink extents: a brace's parts float above the baseline */
        l->w = (pos + o) * sc;
        l->h = -1e30;
        l->d = -1e30;
        for (rm_box *g = l->first; g; g = g->next) l->h = fmax(l->h, g->h), l->d = fmax(l->d, g->d);
    } else {
        l->d = 0;
        l->h = (pos + o) * sc;
    }
    return l;
}

/* A delimiter drawn with cairo, for fonts without size variants. */
static rm_box *path_delim(rm_ctx *x, const char *d, double need, double size) {
    rm_box *b = box_new(BX_PATH);
    snprintf(b->delim, sizeof b->delim, "%s", d);
    b->size = size;
    b->h = need;
    b->d = 0;
    int narrow = !strcmp(d, "|") || !strcmp(d, "‖");
    b->w = size * (narrow ? (strcmp(d, "|") ? 0.42 : 0.28) : 0.4 + 0.02 * need / size);
    return b;
}

/* A delimiter at least `need` tall, centred on the math axis. */
static rm_box *delim_box(rm_ctx *x, const char *d, double need, int style) {
    double size = ssize(x, style), axis = K(x, MC_AXIS, style);
    if (!*d) return kern_box(0.12 * size); /* TeX's \nulldelimiterspace */
    const char *s = d;
    unsigned cp = en_utf8_next(&s);
    unsigned g = math_glyph(x, cp);
    rm_box *b = NULL;
    if (g && x->has_math) {
        hb_ot_math_glyph_variant_t v[32];
        unsigned cnt = 32;
        hb_ot_math_get_glyph_variants(x->hb, g, HB_DIRECTION_BTT, 0, &cnt, v);
        double sc = size / x->upem;
        for (unsigned i = 0; i < cnt && !b; i++)
            if (v[i].advance * sc >= need) b = glyph_box(x, v[i].glyph, size);
        if (!b) b = assembly_box(x, g, need, size, 0);
        if (!b && cnt) b = glyph_box(x, v[cnt - 1].glyph, size);
        if (b) tagged(b, d);
    }
    if (!b) {
        b = sym_box(x, cp, d, size);
        if (b->h + b->d < need * 0.95 && (strchr("()[]|", d[0]) || cp == 0x2016 || cp == '{' || cp == '}' ||
                                           cp == 0x27E8 || cp == 0x27E9)) {
            rm_box_free(b);
            b = path_delim(x, d, need, size);
        }
    }
    rm_box *l = box_new(BX_HLIST);
    box_add(l, b, 0, axis - (b->h - b->d) / 2);
    return l;
}

/* ---- the layout of atoms ---------------------------------------------------- */

static rm_box *layout_node(rm_ctx *x, const rm_node *n, int style);
static rm_box *layout_list(rm_ctx *x, const rm_node *n, int style);

static rm_box *layout_frac(rm_ctx *x, const rm_node *n, int style) {
    int st = n->style >= 0 ? n->style : style;
    rm_box *num = layout_node(x, n->a, rm_num_style(st)), *den = layout_node(x, n->b, rm_den_style(st));
    int D = rm_level(st) == 0;
    double th = K(x, MC_FRAC_RULE, st), axis = K(x, MC_AXIS, st);
    double u = K(x, D ? MC_NUM_UP_D : MC_NUM_UP, st), v = K(x, D ? MC_DEN_DN_D : MC_DEN_DN, st);
    double gn = K(x, D ? MC_NUM_GAP_D : MC_NUM_GAP, st), gd = K(x, D ? MC_DEN_GAP_D : MC_DEN_GAP, st);
    if ((u - num->d) - (axis + th / 2) < gn) u = gn + axis + th / 2 + num->d;
    if ((axis - th / 2) - (den->h - v) < gd) v = gd - axis + th / 2 + den->h;
    double pad = 0.12 * ssize(x, st), w = fmax(num->w, den->w);
    rm_box *l = box_new(BX_HLIST);
    box_add(l, num, pad + (w - num->w) / 2, u);
    box_add(l, den, pad + (w - den->w) / 2, -v);
    box_add(l, rule_box(w, axis - th / 2, axis + th / 2), pad, 0);
    l->w = w + 2 * pad;
    return l;
}

/* The radical sign at least `need` tall, bottom at whatever the glyph has. */
static rm_box *radical_glyph(rm_ctx *x, double need, double size) {
    unsigned g = math_glyph(x, 0x221A);
    if (g && x->has_math) {
        hb_ot_math_glyph_variant_t v[32];
        unsigned cnt = 32;
        hb_ot_math_get_glyph_variants(x->hb, g, HB_DIRECTION_BTT, 0, &cnt, v);
        double sc = size / x->upem;
        for (unsigned i = 0; i < cnt; i++)
            if (v[i].advance * sc >= need) return glyph_box(x, v[i].glyph, size);
        rm_box *a = assembly_box(x, g, need, size, 0);
        if (a) return a;
        if (cnt) return glyph_box(x, v[cnt - 1].glyph, size);
    }
    rm_box *b = sym_box(x, 0x221A, "√", size);
    if (b->h + b->d < need) { /* stretch the sign vertically: a drawn path */
        rm_box_free(b);
        b = path_delim(x, "√", need, size);
        b->w = 0.8 * size;
    }
    return b;
}

static rm_box *layout_sqrt(rm_ctx *x, const rm_node *n, int style) {
    rm_box *body = layout_node(x, n->a, style | 1);
    double th = K(x, MC_RAD_RULE, style);
    double gap = K(x, rm_level(style) == 0 ? MC_RAD_GAP_D : MC_RAD_GAP, style);
    double need = body->h + body->d + gap + th;
    rm_box *rad = radical_glyph(x, need, ssize(x, style));
    double total = rad->h + rad->d;
    if (total > need) gap += (total - need) / 2;
    double top = body->h + gap + th; /* the top of the rule and of the sign */
    double raise = top - rad->h;
    rm_box *l = box_new(BX_HLIST);
    double x0 = 0;
    if (n->b) {
        rm_box *idx = layout_node(x, n->b, RS_SS);
        double kb = K(x, MC_RAD_KERN_BEFORE, style), ka = K(x, MC_RAD_KERN_AFTER, style);
        double iy = raise - rad->d + x->c[MC_RAD_DEG_PCT] / 100 * total;
        box_add(l, idx, kb, iy);
        x0 = fmax(0, kb + idx->w + ka);
    }
    box_add(l, rad, x0, raise);
    double bx = x0 + rad->w;
    box_add(l, body, bx, 0);
    box_add(l, rule_box(body->w, top - th, top), bx, 0);
    l->h = fmax(l->h, top + K(x, MC_RAD_EXTRA, style));
    return l;
}

static rm_box *layout_accent(rm_ctx *x, const rm_node *n, int style) {
    rm_box *body = layout_node(x, n->a, style | 1);
    double sz = ssize(x, style);
    rm_box *l = box_new(BX_HLIST);
    box_add(l, body, 0, 0);
    if (!n->text) { /* \overline */
        double gap = K(x, MC_OVER_GAP, style), th = K(x, MC_OVER_RULE, style);
        box_add(l, rule_box(body->w, body->h + gap, body->h + gap + th), 0, 0);
        l->h += K(x, MC_OVER_EXTRA, style);
        return l;
    }
    const char *s = n->text;
    unsigned cp = en_utf8_next(&s);
    unsigned g = math_glyph(x, cp);
    if (n->wide == 2) { /* \overbrace, \underbrace: 0.3 em from the body, as plain TeX */
        rm_box *br = NULL;
        if (g && x->has_math) {
            hb_ot_math_glyph_variant_t v[32];
            unsigned cnt = 32;
            hb_ot_math_get_glyph_variants(x->hb, g, HB_DIRECTION_LTR, 0, &cnt, v);
            for (unsigned i = 0; i < cnt && !br; i++)
                if (v[i].advance * sz / x->upem >= body->w) br = glyph_box(x, v[i].glyph, sz);
            if (!br) br = assembly_box(x, g, body->w, sz, 1);
        }
        if (!br) { /* drawn */
            br = box_new(BX_PATH);
            snprintf(br->delim, sizeof br->delim, "%s", n->text);
            br->size = sz;
            br->w = body->w;
            br->h = cp == 0x23DE ? 0.75 * sz : -0.15 * sz; /* ink between -d and h, like the glyphs */
            br->d = cp == 0x23DE ? -0.6 * sz : 0.3 * sz;
        }
        double gap = 0.3 * sz, bx = (body->w - br->w) / 2;
        if (cp == 0x23DE) box_add(l, br, bx, body->h + gap + br->d);
        else box_add(l, br, bx, -(body->d + gap + br->h));
        l->w = fmax(body->w, br->w);
        return l;
    }
    rm_box *acc = NULL;
    if (g) {
        if (n->wide && x->has_math) { /* the widest variant that still fits */
            hb_ot_math_glyph_variant_t v[32];
            unsigned cnt = 32;
            hb_ot_math_get_glyph_variants(x->hb, g, HB_DIRECTION_LTR, 0, &cnt, v);
            for (unsigned i = 0; i < cnt; i++)
                if (v[i].advance * sz / x->upem <= body->w * 1.05 || i == 0) g = v[i].glyph;
        }
        acc = glyph_box(x, g, sz);
    } else {
        acc = text_box(x, x->family, n->text, 0, 0, sz);
    }
    double delta = fmin(body->h, K(x, MC_ACCENT_BASE, style));
    double bx = body->single && body->acc != ACC_NONE ? body->acc : body->w / 2;
    double ax = acc->acc != ACC_NONE ? acc->acc : acc->w / 2;
    rm_box *aw = box_new(BX_HLIST); /* keeps the accent out of the width */
    box_add(aw, acc, 0, 0);
    aw->w = 0;
    box_add(l, aw, bx - ax, body->h - delta);
    l->w = body->w;
    l->single = body->single;
    l->ic = body->ic;
    return l;
}

static int has_middle(const rm_node *n) {
    if (!n) return 0;
    if (n->middle) return 1;
    for (int i = 0; i < n->nkids; i++)
        if (n->kids[i]->kind != RN_FENCED && has_middle(n->kids[i])) return 1;
    return 0;
}

static rm_box *layout_fenced(rm_ctx *x, const rm_node *n, int style) {
    double outer = x->middle;
    x->middle = 0;
    rm_box *body = layout_list(x, n->a, style);
    double axis = K(x, MC_AXIS, style), sz = ssize(x, style);
    double delta = fmax(body->h - axis, body->d + axis);
    double need = fmax(2 * delta * 0.901, 2 * delta - 0.5 * sz); /* \delimiterfactor, \delimitershortfall */
    if (has_middle(n->a)) { /* again, with the \middle delimiters sized */
        rm_box_free(body);
        x->middle = need;
        body = layout_list(x, n->a, style);
    }
    x->middle = outer;
    rm_box *l = box_new(BX_HLIST);
    rm_box *lb = delim_box(x, n->ldelim, need, style);
    box_add(l, lb, 0, 0);
    box_add(l, body, l->w, 0);
    box_add(l, delim_box(x, n->rdelim, need, style), l->w, 0);
    return l;
}

/* A big operator: the display variant in display style, centred on the axis. */
static rm_box *bigop_box(rm_ctx *x, const rm_node *n, int style) {
    double size = ssize(x, style);
    const char *s = n->text;
    unsigned cp = en_utf8_next(&s);
    unsigned g = math_glyph(x, cp);
    rm_box *b;
    if (g) {
        if (rm_level(style) == 0 && x->has_math) {
            hb_ot_math_glyph_variant_t v[16];
            unsigned cnt = 16;
            hb_ot_math_get_glyph_variants(x->hb, g, HB_DIRECTION_BTT, 0, &cnt, v);
            double minh = K(x, MC_DISP_OP_MIN, style);
            for (unsigned i = 0; i < cnt; i++) {
                g = v[i].glyph;
                if (v[i].advance * size / x->upem >= minh) break;
            }
        }
        b = glyph_box(x, g, size);
    } else {
        b = text_box(x, x->family, n->text, 0, 0, rm_level(style) == 0 ? size * 1.4 : size);
    }
    rm_box *l = box_new(BX_HLIST);
    box_add(l, b, 0, K(x, MC_AXIS, style) - (b->h - b->d) / 2);
    l->ic = b->ic;
    l->single = 0; /* TeX boxes the operator: scripts hang from its corners */
    return l;
}

/* A table: rows on struts, columns aligned, centred on the math axis. */
static rm_box *layout_table(rm_ctx *x, const rm_node *n, int style) {
    int disp = n->env == RE_ALIGNED || n->env == RE_GATHERED;
    int st = n->env == RE_SUBSTACK || rm_level(style) >= 2 ? style : disp ? RS_D : RS_T;
    double em = ssize(x, st), axis = K(x, MC_AXIS, style);
    double strut = n->env == RE_SUBSTACK ? 0.85 : 1.2; /* amsmath: \baselineskip of the script size */
    int nr = n->nkids, nc = n->ncols > 0 ? n->ncols : 1;
    rm_box **cell = calloc((size_t)(nr * nc) + 1, sizeof *cell);
    double *colw = calloc((size_t)nc, sizeof *colw), *rowh = calloc((size_t)nr + 1, sizeof *rowh),
           *rowd = calloc((size_t)nr + 1, sizeof *rowd);
    EN_ASSERT(cell && colw && rowh && rowd);
    for (int r = 0; r < nr; r++) {
        rowh[r] = 0.7 * strut * em; /* the strut of an array row */
        rowd[r] = 0.3 * strut * em;
        for (int c = 0; c < n->kids[r]->nkids; c++) {
            rm_box *b = layout_list(x, n->kids[r]->kids[c], st);
            cell[r * nc + c] = b;
            colw[c] = fmax(colw[c], b->w);
            rowh[r] = fmax(rowh[r], b->h);
            rowd[r] = fmax(rowd[r], b->d);
        }
    }
    double jot = disp ? 0.3 * em : 0, H = 0;
    for (int r = 0; r < nr; r++) H += rowh[r] + rowd[r] + (r ? jot : 0);
    rm_box *l = box_new(BX_HLIST);
    double top = axis + H / 2, y = top;
    for (int r = 0; r < nr; r++) {
        y -= rowh[r];
        double cx = 0;
        for (int c = 0; c < nc; c++) {
            rm_box *b = cell[r * nc + c];
            int align = n->env == RE_CASES ? 0 : n->env == RE_ALIGNED ? (c % 2 ? 0 : 2) : 1; /* 0 l 1 c 2 r */
            if (b) box_add(l, b, cx + (colw[c] - b->w) * align / 2, y);
            cx += colw[c];
            if (c + 1 < nc) cx += n->env == RE_ALIGNED ? (c % 2 ? 2 * em : 0) : em;
        }
        l->w = fmax(l->w, cx);
        y -= rowd[r] + jot;
    }
    l->h = fmax(l->h, top);
    l->d = fmax(l->d, H - top);
    free(cell);
    free(colw);
    free(rowh);
    free(rowd);
    return l;
}

static rm_box *layout_nucleus(rm_ctx *x, const rm_node *n, int style) {
    double size = ssize(x, style);
    switch (n->kind) {
    case RN_SYM: {
        if (n->large) return bigop_box(x, n, style);
        if (n->middle && x->middle > 0) return delim_box(x, n->text, x->middle, style);
        if (n->big) {
            static const double h[] = {1, 1.2, 1.8, 2.4, 3.0};
            return delim_box(x, n->text, h[n->big] * size, style);
        }
        if (n->font == RF_SYM) {
            if (!*n->text) return kern_box(0.12 * size);
            const char *s = n->text;
            unsigned cp = en_utf8_next(&s);
            return sym_box(x, cp, n->text, size);
        }
        return letters_box(x, n->text, n->font, size);
    }
    case RN_NUM:
        if (n->font == RF_BB || n->font == RF_SF || n->font == RF_TT) return letters_box(x, n->text, n->font, size);
        return text_box(x, x->family, n->text, 0, n->font == RF_BOLD, size);
    case RN_TEXT: return text_box(x, x->family, n->text, 0, 0, size);
    case RN_LIST: return layout_list(x, n, style);
    case RN_FRAC: return layout_frac(x, n, style);
    case RN_SQRT: return layout_sqrt(x, n, style);
    case RN_ACCENT: return layout_accent(x, n, style);
    case RN_FENCED: return layout_fenced(x, n, style);
    case RN_SPACE: return kern_box(n->mu / 18 * size);
    case RN_STYLE: return kern_box(0);
    case RN_TABLE: return layout_table(x, n, style);
    }
    EN_ASSERT(0);
    return NULL;
}

/* Limits above and below (rule 13a). */
static rm_box *layout_limits(rm_ctx *x, const rm_node *n, rm_box *nuc, int style) {
    rm_box *sup = n->sup ? layout_node(x, n->sup, rm_sup_style(style)) : NULL;
    rm_box *sub = n->sub ? layout_node(x, n->sub, rm_sub_style(style)) : NULL;
    double w = fmax(nuc->w, fmax(sup ? sup->w : 0, sub ? sub->w : 0)), ic = nuc->ic;
    rm_box *l = box_new(BX_HLIST);
    box_add(l, nuc, (w - nuc->w) / 2, 0);
    if (sup) {
        double gap = fmax(K(x, MC_UL_GAP, style), K(x, MC_UL_RISE, style) - sup->d);
        box_add(l, sup, (w - sup->w) / 2 + ic / 2, nuc->h + gap + sup->d);
    }
    if (sub) {
        double gap = fmax(K(x, MC_LL_GAP, style), K(x, MC_LL_DROP, style) - sub->h);
        box_add(l, sub, (w - sub->w) / 2 - ic / 2, -(nuc->d + gap + sub->h));
    }
    l->w = w;
    return l;
}

/* Sub- and superscripts (rule 18). */
static rm_box *layout_scripts(rm_ctx *x, const rm_node *n, rm_box *nuc, int style) {
    rm_box *sup = n->sup ? layout_node(x, n->sup, rm_sup_style(style)) : NULL;
    rm_box *sub = n->sub ? layout_node(x, n->sub, rm_sub_style(style)) : NULL;
    double u = nuc->single ? 0 : nuc->h - K(x, MC_SUP_DROP, style);
    double v = nuc->single ? 0 : nuc->d + K(x, MC_SUB_DROP, style);
    if (sup) u = fmax(u, fmax(K(x, rm_cramped(style) ? MC_SUP_UP_CR : MC_SUP_UP, style), sup->d + K(x, MC_SUP_BOT_MIN, style)));
    if (sub && !sup) v = fmax(v, fmax(K(x, MC_SUB_DN, style), sub->h - K(x, MC_SUB_TOP_MAX, style)));
    if (sub && sup) {
        v = fmax(v, K(x, MC_SUB_DN, style));
        double gap = (u - sup->d) - (sub->h - v), min = K(x, MC_SUBSUP_GAP, style);
        if (gap < min) {
            v += min - gap;
            double t = K(x, MC_SUP_BOT_MAX_SUB, style) - (u - sup->d);
            if (t > 0) {
                u += t;
                v -= t;
            }
        }
    }
    rm_box *l = box_new(BX_HLIST);
    box_add(l, nuc, 0, 0);
    double xsup = nuc->w + nuc->ic, xsub = nuc->w;
    if (n->large) xsup = nuc->w, xsub = nuc->w - nuc->ic;
    if (sup) box_add(l, sup, xsup, u);
    if (sub) box_add(l, sub, xsub, -v);
    l->w += K(x, MC_SPACE_AFTER_SCRIPT, style);
    return l;
}

static rm_box *layout_node(rm_ctx *x, const rm_node *n, int style) {
    rm_box *nuc = layout_nucleus(x, n, style);
    if (!n->sub && !n->sup) {
        if (nuc->ic > 0 && n->kind == RN_SYM && !n->large) nuc->w += nuc->ic; /* italic correction */
        return nuc;
    }
    if (n->limits == RL_ALWAYS || (n->cls == RM_OP && n->limits == RL_DISPLAY && rm_level(style) == 0))
        return layout_limits(x, n, nuc, style);
    return layout_scripts(x, n, nuc, style);
}

static rm_box *layout_list(rm_ctx *x, const rm_node *n, int style) {
    if (n->kind != RN_LIST) return layout_node(x, n, style);
    int *cls = malloc(sizeof(int) * (size_t)(n->nkids + 1));
    EN_ASSERT(cls);
    rm_classes(n, cls);
    rm_box *l = box_new(BX_HLIST);
    double pen = 0;
    int last = -1;
    for (int i = 0; i < n->nkids; i++) {
        const rm_node *k = n->kids[i];
        if (k->kind == RN_STYLE) {
            style = k->style;
            continue;
        }
        if (cls[i] >= 0 && last >= 0) pen += rm_space_mu(last, cls[i], style) / 18 * ssize(x, style);
        rm_box *b = layout_node(x, k, style);
        box_add(l, b, pen, 0);
        pen += b->w;
        if (cls[i] >= 0) last = cls[i];
    }
    l->w = pen;
    free(cls);
    /* a lone atom keeps its letter-like behaviour for scripts and accents */
    if (n->nkids == 1 && l->first) {
        l->single = l->first->single && n->kids[0]->kind == RN_SYM;
        l->ic = l->first->ic;
        l->acc = l->first->acc;
    }
    return l;
}

/* ---- fonts ------------------------------------------------------------------ */

/* Loads the symbol font by family name; 0 when it is not installed. */
static int load_math_font(rm_ctx *x, const char *name) {
    PangoFontDescription *fd = pango_font_description_from_string(name);
    pango_font_description_set_absolute_size(fd, x->size * PANGO_SCALE);
    PangoFont *f = pango_context_load_font(x->pc, fd);
    pango_font_description_free(fd);
    if (!f) return 0;
    /* fontconfig substitutes a font for a missing family: use the math
     * font's glyphs only when it is the one asked for */
    PangoFontDescription *got = pango_font_describe(f);
    const char *gf = pango_font_description_get_family(got);
    int ok = gf && !strcasecmp(gf, name);
    pango_font_description_free(got);
    hb_font_t *phb = ok ? pango_font_get_hb_font(f) : NULL;
    cairo_scaled_font_t *sf = ok ? pango_cairo_font_get_scaled_font(PANGO_CAIRO_FONT(f)) : NULL;
    if (phb && sf) {
        hb_face_t *face = hb_font_get_face(phb);
        x->upem = hb_face_get_upem(face);
        x->hb = hb_font_create(face);
        hb_font_set_scale(x->hb, (int)x->upem, (int)x->upem);
        hb_ot_font_set_funcs(x->hb);
        x->face = cairo_font_face_reference(cairo_scaled_font_get_font_face(sf));
        x->has_math = hb_ot_math_has_data(face);
        if (x->has_math)
            for (int i = 0; i < MC_COUNT; i++) {
                /* script sizes stay TeX's 70 % and 50 % (7 and 5 pt at 10 pt);
                 * Pagella Math would ask for 74 % and 55 % */
                if (i == MC_SCRIPT_PCT || i == MC_SSCRIPT_PCT) continue;
                double v = hb_ot_math_get_constant(x->hb, mconst[i].hb);
                int pct = i == MC_RAD_DEG_PCT || i == MC_SCRIPT_PCT || i == MC_SSCRIPT_PCT;
                if (pct ? v > 0 : 1) x->c[i] = pct ? v : v / x->upem;
            }
    }
    g_object_unref(f);
    return x->hb != NULL;
}

static void ctx_open(rm_ctx *x, rp_math *m, cairo_t *cr, const char *family, double size) {
    memset(x, 0, sizeof *x);
    x->family = family && *family ? family : "serif";
    x->size = size;
    x->pc = pango_cairo_create_context(cr);
    cairo_font_options_t *fo = cairo_font_options_create();
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
    pango_cairo_context_set_font_options(x->pc, fo);
    cairo_font_options_destroy(fo);
    pango_context_set_round_glyph_positions(x->pc, FALSE);
    for (int i = 0; i < MC_COUNT; i++) x->c[i] = mconst[i].dflt;

    /* the text family's own math companion (TeX Gyre Termes Math for
     * Termes), else Pagella Math; or the one the caller asked for */
    char own[160];
    snprintf(own, sizeof own, "%s Math", x->family);
    const char *cand[] = {m->math_family ? m->math_family : own, m->math_family ? NULL : "TeX Gyre Pagella Math"};
    for (int i = 0; i < 2 && cand[i]; i++) {
        snprintf(x->math_name, sizeof x->math_name, "%s", cand[i]);
        if (load_math_font(x, cand[i])) break;
    }
}

static void ctx_close(rm_ctx *x) {
    if (x->hb) hb_font_destroy(x->hb);
    if (x->face) cairo_font_face_destroy(x->face);
    g_object_unref(x->pc);
}

void rp_math_layout(rp_math *m, cairo_t *cr, const char *family, double size_pt, double *width, double *ascent,
                    double *descent) {
    EN_ASSERT(size_pt > 0 && size_pt < 1e4);
    rm_box_free(m->box);
    /* metrics do not depend on the target (hinting is off): a scratch
     * context serves callers that only measure */
    cairo_surface_t *scratch = NULL;
    if (!cr) {
        scratch = cairo_image_surface_create(CAIRO_FORMAT_A8, 1, 1);
        cr = cairo_create(scratch);
    }
    rm_ctx x;
    ctx_open(&x, m, cr, family, size_pt);
    m->box = layout_list(&x, m->root, m->display ? RS_D : RS_T);
    ctx_close(&x);
    if (scratch) {
        cairo_destroy(cr);
        cairo_surface_destroy(scratch);
    }
    if (width) *width = m->box->w;
    if (ascent) *ascent = m->box->h;
    if (descent) *descent = m->box->d;
}

/* ---- drawing ------------------------------------------------------------------ */

static void draw_path(cairo_t *cr, const rm_box *b, double x, double y) {
    double top = y - b->h, bot = y + b->d, H = bot - top, w = b->w, lw = 0.055 * b->size;
    const char *d = b->delim;
    cairo_save(cr);
    cairo_set_line_width(cr, lw);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
    double l = x + 0.15 * w, r = x + 0.85 * w, mid = (top + bot) / 2;
    if (!strcmp(d, "(") || !strcmp(d, ")")) {
        int s = d[0] == '(' ? 1 : -1;
        double xo = s > 0 ? r : l, xi = s > 0 ? l : r;
        cairo_move_to(cr, xo, top);
        cairo_curve_to(cr, xi, top + 0.25 * H, xi, bot - 0.25 * H, xo, bot);
        cairo_stroke(cr);
    } else if (!strcmp(d, "[") || !strcmp(d, "]")) {
        double xo = d[0] == '[' ? r : l, xi = d[0] == '[' ? l + 0.1 * w : r - 0.1 * w;
        cairo_move_to(cr, xo, top + lw / 2);
        cairo_line_to(cr, xi, top + lw / 2);
        cairo_line_to(cr, xi, bot - lw / 2);
        cairo_line_to(cr, xo, bot - lw / 2);
        cairo_stroke(cr);
    } else if (!strcmp(d, "{") || !strcmp(d, "}")) {
        double s = d[0] == '{' ? 1 : -1, xo = s > 0 ? r : l, xc = x + w / 2, xi = s > 0 ? l : r;
        cairo_move_to(cr, xo, top);
        cairo_curve_to(cr, xc, top, xc, top, xc, top + 0.15 * H);
        cairo_line_to(cr, xc, mid - 0.1 * H);
        cairo_curve_to(cr, xc, mid, xc, mid, xi, mid);
        cairo_curve_to(cr, xc, mid, xc, mid, xc, mid + 0.1 * H);
        cairo_line_to(cr, xc, bot - 0.15 * H);
        cairo_curve_to(cr, xc, bot, xc, bot, xo, bot);
        cairo_stroke(cr);
    } else if (!strcmp(d, "⟨") || !strcmp(d, "⟩")) {
        double xo = !strcmp(d, "⟨") ? r : l, xi = xo == r ? l : r;
        cairo_move_to(cr, xo, top);
        cairo_line_to(cr, xi, mid);
        cairo_line_to(cr, xo, bot);
        cairo_stroke(cr);
    } else if (!strcmp(d, "⏞") || !strcmp(d, "⏟")) { /* a horizontal brace, tips towards the body */
        double s = !strcmp(d, "⏞") ? 1 : -1, yt = s > 0 ? bot : top, yc = mid, yp = s > 0 ? top : bot;
        double l0 = x, r0 = x + w, c = x + w / 2;
        cairo_move_to(cr, l0, yt);
        cairo_curve_to(cr, l0, yc, l0, yc, l0 + 0.1 * H + lw, yc);
        cairo_line_to(cr, c - 0.1 * H - lw, yc);
        cairo_curve_to(cr, c, yc, c, yc, c, yp);
        cairo_curve_to(cr, c, yc, c, yc, c + 0.1 * H + lw, yc);
        cairo_line_to(cr, r0 - 0.1 * H - lw, yc);
        cairo_curve_to(cr, r0, yc, r0, yc, r0, yt);
        cairo_stroke(cr);
    } else if (!strcmp(d, "√")) {
        cairo_move_to(cr, x, mid + 0.1 * H);
        cairo_line_to(cr, x + 0.25 * w, mid);
        cairo_line_to(cr, x + 0.55 * w, bot);
        cairo_line_to(cr, x + w, top + lw / 2);
        cairo_stroke(cr);
    } else { /* | and ‖ */
        int two = strcmp(d, "|") != 0;
        for (int i = 0; i <= two; i++) {
            double xx = two ? x + w * (0.32 + 0.36 * i) : x + w / 2;
            cairo_move_to(cr, xx, top);
            cairo_line_to(cr, xx, bot);
        }
        cairo_stroke(cr);
    }
    cairo_restore(cr);
}

/* Draws box b whose origin (baseline, left) is at (x, y) in cairo space. */
static void draw_box(cairo_t *cr, const rm_box *b, double x, double y) {
    switch (b->kind) {
    case BX_HLIST:
        for (const rm_box *k = b->first; k; k = k->next) draw_box(cr, k, x + k->x, y - k->y);
        break;
    case BX_TEXT:
        cairo_move_to(cr, x, y - b->base);
        pango_cairo_show_layout(cr, b->layout);
        break;
    case BX_GLYPH: {
        cairo_set_font_face(cr, b->face);
        cairo_set_font_size(cr, b->size);
        if (b->emboldened) {
            cairo_glyph_t g = {b->gid, x + 0.015 * b->size, y};
            cairo_glyph_path(cr, &g, 1);
            cairo_save(cr);
            cairo_set_line_width(cr, 0.03 * b->size);
            cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
            cairo_fill_preserve(cr);
            cairo_stroke(cr);
            cairo_restore(cr);
        } else if (b->utf8[0]) {
            cairo_glyph_t g = {b->gid, x, y};
            cairo_text_cluster_t cl = {(int)strlen(b->utf8), 1};
            cairo_show_text_glyphs(cr, b->utf8, -1, &g, 1, &cl, 1, 0);
        } else {
            cairo_glyph_t g = {b->gid, x, y};
            cairo_show_glyphs(cr, &g, 1);
        }
        break;
    }
    case BX_RULE:
        cairo_rectangle(cr, x, y - b->h, b->w, b->h + b->d);
        cairo_fill(cr);
        break;
    case BX_PATH:
        draw_path(cr, b, x, y);
        break;
    }
}

void rp_math_draw(rp_math *m, cairo_t *cr, double x, double y) {
    if (!m->box) return;
    cairo_save(cr);
    cairo_font_options_t *fo = cairo_font_options_create();
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
    cairo_set_font_options(cr, fo);
    cairo_font_options_destroy(fo);
    cairo_new_path(cr);
    draw_box(cr, m->box, x, y);
    cairo_restore(cr);
}
