/* rp_math_int — internals shared by the TeX parser (rp_math.c), the layout
 * and drawing (rp_math_layout.c) and the MathML writer (rp_math_mathml.c).
 *
 * The parser builds a tree of nodes ("noads" in The TeXbook's appendix G):
 * each is an atom with a TeX class, a nucleus of some kind and optional
 * sub- and superscripts. Layout turns the tree into boxes (glyphs, pango
 * text, rules, drawn delimiters) positioned relative to their parent's
 * baseline; drawing walks the boxes.
 */
#ifndef RP_MATH_INT_H
#define RP_MATH_INT_H

#include <cairo.h>
#include <stddef.h>

/* The eight atom classes of TeX; they drive inter-atom spacing. */
enum rm_cls { RM_ORD, RM_OP, RM_BIN, RM_REL, RM_OPEN, RM_CLOSE, RM_PUNCT, RM_INNER, RM_CLS_COUNT };

enum rm_kind {
    RN_SYM,    /* text: one symbol or a run of upright letters (softmax) */
    RN_NUM,    /* text: digits with an optional decimal point */
    RN_TEXT,   /* \text{...}: text-font run, spaces kept */
    RN_LIST,   /* kids: a {group}, or a whole formula */
    RN_FRAC,   /* a over b */
    RN_SQRT,   /* a under the radical, b the optional index */
    RN_ACCENT, /* text (a combining accent) over a; \overline when text is NULL */
    RN_FENCED, /* \left ldelim a \right rdelim ("" for '.') */
    RN_SPACE,  /* explicit space of mu math units (18 mu = 1 em) */
    RN_STYLE,  /* \displaystyle etc: switches the style for the rest of a list */
    RN_TABLE,  /* \begin{matrix|cases|aligned|gathered}: kids are rows, their kids cells */
    RN_KIND_COUNT
};

/* Fonts of letters and digits. ITALIC is the default for letters. */
enum rm_font { RF_ITALIC, RF_ROMAN, RF_BOLD, RF_BOLDITALIC, RF_CAL, RF_BB, RF_SF, RF_TT,
               RF_SYM, /* a symbol from the math font (operators, delimiters) */
               RF_FONT_COUNT };

/* Where a big operator puts its scripts. */
enum rm_limits { RL_DISPLAY /* above/below in display style only */, RL_ALWAYS, RL_NEVER };

/* Environments: how a table aligns its columns and sets its cells. */
enum rm_env { RE_MATRIX /* centred, text style */, RE_CASES /* left, text style */,
              RE_ALIGNED /* right/left pairs, display style */, RE_GATHERED /* centred, display style */,
              RE_SUBSTACK /* centred, the current style, tight rows */ };

/* Styles D, T, S, SS; cramped variants are odd. */
enum { RS_D = 0, RS_T = 2, RS_S = 4, RS_SS = 6 };

static inline int rm_level(int s) { return s >> 1; }
static inline int rm_cramped(int s) { return s & 1; }
/* The styles of superscripts, subscripts (cramped), numerators, denominators. */
static inline int rm_sup_style(int s) { return (rm_level(s) <= 1 ? RS_S : RS_SS) | rm_cramped(s); }
static inline int rm_sub_style(int s) { return (rm_level(s) <= 1 ? RS_S : RS_SS) | 1; }
static inline int rm_num_style(int s) { return (rm_level(s) == 0 ? RS_T : rm_level(s) == 1 ? RS_S : RS_SS) | rm_cramped(s); }
static inline int rm_den_style(int s) { return rm_num_style(s) | 1; }

typedef struct rm_node rm_node;
struct rm_node {
    int kind, cls, font;
    char *text;             /* SYM NUM TEXT ACCENT(accent char) */
    rm_node *a, *b;         /* FRAC num/den, SQRT body/index, ACCENT FENCED body */
    rm_node *sub, *sup;     /* scripts attached to this atom */
    rm_node **kids;         /* LIST */
    int nkids, cap;
    int limits;             /* enum rm_limits, for RM_OP atoms */
    int large;              /* big operator glyph (\sum): display-size variant */
    int big;                /* \big..\Bigg: 1..4, fixed-size delimiter */
    int middle;             /* \middle: a delimiter as tall as its \left and \right */
    int brk;                /* ends a part of a split formula: a binary operator stays binary */
    int style;              /* FRAC: forced style (-1 none); STYLE: the style */
    int wide;               /* ACCENT: 1 stretch over the nucleus (\widehat), 2 a brace (\overbrace ⏞, \underbrace ⏟) */
    int func;               /* SYM: a named operator such as \exp (MathML &ApplyFunction;) */
    int env, ncols;         /* TABLE: enum rm_env, widest row */
    char ldelim[8], rdelim[8]; /* FENCED; UTF-8, "" for the null delimiter */
    double mu;              /* SPACE */
    int pos;                /* byte offset in the source, for messages */
};

typedef struct rm_box rm_box;

struct rp_math {
    rm_node *root;
    char *tex;              /* the source, for MathML's alttext */
    int display;
    char *math_family;      /* the symbol font; NULL: "<text family> Math", else Pagella Math */
    rm_box *box;            /* laid-out boxes, NULL before rp_math_layout */
};

/* The Mathematical Alphanumeric Symbols code point for character c in font
 * (bold, script, double-struck ... and italic Greek), 0 when there is none. */
unsigned rm_alpha_cp(unsigned c, int font);

/* The class of each kid of list l after TeX's rules for binary operators
 * (-1 for spaces and style switches), and the space in mu between atoms
 * of classes left and right in style (thin/medium/thick, none in scripts). */
void rm_classes(const rm_node *l, int *cls);
double rm_space_mu(int left, int right, int style);

/* Layout (rp_math_layout.c) owns the boxes. */
void rm_box_free(rm_box *b);

#endif
