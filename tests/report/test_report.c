/* Report renderer: Markdown extensions, numbering, highlighting, loading
 * errors, and a render of the fixture (tests/report/fixture) in both
 * formats. The PDF/HTML checks that need external tools (pdftotext, qpdf,
 * html5lib, Chromium) are in tests/e2e/report.sh. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "en_error.h"
#include "en_file.h"
#include "rp_model.h"
#include "en_utf8.h"

int rp_cmd_render(int argc, char **argv);

static int count_kind(const rp_doc *d, char kind) {
    int n = 0;
    for (int i = 0; i < d->nsp; i++) n += d->sp[i].kind == kind;
    return n;
}

Test(md, placeholders_for_math_xrefs_citations) {
    rp_doc *d = rp_doc_new();
    cmark_node *doc = rp_md_parse(d, "Loss $\\hat{y}_i = x^2$ see @fig-a, [@radford2021; @he2016] and "
                                     "`$not math$ @fig-b` or mail a@fig-c.\n\n$$a_1 + b$$ {#eq-one}\n\n"
                                     "```\n$code$ @sec-x\n```\n");
    cr_expect_eq(count_kind(d, RP_SP_MATH), 1, "inline math: %d", count_kind(d, RP_SP_MATH));
    cr_expect_eq(count_kind(d, RP_SP_DMATH), 1);
    cr_expect_eq(count_kind(d, RP_SP_XREF), 1, "only @fig-a is a reference (code and emails are not)");
    cr_expect_eq(count_kind(d, RP_SP_CITE), 1);
    for (int i = 0; i < d->nsp; i++) {
        if (d->sp[i].kind == RP_SP_MATH) cr_expect_str_eq(d->sp[i].text, "\\hat{y}_i = x^2");
        if (d->sp[i].kind == RP_SP_XREF) cr_expect_str_eq(d->sp[i].text, "fig-a");
        if (d->sp[i].kind == RP_SP_CITE) cr_expect_str_eq(d->sp[i].text, "radford2021;he2016");
        if (d->sp[i].kind == RP_SP_DMATH) {
            cr_expect_str_eq(d->sp[i].text, "a_1 + b");
            cr_expect_str_eq(d->sp[i].label, "eq-one");
        }
    }
    /* the code span and the fenced block keep their text */
    char *html = cmark_render_html(doc, rp_md_options(), rp_md_extensions());
    cr_expect(strstr(html, "<code>$not math$ @fig-b</code>") != NULL, "%s", html);
    cr_expect(strstr(html, "$code$ @sec-x") != NULL);
    free(html);
    cmark_node_free(doc);
    rp_doc_free(d);
}

Test(md, heading_labels_stripped) {
    rp_doc *d = rp_doc_new();
    cmark_node *doc = rp_md_parse(d, "## Results {#sec-res}\n\ntext\n");
    cmark_node *h = cmark_node_first_child(doc);
    cr_assert_eq(cmark_node_get_type(h), CMARK_NODE_HEADING);
    char *t = rp_md_plain(d, h);
    cr_expect_str_eq(t, "Results");
    cr_expect_str_eq(cmark_node_get_user_data(h), "sec-res");
    free(t);
    free(cmark_node_get_user_data(h));
    cmark_node_free(doc);
    rp_doc_free(d);
}

static rp_doc *load_fixture(void) {
    rp_doc *d = rp_doc_new();
    cr_assert_eq(rp_doc_load_meta(d, "tests/report/fixture/meta.json"), 0, "%s", en_error_msg());
    cr_assert_eq(rp_doc_load_chapter(d, "tests/report/fixture/01-how-clip-works.json"), 0, "%s", en_error_msg());
    cr_assert_eq(rp_doc_load_chapter(d, "tests/report/fixture/02-linear-probe.json"), 0, "%s", en_error_msg());
    cr_assert_eq(rp_xref_number(d), 0, "%s", en_error_msg());
    return d;
}

