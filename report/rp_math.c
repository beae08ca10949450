/* rp_math — the TeX-subset parser: source text to a tree of atoms.
 *
 * Recursive descent over the bytes of the source. A formula is a list of
 * atoms; an atom is a primary (letter, number, symbol, command, {group})
 * followed by scripts. Errors stop the parse with "column N: what was
 * expected" so that a chapter author can find the mistake.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "en_error.h"
#include "en_utf8.h"
#include "rp_math.h"
#include "rp_math_int.h"

/* ---- the command table -------------------------------------------------- */

enum ck {
    CK_SYM,     /* a symbol of class cls from the math font */
    CK_GREEK,   /* a Greek letter: italic lowercase, upright capitals */
    CK_BIGOP,   /* \sum: large glyph, limits per `lim` */
    CK_FUNC,    /* \exp: upright name, class op, limits per `lim` */
    CK_FRAC, CK_SQRT, CK_ACCENT, CK_OVERLINE, CK_FONT, CK_TEXT, CK_OPNAME, CK_CLASS,
    CK_LEFT, CK_RIGHT, CK_SPACE, CK_BIG, CK_STYLE, CK_LIMITS, CK_BEGIN, CK_END, CK_OVERSET, CK_MIDDLE, CK_SUBSTACK,
};

typedef struct {
    const char *name;
    int kind;
    const char *text; /* UTF-8 */
    int cls;          /* class; or font, style, size, mu depending on kind */
    int lim;
} rm_cmd;

