/* rp_html — the HTML writer: one self-contained page (inline CSS, figures as
 * inline SVG drawn by fg_draw on a cairo SVG surface, images as data URIs,
 * math as MathML), a table of contents in a sidebar, an anchor for every
 * label, a print stylesheet. Prose goes through cmark-gfm's HTML renderer;
 * clipbook's placeholders are replaced in its output. Mutates the ASTs
 * (heading markers, highlighted code, inlined images): run after the PDF. */
#include <cairo-svg.h>
#include <glib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "en_error.h"
#include "en_file.h"
#include "rp_model.h"

static void esc(GString *o, const char *s, size_t n) {
    for (size_t i = 0; i < n && s[i]; i++) {
        switch (s[i]) {
        case '<': g_string_append(o, "&lt;"); break;
        case '>': g_string_append(o, "&gt;"); break;
        case '&': g_string_append(o, "&amp;"); break;
        case '"': g_string_append(o, "&quot;"); break;
        default: g_string_append_c(o, s[i]);
        }
    }
}
static void escs(GString *o, const char *s) { if (s) esc(o, s, strlen(s)); }

static void replace_all(GString *g, const char *from, const char *to) {
    size_t fl = strlen(from), tl = strlen(to);
    for (char *p = strstr(g->str, from); p; ) {
        size_t at = p - g->str;
        g_string_erase(g, at, fl);
        g_string_insert(g, at, to);
        p = strstr(g->str + at + tl, from);
    }
}

static int ends_with(GString *g, const char *s) {
    size_t n = strlen(s);
    return g->len >= n && !memcmp(g->str + g->len - n, s, n);
}

static void math_html(GString *o, rp_special *sp) {
    if (!sp->math) {
        g_string_append(o, "<code class=\"math-error\">");
        escs(o, sp->text);
        g_string_append(o, "</code>");
        return;
    }
    char *m = rp_math_to_mathml(sp->math);
    g_string_append(o, m);
    free(m);
}

/* Replaces placeholders in cmark's HTML output s, appending to o. */
static void expand(GString *o, rp_doc *d, const char *s) {
    const char *end, *p;
    char kind;
    int idx;
    while ((p = rp_md_placeholder(s, &kind, &idx, &end))) {
        g_string_append_len(o, s, p - s);
        s = end;
        if (kind == 'H') {
            const rp_label *l = &d->labels[idx];
            if (o->len && o->str[o->len - 1] == '>') g_string_truncate(o, o->len - 1);
            g_string_append_printf(o, " id=\"%s\">", l->label);
            if (l->number[0]) g_string_append_printf(o, "<span class=\"secnum\">%s</span> ", l->number);
            continue;
        }
        rp_special *sp = &d->sp[idx];
        if (kind == RP_SP_MATH) {
            math_html(o, sp);
        } else if (kind == RP_SP_DMATH) {
            int in_p = ends_with(o, "<p>");
            if (in_p) g_string_truncate(o, o->len - 3);
            const rp_label *l = sp->label ? rp_xref_find(d, sp->label) : NULL;
            g_string_append(o, "<div class=\"equation\"");
            if (l) g_string_append_printf(o, " id=\"%s\"", l->label);
            g_string_append(o, ">");
            math_html(o, sp);
            if (l) g_string_append_printf(o, "<span class=\"eqno\">(%s)</span>", l->number);
            g_string_append(o, "</div>");
            if (in_p && !strncmp(s, "</p>", 4)) s += 4;
        } else if (kind == RP_SP_XREF) {
            char *t = rp_xref_text(d, sp->text);
            if (t) g_string_append_printf(o, "<a class=\"xref\" href=\"#%s\">%s</a>", sp->text, t);
            else { g_string_append(o, "<span class=\"unresolved\">??"); escs(o, sp->text); g_string_append(o, "</span>"); }
            free(t);
        } else if (kind == RP_SP_CITE) {
            g_string_append(o, "<span class=\"cite\">[");
            char *keys = strdup(sp->text), *save = NULL;
            int first = 1;
            for (char *k = strtok_r(keys, ";", &save); k; k = strtok_r(NULL, ";", &save)) {
                if (!first) g_string_append(o, ", ");
                first = 0;
                const rp_ref *r = rp_xref_ref(d, k);
                if (r) g_string_append_printf(o, "<a href=\"#ref-%s\">%d</a>", r->key, r->number);
                else { g_string_append(o, "?"); escs(o, k); }
            }
            free(keys);
            g_string_append(o, "]</span>");
        }
    }
    g_string_append(o, s);
}

