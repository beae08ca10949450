/* rp_math_mathml — the parse tree as presentation MathML (for the HTML
 * page) and as a compact dump (for tests). Every node writes exactly one
 * element, so a node can always stand as a child of <mfrac>, <msub> ...;
 * a named operator adds its invisible function application after it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "en_error.h"
#include "en_utf8.h"
#include "rp_math.h"
#include "rp_math_int.h"

typedef struct {
    char *s;
    size_t n, cap;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        while (b->n + n + 1 > b->cap) b->cap = b->cap ? 2 * b->cap : 256;
        b->s = realloc(b->s, b->cap);
        EN_ASSERT(b->s);
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

__attribute__((format(printf, 2, 3))) static void sb_fmt(sbuf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    sb_put(b, tmp, n < (int)sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* XML text with & < > " escaped. */
static void sb_esc(sbuf *b, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '&': sb_str(b, "&amp;"); break;
        case '<': sb_str(b, "&lt;"); break;
        case '>': sb_str(b, "&gt;"); break;
        case '"': sb_str(b, "&quot;"); break;
        default: sb_put(b, s, 1);
        }
    }
}

/* MathML Core keeps only mathvariant="normal": other alphabets are
 * written as their Mathematical Alphanumeric Symbols (U+1D400 ...). */
static int mapped_font(int font) { return font != RF_ITALIC && font != RF_ROMAN && font != RF_SYM; }

static void sb_mapped(sbuf *b, const char *text, int font) {
    if (!mapped_font(font)) return sb_esc(b, text);
    for (const char *s = text; *s;) {
        const char *st = s;
        unsigned c = en_utf8_next(&s), m = rm_alpha_cp(c, font);
        char u[5];
        if (m) {
            u[en_utf8_encode(m, u)] = 0;
            sb_str(b, u);
        } else {
            sb_put(b, st, (size_t)(s - st));
        }
    }
}

/* The spacing character that MathML shows for a combining accent. */
static const char *accent_char(const char *comb) {
    static const struct { const char *c, *m; } map[] = {
        {"\u0302", "\u02C6"}, {"\u0303", "\u02DC"}, {"\u0304", "\u00AF"}, {"\u20D7", "\u2192"}, {"\u0307", "\u02D9"},
        {"\u0308", "\u00A8"}, {"\u030C", "\u02C7"}, {"\u0306", "\u02D8"}, {"\u0301", "\u00B4"}, {"\u0300", "`"},
    };
    if (!comb) return "\u203E";
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(comb, map[i].c)) return map[i].m;
    return comb;
}

/* Every <mo> gets no space of its own: the TeX spacing between atoms is
 * written as <mspace> by the list writer, so browsers space like TeX. */
#define MO "<mo lspace=\"0\" rspace=\"0\""

/* Limits above and below: operators, and \overset's always. */
static int limits_here(const rm_node *n) {
    return (n->cls == RM_OP && n->limits != RL_NEVER) || n->limits == RL_ALWAYS;
}

static void ml_node(sbuf *b, const rm_node *n, int style);