static const rm_cmd cmds[] = {
    /* Greek */
    {"alpha", CK_GREEK, "α", 0, 0}, {"beta", CK_GREEK, "β", 0, 0}, {"gamma", CK_GREEK, "γ", 0, 0},
    {"delta", CK_GREEK, "δ", 0, 0}, {"epsilon", CK_GREEK, "ϵ", 0, 0}, {"varepsilon", CK_GREEK, "ε", 0, 0},
    {"zeta", CK_GREEK, "ζ", 0, 0}, {"eta", CK_GREEK, "η", 0, 0}, {"theta", CK_GREEK, "θ", 0, 0},
    {"vartheta", CK_GREEK, "ϑ", 0, 0}, {"iota", CK_GREEK, "ι", 0, 0}, {"kappa", CK_GREEK, "κ", 0, 0},
    {"lambda", CK_GREEK, "λ", 0, 0}, {"mu", CK_GREEK, "μ", 0, 0}, {"nu", CK_GREEK, "ν", 0, 0},
    {"xi", CK_GREEK, "ξ", 0, 0}, {"pi", CK_GREEK, "π", 0, 0}, {"varpi", CK_GREEK, "ϖ", 0, 0},
    {"rho", CK_GREEK, "ρ", 0, 0}, {"varrho", CK_GREEK, "ϱ", 0, 0}, {"sigma", CK_GREEK, "σ", 0, 0},
    {"varsigma", CK_GREEK, "ς", 0, 0}, {"tau", CK_GREEK, "τ", 0, 0}, {"upsilon", CK_GREEK, "υ", 0, 0},
    {"phi", CK_GREEK, "ϕ", 0, 0}, {"varphi", CK_GREEK, "φ", 0, 0}, {"chi", CK_GREEK, "χ", 0, 0},
    {"psi", CK_GREEK, "ψ", 0, 0}, {"omega", CK_GREEK, "ω", 0, 0},
    {"Gamma", CK_GREEK, "Γ", 0, 0}, {"Delta", CK_GREEK, "Δ", 0, 0}, {"Theta", CK_GREEK, "Θ", 0, 0},
    {"Lambda", CK_GREEK, "Λ", 0, 0}, {"Xi", CK_GREEK, "Ξ", 0, 0}, {"Pi", CK_GREEK, "Π", 0, 0},
    {"Sigma", CK_GREEK, "Σ", 0, 0}, {"Upsilon", CK_GREEK, "Υ", 0, 0}, {"Phi", CK_GREEK, "Φ", 0, 0},
    {"Psi", CK_GREEK, "Ψ", 0, 0}, {"Omega", CK_GREEK, "Ω", 0, 0},
    /* binary operators */
    {"cdot", CK_SYM, "⋅", RM_BIN, 0}, {"times", CK_SYM, "×", RM_BIN, 0}, {"pm", CK_SYM, "±", RM_BIN, 0},
    {"mp", CK_SYM, "∓", RM_BIN, 0}, {"div", CK_SYM, "÷", RM_BIN, 0}, {"ast", CK_SYM, "∗", RM_BIN, 0},
    {"circ", CK_SYM, "∘", RM_BIN, 0}, {"odot", CK_SYM, "⊙", RM_BIN, 0}, {"otimes", CK_SYM, "⊗", RM_BIN, 0},
    {"oplus", CK_SYM, "⊕", RM_BIN, 0}, {"cup", CK_SYM, "∪", RM_BIN, 0}, {"cap", CK_SYM, "∩", RM_BIN, 0},
    {"setminus", CK_SYM, "∖", RM_BIN, 0}, {"wedge", CK_SYM, "∧", RM_BIN, 0}, {"vee", CK_SYM, "∨", RM_BIN, 0},
    /* relations */
    {"le", CK_SYM, "≤", RM_REL, 0}, {"leq", CK_SYM, "≤", RM_REL, 0}, {"ge", CK_SYM, "≥", RM_REL, 0},
    {"geq", CK_SYM, "≥", RM_REL, 0}, {"ne", CK_SYM, "≠", RM_REL, 0}, {"neq", CK_SYM, "≠", RM_REL, 0},
    {"approx", CK_SYM, "≈", RM_REL, 0}, {"sim", CK_SYM, "∼", RM_REL, 0}, {"simeq", CK_SYM, "≃", RM_REL, 0},
    {"equiv", CK_SYM, "≡", RM_REL, 0}, {"propto", CK_SYM, "∝", RM_REL, 0}, {"in", CK_SYM, "∈", RM_REL, 0},
    {"notin", CK_SYM, "∉", RM_REL, 0}, {"subset", CK_SYM, "⊂", RM_REL, 0}, {"subseteq", CK_SYM, "⊆", RM_REL, 0},
    {"to", CK_SYM, "→", RM_REL, 0}, {"rightarrow", CK_SYM, "→", RM_REL, 0}, {"leftarrow", CK_SYM, "←", RM_REL, 0},
    {"gets", CK_SYM, "←", RM_REL, 0}, {"mapsto", CK_SYM, "↦", RM_REL, 0}, {"Rightarrow", CK_SYM, "⇒", RM_REL, 0},
    {"Leftarrow", CK_SYM, "⇐", RM_REL, 0}, {"iff", CK_SYM, "⟺", RM_REL, 0}, {"ll", CK_SYM, "≪", RM_REL, 0},
    {"gg", CK_SYM, "≫", RM_REL, 0}, {"coloneqq", CK_SYM, "≔", RM_REL, 0}, {"perp", CK_SYM, "⟂", RM_REL, 0},
    {"mid", CK_SYM, "∣", RM_REL, 0},
    /* ordinary symbols */
    {"infty", CK_SYM, "∞", RM_ORD, 0}, {"partial", CK_SYM, "∂", RM_ORD, 0}, {"nabla", CK_SYM, "∇", RM_ORD, 0},
    {"top", CK_SYM, "⊤", RM_ORD, 0}, {"intercal", CK_SYM, "⊺", RM_ORD, 0}, {"colon", CK_SYM, ":", RM_PUNCT, 0}, {"bot", CK_SYM, "⊥", RM_ORD, 0}, {"ell", CK_SYM, "ℓ", RM_ORD, 0},
    {"forall", CK_SYM, "∀", RM_ORD, 0}, {"exists", CK_SYM, "∃", RM_ORD, 0}, {"emptyset", CK_SYM, "∅", RM_ORD, 0},
    {"prime", CK_SYM, "′", RM_ORD, 0}, {"|", CK_SYM, "‖", RM_ORD, 0}, {"Vert", CK_SYM, "‖", RM_ORD, 0},
    {"vert", CK_SYM, "|", RM_ORD, 0}, {"neg", CK_SYM, "¬", RM_ORD, 0}, {"hbar", CK_SYM, "ℏ", RM_ORD, 0},
    {"ldots", CK_SYM, "…", RM_INNER, 0}, {"dots", CK_SYM, "…", RM_INNER, 0}, {"cdots", CK_SYM, "⋯", RM_INNER, 0},
    {"vdots", CK_SYM, "⋮", RM_ORD, 0}, {"ddots", CK_SYM, "⋱", RM_INNER, 0},
    {"{", CK_SYM, "{", RM_OPEN, 0}, {"}", CK_SYM, "}", RM_CLOSE, 0}, {"lbrace", CK_SYM, "{", RM_OPEN, 0},
    {"rbrace", CK_SYM, "}", RM_CLOSE, 0}, {"langle", CK_SYM, "⟨", RM_OPEN, 0}, {"rangle", CK_SYM, "⟩", RM_CLOSE, 0},
    {"lVert", CK_SYM, "‖", RM_OPEN, 0}, {"rVert", CK_SYM, "‖", RM_CLOSE, 0}, {"lvert", CK_SYM, "|", RM_OPEN, 0},
    {"rvert", CK_SYM, "|", RM_CLOSE, 0}, {"lfloor", CK_SYM, "⌊", RM_OPEN, 0}, {"rfloor", CK_SYM, "⌋", RM_CLOSE, 0},
    {"lceil", CK_SYM, "⌈", RM_OPEN, 0}, {"rceil", CK_SYM, "⌉", RM_CLOSE, 0},
    {"%", CK_SYM, "%", RM_ORD, 0}, {"#", CK_SYM, "#", RM_ORD, 0}, {"&", CK_SYM, "&", RM_ORD, 0},
    {"_", CK_SYM, "_", RM_ORD, 0}, {"$", CK_SYM, "$", RM_ORD, 0},
    /* big operators */
    {"sum", CK_BIGOP, "∑", 0, RL_DISPLAY}, {"prod", CK_BIGOP, "∏", 0, RL_DISPLAY},
    {"coprod", CK_BIGOP, "∐", 0, RL_DISPLAY}, {"bigcup", CK_BIGOP, "⋃", 0, RL_DISPLAY},
    {"bigcap", CK_BIGOP, "⋂", 0, RL_DISPLAY}, {"int", CK_BIGOP, "∫", 0, RL_NEVER},
    {"oint", CK_BIGOP, "∮", 0, RL_NEVER},
    /* named operators */
    {"exp", CK_FUNC, "exp", 0, RL_NEVER}, {"log", CK_FUNC, "log", 0, RL_NEVER}, {"ln", CK_FUNC, "ln", 0, RL_NEVER},
    {"sin", CK_FUNC, "sin", 0, RL_NEVER}, {"cos", CK_FUNC, "cos", 0, RL_NEVER}, {"tan", CK_FUNC, "tan", 0, RL_NEVER},
    {"tanh", CK_FUNC, "tanh", 0, RL_NEVER}, {"arg", CK_FUNC, "arg", 0, RL_NEVER}, {"dim", CK_FUNC, "dim", 0, RL_NEVER},
    {"ker", CK_FUNC, "ker", 0, RL_NEVER}, {"deg", CK_FUNC, "deg", 0, RL_NEVER}, {"det", CK_FUNC, "det", 0, RL_DISPLAY},
    {"max", CK_FUNC, "max", 0, RL_DISPLAY}, {"min", CK_FUNC, "min", 0, RL_DISPLAY},
    {"sup", CK_FUNC, "sup", 0, RL_DISPLAY}, {"inf", CK_FUNC, "inf", 0, RL_DISPLAY},
    {"lim", CK_FUNC, "lim", 0, RL_DISPLAY}, {"Pr", CK_FUNC, "Pr", 0, RL_DISPLAY},
    {"argmax", CK_FUNC, "arg\u2009max", 0, RL_DISPLAY}, {"argmin", CK_FUNC, "arg\u2009min", 0, RL_DISPLAY},
    /* structures */
    {"frac", CK_FRAC, NULL, -1, 0}, {"dfrac", CK_FRAC, NULL, RS_D, 0}, {"tfrac", CK_FRAC, NULL, RS_T, 0},
    {"sqrt", CK_SQRT, NULL, 0, 0},
    {"hat", CK_ACCENT, "\u0302", 0, 0}, {"widehat", CK_ACCENT, "\u0302", 0, 1},
    {"tilde", CK_ACCENT, "\u0303", 0, 0}, {"widetilde", CK_ACCENT, "\u0303", 0, 1},
    {"bar", CK_ACCENT, "\u0304", 0, 0}, {"vec", CK_ACCENT, "\u20D7", 0, 0},
    {"dot", CK_ACCENT, "\u0307", 0, 0}, {"ddot", CK_ACCENT, "\u0308", 0, 0},
    {"check", CK_ACCENT, "\u030C", 0, 0}, {"breve", CK_ACCENT, "\u0306", 0, 0},
    {"acute", CK_ACCENT, "\u0301", 0, 0}, {"grave", CK_ACCENT, "\u0300", 0, 0},
    {"overline", CK_OVERLINE, NULL, 0, 0},
    {"overbrace", CK_ACCENT, "⏞", 0, 2}, {"underbrace", CK_ACCENT, "⏟", 0, 2},
    {"mathrm", CK_FONT, NULL, RF_ROMAN, 0}, {"mathit", CK_FONT, NULL, RF_ITALIC, 0},
    {"mathbf", CK_FONT, NULL, RF_BOLD, 0}, {"boldsymbol", CK_FONT, NULL, RF_BOLDITALIC, 0},
    {"bm", CK_FONT, NULL, RF_BOLDITALIC, 0}, {"mathcal", CK_FONT, NULL, RF_CAL, 0},
    {"mathbb", CK_FONT, NULL, RF_BB, 0}, {"mathsf", CK_FONT, NULL, RF_SF, 0},
    {"mathtt", CK_FONT, NULL, RF_TT, 0},
    {"text", CK_TEXT, NULL, 0, 0}, {"textrm", CK_TEXT, NULL, 0, 0}, {"mbox", CK_TEXT, NULL, 0, 0},
    {"operatorname", CK_OPNAME, NULL, 0, 0},
    {"mathop", CK_CLASS, NULL, RM_OP, 0}, {"mathord", CK_CLASS, NULL, RM_ORD, 0},
    {"mathbin", CK_CLASS, NULL, RM_BIN, 0}, {"mathrel", CK_CLASS, NULL, RM_REL, 0},
    {"mathopen", CK_CLASS, NULL, RM_OPEN, 0}, {"mathclose", CK_CLASS, NULL, RM_CLOSE, 0},
    {"mathpunct", CK_CLASS, NULL, RM_PUNCT, 0}, {"mathinner", CK_CLASS, NULL, RM_INNER, 0},
    {"left", CK_LEFT, NULL, 0, 0}, {"right", CK_RIGHT, NULL, 0, 0}, {"middle", CK_MIDDLE, NULL, 0, 0},
    {",", CK_SPACE, NULL, 3, 0}, {":", CK_SPACE, NULL, 4, 0}, {">", CK_SPACE, NULL, 4, 0},
    {";", CK_SPACE, NULL, 5, 0}, {"!", CK_SPACE, NULL, -3, 0}, {" ", CK_SPACE, NULL, 6, 0},
    {"quad", CK_SPACE, NULL, 18, 0}, {"qquad", CK_SPACE, NULL, 36, 0},
    {"big", CK_BIG, NULL, 1, 0}, {"Big", CK_BIG, NULL, 2, 0}, {"bigg", CK_BIG, NULL, 3, 0},
    {"Bigg", CK_BIG, NULL, 4, 0}, {"bigl", CK_BIG, NULL, 1, 0}, {"bigr", CK_BIG, NULL, 1, 0},
    {"Bigl", CK_BIG, NULL, 2, 0}, {"Bigr", CK_BIG, NULL, 2, 0}, {"biggl", CK_BIG, NULL, 3, 0},
    {"biggr", CK_BIG, NULL, 3, 0}, {"Biggl", CK_BIG, NULL, 4, 0}, {"Biggr", CK_BIG, NULL, 4, 0},
    {"displaystyle", CK_STYLE, NULL, RS_D, 0}, {"textstyle", CK_STYLE, NULL, RS_T, 0},
    {"scriptstyle", CK_STYLE, NULL, RS_S, 0}, {"scriptscriptstyle", CK_STYLE, NULL, RS_SS, 0},
    {"limits", CK_LIMITS, NULL, RL_ALWAYS, 0}, {"nolimits", CK_LIMITS, NULL, RL_NEVER, 0},
    {"displaylimits", CK_LIMITS, NULL, RL_DISPLAY, 0},
    {"begin", CK_BEGIN, NULL, 0, 0}, {"end", CK_END, NULL, 0, 0}, {"substack", CK_SUBSTACK, NULL, 0, 0},
    {"overset", CK_OVERSET, NULL, 1, 0}, {"stackrel", CK_OVERSET, NULL, 1, 0}, {"underset", CK_OVERSET, NULL, 0, 0},
};

