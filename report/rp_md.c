/* rp_md — Markdown to cmark-gfm AST, with clipbook's extensions (math,
 * cross-references, citations) turned into placeholders first so cmark
 * treats them as opaque text (see rp_model.h). The scan skips code spans
 * and fenced code, where $ and @ are literal. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmark-gfm-core-extensions.h>

#include "en_error.h"
#include "rp_model.h"

typedef struct { char *s; size_t n, cap; } sbuf;

static void sb_add(sbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->s = realloc(b->s, b->cap);
        EN_ASSERT(b->s);
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

static int add_special(rp_doc *d, char kind, const char *text, size_t n, const char *label) {
    if (d->nsp == d->capsp) {
        d->capsp = d->capsp ? d->capsp * 2 : 64;
        d->sp = realloc(d->sp, d->capsp * sizeof *d->sp);
        EN_ASSERT(d->sp);
    }
    rp_special *s = &d->sp[d->nsp];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->text = strndup(text, n);
    s->label = label ? strdup(label) : NULL;
    if (kind == RP_SP_MATH || kind == RP_SP_DMATH) {
        char err[256] = "";
        s->math = rp_math_parse(s->text, kind == RP_SP_DMATH, err, sizeof err);
        if (!s->math) s->err = strdup(err[0] ? err : "cannot parse");
    }
    return d->nsp++;
}

static void sb_placeholder(sbuf *b, char kind, int idx) {
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "\x01%c%d\x02", kind, idx);
    sb_add(b, tmp, n);
}

static int is_label_char(char c) { return isalnum((unsigned char)c) || c == '-' || c == '_' || c == ':'; }

/* Length of a cross-reference at s ("@fig-x"), 0 if none. */
static size_t xref_len(const char *s) {
    static const char *pre[] = { "fig-", "tbl-", "sec-", "eq-" };
    if (*s != '@') return 0;
    for (int i = 0; i < 4; i++) {
        size_t k = strlen(pre[i]);
        if (!strncmp(s + 1, pre[i], k) && is_label_char(s[1 + k])) {
            size_t n = 1 + k;
            while (is_label_char(s[n])) n++;
            while (s[n - 1] == '-' || s[n - 1] == ':') n--;  /* "see @fig-a--" */
            return n;
        }
    }
    return 0;
}

/* A citation "[@a; @b]" at s: its length, keys written to b as "a;b". */
static size_t cite_len(const char *s, sbuf *keys) {
    if (s[0] != '[') return 0;
    const char *p = s + 1;
    keys->n = 0;
    for (;;) {
        while (*p == ' ') p++;
        if (*p != '@') return 0;
        p++;
        const char *k = p;
        while (is_label_char(*p) || *p == '.') p++;
        if (p == k) return 0;
        if (keys->n) sb_add(keys, ";", 1);
        sb_add(keys, k, p - k);
        while (*p == ' ') p++;
        if (*p == ';' || *p == ',') { p++; continue; }
        if (*p == ']') return p + 1 - s;
        return 0;
    }
}