/* The nucleus of an atom, without its scripts. */
static void ml_nucleus(sbuf *b, const rm_node *n, int style) {
    switch (n->kind) {
    case RN_SYM: {
        int ident = n->font != RF_SYM || (n->cls == RM_ORD && !strstr("|‖/′…⋯⋮!?\u2033", n->text));
        if (n->middle) {
            sb_str(b, MO " fence=\"true\" stretchy=\"true\" symmetric=\"true\">");
            sb_esc(b, n->text);
            sb_str(b, "</mo>");
        } else if (n->big) {
            static const char *sz[] = {"1em", "1.2em", "1.8em", "2.4em", "3em"};
            sb_fmt(b, MO " stretchy=\"true\" symmetric=\"true\" minsize=\"%s\" maxsize=\"%s\">", sz[n->big],
                   sz[n->big]);
            sb_esc(b, n->text);
            sb_str(b, "</mo>");
        } else if (n->cls == RM_OP && n->func && limits_here(n)) {
            /* max, argmax: an operator so that its limits move in text style */
            sb_str(b, MO " movablelimits=\"true\" form=\"prefix\">");
            sb_esc(b, n->text);
            sb_str(b, "</mo>");
        } else if (ident && n->cls != RM_BIN && n->cls != RM_REL && n->cls != RM_OPEN && n->cls != RM_CLOSE &&
                   n->cls != RM_PUNCT && !n->large) {
            size_t chars = 0;
            for (const char *s = n->text; *s; s++) chars += ((unsigned char)*s & 0xC0) != 0x80;
            /* one-letter <mi> is italic by default, longer ones upright */
            if (chars == 1 && n->font == RF_ROMAN) sb_str(b, "<mi mathvariant=\"normal\">");
            else sb_str(b, "<mi>");
            sb_mapped(b, n->text, n->font);
            sb_str(b, "</mi>");
        } else {
            /* plain delimiters and bars keep their size, as in TeX */
            if (n->cls == RM_OPEN || n->cls == RM_CLOSE || strstr("|‖/", n->text)) sb_str(b, MO " stretchy=\"false\">");
            else if (n->large && n->limits == RL_ALWAYS) sb_str(b, MO " movablelimits=\"false\">");
            else sb_str(b, MO ">");
            sb_esc(b, n->text);
            sb_str(b, "</mo>");
        }
        break;
    }
    case RN_NUM:
        sb_str(b, "<mn>");
        sb_mapped(b, n->text, n->font);
        sb_str(b, "</mn>");
        break;
    case RN_TEXT: {
        /* MathML trims spaces at the ends of token elements: keep them */
        sb_str(b, "<mtext>");
        const char *s = n->text, *e = s + strlen(s);
        for (; *s == ' '; s++) sb_str(b, "\u00A0");
        const char *te = e;
        while (te > s && te[-1] == ' ') te--;
        char *mid = strndup(s, (size_t)(te - s));
        EN_ASSERT(mid);
        sb_esc(b, mid);
        free(mid);
        for (; te < e; te++) sb_str(b, "\u00A0");
        sb_str(b, "</mtext>");
        break;
    }
    case RN_LIST: {
        sb_str(b, "<mrow>");
        int styled = 0, last = -1;
        int *cls = malloc(sizeof(int) * (size_t)(n->nkids + 1));
        EN_ASSERT(cls);
        rm_classes(n, cls);
        for (int i = 0; i < n->nkids; i++) {
            const rm_node *k = n->kids[i];
            if (k->kind == RN_STYLE) {
                if (styled) sb_str(b, "</mstyle>");
                sb_fmt(b, "<mstyle displaystyle=\"%s\" scriptlevel=\"%d\">", k->style == RS_D ? "true" : "false",
                       k->style <= RS_T ? 0 : k->style == RS_S ? 1 : 2);
                styled = 1;
                style = k->style;
                continue;
            }
            if (cls[i] >= 0 && last >= 0) {
                double mu = rm_space_mu(last, cls[i], style);
                if (mu > 0) sb_fmt(b, "<mspace width=\"%.4gem\"/>", mu / 18);
            }
            if (cls[i] >= 0) last = cls[i];
            ml_node(b, k, style);
        }
        free(cls);
        if (styled) sb_str(b, "</mstyle>");
        sb_str(b, "</mrow>");
        break;
    }
    case RN_FRAC:
        if (n->style >= 0) sb_fmt(b, "<mstyle displaystyle=\"%s\">", n->style == RS_D ? "true" : "false");
        sb_str(b, "<mfrac>");
        int st = n->style >= 0 ? n->style : style;
        ml_node(b, n->a, rm_num_style(st));
        ml_node(b, n->b, rm_den_style(st));
        sb_str(b, "</mfrac>");
        if (n->style >= 0) sb_str(b, "</mstyle>");
        break;
    case RN_SQRT:
        if (n->b) {
            sb_str(b, "<mroot>");
            ml_node(b, n->a, style);
            ml_node(b, n->b, RS_SS);
            sb_str(b, "</mroot>");
        } else {
            sb_str(b, "<msqrt>");
            ml_node(b, n->a, style);
            sb_str(b, "</msqrt>");
        }
        break;
    case RN_ACCENT: {
        int under = n->text && !strcmp(n->text, "⏟");
        sb_str(b, under ? "<munder accentunder=\"true\">" : "<mover accent=\"true\">");
        ml_node(b, n->a, n->wide == 2 ? style : style | 1);
        sb_fmt(b, MO " stretchy=\"%s\">", n->wide || !n->text ? "true" : "false");
        sb_esc(b, accent_char(n->text));
        sb_str(b, under ? "</mo></munder>" : "</mo></mover>");
        break;
    }
    case RN_FENCED:
        sb_str(b, "<mrow>");
        if (*n->ldelim) {
            sb_str(b, MO " fence=\"true\" form=\"prefix\" stretchy=\"true\" symmetric=\"true\">");
            sb_esc(b, n->ldelim);
            sb_str(b, "</mo>");
        }
        ml_node(b, n->a, style);
        if (*n->rdelim) {
            sb_str(b, MO " fence=\"true\" form=\"postfix\" stretchy=\"true\" symmetric=\"true\">");
            sb_esc(b, n->rdelim);
            sb_str(b, "</mo>");
        }
        sb_str(b, "</mrow>");
        break;
    case RN_SPACE:
        sb_fmt(b, "<mspace width=\"%.4gem\"/>", n->mu / 18.0);
        break;
    case RN_STYLE:
        sb_str(b, "<mrow/>");
        break;
    case RN_TABLE: {
        static const char *align[] = {"center", "left", "right left", "center", "center"};
        int disp = n->env == RE_ALIGNED || n->env == RE_GATHERED;
        int st = n->env == RE_SUBSTACK || rm_level(style) >= 2 ? style : disp ? RS_D : RS_T;
        sb_fmt(b, "<mtable columnalign=\"%s\"%s>", align[n->env], disp ? " displaystyle=\"true\"" : "");
        for (int r = 0; r < n->nkids; r++) {
            sb_str(b, "<mtr>");
            for (int c = 0; c < n->kids[r]->nkids; c++) {
                /* MathML Core has no columnalign: CSS aligns the cells */
                int al = n->env == RE_CASES ? 0 : n->env == RE_ALIGNED ? (c % 2 ? 0 : 2) : 1;
                static const char *css[] = {"left", "center", "right"};
                sb_fmt(b, "<mtd style=\"text-align:%s\">", css[al]);
                ml_node(b, n->kids[r]->kids[c], st);
                sb_str(b, "</mtd>");
            }
            sb_str(b, "</mtr>");
        }
        sb_str(b, "</mtable>");
        break;
    }
    }
}

