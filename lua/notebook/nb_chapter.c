/* Chapter parsing and the `local` hoisting rewrite (see nb_chapter.h). */
#include "nb_chapter.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "en_error.h"
#include "en_strbuf.h"

/* ---- lines ----------------------------------------------------------- */

typedef struct { const char *p; size_t n; } line_t;

static line_t *split_lines(const char *src, size_t n, int *nl) {
    int cap = 64, k = 0;
    line_t *ls = malloc(sizeof *ls * cap);
    EN_ASSERT(ls);
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && src[j] != '\n') j++;
        size_t len = j - i;
        if (len && src[i + len - 1] == '\r') len--;
        if (k == cap) { cap *= 2; ls = realloc(ls, sizeof *ls * cap); EN_ASSERT(ls); }
        ls[k++] = (line_t){src + i, len};
        i = j + 1;
    }
    *nl = k;
    return ls;
}

static int is_blank(line_t l) {
    for (size_t i = 0; i < l.n; i++) if (!isspace((unsigned char)l.p[i])) return 0;
    return 1;
}

/* "-- %%" at the start of a line (leading blanks allowed) opens a cell. */
static const char *marker_rest(line_t l, size_t *restn) {
    size_t i = 0;
    while (i < l.n && (l.p[i] == ' ' || l.p[i] == '\t')) i++;
    if (l.n - i < 5 || memcmp(l.p + i, "-- %%", 5)) return NULL;
    i += 5;
    if (i < l.n && !isspace((unsigned char)l.p[i])) return NULL;
    while (i < l.n && isspace((unsigned char)l.p[i])) i++;
    *restn = l.n - i;
    return l.p + i;
}

static char *xstrndup(const char *s, size_t n) {
    char *p = malloc(n + 1);
    EN_ASSERT(p);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

/* Title words and key=value options from a marker's rest of line. */
static int parse_header(nb_cell *c, const char *s, size_t n, int line) {
    en_strbuf title = {0};
    int cap = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && isspace((unsigned char)s[i])) i++;
        if (i >= n) break;
        size_t w = i;
        while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '-')) i++;
        if (i < n && s[i] == '=' && i > w && isalpha((unsigned char)s[w])) {
            char *key = xstrndup(s + w, i - w);
            i++;
            en_strbuf v = {0};
            if (i < n && s[i] == '"') {
                i++;
                while (i < n && s[i] != '"') {
                    if (s[i] == '\\' && i + 1 < n) i++;
                    en_strbuf_add(&v, s + i, 1);
                    i++;
                }
                if (i >= n) {
                    free(key); free(v.s); free(title.s);
                    return en_error("line %d: unterminated quoted value in cell options", line);
                }
                i++;
            } else {
                size_t v0 = i;
                while (i < n && !isspace((unsigned char)s[i])) i++;
                en_strbuf_add(&v, s + v0, i - v0);
            }
            if (c->nopts == cap) {
                cap = cap ? 2 * cap : 4;
                c->opts = realloc(c->opts, sizeof *c->opts * cap);
                EN_ASSERT(c->opts);
            }
            c->opts[c->nopts++] = (nb_opt){key, en_strbuf_take(&v)};
            continue;
        }
        /* a title word: up to the next blank */
        i = w;
        if (s[i] == '"') {  /* a quoted title */
            size_t q = ++i;
            while (i < n && s[i] != '"') i++;
            if (title.n) en_strbuf_str(&title, " ");
            en_strbuf_add(&title, s + q, i - q);
            if (i < n) i++;
            continue;
        }
        while (i < n && !isspace((unsigned char)s[i])) i++;
        if (title.n) en_strbuf_str(&title, " ");
        en_strbuf_add(&title, s + w, i - w);
    }
    c->title = en_strbuf_take(&title);
    return 0;
}

const char *nb_cell_opt(const nb_cell *c, const char *key) {
    for (int i = c->nopts - 1; i >= 0; i--)
        if (!strcmp(c->opts[i].key, key)) return c->opts[i].value;
    return NULL;
}

static int finish_cell(nb_cell *c, const line_t *ls, int b0, int b1) {
    /* b0..b1: 0-based body line indexes, inclusive */
    while (b0 <= b1 && is_blank(ls[b0])) b0++;
    while (b1 >= b0 && is_blank(ls[b1])) b1--;
    c->first = b0 + 1;
    c->last = b1 + 1;
    en_strbuf t = {0};
    if (c->kind == NB_CELL_MARKDOWN) {
        for (int i = b0; i <= b1; i++) {
            line_t l = ls[i];
            size_t k = 0;
            while (k < l.n && (l.p[k] == ' ' || l.p[k] == '\t')) k++;
            if (l.n - k >= 2 && !memcmp(l.p + k, "--", 2)) {
                k += 2;
                if (k < l.n && l.p[k] == ' ') k++;
                en_strbuf_add(&t, l.p + k, l.n - k);
            } else if (!is_blank(l)) {
                free(t.s);
                return en_error("line %d: a line of a [markdown] cell must start with '--'", i + 1);
            }
            en_strbuf_str(&t, "\n");
        }
        c->text = en_strbuf_take(&t);
        c->code = NULL;
        return 0;
    }
    for (int i = b0; i <= b1; i++) { en_strbuf_add(&t, ls[i].p, ls[i].n); en_strbuf_str(&t, "\n"); }
    c->text = en_strbuf_take(&t);
    en_strbuf code = {0};
    for (int i = 0; i < b0; i++) en_strbuf_str(&code, "\n");
    char *h = nb_lua_hoist_locals(c->text, strlen(c->text));
    en_strbuf_str(&code, h);
    free(h);
    c->code = en_strbuf_take(&code);
    return 0;
}