static void code_html(GString *o, const char *text, int lua, int numbers, int first_line) {
    size_t len = strlen(text);
    while (len && text[len - 1] == '\n') len--;
    rp_hl_span *sp = NULL;
    int n = 0;
    if (lua) n = rp_highlight_lua(text, len, &sp);
    else {
        sp = malloc(sizeof *sp);
        sp[0] = (rp_hl_span){ 0, len, RP_HL_PLAIN };
        n = 1;
    }
    /* numbered: one block per line, so wrapped lines hang past the number */
    g_string_append(o, numbers ? "<pre class=\"code numbered\"><code>" : "<pre class=\"code\"><code>");
    int line = first_line;
    if (numbers) g_string_append_printf(o, "<span class=\"cl\"><span class=\"ln\">%d</span>", line++);
    for (int i = 0; i < n; i++) {
        /* spans may cross lines (long comments): split at newlines for numbers */
        size_t a = sp[i].start, e = sp[i].start + sp[i].len;
        while (a < e) {
            const char *nl = memchr(text + a, '\n', e - a);
            size_t stop = nl ? (size_t)(nl - text) : e;
            if (stop > a) {
                if (sp[i].kind != RP_HL_PLAIN) g_string_append_printf(o, "<span class=\"%s\">", rp_hl_names[sp[i].kind]);
                esc(o, text + a, stop - a);
                if (sp[i].kind != RP_HL_PLAIN) g_string_append(o, "</span>");
            }
            if (nl) {
                if (numbers) g_string_append_printf(o, "</span><span class=\"cl\"><span class=\"ln\">%d</span>", line++);
                else g_string_append_c(o, '\n');
                stop++;
            }
            a = stop;
        }
    }
    g_string_append(o, numbers ? "</span></code></pre>\n" : "</code></pre>\n");
    free(sp);
}

static char *data_uri(const char *dir, const char *url) {
    if (!url || strstr(url, "://") || !strncmp(url, "data:", 5)) return NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, url);
    size_t n;
    char *bytes = en_file_read(path, &n);
    if (!bytes) { fprintf(stderr, "clipbook render: warning: %s\n", en_error_msg()); return NULL; }
    const char *ext = strrchr(url, '.');
    const char *mime = ext && (!strcmp(ext, ".jpg") || !strcmp(ext, ".jpeg")) ? "image/jpeg"
                     : ext && !strcmp(ext, ".svg") ? "image/svg+xml" : "image/png";
    gchar *b64 = g_base64_encode((const guchar *)bytes, n);
    free(bytes);
    char *r = g_strdup_printf("data:%s;base64,%s", mime, b64);
    g_free(b64);
    return r;
}

static int g_fn_base;   /* footnotes before this document, page-wide */