static char *preprocess(rp_doc *d, const char *t) {
    sbuf b = {0}, keys = {0};
    sb_add(&b, "", 0);
    int fence = 0;      /* inside ``` or ~~~ */
    char fch = 0;
    const char *p = t;
    int line_start = 1;
    while (*p) {
        if (line_start) {
            const char *q = p;
            int ind = 0;
            while (*q == ' ' && ind < 4) { q++; ind++; }
            if ((q[0] == '`' || q[0] == '~') && q[1] == q[0] && q[2] == q[0] && ind < 4) {
                if (!fence) { fence = 1; fch = q[0]; }
                else if (q[0] == fch) fence = 0;
                const char *e = strchr(p, '\n');
                size_t n = e ? (size_t)(e - p + 1) : strlen(p);
                sb_add(&b, p, n);
                p += n;
                continue;
            }
            if (fence) {
                const char *e = strchr(p, '\n');
                size_t n = e ? (size_t)(e - p + 1) : strlen(p);
                sb_add(&b, p, n);
                p += n;
                continue;
            }
        }
        line_start = 0;
        if (*p == '\x01' || *p == '\x02') { p++; continue; }   /* reserved for placeholders */
        if (*p == '\\' && p[1]) { sb_add(&b, p, 2); p += 2; continue; }
        if (*p == '`') {          /* code span: copy to the matching run */
            size_t run = 0;
            while (p[run] == '`') run++;
            const char *q = p + run;
            const char *end = NULL;
            while ((q = strchr(q, '`'))) {
                size_t r = 0;
                while (q[r] == '`') r++;
                if (r == run) { end = q + r; break; }
                q += r;
            }
            size_t n = end ? (size_t)(end - p) : run;
            sb_add(&b, p, n);
            p += n;
            continue;
        }
        if (p[0] == '$' && p[1] == '$') {   /* display math */
            const char *e = strstr(p + 2, "$$");
            if (e) {
                const char *q = e + 2;
                char label[128] = "";
                const char *r = q;
                while (*r == ' ') r++;
                if (r[0] == '{' && r[1] == '#') {
                    const char *c = strchr(r, '}');
                    if (c && c - r - 2 < (int)sizeof label) {
                        memcpy(label, r + 2, c - r - 2);
                        label[c - r - 2] = 0;
                        q = c + 1;
                    }
                }
                int idx = add_special(d, RP_SP_DMATH, p + 2, e - p - 2, label[0] ? label : NULL);
                sb_add(&b, "\n\n", 2);
                sb_placeholder(&b, RP_SP_DMATH, idx);
                sb_add(&b, "\n\n", 2);
                p = q;
                continue;
            }
        }
        if (p[0] == '$' && p[1] && p[1] != ' ' && p[1] != '$') {   /* inline math */
            const char *q = p + 1;
            while (*q && !(q[0] == '\n' && q[1] == '\n')) {
                if (*q == '\\' && q[1]) { q += 2; continue; }
                if (*q == '$' && q[-1] != ' ' && !isdigit((unsigned char)q[1])) break;
                q++;
            }
            if (*q == '$') {
                int idx = add_special(d, RP_SP_MATH, p + 1, q - p - 1, NULL);
                sb_placeholder(&b, RP_SP_MATH, idx);
                p = q + 1;
                continue;
            }
        }
        if (*p == '[' && p[1] == '@') {
            size_t n = cite_len(p, &keys);
            if (n) {
                int xr = !strncmp(keys.s, "fig-", 4) || !strncmp(keys.s, "tbl-", 4) ||
                         !strncmp(keys.s, "sec-", 4) || !strncmp(keys.s, "eq-", 3);
                int idx = add_special(d, xr ? RP_SP_XREF : RP_SP_CITE, keys.s, keys.n, NULL);
                sb_placeholder(&b, xr ? RP_SP_XREF : RP_SP_CITE, idx);
                p += n;
                continue;
            }
        }
        if (*p == '@' && (p == t || !isalnum((unsigned char)p[-1]))) {
            size_t n = xref_len(p);
            if (n) {
                int idx = add_special(d, RP_SP_XREF, p + 1, n - 1, NULL);
                sb_placeholder(&b, RP_SP_XREF, idx);
                p += n;
                continue;
            }
        }
        if (*p == '\n') line_start = 1;
        sb_add(&b, p, 1);
        p++;
    }
    free(keys.s);
    return b.s;
}

cmark_llist *rp_md_extensions(void) {
    static cmark_llist *list;
    if (!list) {
        cmark_gfm_core_extensions_ensure_registered();
        const char *names[] = { "table", "strikethrough", "autolink" };
        for (int i = 0; i < 3; i++) {
            cmark_syntax_extension *e = cmark_find_syntax_extension(names[i]);
            EN_ASSERT(e);
            list = cmark_llist_append(cmark_get_default_mem_allocator(), list, e);
        }
    }
    return list;
}