int nb_chapter_parse(nb_chapter *ch, const char *src, size_t n) {
    memset(ch, 0, sizeof *ch);
    int nl;
    line_t *ls = split_lines(src, n, &nl);
    int cap = 0;
    int start = -1;  /* index of the current cell's marker line, -1: preamble */
    nb_cell cur = {.kind = NB_CELL_CODE, .line = 1};
    cur.title = xstrndup("", 0);
    for (int i = 0; i <= nl; i++) {
        size_t rn = 0;
        const char *rest = i < nl ? marker_rest(ls[i], &rn) : NULL;
        if (i < nl && !rest) continue;
        /* close the current cell: body is (start+1 .. i-1) */
        int b0 = start + 1, b1 = i - 1;
        int keep = 1;
        if (start < 0) {  /* preamble: only when not blank */
            keep = 0;
            for (int k = b0; k <= b1; k++) if (!is_blank(ls[k])) keep = 1;
        }
        if (keep) {
            if (finish_cell(&cur, ls, b0, b1) < 0) goto fail;
            if (ch->ncells == cap) {
                cap = cap ? 2 * cap : 16;
                ch->cells = realloc(ch->cells, sizeof *ch->cells * cap);
                EN_ASSERT(ch->cells);
            }
            ch->cells[ch->ncells++] = cur;
        } else {
            free(cur.title);
            for (int k = 0; k < cur.nopts; k++) { free(cur.opts[k].key); free(cur.opts[k].value); }
            free(cur.opts);
        }
        memset(&cur, 0, sizeof cur);
        if (i == nl) break;
        start = i;
        cur.line = i + 1;
        if (rn >= 10 && !memcmp(rest, "[markdown]", 10)) {
            cur.kind = NB_CELL_MARKDOWN;
            rest += 10; rn -= 10;
        } else if (rn >= 4 && !memcmp(rest, "[md]", 4)) {
            cur.kind = NB_CELL_MARKDOWN;
            rest += 4; rn -= 4;
        } else {
            cur.kind = NB_CELL_CODE;
        }
        if (parse_header(&cur, rest, rn, i + 1) < 0) goto fail;
    }
    free(ls);
    return 0;
fail:
    free(cur.title);
    for (int k = 0; k < cur.nopts; k++) { free(cur.opts[k].key); free(cur.opts[k].value); }
    free(cur.opts);
    free(cur.text);
    free(cur.code);
    free(ls);
    nb_chapter_free(ch);
    return -1;
}

void nb_chapter_free(nb_chapter *ch) {
    for (int i = 0; i < ch->ncells; i++) {
        nb_cell *c = &ch->cells[i];
        free(c->title); free(c->text); free(c->code);
        for (int k = 0; k < c->nopts; k++) { free(c->opts[k].key); free(c->opts[k].value); }
        free(c->opts);
    }
    free(ch->cells);
    memset(ch, 0, sizeof *ch);
}

/* ---- hoisting --------------------------------------------------------- */

typedef enum { T_EOF, T_NAME, T_OTHER } tok_kind;
typedef struct { tok_kind k; size_t a, b; } tok;

/* Long bracket level at s[i] == '[': returns level, or -1 when not one. */
static int long_open(const char *s, size_t n, size_t i) {
    if (s[i] != '[') return -1;
    size_t j = i + 1;
    int lv = 0;
    while (j < n && s[j] == '=') { lv++; j++; }
    return j < n && s[j] == '[' ? lv : -1;
}

static size_t long_skip(const char *s, size_t n, size_t i, int lv) {
    i += lv + 2;
    while (i < n) {
        if (s[i] == ']') {
            size_t j = i + 1;
            int k = 0;
            while (j < n && s[j] == '=') { k++; j++; }
            if (k == lv && j < n && s[j] == ']') return j + 1;
        }
        i++;
    }
    return n;
}