Test(xref, numbers_across_chapters) {
    rp_doc *d = load_fixture();
    struct { const char *label, *text; } want[] = {
        { "sec-clip", "Section 1" }, { "sec-the-two-encoders", "Section 1.1" },
        { "sec-zero-shot-classification", "Section 1.1.1" }, { "sec-probe", "Section 2" },
        { "sec-results", "Section 2.1" }, { "sec-summary", "Section 2.2.1" },
        { "fig-shots", "Figure 1" }, { "tbl-probe", "Table 1" },
        { "eq-loss", "Equation (1)" }, { "eq-logits", "Equation (2)" },
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        char *t = rp_xref_text(d, want[i].label);
        cr_expect(t && !strcmp(t, want[i].text), "%s: got %s, want %s", want[i].label, t ? t : "NULL", want[i].text);
        free(t);
    }
    cr_expect_null(rp_xref_text(d, "fig-missing"));
    /* citations: numbered by first citation (abstract cites radford first) */
    cr_expect_eq(rp_xref_ref(d, "radford2021")->number, 1);
    cr_expect_eq(rp_xref_ref(d, "he2016")->number, 2);
    cr_expect_eq(rp_xref_ref(d, "pedregosa2011")->number, 3);
    cr_expect_eq(rp_xref_ref(d, "vandenoord2017")->number, 4, "uncited references come last");
    rp_doc_free(d);
}

static void two_chapters(rp_doc *d, const char *md0, const char *md1) {
    d->chapters = calloc(2, sizeof *d->chapters);
    d->nchapters = 2;
    const char *md[2] = { md0, md1 };
    for (int c = 0; c < 2; c++) {
        d->chapters[c].blocks = calloc(1, sizeof(rp_block));
        d->chapters[c].nblocks = 1;
        d->chapters[c].stem = strdup(c ? "02-b" : "01-a");
        d->chapters[c].source = strdup(c ? "chapters/02-b.lua" : "chapters/01-a.lua");
        d->chapters[c].blocks[0].kind = RP_B_MD;
        d->chapters[c].blocks[0].md = rp_md_parse(d, md[c]);
    }
}

Test(xref, duplicate_label_is_an_error_block_naming_both_chapters) {
    rp_doc *d = rp_doc_new();
    two_chapters(d, "# A {#sec-a}\n\n## B {#sec-x}\n", "# C {#sec-c}\n\n## D {#sec-x}\n");
    cr_expect_eq(rp_xref_number(d), 0, "numbering goes on");
    cr_expect_eq(d->nerrors, 1);
    cr_assert_eq(d->chapters[1].nblocks, 2, "an error block after the block that repeats the label");
    const rp_block *e = &d->chapters[1].blocks[1];
    cr_expect_eq(e->kind, RP_B_ERROR);
    cr_expect(strstr(e->message, "sec-x") && strstr(e->message, "chapters/01-a.lua") && strstr(e->message, "chapters/02-b.lua"),
              "%s", e->message);
    cr_expect_eq(d->chapters[0].nblocks, 1, "the first definition stands");
    char *t = rp_xref_text(d, "sec-x");
    cr_expect_str_eq(t, "Section 1.1", "references go to the first");
    free(t);
    t = rp_xref_text(d, "sec-c");
    cr_expect_str_eq(t, "Section 2", "the rest is numbered");
    free(t);
    rp_doc_free(d);
}

Test(load, bad_fragment_leaves_the_document_as_it_was) {
    char dir[] = "/tmp/rp_badXXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char a[256], b[256];
    snprintf(a, sizeof a, "%s/01-utf8.json", dir);
    snprintf(b, sizeof b, "%s/02-half.json", dir);
    FILE *f = fopen(a, "wb");
    fputs("{\"format\":\"clipbook-doc/1\",\"blocks\":[{\"type\":\"markdown\",\"text\":\"Bad bytes: \xff\xfe\"}]}", f);
    fclose(f);
    f = fopen(b, "wb");   /* two good blocks, then one the loader rejects */
    fputs("{\"format\":\"clipbook-doc/1\",\"blocks\":[{\"type\":\"markdown\",\"text\":\"# T {#sec-t}\"},"
          "{\"type\":\"code\",\"text\":\"x\"},{\"type\":\"poem\"}]}", f);
    fclose(f);
    rp_doc *d = rp_doc_new();
    cr_expect_eq(rp_doc_load_chapter(d, a), -1);
    cr_expect(strstr(en_error_msg(), "not valid UTF-8 (byte 0xFF at byte offset 75"), "%s", en_error_msg());
    cr_expect_eq(rp_doc_load_chapter(d, b), -1);
    cr_expect_eq(d->nchapters, 0, "a half-loaded chapter is taken back");
    rp_doc_add_error_chapter(d, a, "why \xff not");
    cr_assert_eq(d->nchapters, 1);
    cr_expect_eq(d->nerrors, 1);
    cr_expect_eq(d->chapters[0].blocks[1].kind, RP_B_ERROR);
    cr_expect_str_eq(d->chapters[0].blocks[1].message, "why ? not", "the message is made valid UTF-8");
    cr_expect_eq(en_utf8_invalid_at("\xc0\x80", 2), 0, "overlong");
    cr_expect_eq(en_utf8_invalid_at("a\xed\xa0\x80", 4), 1, "surrogate");
    cr_expect_eq(en_utf8_invalid_at("\xf0\x9f\x98\x80 ok", 7), -1);
    rp_doc_free(d);
    unlink(a);
    unlink(b);
    rmdir(dir);
}