/* Environments: name, layout, and the delimiters put around them. */
static const struct { const char *name; int env; const char *l, *r; } envs[] = {
    {"matrix", RE_MATRIX, "", ""},    {"pmatrix", RE_MATRIX, "(", ")"}, {"bmatrix", RE_MATRIX, "[", "]"},
    {"Bmatrix", RE_MATRIX, "{", "}"}, {"vmatrix", RE_MATRIX, "|", "|"}, {"Vmatrix", RE_MATRIX, "‖", "‖"},
    {"cases", RE_CASES, "{", ""},     {"aligned", RE_ALIGNED, "", ""},  {"align*", RE_ALIGNED, "", ""},
    {"split", RE_ALIGNED, "", ""},    {"gathered", RE_GATHERED, "", ""},
};

static const rm_cmd *cmd_find(const char *name, size_t n) {
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (strlen(cmds[i].name) == n && !memcmp(cmds[i].name, name, n)) return &cmds[i];
    return NULL;
}

/* ---- characters ---------------------------------------------------------- */

/* The Mathematical Alphanumeric Symbols code point of letter c in font f,
 * or 0 when it has none (italic Latin letters are the plain ones). */
unsigned rm_alpha_cp(unsigned c, int f) {
    int up = c >= 'A' && c <= 'Z', lo = c >= 'a' && c <= 'z';
    if (c >= '0' && c <= '9') /* bold, double-struck, sans-serif and monospace digits */
        return f == RF_BOLD ? 0x1D7CE + (c - '0')
               : f == RF_BB ? 0x1D7D8 + (c - '0')
               : f == RF_SF ? 0x1D7E2 + (c - '0')
               : f == RF_TT ? 0x1D7F6 + (c - '0')
                            : 0;
    if (c >= 0x3B1 && c <= 0x3C9) /* Greek */
        return f == RF_ITALIC ? 0x1D6FC + (c - 0x3B1) : f == RF_BOLD ? 0x1D6C2 + (c - 0x3B1)
               : f == RF_BOLDITALIC ? 0x1D736 + (c - 0x3B1) : 0;
    if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2)
        return f == RF_BOLD ? 0x1D6A8 + (c - 0x391) : f == RF_BOLDITALIC ? 0x1D71C + (c - 0x391) : 0;
    if (f == RF_ITALIC) {
        static const unsigned var[][2] = {{0x3F5, 0x1D716}, {0x3D1, 0x1D717}, {0x3D5, 0x1D719},
                                          {0x3F1, 0x1D71A}, {0x3D6, 0x1D71B}};
        for (size_t i = 0; i < 5; i++)
            if (var[i][0] == c) return var[i][1];
    }
    if (!up && !lo) return 0;
    if (f == RF_CAL) {
        static const unsigned holes[][2] = {{'B', 0x212C}, {'E', 0x2130}, {'F', 0x2131}, {'H', 0x210B},
                                            {'I', 0x2110}, {'L', 0x2112}, {'M', 0x2133}, {'R', 0x211B},
                                            {'e', 0x212F}, {'g', 0x210A}, {'o', 0x2134}};
        for (size_t i = 0; i < sizeof holes / sizeof holes[0]; i++)
            if (holes[i][0] == c) return holes[i][1];
        return up ? 0x1D49C + (c - 'A') : 0x1D4B6 + (c - 'a');
    }
    if (f == RF_BB) {
        static const unsigned holes[][2] = {{'C', 0x2102}, {'H', 0x210D}, {'N', 0x2115}, {'P', 0x2119},
                                            {'Q', 0x211A}, {'R', 0x211D}, {'Z', 0x2124}};
        for (size_t i = 0; i < sizeof holes / sizeof holes[0]; i++)
            if (holes[i][0] == c) return holes[i][1];
        return up ? 0x1D538 + (c - 'A') : 0x1D552 + (c - 'a');
    }
    if (f == RF_BOLD) return up ? 0x1D400 + (c - 'A') : 0x1D41A + (c - 'a');
    if (f == RF_BOLDITALIC) return up ? 0x1D468 + (c - 'A') : 0x1D482 + (c - 'a');
    if (f == RF_SF) return up ? 0x1D5A0 + (c - 'A') : 0x1D5BA + (c - 'a');
    if (f == RF_TT) return up ? 0x1D670 + (c - 'A') : 0x1D68A + (c - 'a');
    return 0;
}

/* Inter-atom spacing (TeXbook p. 170): 1 thin, 2 medium, 3 thick;
 * negative entries apply in display and text styles only. */