/* Marks headings, highlights code, inlines images; then renders. */
static void md_html(GString *o, rp_doc *d, cmark_node *doc, const char *dir, const char *fnprefix, int strip_p) {
    if (!doc) return;
    cmark_iter *it = cmark_iter_new(doc);
    cmark_event_type ev;
    cmark_node **codes = NULL;
    int ncodes = 0;
    while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
        cmark_node *n = cmark_iter_get_node(it);
        if (ev != CMARK_EVENT_ENTER) continue;
        cmark_node_type t = cmark_node_get_type(n);
        if (t == CMARK_NODE_HEADING && rp_xref_heading_label(n) >= 0 && cmark_node_get_user_data(n)) {
            cmark_node *m = cmark_node_new(CMARK_NODE_TEXT);
            char buf[32];
            snprintf(buf, sizeof buf, "\x01H%d\x02", rp_xref_heading_label(n));
            cmark_node_set_literal(m, buf);
            cmark_node_prepend_child(n, m);
            cmark_node_set_user_data(n, NULL);   /* once only */
        } else if (t == CMARK_NODE_CODE_BLOCK) {
            codes = realloc(codes, (ncodes + 1) * sizeof *codes);
            codes[ncodes++] = n;
        } else if (t == CMARK_NODE_IMAGE && dir) {
            char *u = data_uri(dir, cmark_node_get_url(n));
            if (u) { cmark_node_set_url(n, u); g_free(u); }
        }
    }
    cmark_iter_free(it);
    for (int i = 0; i < ncodes; i++) {
        GString *g = g_string_new(NULL);
        const char *info = cmark_node_get_fence_info(codes[i]);
        code_html(g, cmark_node_get_literal(codes[i]), info && !strncmp(info, "lua", 3), d->line_numbers, 1);
        cmark_node *h = cmark_node_new(CMARK_NODE_HTML_BLOCK);
        cmark_node_set_literal(h, g->str);
        g_string_free(g, TRUE);
        cmark_node_replace(codes[i], h);
        cmark_node_free(codes[i]);
    }
    free(codes);
    int nfn = 0;
    for (cmark_node *n = cmark_node_first_child(doc); n; n = cmark_node_next(n))
        nfn += cmark_node_get_type(n) == CMARK_NODE_FOOTNOTE_DEFINITION;
    char *html = cmark_render_html(doc, rp_md_options(), rp_md_extensions());
    GString *g = g_string_new(html);
    free(html);
    if (nfn && g_fn_base) {   /* footnotes numbered through the page, as in the PDF */
        GString *r = g_string_new(NULL);
        const char *s = g->str, *p;
        while ((p = strstr(s, "data-footnote-ref>"))) {
            p += strlen("data-footnote-ref>");
            g_string_append_len(r, s, p - s);
            char *e;
            long v = strtol(p, &e, 10);
            g_string_append_printf(r, "%ld", v + g_fn_base);
            s = e;
        }
        g_string_append(r, s);
        char start[64];
        snprintf(start, sizeof start, "<ol start=\"%d\">", g_fn_base + 1);
        const char *sec = "<section class=\"footnotes\" data-footnotes>\n<ol>";
        char *at = strstr(r->str, sec);
        if (at) {
            size_t off = at - r->str + strlen(sec) - 4;
            g_string_erase(r, off, 4);
            g_string_insert(r, off, start);
        }
        g_string_free(g, TRUE);
        g = r;
    }
    g_fn_base += nfn;
    if (fnprefix) {
        char to[128];
        snprintf(to, sizeof to, "\"#fn-%s-", fnprefix); replace_all(g, "\"#fn-", to);
        snprintf(to, sizeof to, "id=\"fn-%s-", fnprefix); replace_all(g, "id=\"fn-", to);
        snprintf(to, sizeof to, "\"#fnref-%s-", fnprefix); replace_all(g, "\"#fnref-", to);
        snprintf(to, sizeof to, "id=\"fnref-%s-", fnprefix); replace_all(g, "id=\"fnref-", to);
    }
    if (strip_p) {   /* a table cell or caption: inline content only */
        while (g->len && g->str[g->len - 1] == '\n') g_string_truncate(g, g->len - 1);
        if (!strncmp(g->str, "<p>", 3) && ends_with(g, "</p>") && !strstr(g->str + 3, "<p>")) {
            g_string_erase(g, 0, 3);
            g_string_truncate(g, g->len - 4);
        }
    }
    expand(o, d, g->str);
    g_string_free(g, TRUE);
}

static cairo_status_t svg_write(void *closure, const unsigned char *data, unsigned int length) {
    g_string_append_len(closure, (const char *)data, length);
    return CAIRO_STATUS_SUCCESS;
}

static void figure_svg(GString *o, const fg_spec *spec, int n) {
    double w = 480, h = w * fg_spec_aspect(spec);
    if (!(h > 10 && h < 5000)) h = w * 0.62;
    GString *g = g_string_new(NULL);
    cairo_surface_t *s = cairo_svg_surface_create_for_stream(svg_write, g, w, h);
    cairo_t *cr = cairo_create(s);
    char err[256] = "";
    if (fg_draw(cr, (fg_box){ 0, 0, w, h }, spec, err, sizeof err))
        fprintf(stderr, "clipbook render: warning: figure: %s\n", err);
    cairo_destroy(cr);
    cairo_surface_finish(s);
    cairo_surface_destroy(s);
    /* ids are per SVG in cairo's output: prefix them, the page holds many */
    char to[64];
    snprintf(to, sizeof to, "id=\"f%d-", n); replace_all(g, "id=\"", to);
    snprintf(to, sizeof to, "href=\"#f%d-", n); replace_all(g, "href=\"#", to);
    snprintf(to, sizeof to, "url(#f%d-", n); replace_all(g, "url(#", to);
    const char *svg = strstr(g->str, "<svg");
    if (svg) g_string_append(o, svg);
    g_string_free(g, TRUE);
}