Test(highlight, lua_tokens) {
    const char *src = "local s = \"a -- b\" -- note\nif x == 0x1F then print([[long\nstr]]) end --[[ c\nc ]] y = 1.5e-3";
    rp_hl_span *sp;
    int n = rp_highlight_lua(src, strlen(src), &sp);
    size_t covered = 0;
    int kinds[RP_HL_COUNT] = { 0 };
    for (int i = 0; i < n; i++) {
        cr_expect_eq(sp[i].start, covered, "spans are contiguous");
        covered += sp[i].len;
        kinds[sp[i].kind]++;
        char tok[64];
        snprintf(tok, sizeof tok, "%.*s", (int)sp[i].len, src + sp[i].start);
        if (sp[i].kind == RP_HL_STRING) cr_expect(!strcmp(tok, "\"a -- b\"") || !strcmp(tok, "[[long\nstr]]"), "string %s", tok);
        if (sp[i].kind == RP_HL_COMMENT) cr_expect(!strcmp(tok, "-- note") || !strcmp(tok, "--[[ c\nc ]]"), "comment %s", tok);
        if (sp[i].kind == RP_HL_NUMBER) cr_expect(!strcmp(tok, "0x1F") || !strcmp(tok, "1.5e-3"), "number %s", tok);
        if (sp[i].kind == RP_HL_BUILTIN) cr_expect_str_eq(tok, "print");
    }
    cr_expect_eq(covered, strlen(src));
    cr_expect_eq(kinds[RP_HL_STRING], 2);
    cr_expect_eq(kinds[RP_HL_COMMENT], 2);
    cr_expect_eq(kinds[RP_HL_NUMBER], 2);
    cr_expect_geq(kinds[RP_HL_KEYWORD], 4, "local if then end: %d", kinds[RP_HL_KEYWORD]);
    free(sp);
}

static int render(const char *out, const char *extra) {
    char *argv[16];
    int argc = 0;
    argv[argc++] = "render";
    argv[argc++] = "tests/report/fixture/01-how-clip-works.json";
    argv[argc++] = "tests/report/fixture/02-linear-probe.json";
    argv[argc++] = "--meta";
    argv[argc++] = "tests/report/fixture/meta.json";
    argv[argc++] = "--out";
    argv[argc++] = (char *)out;
    if (extra) argv[argc++] = (char *)extra;
    return rp_cmd_render(argc, argv);
}

static char *slurp(const char *path, size_t *n) {
    char *s = en_file_read(path, n);
    cr_assert_not_null(s, "%s", en_error_msg());
    return s;
}

Test(render, fixture_both_formats, .timeout = 60) {
    char dir[] = "/tmp/rp_testXXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    cr_assert_eq(render(dir, NULL), 0, "%s", en_error_msg());
    char path[512];
    size_t n;
    snprintf(path, sizeof path, "%s/report.pdf", dir);
    char *pdf = slurp(path, &n);
    cr_expect(n > 20000 && !memcmp(pdf, "%PDF-", 5), "PDF of %zu bytes", n);
    cr_expect(memmem(pdf, n, "/Dest (fig-shots)", 17) != NULL, "a link to the figure");
    cr_expect(memmem(pdf, n, "/Title (CLIP, Rebuilt)", 22) != NULL, "title metadata");
    free(pdf);
    snprintf(path, sizeof path, "%s/report.html", dir);
    char *html = slurp(path, &n);
    cr_expect(!strncmp(html, "<!DOCTYPE html>", 15));
    const char *must[] = { "id=\"sec-clip\"", "id=\"fig-shots\"", "id=\"tbl-probe\"", "id=\"eq-loss\"",
                           "href=\"#fig-shots\">Figure 1</a>", "<math", "<svg", "class=\"kw\"",
                           "class=\"callout warning\"", "class=\"error\"", "id=\"ref-radford2021\"",
                           "<nav id=\"toc\">", "@media print", "src=\"data:image/png;base64,", "class=\"unresolved\">??fig-missing" };
    for (size_t i = 0; i < sizeof must / sizeof *must; i++)
        cr_expect(strstr(html, must[i]) != NULL, "HTML lacks %s", must[i]);
    cr_expect_null(strstr(html, "\x01"), "no placeholder left");
    free(html);
    /* a flag without its value is a usage error */
    cr_assert_eq(render(dir, "--paper"), 2, "--paper needs a value");
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    cr_expect_eq(system(path), 0);
}