static const signed char spacing[RM_CLS_COUNT][RM_CLS_COUNT] = {
    /*           ord op bin rel open close punct inner */
    /* ord */   {0, 1, -2, -3, 0, 0, 0, -1},
    /* op */    {1, 1, 0, -3, 0, 0, 0, -1},
    /* bin */   {-2, -2, 0, 0, -2, 0, 0, -2},
    /* rel */   {-3, -3, 0, 0, -3, 0, 0, -3},
    /* open */  {0, 0, 0, 0, 0, 0, 0, 0},
    /* close */ {0, 1, -2, -3, 0, 0, 0, -1},
    /* punct */ {-1, -1, 0, -1, -1, -1, -1, -1},
    /* inner */ {-1, 1, -2, -3, -1, 0, -1, -1},
};

double rm_space_mu(int left, int right, int style) {
    int sp = spacing[left][right];
    if (sp < 0 && style >= RS_S) return 0;
    sp = abs(sp);
    return sp ? sp + 2 : 0; /* thin 3, medium 4, thick 5 mu */
}

void rm_classes(const rm_node *l, int *cls) {
    /* a binary operator without operands on both sides is ordinary (rules 5, 6) */
    int prev = -1;
    for (int i = 0; i < l->nkids; i++) {
        const rm_node *k = l->kids[i];
        cls[i] = -1;
        if (k->kind == RN_SPACE || k->kind == RN_STYLE) continue;
        int c = k->cls;
        if (c == RM_BIN && (prev < 0 || cls[prev] == RM_BIN || cls[prev] == RM_OP || cls[prev] == RM_REL ||
                            cls[prev] == RM_OPEN || cls[prev] == RM_PUNCT))
            c = RM_ORD;
        if ((c == RM_REL || c == RM_CLOSE || c == RM_PUNCT) && prev >= 0 && cls[prev] == RM_BIN) cls[prev] = RM_ORD;
        cls[i] = c;
        prev = i;
    }
    if (prev >= 0 && cls[prev] == RM_BIN && !l->kids[prev]->brk) cls[prev] = RM_ORD;
}

/* ---- nodes --------------------------------------------------------------- */

static rm_node *node_new(int kind, int cls, int pos) {
    rm_node *n = calloc(1, sizeof *n);
    EN_ASSERT(n);
    n->kind = kind;
    n->cls = cls;
    n->pos = pos;
    n->style = -1;
    n->limits = RL_DISPLAY;
    return n;
}

static void node_free(rm_node *n) {
    if (!n) return;
    for (int i = 0; i < n->nkids; i++) node_free(n->kids[i]);
    free(n->kids);
    node_free(n->a);
    node_free(n->b);
    node_free(n->sub);
    node_free(n->sup);
    free(n->text);
    free(n);
}

static void list_push(rm_node *l, rm_node *k) {
    if (l->nkids == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 8;
        l->kids = realloc(l->kids, (size_t)l->cap * sizeof *l->kids);
        EN_ASSERT(l->kids);
    }
    l->kids[l->nkids++] = k;
}

static char *str_ndup(const char *s, size_t n) {
    char *r = malloc(n + 1);
    EN_ASSERT(r);
    memcpy(r, s, n);
    r[n] = 0;
    return r;
}

/* ---- the parser ---------------------------------------------------------- */

typedef struct {
    const char *s;
    size_t i, n;
    char *err;
    size_t errlen;
    int failed;
    int font;  /* font for letters and digits in the current group */
    int depth; /* nesting, bounded so hostile input cannot blow the stack */
    size_t left_at; /* the innermost open \left, for messages */
    size_t env_at;  /* the innermost open \begin, for messages */
    int env_brace;  /* ... which is a \substack{ rather than a \begin */
    int lefts;      /* open \left groups, where \middle may appear */
} rm_parser;

/* 1-based column of byte offset pos, counting UTF-8 characters. */
static int column(const rm_parser *p, size_t pos) {
    int c = 1;
    for (size_t i = 0; i < pos && i < p->n; i++)
        if (((unsigned char)p->s[i] & 0xC0) != 0x80) c++;
    return c;
}

__attribute__((format(printf, 3, 4))) static rm_node *fail(rm_parser *p, size_t pos, const char *fmt, ...) {
    if (p->failed) return NULL;
    p->failed = 1;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (p->err && p->errlen) snprintf(p->err, p->errlen, "column %d: %s", column(p, pos), msg);
    return NULL;
}