static void ml_node(sbuf *b, const rm_node *n, int style) {
    if (!n->sub && !n->sup) {
        ml_nucleus(b, n, style);
    } else {
        int lim = limits_here(n);
        const char *el = n->sub && n->sup ? (lim ? "munderover" : "msubsup")
                         : n->sub         ? (lim ? "munder" : "msub")
                                          : (lim ? "mover" : "msup");
        sb_fmt(b, "<%s>", el);
        ml_nucleus(b, n, style);
        if (n->sub) ml_node(b, n->sub, rm_sub_style(style));
        if (n->sup) ml_node(b, n->sup, rm_sup_style(style));
        sb_fmt(b, "</%s>", el);
    }
    if (n->func && n->cls == RM_OP && !limits_here(n)) sb_str(b, MO ">\u2061</mo>");
}

char *rp_math_to_mathml(const rp_math *m) {
    sbuf b = {0};
    sb_fmt(&b, "<math xmlns=\"http://www.w3.org/1998/Math/MathML\" display=\"%s\" alttext=\"",
           m->display ? "block" : "inline");
    for (const char *s = m->tex; *s; s++) { /* one line: parsers normalise newlines in attributes */
        char one[2] = {*s == '\n' || *s == '\r' || *s == '\t' ? ' ' : *s, 0};
        sb_esc(&b, one);
    }
    sb_str(&b, "\">");
    ml_node(&b, m->root, m->display ? RS_D : RS_T);
    sb_str(&b, "</math>");
    return b.s;
}