static tok next_tok(const char *s, size_t n, size_t *pos) {
    size_t i = *pos;
    for (;;) {
        while (i < n && isspace((unsigned char)s[i])) i++;
        if (i >= n) { *pos = n; return (tok){T_EOF, n, n}; }
        if (s[i] == '-' && i + 1 < n && s[i + 1] == '-') {
            i += 2;
            int lv = i < n ? long_open(s, n, i) : -1;
            if (lv >= 0) i = long_skip(s, n, i, lv);
            else while (i < n && s[i] != '\n') i++;
            continue;
        }
        break;
    }
    size_t a = i;
    unsigned char c = (unsigned char)s[i];
    if (isalpha(c) || c == '_') {
        while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '_')) i++;
        *pos = i;
        return (tok){T_NAME, a, i};
    }
    if (c == '"' || c == '\'') {
        i++;
        while (i < n && s[i] != (char)c && s[i] != '\n') { if (s[i] == '\\') i++; i++; }
        *pos = i < n ? i + 1 : n;
        return (tok){T_OTHER, a, *pos};
    }
    int lv = long_open(s, n, i);
    if (lv >= 0) { *pos = long_skip(s, n, i, lv); return (tok){T_OTHER, a, *pos}; }
    if (isdigit(c) || (c == '.' && i + 1 < n && isdigit((unsigned char)s[i + 1]))) {
        while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '.' ||
                         ((s[i] == '+' || s[i] == '-') && (s[i - 1] == 'e' || s[i - 1] == 'E' ||
                                                           s[i - 1] == 'p' || s[i - 1] == 'P'))))
            i++;
        *pos = i;
        return (tok){T_OTHER, a, i};
    }
    /* '==' '<=' etc. must not be taken for '='; '::' labels are harmless */
    if ((c == '=' || c == '<' || c == '>' || c == '~') && i + 1 < n && s[i + 1] == '=') {
        *pos = i + 2;
        return (tok){T_OTHER, a, i + 2};
    }
    *pos = i + 1;
    return (tok){T_OTHER, a, i + 1};
}

static int tok_is(const char *s, tok t, const char *w) {
    size_t n = strlen(w);
    return t.b - t.a == n && !memcmp(s + t.a, w, n);
}

char *nb_lua_hoist_locals(const char *s, size_t n) {
    char *out = xstrndup(s, n);
    en_strbuf res = {0};
    size_t copied = 0; /* bytes of out already moved to res */
    size_t pos = 0;
    int depth = 0;
    for (;;) {
        tok t = next_tok(s, n, &pos);
        if (t.k == T_EOF) break;
        if (t.k != T_NAME) continue;
        if (tok_is(s, t, "function") || tok_is(s, t, "do") || tok_is(s, t, "if") ||
            tok_is(s, t, "repeat")) { depth++; continue; }
        if (tok_is(s, t, "end") || tok_is(s, t, "until")) { if (depth > 0) depth--; continue; }
        if (depth != 0 || !tok_is(s, t, "local")) continue;
        /* a top-level local */
        size_t save = pos;
        tok u = next_tok(s, n, &pos);
        if (u.k == T_NAME && tok_is(s, u, "function")) {
            memset(out + t.a, ' ', 5);
            depth++;
            continue;
        }
        /* namelist with optional attribs */
        size_t attr_spans[32][2];
        int nattr = 0, has_close = 0, ok = 1;
        size_t last_end = t.b;
        pos = save;
        for (;;) {
            tok nm = next_tok(s, n, &pos);
            if (nm.k != T_NAME) { ok = 0; break; }
            last_end = nm.b;
            size_t p2 = pos;
            tok x = next_tok(s, n, &p2);
            if (x.k == T_OTHER && s[x.a] == '<' && x.b - x.a == 1) {
                tok an = next_tok(s, n, &p2);
                tok gt = next_tok(s, n, &p2);
                if (an.k != T_NAME || gt.k != T_OTHER || s[gt.a] != '>') { ok = 0; break; }
                if (tok_is(s, an, "close")) has_close = 1;
                if (nattr < 32) { attr_spans[nattr][0] = x.a; attr_spans[nattr][1] = gt.b; nattr++; }
                last_end = gt.b;
                pos = p2;
                p2 = pos;
                x = next_tok(s, n, &p2);
            }
            if (x.k == T_OTHER && s[x.a] == ',' && x.b - x.a == 1) { pos = p2; continue; }
            break;
        }
        if (!ok || has_close) { pos = save; continue; }
        memset(out + t.a, ' ', 5);
        for (int k = 0; k < nattr; k++) memset(out + attr_spans[k][0], ' ', attr_spans[k][1] - attr_spans[k][0]);
        size_t p2 = pos;
        tok x = next_tok(s, n, &p2);
        if (!(x.k == T_OTHER && s[x.a] == '=' && x.b - x.a == 1)) {
            /* `local x` declares x = nil: insert " = nil" after the names */
            en_strbuf_add(&res, out + copied, last_end - copied);
            en_strbuf_str(&res, " = nil");
            copied = last_end;
        }
    }
    en_strbuf_add(&res, out + copied, n - copied);
    free(out);
    return en_strbuf_take(&res);
}
