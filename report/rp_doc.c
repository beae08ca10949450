/* rp_doc — loads chapter fragments and chapters/meta.json into the model.
 * Fields missing from a block get defaults; a block of an unknown type or a
 * wrong field type is a user error naming the file and block. */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "en_error.h"
#include "en_utf8.h"
#include "en_file.h"
#include "rp_doc.h"
#include "rp_model.h"

static char *dupstr(const char *s) { return s ? strdup(s) : NULL; }

static const char *jstr(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
static double jnum(const cJSON *o, const char *k, double def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : def;
}
/* An integer field: a fragment is untrusted input, and converting a double
 * outside int's range (or NaN) to int is undefined, so clamp first. */
static int jint(const cJSON *o, const char *k, int def) {
    double x = jnum(o, k, def);
    if (!(x == x)) return def;
    if (x > INT_MAX) return INT_MAX;
    if (x < INT_MIN) return INT_MIN;
    return (int)x;
}

rp_doc *rp_doc_new(void) {
    rp_doc *d = calloc(1, sizeof *d);
    EN_ASSERT(d);
    d->paper = "a4";
    return d;
}

static int load_table(rp_doc *d, rp_block *b, const cJSON *o, const char *path, int i) {
    const cJSON *cols = cJSON_GetObjectItemCaseSensitive(o, "columns");
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(o, "rows");
    if (!cJSON_IsArray(cols) || !cJSON_IsArray(rows))
        return en_error("%s: block %d: a table needs arrays 'columns' and 'rows'", path, i);
    b->ncols = cJSON_GetArraySize(cols);
    b->nrows = cJSON_GetArraySize(rows);
    if (b->ncols == 0) return en_error("%s: block %d: a table with no columns", path, i);
    b->cells = calloc((size_t)(b->nrows + 1) * b->ncols, sizeof *b->cells);
    b->align = calloc(b->ncols + 1, 1);
    EN_ASSERT(b->cells && b->align);
    const cJSON *al = cJSON_GetObjectItemCaseSensitive(o, "align");
    for (int c = 0; c < b->ncols; c++) {
        const cJSON *a = cJSON_IsArray(al) ? cJSON_GetArrayItem(al, c) : NULL;
        b->align[c] = cJSON_IsString(a) && strchr("lcr", a->valuestring[0]) && a->valuestring[0] ? a->valuestring[0] : 'l';
        const cJSON *h = cJSON_GetArrayItem(cols, c);
        b->cells[c] = rp_md_parse(d, cJSON_IsString(h) ? h->valuestring : "");
    }
    for (int r = 0; r < b->nrows; r++) {
        const cJSON *row = cJSON_GetArrayItem(rows, r);
        if (!cJSON_IsArray(row)) return en_error("%s: block %d: table row %d is not an array", path, i, r + 1);
        for (int c = 0; c < b->ncols; c++) {
            const cJSON *v = cJSON_GetArrayItem(row, c);
            char num[64];
            const char *s = "";
            if (cJSON_IsString(v)) s = v->valuestring;
            else if (cJSON_IsNumber(v)) { snprintf(num, sizeof num, "%.6g", v->valuedouble); s = num; }
            b->cells[(r + 1) * b->ncols + c] = rp_md_parse(d, s);
        }
    }
    return 0;
}

static void free_block(rp_block *b);
static int g_numbered;

/* What a message may carry into the document: invalid bytes as '?'. */
static char *printable(const char *s) {
    char *o = strdup(s ? s : "");
    EN_ASSERT(o);
    long at;
    size_t n = strlen(o), from = 0;
    while ((at = en_utf8_invalid_at(o + from, n - from)) >= 0) { o[from + at] = '?'; from += at + 1; }
    return o;
}

void rp_doc_add_error_chapter(rp_doc *d, const char *path, const char *msg) {
    d->chapters = realloc(d->chapters, (d->nchapters + 1) * sizeof *d->chapters);
    EN_ASSERT(d->chapters);
    rp_chapter *ch = &d->chapters[d->nchapters++];
    memset(ch, 0, sizeof *ch);
    char *pc = strdup(path), *pd = strdup(path);
    char *st = printable(basename(pc));
    char *dot = strrchr(st, '.');
    if (dot && !strcmp(dot, ".json")) *dot = 0;
    ch->stem = st;
    ch->path = printable(path);
    ch->dir = strdup(dirname(pd));
    free(pc); free(pd);
    ch->blocks = calloc(2, sizeof *ch->blocks);
    EN_ASSERT(ch->blocks);
    /* a heading of its own, so the error is not read as the end of the
     * chapter before; backslashes keep the name from being Markdown */
    char head[600];
    size_t k = snprintf(head, sizeof head, "# ");
    for (const char *p = st; *p && k < sizeof head - 40; p++) {
        if (ispunct((unsigned char)*p)) head[k++] = '\\';
        head[k++] = *p;
    }
    snprintf(head + k, sizeof head - k, " (not rendered)\n");
    ch->blocks[0].kind = RP_B_MD;
    ch->blocks[0].md = rp_md_parse(d, head);
    ch->blocks[1].kind = RP_B_ERROR;
    ch->blocks[1].title = strdup("unreadable fragment");
    ch->blocks[1].message = printable(msg);
    ch->nblocks = 2;
    d->nerrors++;
}

/* ---- block kinds: one loader per kind, found by the fragment's "type" ---- */

typedef int (*block_loader)(rp_doc *d, rp_block *b, const cJSON *o, const char *path, int i, const char *dir);

static const char *text_or(const cJSON *o, const char *k, const char *def) {
    return jstr(o, k) ? jstr(o, k) : def;
}

static int load_markdown(rp_doc *d, rp_block *b, const cJSON *o, const char *path, int i, const char *dir) {
    b->md = rp_md_parse(d, text_or(o, "text", ""));
    return 0;
}

static int load_code(rp_doc *d, rp_block *b, const cJSON *o, const char *path, int i, const char *dir) {
    b->text = strdup(text_or(o, "text", ""));
    b->lang = strdup(text_or(o, "lang", "lua"));
    return 0;
}

static int load_output(rp_doc *d, rp_block *b, const cJSON *o, const char *path, int i, const char *dir) {
    b->text = strdup(text_or(o, "text", ""));
    return 0;
}

static int load_figure(rp_doc *d, rp_block *b, const cJSON *o, const char *path, int i, const char *dir) {
    b->width = jnum(o, "width", 1.0);
    if (b->width <= 0.05 || b->width > 1.0) b->width = 1.0;
    b->caption = rp_md_parse(d, text_or(o, "caption", ""));
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(o, "spec");
    char err[256] = "";
    b->spec = cJSON_IsObject(spec) ? fg_spec_from_cjson(spec, dir, err, sizeof err) : NULL;
    if (!b->spec) {   /* drawn as a marked empty box; the report goes on */
        b->spec_err = strdup(spec ? err : "figure has no spec");
        fprintf(stderr, "clipbook render: warning: %s: block %d: %s\n", path, i, b->spec_err);
    }
    return 0;
}

static int load_table_block(rp_doc *d, rp_block *b, const cJSON *o, const char *path, int i, const char *dir) {
    b->caption = rp_md_parse(d, text_or(o, "caption", ""));
    return load_table(d, b, o, path, i);
}

static int load_callout(rp_doc *d, rp_block *b, const cJSON *o, const char *path, int i, const char *dir) {
    b->callout = strdup(text_or(o, "kind", "note"));
    b->md = rp_md_parse(d, text_or(o, "text", ""));
    return 0;
}

static int load_error(rp_doc *d, rp_block *b, const cJSON *o, const char *path, int i, const char *dir) {
    b->message = strdup(text_or(o, "message", "error"));
    b->traceback = dupstr(jstr(o, "traceback"));
    return 0;
}

/* Indexed by rp_block_kind; a kind added to the enum without its row here
 * fails the build (the assert below), one left NULL fails the report tests. */
static const struct { const char *name; block_loader load; } block_kinds[] = {
    [RP_B_MD]      = { "markdown", load_markdown },
    [RP_B_CODE]    = { "code",     load_code },
    [RP_B_OUTPUT]  = { "output",   load_output },
    [RP_B_FIGURE]  = { "figure",   load_figure },
    [RP_B_TABLE]   = { "table",    load_table_block },
    [RP_B_CALLOUT] = { "callout",  load_callout },
    [RP_B_ERROR]   = { "error",    load_error },
};
_Static_assert(sizeof block_kinds / sizeof block_kinds[0] == RP_B_COUNT,
               "every rp_block_kind needs a name and a loader in block_kinds[]");

const char *rp_block_kind_name(rp_block_kind k) {
    return (unsigned)k < RP_B_COUNT ? block_kinds[k].name : NULL;
}

int rp_block_kind_parse(const char *name) {
    for (int k = 0; k < RP_B_COUNT; k++)
        if (block_kinds[k].name && !strcmp(block_kinds[k].name, name)) return k;
    return -1;
}

/* "markdown, code, ..." for the unknown-type message. */
static const char *kind_list(void) {
    static char buf[256];
    if (!buf[0])
        for (int k = 0; k < RP_B_COUNT; k++)
            snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", k ? ", " : "", block_kinds[k].name);
    return buf;
}

int rp_doc_load_chapter(rp_doc *d, const char *path) {
    size_t len;
    char *text = en_file_read(path, &len);
    if (!text) return -1;
    /* JSON is UTF-8 (RFC 8259); pango would drop what follows a bad byte */
    long bad = en_utf8_invalid_at(text, len);
    if (bad >= 0) {
        long line = 1;
        for (long i = 0; i < bad; i++) line += text[i] == '\n';
        unsigned char byte = (unsigned char)text[bad];
        free(text);
        return en_error("%s: not valid UTF-8 (byte 0x%02X at byte offset %ld, line %ld); rerun its chapter "
                        "with a clipbook that writes valid fragments", path, byte, bad, line);
    }
    if (strlen(text) != len) {
        long at = (long)strlen(text);
        free(text);
        return en_error("%s: a NUL byte at byte offset %ld", path, at);
    }
    cJSON *root = cJSON_Parse(text);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        long off = at && at >= text && at <= text + len ? (long)(at - text) : -1;
        char *near = printable(at ? at : "?");
        if (strlen(near) > 20) near[20] = 0;
        en_error("%s: not valid JSON (at byte offset %ld, near '%s')", path, off, near);
        free(near);
        free(text);
        return -1;
    }
    free(text);
    int rc = -1;
    int first_chapter = d->nchapters;
    const char *fmt = jstr(root, "format");
    if (!fmt || strcmp(fmt, RP_DOC_FORMAT)) { en_error("%s: format is not %s", path, RP_DOC_FORMAT); goto out; }
    const cJSON *blocks = cJSON_GetObjectItemCaseSensitive(root, "blocks");
    if (!cJSON_IsArray(blocks)) { en_error("%s: no 'blocks' array", path); goto out; }
    d->chapters = realloc(d->chapters, (d->nchapters + 1) * sizeof *d->chapters);
    EN_ASSERT(d->chapters);
    rp_chapter *ch = &d->chapters[d->nchapters++];
    memset(ch, 0, sizeof *ch);
    char *pc = strdup(path);
    const char *st = jstr(root, "chapter");
    ch->stem = strdup(st ? st : basename(pc));
    free(pc);
    ch->path = strdup(path);
    ch->source = dupstr(jstr(root, "source"));
    const cJSON *pv = cJSON_GetObjectItemCaseSensitive(root, "provenance");
    if (cJSON_IsObject(pv)) {   /* one quiet line at the chapter's end */
        char buf[512];
        int k = 0;
        if (jstr(pv, "profile")) k += snprintf(buf + k, sizeof buf - k, "profile %s", jstr(pv, "profile"));
        if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(pv, "seed")) && k < 400)
            k += snprintf(buf + k, sizeof buf - k, "%sseed %g", k ? " \xc2\xb7 " : "", jnum(pv, "seed", 0));
        if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(pv, "threads")) && k < 400)
            k += snprintf(buf + k, sizeof buf - k, "%s%g threads", k ? " \xc2\xb7 " : "", jnum(pv, "threads", 0));
        /* not wall_s: it changes from run to run, and two runs from one cache
         * must render the same bytes (tests/e2e/report_repro.sh) */
        if (jstr(pv, "engine_version") && k < 400)
            k += snprintf(buf + k, sizeof buf - k, "%sengine %s", k ? " \xc2\xb7 " : "", jstr(pv, "engine_version"));
        if (k) ch->prov = strdup(buf);
    }
    int n = cJSON_GetArraySize(blocks);
    ch->blocks = calloc(n ? n : 1, sizeof *ch->blocks);
    EN_ASSERT(ch->blocks);
    char base[4096];
    snprintf(base, sizeof base, "%s", path);
    char *dir = dirname(base);
    ch->dir = strdup(dir);
    for (int i = 0; i < n; i++) {
        const cJSON *o = cJSON_GetArrayItem(blocks, i);
        const char *type = jstr(o, "type");
        rp_block *b = &ch->blocks[ch->nblocks++];
        if (!type) { en_error("%s: block %d has no type", path, i + 1); goto out; }
        b->title = dupstr(jstr(o, "title"));
        b->label = dupstr(jstr(o, "label"));
        b->cell = jint(o, "cell", 0);
        b->line = jint(o, "line", 0);
        const cJSON *nums = cJSON_GetObjectItemCaseSensitive(o, "numbers");
        b->numbers = cJSON_IsTrue(nums);
        int k = rp_block_kind_parse(type);
        if (k < 0) {
            en_error("%s: block %d: unknown type '%s' (one of: %s)", path, i + 1, type, kind_list());
            goto out;
        }
        b->kind = (rp_block_kind)k;
        if (block_kinds[k].load(d, b, o, path, i + 1, dir)) goto out;
    }
    rc = 0;