static void caption_html(GString *o, rp_doc *d, const char *what, int number, cmark_node *cap) {
    g_string_append_printf(o, "<figcaption><b>%s %d.</b> ", what, number);
    md_html(o, d, cap, NULL, NULL, 1);
    g_string_append(o, "</figcaption>\n");
}

static void block_html(GString *o, rp_doc *d, rp_chapter *ch, int ci, int bi) {
    rp_block *b = &ch->blocks[bi];
    char prefix[32];
    snprintf(prefix, sizeof prefix, "c%db%d", ci, bi);
    switch (b->kind) {
    case RP_B_MD: md_html(o, d, b->md, ch->dir, prefix, 0); break;
    case RP_B_CODE:
        g_string_append(o, "<div class=\"listing\">");
        if (b->cell || b->title) {
            g_string_append(o, "<div class=\"cellhdr\">");
            if (b->cell) g_string_append_printf(o, "cell %d", b->cell);
            if (b->title) { g_string_append(o, b->cell ? " · " : ""); escs(o, b->title); }
            if (b->line) g_string_append_printf(o, " · line %d", b->line);
            g_string_append(o, "</div>");
        }
        code_html(o, b->text, b->lang && !strcmp(b->lang, "lua"), b->numbers || d->line_numbers, b->line > 0 ? b->line : 1);
        g_string_append(o, "</div>\n");
        break;
    case RP_B_OUTPUT:
        g_string_append(o, "<pre class=\"output\">");
        escs(o, b->text);
        g_string_append(o, "</pre>\n");
        break;
    case RP_B_FIGURE:
        g_string_append(o, "<figure");
        if (b->label) g_string_append_printf(o, " id=\"%s\"", b->label);
        g_string_append_printf(o, "><div class=\"fig\" style=\"max-width:%.0f%%\">", b->width * 100);
        if (b->spec) figure_svg(o, b->spec, b->number);
        else { g_string_append(o, "<p class=\"error-title\">cannot draw: "); escs(o, b->spec_err); g_string_append(o, "</p>"); }
        g_string_append(o, "</div>");
        caption_html(o, d, "Figure", b->number, b->caption);
        g_string_append(o, "</figure>\n");
        break;
    case RP_B_TABLE:
        g_string_append(o, "<figure class=\"table\"");
        if (b->label) g_string_append_printf(o, " id=\"%s\"", b->label);
        g_string_append(o, ">");
        caption_html(o, d, "Table", b->number, b->caption);
        g_string_append(o, "<div class=\"tablewrap\"><table>\n<thead><tr>");
        for (int r = 0; r <= b->nrows; r++) {
            if (r) g_string_append(o, "<tr>");
            for (int c = 0; c < b->ncols; c++) {
                const char *al = b->align[c] == 'r' ? "right" : b->align[c] == 'c' ? "center" : "left";
                g_string_append_printf(o, "<%s style=\"text-align:%s\">", r ? "td" : "th", al);
                md_html(o, d, b->cells[r * b->ncols + c], ch->dir, NULL, 1);
                g_string_append_printf(o, "</%s>", r ? "td" : "th");
            }
            g_string_append(o, r ? "</tr>\n" : "</tr></thead>\n<tbody>\n");
        }
        g_string_append(o, "</tbody></table></div></figure>\n");
        break;
    case RP_B_CALLOUT: {
        const char *k = b->callout && (!strcmp(b->callout, "warning") || !strcmp(b->callout, "tip")) ? b->callout : "note";
        g_string_append_printf(o, "<aside class=\"callout %s\"><p class=\"callout-title\">", k);
        escs(o, b->title ? b->title : !strcmp(k, "warning") ? "Warning" : !strcmp(k, "tip") ? "Tip" : "Note");
        g_string_append(o, "</p>\n");
        md_html(o, d, b->md, ch->dir, prefix, 0);
        g_string_append(o, "</aside>\n");
        break;
    }
    case RP_B_ERROR:
        g_string_append(o, "<div class=\"error\"><p class=\"error-title\">Error");
        if (b->cell) g_string_append_printf(o, " in cell %d", b->cell);
        if (b->title) { g_string_append(o, " “"); escs(o, b->title); g_string_append(o, "”"); }
        if (b->line) g_string_append_printf(o, ", line %d", b->line);
        g_string_append(o, "</p><pre class=\"msg\">");
        escs(o, b->message);
        g_string_append(o, "</pre>");
        if (b->traceback) { g_string_append(o, "<pre class=\"tb\">"); escs(o, b->traceback); g_string_append(o, "</pre>"); }
        g_string_append(o, "</div>\n");
        break;
    case RP_B_COUNT: break; /* not a kind; -Wswitch makes a new kind need its case here */
    }
}