Test(render, reproducible, .timeout = 60) {
    char a[] = "/tmp/rp_testXXXXXX", b[] = "/tmp/rp_testXXXXXX";
    cr_assert_not_null(mkdtemp(a));
    cr_assert_not_null(mkdtemp(b));
    cr_assert_eq(render(a, "--no-html"), 0);
    cr_assert_eq(render(b, "--no-html"), 0);
    char pa[512], pb[512];
    size_t na, nb;
    snprintf(pa, sizeof pa, "%s/report.pdf", a);
    snprintf(pb, sizeof pb, "%s/report.pdf", b);
    char *x = slurp(pa, &na), *y = slurp(pb, &nb);
    size_t first = 0;
    while (first < na && first < nb && x[first] == y[first]) first++;
    cr_expect(na == nb && first == na, "PDFs differ at byte %zu (%zu vs %zu bytes)", first, na, nb);
    free(x);
    free(y);
    snprintf(pa, sizeof pa, "rm -rf '%s' '%s'", a, b);
    cr_expect_eq(system(pa), 0);
}

Test(load, errors_name_the_file) {
    char path[] = "/tmp/rp_badXXXXXX.json";
    int fd = mkstemps(path, 5);
    cr_assert(fd >= 0);
    const char *bad = "{\"format\":\"clipbook-doc/1\",\"blocks\":[{\"type\":\"poem\"}]}";
    cr_assert_eq(write(fd, bad, strlen(bad)), (ssize_t)strlen(bad));
    close(fd);
    rp_doc *d = rp_doc_new();
    cr_expect_eq(rp_doc_load_chapter(d, path), -1);
    cr_expect(strstr(en_error_msg(), "unknown type 'poem'") && strstr(en_error_msg(), path), "%s", en_error_msg());
    cr_expect_eq(rp_doc_load_chapter(d, "/nonexistent/x.json"), -1);
    rp_doc_free(d);
    unlink(path);
}

/* Block kinds: one table (rp_doc.c) names and loads every kind. */
Test(load, block_kinds_table) {
    for (int k = 0; k < RP_B_COUNT; k++) {
        const char *name = rp_block_kind_name((rp_block_kind)k);
        cr_assert(name && *name, "kind %d has no name", k);
        cr_expect_eq(rp_block_kind_parse(name), k, "'%s' parses back to %d", name, rp_block_kind_parse(name));
        for (int j = 0; j < k; j++)
            cr_expect_str_neq(name, rp_block_kind_name((rp_block_kind)j), "kinds %d and %d share a name", j, k);
    }
    cr_expect_null(rp_block_kind_name(RP_B_COUNT));
    cr_expect_eq(rp_block_kind_parse("poem"), -1);
    /* "math" blocks were read but never written: display math is a
     * $$...$$ paragraph of a markdown block; the error lists the kinds */
    cr_expect_eq(rp_block_kind_parse("math"), -1);
    char path[] = "/tmp/rp_mathXXXXXX.json";
    int fd = mkstemps(path, 5);
    cr_assert(fd >= 0);
    const char *frag = "{\"format\":\"clipbook-doc/1\",\"blocks\":[{\"type\":\"math\",\"tex\":\"x\"}]}";
    cr_assert_eq(write(fd, frag, strlen(frag)), (ssize_t)strlen(frag));
    close(fd);
    rp_doc *d = rp_doc_new();
    cr_expect_eq(rp_doc_load_chapter(d, path), -1);
    cr_expect(strstr(en_error_msg(), "unknown type 'math' (one of: markdown, code, output, figure, table, callout, error)"),
              "%s", en_error_msg());
    rp_doc_free(d);
    unlink(path);
}