static void skip_space(rm_parser *p) {
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static int is_letter(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static int is_digit(int c) { return c >= '0' && c <= '9'; }

/* Reads a control sequence name after the backslash at p->i. */
static const rm_cmd *read_cmd(rm_parser *p, size_t *start) {
    *start = p->i;
    p->i++; /* backslash */
    size_t b = p->i;
    if (p->i >= p->n) return fail(p, *start, "expected a command name after '\\' (the formula ends here)"), NULL;
    if (is_letter(p->s[p->i]))
        while (p->i < p->n && is_letter(p->s[p->i])) p->i++;
    else
        p->i++;
    const rm_cmd *c = cmd_find(p->s + b, p->i - b);
    if (!c) fail(p, *start, "unknown command '\\%.*s'", (int)(p->i - b), p->s + b);
    return c;
}

static rm_node *parse_list(rm_parser *p, int in_group);
static rm_node *parse_primary(rm_parser *p);
static rm_node *parse_env(rm_parser *p, size_t st);
static rm_node *parse_substack(rm_parser *p, size_t st);

/* Length of the UTF-8 sequence starting with byte c. */
static int utf8_len(unsigned char c) {
    return c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
}

/* A single character as an atom: letter, digit run, or symbol. */
static rm_node *char_atom(rm_parser *p, int single_digit) {
    size_t at = p->i;
    unsigned char c = (unsigned char)p->s[p->i];
    if (is_digit(c)) {
        size_t e = p->i + 1;
        if (!single_digit) {
            while (e < p->n && is_digit(p->s[e])) e++;
            if (e + 1 < p->n && p->s[e] == '.' && is_digit(p->s[e + 1])) {
                e++;
                while (e < p->n && is_digit(p->s[e])) e++;
            }
        }
        rm_node *n = node_new(RN_NUM, RM_ORD, (int)at);
        n->font = p->font == RF_ITALIC ? RF_ROMAN : p->font;
        n->text = str_ndup(p->s + at, e - at);
        p->i = e;
        return n;
    }
    if (is_letter(c)) {
        rm_node *n = node_new(RN_SYM, RM_ORD, (int)at);
        n->font = p->font;
        n->text = str_ndup(p->s + at, 1);
        p->i++;
        return n;
    }
    static const struct { char c; const char *u; int cls; } syms[] = {
        {'+', "+", RM_BIN}, {'-', "\u2212", RM_BIN}, {'*', "\u2217", RM_BIN}, {'=', "=", RM_REL},
        {'<', "<", RM_REL}, {'>', ">", RM_REL}, {':', ":", RM_REL}, {'(', "(", RM_OPEN},
        {'[', "[", RM_OPEN}, {')', ")", RM_CLOSE}, {']', "]", RM_CLOSE}, {',', ",", RM_PUNCT},
        {';', ";", RM_PUNCT}, {'.', ".", RM_ORD}, {'/', "/", RM_ORD}, {'|', "|", RM_ORD},
        {'!', "!", RM_CLOSE}, {'?', "?", RM_CLOSE}, {'@', "@", RM_ORD}, {'"', "\u2033", RM_ORD},
    };
    for (size_t k = 0; k < sizeof syms / sizeof syms[0]; k++)
        if (syms[k].c == (char)c) {
            rm_node *n = node_new(RN_SYM, syms[k].cls, (int)at);
            n->font = RF_SYM;
            n->text = strdup(syms[k].u);
            p->i++;
            return n;
        }
    if (c >= 0x80) { /* any other Unicode character: an ordinary symbol */
        int l = utf8_len(c);
        if (p->i + (size_t)l > p->n) return fail(p, at, "expected a complete UTF-8 character");
        rm_node *n = node_new(RN_SYM, RM_ORD, (int)at);
        n->font = RF_SYM;
        n->text = str_ndup(p->s + at, (size_t)l);
        p->i += (size_t)l;
        return n;
    }
    if (c == '&') return fail(p, at, "'&' outside an environment such as cases, aligned or pmatrix");
    if (c == '~') { /* a tie: an interword space */
        rm_node *n = node_new(RN_SPACE, RM_ORD, (int)at);
        n->mu = 6;
        p->i++;
        return n;
    }
    if (c == '#' || c == '$' || c == '%')
        return fail(p, at, "'%c' is not allowed in math; write \\%c", c, c);
    return fail(p, at, "expected a letter, digit, symbol or command, found '%c'", c);
}

/* {list}: the group at p->i (a '{'), its closing brace consumed. */
static rm_node *parse_group(rm_parser *p) {
    size_t open = p->i++;
    rm_node *l = parse_list(p, 1);
    if (!l) return NULL;
    if (p->i >= p->n || p->s[p->i] != '}') {
        node_free(l);
        return fail(p, p->i, "expected '}' to close the '{' at column %d", column(p, open));
    }
    p->i++;
    return l;
}

/* A required argument: {group} or a single token. Single-kid groups are
 * unwrapped so that x_{i} and x_i give the same tree. */
static rm_node *parse_arg(rm_parser *p, const char *what) {
    skip_space(p);
    if (p->i >= p->n) return fail(p, p->i, "expected an argument for %s (the formula ends here)", what);
    char c = p->s[p->i];
    if (c == '{') {
        rm_node *l = parse_group(p);
        if (!l) return NULL;
        if (l->nkids == 1 && l->kids[0]->kind != RN_STYLE) {
            rm_node *k = l->kids[0];
            l->nkids = 0;
            node_free(l);
            return k;
        }
        return l;
    }
    if (c == '}' || c == '^' || c == '_')
        return fail(p, p->i, "expected an argument for %s, found '%c'", what, c);
    if (c == '\\') {
        size_t save = p->i;
        size_t st;
        const rm_cmd *cm = read_cmd(p, &st);
        if (!cm) return NULL;
        if (cm->kind == CK_SYM || cm->kind == CK_GREEK || cm->kind == CK_BIGOP || cm->kind == CK_FUNC) {
            p->i = save;
            return parse_primary(p);
        }
        return fail(p, st, "expected '{' around the argument of %s ('\\%s' takes arguments of its own)", what, cm->name);
    }
    return char_atom(p, 1);
}

/* Reads the delimiter after \left, \right or \big. */
static int parse_delim(rm_parser *p, char out[8], const char *what) {
    skip_space(p);
    if (p->i >= p->n) return fail(p, p->i, "expected a delimiter after %s (the formula ends here)", what), -1;
    size_t at = p->i;
    char c = p->s[p->i];
    const char *u = NULL;
    if (c == '.') u = "";
    else if (c == '(' || c == ')' || c == '[' || c == ']' || c == '|' || c == '/') {
        p->i++;
        out[0] = c;
        out[1] = 0;
        return 0;
    } else if (c == '<') u = "⟨";
    else if (c == '>') u = "⟩";
    if (u) {
        p->i++;
        snprintf(out, 8, "%s", u);
        return 0;
    }
    if (c == '\\') {
        size_t st;
        const rm_cmd *cm = read_cmd(p, &st);
        if (!cm) return -1;
        if (cm->kind == CK_SYM && (cm->cls == RM_OPEN || cm->cls == RM_CLOSE || !strcmp(cm->name, "|") ||
                                   !strcmp(cm->name, "Vert") || !strcmp(cm->name, "vert") ||
                                   !strcmp(cm->name, "mid"))) {
            snprintf(out, 8, "%s", !strcmp(cm->name, "mid") ? "|" : cm->text);
            return 0;
        }
        return fail(p, st, "expected a delimiter after %s such as ( [ \\{ | \\| or '.', found '\\%s'", what, cm->name), -1;
    }
    return fail(p, at, "expected a delimiter after %s such as ( [ \\{ | \\| or '.', found '%c'", what, c), -1;
}

/* Merges runs of upright letters (\mathrm{softmax}) into one symbol so
 * that they are shaped as a word and written as one <mi>. */
static void merge_letters(rm_node *l) {
    if (l->kind != RN_LIST) return;
    int w = 0;
    for (int r = 0; r < l->nkids; r++) {
        rm_node *k = l->kids[r];
        if (w > 0) {
            rm_node *prev = l->kids[w - 1];
            if (prev->kind == RN_SYM && k->kind == RN_SYM && prev->font == k->font && prev->font != RF_ITALIC &&
                prev->font != RF_SYM && prev->font != RF_BOLDITALIC && !prev->sub && !prev->sup &&
                is_letter(prev->text[0]) && is_letter(k->text[0]) && prev->cls == RM_ORD && k->cls == RM_ORD) {
                size_t a = strlen(prev->text), b = strlen(k->text);
                prev->text = realloc(prev->text, a + b + 1);
                EN_ASSERT(prev->text);
                memcpy(prev->text + a, k->text, b + 1);
                prev->sub = k->sub;
                prev->sup = k->sup;
                k->sub = k->sup = NULL;
                node_free(k);
                continue;
            }
        }
        l->kids[w++] = k;
    }
    l->nkids = w;
}

/* \text{...}: raw text up to the matching brace, \{ \} \\ kept literally. */
static rm_node *parse_text(rm_parser *p, const char *what) {
    skip_space(p);
    if (p->i >= p->n || p->s[p->i] != '{') return fail(p, p->i, "expected '{' after %s", what);
    size_t open = p->i++;
    char *buf = malloc(p->n - p->i + 1);
    EN_ASSERT(buf);
    size_t k = 0;
    int depth = 0;
    while (p->i < p->n) {
        char c = p->s[p->i];
        if (c == '\\' && p->i + 1 < p->n && strchr("{}\\$%&#_ ", p->s[p->i + 1])) {
            buf[k++] = p->s[p->i + 1];
            p->i += 2;
            continue;
        }
        if (c == '{') depth++;
        if (c == '}' && depth-- == 0) break;
        buf[k++] = c;
        p->i++;
    }
    if (p->i >= p->n) {
        free(buf);
        return fail(p, p->i, "expected '}' to close the '{' of %s at column %d", what, column(p, open));
    }
    p->i++;
    buf[k] = 0;
    rm_node *n = node_new(RN_TEXT, RM_ORD, (int)open);
    n->font = RF_ROMAN;
    n->text = buf;
    return n;
}

/* {name} after \begin or \end; the index into envs[], or -1. */
static int env_name(rm_parser *p, const char *what) {
    skip_space(p);
    if (p->i >= p->n || p->s[p->i] != '{') return fail(p, p->i, "expected '{' and an environment name after %s", what), -1;
    size_t b = ++p->i;
    while (p->i < p->n && p->s[p->i] != '}') p->i++;
    if (p->i >= p->n) return fail(p, b - 1, "expected '}' to close the environment name"), -1;
    size_t len = p->i++ - b;
    for (size_t k = 0; k < sizeof envs / sizeof envs[0]; k++)
        if (strlen(envs[k].name) == len && !strncmp(envs[k].name, p->s + b, len)) return (int)k;
    return fail(p, b, "unknown environment '%.*s' (expected matrix, pmatrix, bmatrix, cases, aligned or gathered)",
                (int)len, p->s + b), -1;
}

/* Rows of cells separated by & and \\ into tab, up to \end (left
 * unread but for the word, its position in *endpos) or, with brace, up to
 * a '}' (consumed). */
static int parse_rows(rm_parser *p, rm_node *tab, int brace, size_t st, size_t *endpos) {
    rm_node *row = node_new(RN_LIST, RM_ORD, (int)p->i);
    for (;;) {
        rm_node *cell = parse_list(p, 3);
        if (!cell) return node_free(row), -1;
        if (tab->env == RE_ALIGNED && row->nkids % 2 == 1) {
            /* amsmath's {}: the relation starting a right-hand cell keeps its space */
            rm_node *empty = node_new(RN_LIST, RM_ORD, cell->pos);
            list_push(cell, empty);
            memmove(cell->kids + 1, cell->kids, (size_t)(cell->nkids - 1) * sizeof *cell->kids);
            cell->kids[0] = empty;
        }
        list_push(row, cell);
        int closing = p->s[p->i] == '}';
        if (closing && !brace) {
            node_free(row);
            return fail(p, p->i, "unbalanced '}' in the environment at column %d", column(p, st)), -1;
        }
        if (!closing && brace && p->s[p->i] == '\\' && p->s[p->i + 1] != '\\') {
            node_free(row);
            return fail(p, p->i, "expected '}' to close the '{' at column %d before '\\end'", column(p, st)), -1;
        }
        if (p->s[p->i] == '&') {
            p->i++;
            continue;
        }
        int last = closing || p->s[p->i + 1] != '\\'; /* \end or } rather than \\ */
        *endpos = p->i;
        p->i += closing ? 1 : last ? 4 : 2;
        /* a trailing \\ before the end adds no empty row */
        if (!(last && row->nkids == 1 && row->kids[0]->nkids == 0 && tab->nkids > 0)) {
            if (row->nkids > tab->ncols) tab->ncols = row->nkids;
            list_push(tab, row);
        } else {
            node_free(row);
        }
        if (last) return 0;
        row = node_new(RN_LIST, RM_ORD, (int)p->i);
    }
}

/* \substack{a \\ b}: centred rows in the current (script) style. */
static rm_node *parse_substack(rm_parser *p, size_t st) {
    skip_space(p);
    if (p->i >= p->n || p->s[p->i] != '{') return fail(p, p->i, "expected '{' after \\substack");
    size_t open = p->i++, endpos;
    rm_node *tab = node_new(RN_TABLE, RM_ORD, (int)st);
    tab->env = RE_SUBSTACK;
    size_t outer = p->env_at;
    int outer_brace = p->env_brace;
    p->env_at = open;
    p->env_brace = 1;
    int rc = parse_rows(p, tab, 1, open, &endpos);
    p->env_at = outer;
    p->env_brace = outer_brace;
    if (rc < 0) return node_free(tab), NULL;
    return tab;
}

/* \begin{env} cells separated by & and rows by \\ up to \end{env}. */
static rm_node *parse_env(rm_parser *p, size_t st) {
    int e = env_name(p, "\\begin");
    if (e < 0) return NULL;
    size_t outer = p->env_at;
    int outer_brace = p->env_brace;
    p->env_at = st;
    p->env_brace = 0;
    rm_node *tab = node_new(RN_TABLE, RM_INNER, (int)st);
    tab->env = envs[e].env;
    size_t endpos = p->i;
    if (parse_rows(p, tab, 0, st, &endpos) < 0) return node_free(tab), NULL;
    p->env_brace = outer_brace;
    size_t at = endpos;
    int e2 = env_name(p, "\\end");
    if (e2 < 0) return node_free(tab), NULL;
    if (e2 != e) {
        node_free(tab);
        return fail(p, at, "expected \\end{%s} to close the \\begin{%s} at column %d", envs[e].name, envs[e].name,
                    column(p, st));
    }
    p->env_at = outer;
    if (!*envs[e].l && !*envs[e].r) return tab;
    rm_node *f = node_new(RN_FENCED, RM_INNER, (int)st);
    snprintf(f->ldelim, sizeof f->ldelim, "%s", envs[e].l);
    snprintf(f->rdelim, sizeof f->rdelim, "%s", envs[e].r);
    f->a = tab;
    return f;
}

static rm_node *parse_command(rm_parser *p) {
    size_t st;
    const rm_cmd *c = read_cmd(p, &st);
    if (!c) return NULL;
    char name[40];
    snprintf(name, sizeof name, "\\%s", c->name);
    rm_node *n;
    switch (c->kind) {
    case CK_SYM:
        n = node_new(RN_SYM, c->cls, (int)st);
        n->font = RF_SYM;
        n->text = strdup(c->text);
        return n;
    case CK_GREEK: {
        n = node_new(RN_SYM, RM_ORD, (int)st);
        /* TeX sets lowercase Greek italic and capitals upright */
        int lower = (unsigned char)c->text[1] >= 0xB1 || (unsigned char)c->text[0] == 0xCF;
        n->font = p->font == RF_ITALIC ? (lower ? RF_ITALIC : RF_ROMAN) : p->font;
        n->text = strdup(c->text);
        return n;
    }
    case CK_BIGOP:
        n = node_new(RN_SYM, RM_OP, (int)st);
        n->font = RF_SYM;
        n->large = 1;
        n->limits = c->lim;
        n->text = strdup(c->text);
        return n;
    case CK_FUNC:
        n = node_new(RN_SYM, RM_OP, (int)st);
        n->font = RF_ROMAN;
        n->func = 1;
        n->limits = c->lim;
        n->text = strdup(c->text);
        return n;
    case CK_FRAC: {
        rm_node *a = parse_arg(p, name);
        if (!a) return NULL;
        rm_node *b = parse_arg(p, name);
        if (!b) return node_free(a), NULL;
        n = node_new(RN_FRAC, RM_INNER, (int)st);
        n->a = a;
        n->b = b;
        n->style = c->cls;
        return n;
    }
    case CK_SQRT: {
        rm_node *idx = NULL;
        skip_space(p);
        if (p->i < p->n && p->s[p->i] == '[') {
            size_t open = p->i++;
            rm_node *l = node_new(RN_LIST, RM_ORD, (int)open);
            for (;;) {
                skip_space(p);
                if (p->i >= p->n) {
                    node_free(l);
                    return fail(p, p->i, "expected ']' to close the '[' of \\sqrt at column %d", column(p, open));
                }
                if (p->s[p->i] == ']') break;
                rm_node *k = parse_primary(p);
                if (!k) return node_free(l), NULL;
                list_push(l, k);
            }
            p->i++;
            idx = l;
            if (l->nkids == 1) {
                idx = l->kids[0];
                l->nkids = 0;
                node_free(l);
            }
        }
        rm_node *a = parse_arg(p, name);
        if (!a) return node_free(idx), NULL;
        n = node_new(RN_SQRT, RM_ORD, (int)st);
        n->a = a;
        n->b = idx;
        return n;
    }
    case CK_ACCENT:
    case CK_OVERLINE: {
        rm_node *a = parse_arg(p, name);
        if (!a) return NULL;
        n = node_new(RN_ACCENT, RM_ORD, (int)st);
        n->a = a;
        n->text = c->text ? strdup(c->text) : NULL;
        n->wide = c->lim;
        if (n->wide == 2) { /* braces: \mathop{...}\limits, labels above or below */
            n->cls = RM_OP;
            n->limits = RL_ALWAYS;
        }
        return n;
    }
    case CK_FONT: {
        int save = p->font;
        p->font = c->cls;
        rm_node *a = parse_arg(p, name);
        p->font = save;
        if (a) merge_letters(a);
        return a;
    }
    case CK_TEXT:
        return parse_text(p, name);
    case CK_OPNAME: {
        int star = 0;
        if (p->i < p->n && p->s[p->i] == '*') star = 1, p->i++;
        int save = p->font;
        p->font = RF_ROMAN;
        rm_node *a = parse_arg(p, name);
        p->font = save;
        if (!a) return NULL;
        merge_letters(a);
        if (a->kind == RN_SYM && !a->sub && !a->sup) {
            a->cls = RM_OP;
            a->func = 1;
            a->limits = star ? RL_DISPLAY : RL_NEVER;
            return a;
        }
        n = node_new(RN_LIST, RM_OP, (int)st);
        list_push(n, a);
        n->limits = star ? RL_DISPLAY : RL_NEVER;
        n->func = 1;
        return n;
    }
    case CK_OVERSET: { /* amsmath: \mathop{b}\limits^{a} with the class of b */
        rm_node *a = parse_arg(p, name);
        if (!a) return NULL;
        rm_node *b = parse_arg(p, name);
        if (!b) return node_free(a), NULL;
        n = node_new(RN_LIST, b->kind == RN_SYM && !b->sub && !b->sup ? b->cls : RM_ORD, (int)st);
        list_push(n, b);
        n->limits = RL_ALWAYS;
        if (c->cls) n->sup = a;
        else n->sub = a;
        return n;
    }
    case CK_CLASS: {
        rm_node *a = parse_arg(p, name);
        if (!a) return NULL;
        if (a->kind == RN_LIST || a->sub || a->sup) {
            n = node_new(RN_LIST, c->cls, (int)st);
            list_push(n, a);
        } else {
            n = a;
            n->cls = c->cls;
        }
        n->limits = RL_DISPLAY;
        return n;
    }
    case CK_LEFT: {
        n = node_new(RN_FENCED, RM_INNER, (int)st);
        if (parse_delim(p, n->ldelim, "\\left") < 0) return node_free(n), NULL;
        size_t outer = p->left_at;
        p->left_at = st;
        p->lefts++;
        rm_node *body = parse_list(p, 2);
        p->lefts--;
        p->left_at = outer;
        if (!body) return node_free(n), NULL;
        n->a = body;
        if (p->i >= p->n || p->s[p->i] != '\\')
            return node_free(n), fail(p, p->i, "expected '\\right' to match the '\\left' at column %d", column(p, st));
        size_t rs;
        read_cmd(p, &rs); /* parse_list stopped on \right */
        if (parse_delim(p, n->rdelim, "\\right") < 0) return node_free(n), NULL;
        return n;
    }
    case CK_RIGHT:
        return fail(p, st, "unbalanced '\\right': no '\\left' before it");
    case CK_MIDDLE: {
        if (!p->lefts) return fail(p, st, "'\\middle' between a '\\left' and its '\\right'");
        n = node_new(RN_SYM, RM_ORD, (int)st);
        n->font = RF_SYM;
        n->middle = 1;
        char d[8];
        if (parse_delim(p, d, name) < 0) return node_free(n), NULL;
        n->text = strdup(d);
        return n;
    }
    case CK_SPACE:
        n = node_new(RN_SPACE, RM_ORD, (int)st);
        n->mu = c->cls;
        return n;
    case CK_BIG: {
        n = node_new(RN_SYM, RM_ORD, (int)st);
        n->font = RF_SYM;
        n->big = c->cls;
        char d[8];
        if (parse_delim(p, d, name) < 0) return node_free(n), NULL;
        n->text = strdup(*d ? d : ".");
        size_t l = strlen(c->name);
        if (c->name[l - 1] == 'l') n->cls = RM_OPEN;
        if (c->name[l - 1] == 'r') n->cls = RM_CLOSE;
        if (!*d) n->text[0] = 0;
        return n;
    }
    case CK_STYLE:
        n = node_new(RN_STYLE, RM_ORD, (int)st);
        n->style = c->cls;
        return n;
    case CK_LIMITS:
        return fail(p, st, "'%s' must follow a big operator such as \\sum or \\max", name);
    case CK_BEGIN:
        return parse_env(p, st);
    case CK_SUBSTACK:
        return parse_substack(p, st);
    case CK_END:
        return fail(p, st, "unbalanced '\\end': no '\\begin' before it");
    }
    return fail(p, st, "expected a known command");
}

static rm_node *parse_primary(rm_parser *p) {
    skip_space(p);
    if (p->i >= p->n) return fail(p, p->i, "expected an atom (the formula ends here)");
    char c = p->s[p->i];
    if (c == '{') {
        int open = (int)p->i;
        rm_node *l = parse_group(p);
        if (l) l->pos = open;
        return l;
    }
    if (c == '\\') return parse_command(p);
    return char_atom(p, 0);
}

/* Parses atoms up to the end (in_group 0), a '}' (1), a \right (2), or
 * the end of a table cell (3: '&', '\\' or \end), which it leaves
 * unconsumed. */
static rm_node *parse_list(rm_parser *p, int in_group) {
    if (++p->depth > 200) return fail(p, p->i, "expected less nesting (more than 200 levels)");
    rm_node *l = node_new(RN_LIST, RM_ORD, (int)p->i);
    int save_font = p->font;
    for (;;) {
        skip_space(p);
        if (p->i >= p->n) {
            if (in_group == 3) {
                node_free(l);
                return fail(p, p->i, "expected '%s' to close the '%s' at column %d (the formula ends here)",
                            p->env_brace ? "}" : "\\end", p->env_brace ? "{" : "\\begin", column(p, p->env_at));
            }
            if (in_group == 2) {
                node_free(l);
                return fail(p, p->i, "expected '\\right' to match the '\\left' at column %d (the formula ends here)",
                            column(p, p->left_at));
            }
            break;
        }
        char c = p->s[p->i];
        int rowend = c == '\\' && p->i + 1 < p->n && p->s[p->i + 1] == '\\';
        int envend = c == '\\' && p->i + 4 <= p->n && !strncmp(p->s + p->i, "\\end", 4) &&
                     !(p->i + 4 < p->n && is_letter(p->s[p->i + 4]));
        if (in_group == 3 && (c == '&' || rowend || envend)) break;
        if (rowend) {
            node_free(l);
            return fail(p, p->i, "'\\\\' outside an environment such as cases, aligned or pmatrix");
        }
        if (envend) {
            node_free(l);
            return fail(p, p->i, "unbalanced '\\end': no '\\begin' before it");
        }
        if (c == '}') {
            if (in_group == 1 || in_group == 3) break;
            node_free(l);
            if (in_group == 2)
                return fail(p, p->i, "expected '\\right' to match the '\\left' at column %d before this '}'",
                            column(p, p->left_at));
            return fail(p, p->i, "unbalanced '}': it closes nothing");
        }
        if (c == '\\' && p->i + 6 <= p->n && !strncmp(p->s + p->i, "\\right", 6) &&
            !(p->i + 6 < p->n && is_letter(p->s[p->i + 6]))) {
            if (in_group == 2) break;
            node_free(l);
            return fail(p, p->i, "unbalanced '\\right': no '\\left' before it");
        }
        if (c == '\'') {
            /* primes are glyphs already raised in OpenType math fonts: an
             * ordinary atom after the base, merged into ″ and ‴ */
            size_t at = p->i;
            int k = 0;
            while (p->i < p->n && p->s[p->i] == '\'') p->i++, k++;
            rm_node *pr = node_new(RN_SYM, RM_ORD, (int)at);
            pr->font = RF_SYM;
            pr->text = strdup(k == 1 ? "′" : k == 2 ? "″" : k == 3 ? "‴" : "⁗");
            if (k > 4) {
                node_free(pr);
                node_free(l);
                return fail(p, at, "at most four primes");
            }
            list_push(l, pr);
            continue;
        }
        if (c == '^' || c == '_') {
            /* scripts attach to the previous atom, or to an empty one */
            rm_node *base = l->nkids ? l->kids[l->nkids - 1] : NULL;
            if (!base || base->kind == RN_SPACE || base->kind == RN_STYLE) {
                base = node_new(RN_LIST, RM_ORD, (int)p->i);
                list_push(l, base);
            }
            size_t at = p->i++;
            rm_node **slot = c == '^' ? &base->sup : &base->sub;
            if (*slot) {
                node_free(l);
                return fail(p, at, "double %s: expected one '%c' per atom (use braces)",
                            c == '^' ? "superscript" : "subscript", c);
            }
            *slot = parse_arg(p, c == '^' ? "'^'" : "'_'");
            if (!*slot) return node_free(l), NULL;
            rm_node *k = *slot;
            if (c == '^' && k->kind == RN_SYM && !k->sub && !k->sup && k->font == RF_SYM &&
                (!strcmp(k->text, "′") || !strcmp(k->text, "″") || !strcmp(k->text, "‴"))) {
                *slot = NULL; /* x^\prime: the font's prime is already raised, as for x' */
                list_push(l, k);
            }
            continue;
        }
        if (c == '\\') { /* \limits and \nolimits modify the previous atom */
            size_t save = p->i, st;
            const rm_cmd *cm = read_cmd(p, &st);
            if (!cm) return node_free(l), NULL;
            if (cm->kind == CK_LIMITS) {
                rm_node *base = l->nkids ? l->kids[l->nkids - 1] : NULL;
                if (!base || base->cls != RM_OP) {
                    node_free(l);
                    return fail(p, st, "'\\%s' must follow a big operator such as \\sum or \\max", cm->name);
                }
                base->limits = cm->cls;
                continue;
            }
            p->i = save;
        }
        rm_node *k = parse_primary(p);
        if (!k) return node_free(l), NULL;
        list_push(l, k);
    }
    p->font = save_font;
    p->depth--;
    merge_letters(l);
    return l;
}

/* Byte offset of the first invalid UTF-8 sequence or control character,
 * or -1: both would end up in XML and in pango, which reject them. */
static long bad_byte(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return (long)i;
        if (c == 0x7F) return (long)i;
        uint32_t cp;
        int l = en_utf8_decode((const char *)s + i, n - i, &cp);
        if (cp == 0xfffd && l == 1) return (long)i; /* invalid (a real U+FFFD is 3 bytes) */
        i += (size_t)l;
    }
    return -1;
}

rp_math *rp_math_parse(const char *tex, int display, char *err, size_t errlen) {
    if (err && errlen) err[0] = 0;
    if (!tex) tex = "";
    rm_parser p = {.s = tex, .n = strlen(tex), .err = err, .errlen = errlen, .font = RF_ITALIC};
    long bad = bad_byte((const unsigned char *)tex, p.n);
    if (bad >= 0) return fail(&p, (size_t)bad, "expected UTF-8 text, found byte 0x%02X", (unsigned char)tex[bad]), NULL;
    rm_node *root = parse_list(&p, 0);
    if (!root) return NULL;
    rp_math *m = calloc(1, sizeof *m);
    EN_ASSERT(m);
    m->root = root;
    m->tex = strdup(tex);
    m->display = display != 0;
    return m;
}

void rp_math_free(rp_math *m) {
    if (!m) return;
    node_free(m->root);
    free(m->tex);
    rm_box_free(m->box);
    free(m->math_family);
    free(m);
}

static rm_node *node_clone(const rm_node *n) {
    if (!n) return NULL;
    rm_node *c = malloc(sizeof *c);
    EN_ASSERT(c);
    *c = *n;
    c->text = n->text ? strdup(n->text) : NULL;
    c->a = node_clone(n->a);
    c->b = node_clone(n->b);
    c->sub = node_clone(n->sub);
    c->sup = node_clone(n->sup);
    c->kids = NULL;
    c->cap = c->nkids = 0;
    for (int i = 0; i < n->nkids; i++) list_push(c, node_clone(n->kids[i]));
    return c;
}

static rp_math *part_new(const rp_math *m, int from, int to, double trailing_mu) {
    rp_math *p = calloc(1, sizeof *p);
    EN_ASSERT(p);
    p->root = node_new(RN_LIST, RM_ORD, from < m->root->nkids ? m->root->kids[from]->pos : 0);
    for (int i = from; i < to; i++) list_push(p->root, node_clone(m->root->kids[i]));
    if (trailing_mu > 0) {
        p->root->kids[p->root->nkids - 1]->brk = 1;
        rm_node *sp = node_new(RN_SPACE, RM_ORD, 0);
        sp->mu = trailing_mu;
        list_push(p->root, sp);
    }
    p->tex = strdup(m->tex);
    p->display = m->display;
    p->math_family = m->math_family ? strdup(m->math_family) : NULL;
    return p;
}

rp_math **rp_math_split(const rp_math *m, int *n) {
    const rm_node *r = m->root;
    rp_math **parts = calloc((size_t)r->nkids + 2, sizeof *parts);
    int *cls = malloc(sizeof(int) * (size_t)(r->nkids + 1));
    EN_ASSERT(parts && cls);
    rm_classes(r, cls);
    int np = 0, from = 0, style = m->display ? RS_D : RS_T;
    for (int i = 0; i < r->nkids && !m->display; i++) {
        if (r->kids[i]->kind == RN_STYLE) style = r->kids[i]->style;
        if (cls[i] != RM_REL && cls[i] != RM_BIN) continue;
        /* the next atom: no break before another relation (:=) or at the end */
        int next = i + 1;
        while (next < r->nkids && cls[next] < 0) next++;
        if (next >= r->nkids || cls[next] == RM_REL) continue;
        /* the space after the operator stays with it; what follows starts the next part */
        parts[np++] = part_new(m, from, i + 1, rm_space_mu(cls[i], cls[next], style));
        from = i + 1;
    }
    parts[np++] = part_new(m, from, r->nkids, 0);
    free(cls);
    *n = np;
    return parts;
}

void rp_math_set_math_family(rp_math *m, const char *family) {
    free(m->math_family);
    m->math_family = family ? strdup(family) : NULL;
}