static const char *CSS =
":root{--text:#1f1f1f;--muted:#666;--link:#1a4a8c;--rule:#d8d8d4;--code:#f4f4f0}\n"
"*{box-sizing:border-box}\n"
"html{font-size:17px;-webkit-text-size-adjust:100%}\n"
"body{margin:0;color:var(--text);background:#fff;line-height:1.55;"
"font-family:'TeX Gyre Pagella','Palatino Linotype',Palatino,'Book Antiqua',Georgia,serif}\n"
"a{color:var(--link);text-decoration:none}a:hover{text-decoration:underline}\n"
"nav#toc{font-size:.86rem;line-height:1.35;padding:1.2rem 1rem;background:#fafaf7;border-bottom:1px solid var(--rule)}\n"
"nav#toc ol{list-style:none;margin:0;padding:0}nav#toc li{margin:.25rem 0}\n"
"nav#toc .l1{font-weight:bold;margin-top:.6rem}nav#toc .l2{padding-left:1.2rem}nav#toc .l3{padding-left:2.4rem;font-size:.95em}\n"
"nav#toc .toc-title{font-size:1rem;font-weight:bold;margin:0 0 .4rem}\n"
"main{max-width:44rem;margin:0 auto;padding:1.5rem 1.1rem 4rem}\n"
"@media (min-width:1100px){nav#toc{position:fixed;top:0;left:0;bottom:0;width:17rem;overflow-y:auto;"
"border-bottom:none;border-right:1px solid var(--rule)}main{margin-left:calc(17rem + max(2rem,(100vw - 17rem - 44rem)/2))}}\n"
"p{text-align:justify;hyphens:auto}\n"
"@media (max-width:600px){p{text-align:left}.abstract{margin:1.5rem .5rem 0}}\n"
"h1,h2,h3,h4{line-height:1.25;font-weight:bold}h1{font-size:1.9rem;margin:2.8rem 0 1rem}"
"h2{font-size:1.35rem;margin:2rem 0 .6rem}h3{font-size:1.1rem;font-style:italic;margin:1.5rem 0 .5rem}\n"
".secnum{margin-right:.5em}\n"
"header.titleblock{text-align:center;margin:1rem 0 2rem}header.titleblock>p{text-align:center}header .title{font-size:2.3rem;margin:1rem 0 .3rem}\n"
"header .subtitle{font-style:italic;font-size:1.2rem;margin:.2rem 0}header .authors{margin:.9rem 0 .1rem}"
"header .date{color:var(--muted);margin:0}\n"
".abstract{text-align:justify;margin:1.8rem 2rem 0}.abstract h2{text-align:center;font-size:1rem;margin:.5rem}\n"
"code,pre{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace;font-size:.8rem}\n"
"p code,li code,td code{color:#403020}\n"
"pre{white-space:pre-wrap;word-break:break-word;margin:0}\n"
"pre.code{background:var(--code);padding:.6rem .8rem;border-radius:3px;line-height:1.45}\n"
".listing{margin:1rem 0}.cellhdr{font-style:italic;font-size:.78rem;color:var(--muted);margin-bottom:.15rem}\n"
".ln{display:inline-block;width:2.2em;color:#999;text-align:right;margin-right:1em;text-indent:0;user-select:none}\n"
".cl{display:block;padding-left:3.2em;text-indent:-3.2em;min-height:1.45em}\n"
".kw{color:#801a73;font-weight:bold}.st{color:#1a6b26}.cm{color:#73736b;font-style:italic}.nu{color:#ad5400}.bi{color:#1a4d99}\n"
"pre.output{color:#555;border-left:2px solid #ccc;padding:.2rem .8rem;margin:.6rem 0 1rem;font-size:.75rem}\n"
"figure{margin:1.6rem 0;text-align:center}figure .fig{margin:0 auto}figure svg{width:100%;height:auto}\n"
"figcaption{font-size:.9rem;text-align:justify;margin:.5rem auto 0;max-width:92%}\n"
"figure.table figcaption{margin:0 auto .5rem}\n"
"table{border-collapse:collapse;margin:0 auto;font-size:.92rem;border-top:1.5px solid #000;border-bottom:1.5px solid #000}\n"
"th,td{padding:.25rem .6rem}thead th{border-bottom:1px solid #000}\n"
".tablewrap{overflow-x:auto}\n"
".equation{display:flex;align-items:center;justify-content:center;position:relative;margin:1rem 0;"
"padding:.2rem 2.6rem;overflow-x:auto;overflow-y:hidden}\n"
"math{font-family:'TeX Gyre Pagella Math','Latin Modern Math','STIX Two Math',math}\n"
".equation math{font-size:1.1em}.eqno{position:absolute;right:0}\n"
"blockquote{margin:1rem 0;padding:0 1rem;border-left:3px solid #ccc;color:#333}\n"
".callout{margin:1.2rem 0;padding:.5rem 1rem;border-left:4px solid;border-radius:2px}\n"
".callout p{margin:.3rem 0}.callout-title{font-weight:bold}\n"
".callout.note{background:#eef2fc;border-color:#1f52a0}.callout.note .callout-title{color:#1f52a0}\n"
".callout.warning{background:#fff5e6;border-color:#d9800d}.callout.warning .callout-title{color:#b36600}\n"
".callout.tip{background:#eefaf0;border-color:#1a8c47}.callout.tip .callout-title{color:#1a7a3f}\n"
".error{background:#ffeded;border-left:5px solid #cc1414;padding:.5rem 1rem;margin:1.2rem 0}\n"
".error-title{color:#b30d0d;font-weight:bold;margin:.2rem 0}.error pre.msg{color:#730000}.error pre.tb{color:#595959;font-size:.7rem;margin-top:.3rem}\n"
".unresolved,.math-error{color:#c00;font-weight:bold}\n"
"p.provenance{text-align:right;font-style:italic;font-size:.78rem;color:#777;margin-top:1.5rem}\n"
"section.footnotes{font-size:.85rem;border-top:1px solid var(--rule);margin-top:1rem}\n"
"sup.footnote-ref{line-height:0}\n"
"ol.refs{list-style:none;padding:0}ol.refs li{padding-left:2.4rem;text-indent:-2.4rem;margin:.4rem 0;text-align:left}\n"
".refnum{display:inline-block;width:2.4rem;text-indent:0}\n"
"img{max-width:100%}p>img:only-child{display:block;margin:0 auto}\n"
"@media print{nav#toc{display:none}main{max-width:none;margin:0;padding:0}html{font-size:11pt}"
"a{color:inherit}pre.code{background:none;border:1px solid #ddd}"
"figure,table,pre,.equation,.callout,.error{break-inside:avoid}h1,h2,h3{break-after:avoid}"
"h1{break-before:page}header.titleblock+nav,header.titleblock h1{break-before:auto}}\n";