/* ---- dump ---------------------------------------------------------------- */

static void dump(sbuf *b, const rm_node *n);

static void dump_nucleus(sbuf *b, const rm_node *n) {
    static const char *cls[] = {"", "op:", "bin:", "rel:", "open:", "close:", "punct:", "inner:"};
    static const char *font[] = {"", "rm:", "bf:", "bi:", "cal:", "bb:", "sf:", "tt:", ""};
    switch (n->kind) {
    case RN_SYM:
        sb_fmt(b, "%s%s%s%s", cls[n->cls], font[n->font], n->big ? "big:" : "", n->middle ? "middle:" : "");
        sb_str(b, n->text);
        break;
    case RN_NUM: sb_fmt(b, "#%s%s", n->font == RF_ROMAN ? "" : font[n->font], n->text); break;
    case RN_TEXT: sb_fmt(b, "\"%s\"", n->text); break;
    case RN_LIST:
        sb_fmt(b, "%s{", n->cls == RM_ORD ? "" : cls[n->cls]);
        for (int i = 0; i < n->nkids; i++) {
            if (i) sb_str(b, " ");
            dump(b, n->kids[i]);
        }
        sb_str(b, "}");
        break;
    case RN_FRAC:
        sb_str(b, "(frac ");
        dump(b, n->a);
        sb_str(b, " ");
        dump(b, n->b);
        sb_str(b, ")");
        break;
    case RN_SQRT:
        sb_str(b, "(sqrt ");
        if (n->b) {
            sb_str(b, "[");
            dump(b, n->b);
            sb_str(b, "] ");
        }
        dump(b, n->a);
        sb_str(b, ")");
        break;
    case RN_ACCENT: {
        if (!n->text) sb_str(b, "(overline ");
        else {
            unsigned cp = 0;
            const unsigned char *s = (const unsigned char *)n->text;
            if ((s[0] >> 5) == 6) cp = ((s[0] & 31u) << 6) | (s[1] & 63u);
            else if ((s[0] >> 4) == 14) cp = ((s[0] & 15u) << 12) | ((s[1] & 63u) << 6) | (s[2] & 63u);
            sb_fmt(b, "(acc:%X ", cp);
        }
        dump(b, n->a);
        sb_str(b, ")");
        break;
    }
    case RN_FENCED:
        sb_fmt(b, "(fence %s ", *n->ldelim ? n->ldelim : ".");
        dump(b, n->a);
        sb_fmt(b, " %s)", *n->rdelim ? n->rdelim : ".");
        break;
    case RN_SPACE: sb_fmt(b, "~%g", n->mu); break;
    case RN_STYLE: sb_fmt(b, "\\style%d", n->style); break;
    case RN_TABLE: {
        static const char *env[] = {"matrix", "cases", "aligned", "gathered", "substack"};
        sb_fmt(b, "(%s", env[n->env]);
        for (int r = 0; r < n->nkids; r++) {
            sb_str(b, " [");
            for (int c = 0; c < n->kids[r]->nkids; c++) {
                if (c) sb_str(b, " & ");
                dump(b, n->kids[r]->kids[c]);
            }
            sb_str(b, "]");
        }
        sb_str(b, ")");
        break;
    }
    }
}

static void dump(sbuf *b, const rm_node *n) {
    if (!n->sub && !n->sup) return dump_nucleus(b, n);
    sb_str(b, n->sub && n->sup ? "(subsup " : n->sub ? "(sub " : "(sup ");
    dump_nucleus(b, n);
    if (n->sub) {
        sb_str(b, " ");
        dump(b, n->sub);
    }
    if (n->sup) {
        sb_str(b, " ");
        dump(b, n->sup);
    }
    sb_str(b, ")");
}

char *rp_math_dump(const rp_math *m) {
    sbuf b = {0};
    sb_str(&b, "");
    dump(&b, m->root);
    return b.s;
}