out:
    if (rc && d->nchapters > first_chapter) {   /* leave the document as it was */
        rp_chapter *bad_ch = &d->chapters[--d->nchapters];
        g_numbered = d->numbered;
        for (int i = 0; i < bad_ch->nblocks; i++) free_block(&bad_ch->blocks[i]);
        free(bad_ch->blocks); free(bad_ch->stem); free(bad_ch->source); free(bad_ch->path);
        free(bad_ch->dir); free(bad_ch->prov);
    }
    cJSON_Delete(root);
    return rc;
}

int rp_doc_load_meta(rp_doc *d, const char *path) {
    char *text = en_file_read(path, NULL);
    if (!text) return -1;
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root) return en_error("%s: not valid JSON", path);
    free(d->title); free(d->subtitle); free(d->date);
    d->title = dupstr(jstr(root, "title"));
    d->subtitle = dupstr(jstr(root, "subtitle"));
    d->date = dupstr(jstr(root, "date"));
    const cJSON *au = cJSON_GetObjectItemCaseSensitive(root, "authors");
    if (cJSON_IsArray(au)) {
        int n = cJSON_GetArraySize(au);
        d->authors = calloc(n + 1, sizeof *d->authors);
        for (int i = 0; i < n; i++) {
            const cJSON *a = cJSON_GetArrayItem(au, i);
            if (cJSON_IsString(a)) d->authors[d->nauthors++] = strdup(a->valuestring);
        }
    }
    if (jstr(root, "abstract")) d->abstract = rp_md_parse(d, jstr(root, "abstract"));
    const cJSON *refs = cJSON_GetObjectItemCaseSensitive(root, "references");
    if (cJSON_IsArray(refs)) {
        int n = cJSON_GetArraySize(refs);
        d->refs = calloc(n + 1, sizeof *d->refs);
        for (int i = 0; i < n; i++) {
            const cJSON *r = cJSON_GetArrayItem(refs, i);
            if (!jstr(r, "key")) { cJSON_Delete(root); return en_error("%s: reference %d has no key", path, i + 1); }
            rp_ref *x = &d->refs[d->nrefs++];
            x->key = strdup(jstr(r, "key"));
            x->authors = dupstr(jstr(r, "authors"));
            x->title = dupstr(jstr(r, "title"));
            x->venue = dupstr(jstr(r, "venue"));
            x->url = dupstr(jstr(r, "url"));
            x->year = jint(r, "year", 0);
        }
    }
    cJSON_Delete(root);
    return 0;
}