int rp_html_write(rp_doc *d, const char *path) {
    g_fn_base = 0;
    GString *o = g_string_new("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                              "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>");
    const char *title = d->title ? d->title : "clipbook report";
    escs(o, title);
    g_string_append(o, "</title>\n");
    if (d->nauthors) {
        g_string_append(o, "<meta name=\"author\" content=\"");
        for (int i = 0; i < d->nauthors; i++) { if (i) g_string_append(o, ", "); escs(o, d->authors[i]); }
        g_string_append(o, "\">\n");
    }
    g_string_append_printf(o, "<meta name=\"generator\" content=\"clipbook render\">\n<style>\n%s</style>\n</head>\n<body>\n", CSS);
    /* contents sidebar */
    g_string_append(o, "<nav id=\"toc\"><p class=\"toc-title\">Contents</p><ol>\n");
    for (int i = 0; i < d->nlabels; i++) {
        rp_label *l = &d->labels[i];
        if (l->kind != 's' || l->level > 3) continue;
        g_string_append_printf(o, "<li class=\"l%d\"><a href=\"#%s\">%s ", l->level, l->label, l->number);
        escs(o, l->title);
        g_string_append(o, "</a></li>\n");
    }
    if (d->nrefs) g_string_append(o, "<li class=\"l1\"><a href=\"#references\">References</a></li>\n");
    g_string_append(o, "</ol></nav>\n<main>\n<header class=\"titleblock\">\n<h1 class=\"title\">");
    escs(o, title);
    g_string_append(o, "</h1>\n");
    if (d->subtitle) { g_string_append(o, "<p class=\"subtitle\">"); escs(o, d->subtitle); g_string_append(o, "</p>\n"); }
    if (d->nauthors) {
        g_string_append(o, "<p class=\"authors\">");
        for (int i = 0; i < d->nauthors; i++) {
            if (i) g_string_append(o, i == d->nauthors - 1 ? " and " : ", ");
            escs(o, d->authors[i]);
        }
        g_string_append(o, "</p>\n");
    }
    if (d->date) { g_string_append(o, "<p class=\"date\">"); escs(o, d->date); g_string_append(o, "</p>\n"); }
    if (d->abstract) {
        g_string_append(o, "<section class=\"abstract\"><h2>Abstract</h2>\n");
        md_html(o, d, d->abstract, NULL, "abs", 0);
        g_string_append(o, "</section>\n");
    }
    g_string_append(o, "</header>\n");
    for (int c = 0; c < d->nchapters; c++) {
        rp_chapter *ch = &d->chapters[c];
        g_string_append_printf(o, "<section class=\"chapter\" id=\"chapter-%s\">\n", ch->stem);
        for (int i = 0; i < ch->nblocks; i++) block_html(o, d, ch, c, i);
        if (ch->prov) {
            g_string_append(o, "<p class=\"provenance\">Computed by clipbook: ");
            escs(o, ch->prov);
            g_string_append(o, "</p>\n");
        }
        g_string_append(o, "</section>\n");
    }
    if (d->nrefs) {
        g_string_append(o, "<section id=\"references\"><h1>References</h1>\n<ol class=\"refs\">\n");
        for (int n = 1; n <= d->nrefs; n++)
            for (int i = 0; i < d->nrefs; i++) {
                rp_ref *r = &d->refs[i];
                if (r->number != n) continue;
                g_string_append_printf(o, "<li id=\"ref-%s\"><span class=\"refnum\">[%d]</span>", r->key, r->number);
                if (r->authors) {
                    escs(o, r->authors);
                    g_string_append(o, g_str_has_suffix(r->authors, ".") ? " " : ". ");
                }
                if (r->title) { g_string_append(o, "<i>"); escs(o, r->title); g_string_append(o, "</i>. "); }
                if (r->venue) { escs(o, r->venue); g_string_append(o, r->year ? ", " : ". "); }
                if (r->year) g_string_append_printf(o, "%d. ", r->year);
                if (r->url) {
                    g_string_append(o, "<a href=\"");
                    escs(o, r->url);
                    g_string_append(o, "\">");
                    escs(o, r->url);
                    g_string_append(o, "</a>");
                }
                g_string_append(o, "</li>\n");
            }
        g_string_append(o, "</ol></section>\n");
    }
    g_string_append(o, "</main>\n</body>\n</html>\n");
    FILE *f = fopen(path, "wb");
    if (!f) { g_string_free(o, TRUE); return en_error("%s: cannot write", path); }
    int ok = fwrite(o->str, 1, o->len, f) == o->len;
    ok &= fclose(f) == 0;
    g_string_free(o, TRUE);
    return ok ? 0 : en_error("%s: write failed", path);
}