/* SMART: curly quotes and dashes, as a typeset paper has them. */
int rp_md_options(void) { return CMARK_OPT_FOOTNOTES | CMARK_OPT_UNSAFE | CMARK_OPT_SMART; }

/* Strips a trailing "{#label}" from heading text; returns the label. */
static char *heading_label(cmark_node *h) {
    cmark_node *last = cmark_node_last_child(h);
    if (!last || cmark_node_get_type(last) != CMARK_NODE_TEXT) return NULL;
    const char *s = cmark_node_get_literal(last);
    size_t n = strlen(s);
    while (n && s[n - 1] == ' ') n--;
    if (n < 4 || s[n - 1] != '}') return NULL;
    const char *o = NULL;
    for (size_t i = n; i-- > 0;)
        if (s[i] == '{') { o = s + i; break; }
    if (!o || o[1] != '#') return NULL;
    char *label = strndup(o + 2, s + n - 1 - (o + 2));
    char *rest = strndup(s, o - s);
    size_t m = strlen(rest);
    while (m && rest[m - 1] == ' ') rest[--m] = 0;
    cmark_node_set_literal(last, rest);
    free(rest);
    return label;
}

cmark_node *rp_md_parse(rp_doc *d, const char *text) {
    char *pre = preprocess(d, text);
    cmark_parser *p = cmark_parser_new(rp_md_options());
    for (cmark_llist *l = rp_md_extensions(); l; l = l->next)
        cmark_parser_attach_syntax_extension(p, l->data);
    cmark_parser_feed(p, pre, strlen(pre));
    cmark_node *doc = cmark_parser_finish(p);
    cmark_parser_free(p);
    free(pre);
    /* Heading labels: stored as user data "label\0" until rp_xref numbers them. */
    cmark_iter *it = cmark_iter_new(doc);
    cmark_event_type ev;
    while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
        cmark_node *n = cmark_iter_get_node(it);
        if (ev == CMARK_EVENT_ENTER && cmark_node_get_type(n) == CMARK_NODE_HEADING)
            cmark_node_set_user_data(n, heading_label(n));
    }
    cmark_iter_free(it);
    return doc;
}

const char *rp_md_placeholder(const char *s, char *kind, int *index, const char **end) {
    for (const char *p = strchr(s, '\x01'); p; p = strchr(p + 1, '\x01')) {
        if (!p[1] || !strchr("MDRCH", p[1]) || !isdigit((unsigned char)p[2])) continue;
        char *e;
        long v = strtol(p + 2, &e, 10);
        if (*e != '\x02') continue;
        *kind = p[1];
        *index = (int)v;
        *end = e + 1;
        return p;
    }
    return NULL;
}

static void plain_rec(const rp_doc *d, cmark_node *n, sbuf *b) {
    for (cmark_node *c = cmark_node_first_child(n); c; c = cmark_node_next(c)) {
        cmark_node_type t = cmark_node_get_type(c);
        if (t == CMARK_NODE_TEXT || t == CMARK_NODE_CODE) {
            const char *s = cmark_node_get_literal(c), *p, *end;
            char kind;
            int idx;
            while ((p = rp_md_placeholder(s, &kind, &idx, &end))) {   /* math as its source */
                sb_add(b, s, p - s);
                if (kind != 'H' && idx < d->nsp) sb_add(b, d->sp[idx].text, strlen(d->sp[idx].text));
                s = end;
            }
            sb_add(b, s, strlen(s));
        } else if (t == CMARK_NODE_SOFTBREAK || t == CMARK_NODE_LINEBREAK) {
            sb_add(b, " ", 1);
        } else if (t != CMARK_NODE_FOOTNOTE_REFERENCE) {
            plain_rec(d, c, b);
        }
    }
}

char *rp_md_plain(const rp_doc *d, cmark_node *n) {
    sbuf b = {0};
    sb_add(&b, "", 0);
    plain_rec(d, n, &b);
    return b.s;
}