/* Before numbering, heading nodes hold their malloc'd {#label} as user data. */
static int g_numbered;
static void free_md(cmark_node *doc) {
    if (!doc) return;
    if (!g_numbered) {
        cmark_iter *it = cmark_iter_new(doc);
        cmark_event_type ev;
        while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
            cmark_node *n = cmark_iter_get_node(it);
            if (ev == CMARK_EVENT_ENTER && cmark_node_get_type(n) == CMARK_NODE_HEADING)
                free(cmark_node_get_user_data(n));
        }
        cmark_iter_free(it);
    }
    cmark_node_free(doc);
}

static void free_block(rp_block *b) {
    free(b->text); free(b->lang); free(b->title); free(b->label); free(b->callout);
    free(b->message); free(b->traceback); free(b->spec_err);
    if (b->spec) fg_spec_free(b->spec);
    free_md(b->md);
    free_md(b->caption);
    if (b->cells) {
        for (int i = 0; i < (b->nrows + 1) * b->ncols; i++)
            free_md(b->cells[i]);
        free(b->cells);
    }
    free(b->align);
}

void rp_doc_free(rp_doc *d) {
    if (!d) return;
    g_numbered = d->numbered;
    for (int c = 0; c < d->nchapters; c++) {
        rp_chapter *ch = &d->chapters[c];
        for (int i = 0; i < ch->nblocks; i++) free_block(&ch->blocks[i]);
        free(ch->blocks); free(ch->stem); free(ch->source); free(ch->path); free(ch->dir); free(ch->prov);
    }
    free(d->chapters);
    for (int i = 0; i < d->nsp; i++) {
        free(d->sp[i].text); free(d->sp[i].label); free(d->sp[i].err);
        if (d->sp[i].math) rp_math_free(d->sp[i].math);
    }
    free(d->sp);
    for (int i = 0; i < d->nlabels; i++) { free(d->labels[i].label); free(d->labels[i].number); free(d->labels[i].title); }
    free(d->labels);
    for (int i = 0; i < d->nrefs; i++) {
        rp_ref *r = &d->refs[i];
        free(r->key); free(r->authors); free(r->title); free(r->venue); free(r->url);
    }
    free(d->refs);
    for (int i = 0; i < d->nauthors; i++) free(d->authors[i]);
    free(d->authors);
    free(d->title); free(d->subtitle); free(d->date);
    free_md(d->abstract);
    free(d);
}
