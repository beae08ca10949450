/* rp_doc — loads chapter fragments and chapters/meta.json into the model.
 * Fields missing from a block get defaults; a block of an unknown type or a
 * wrong field type is a user error naming the file and block. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "en_error.h"
#include "rp_doc.h"
#include "rp_model.h"

char *rp_doc_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return en_error("%s: %s", path, strerror(errno)), NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    EN_ASSERT(buf);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (n + 1 >= cap) { cap *= 2; buf = realloc(buf, cap); EN_ASSERT(buf); }
    }
    fclose(f);
    buf[n] = 0;
    if (len) *len = n;
    return buf;
}

static char *dupstr(const char *s) { return s ? strdup(s) : NULL; }

static const char *jstr(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}
static double jnum(const cJSON *o, const char *k, double def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : def;
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

int rp_doc_load_chapter(rp_doc *d, const char *path) {
    char *text = rp_doc_read_file(path, NULL);
    if (!text) return -1;
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root) return en_error("%s: not valid JSON (near '%.20s')", path, cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() : "?");
    int rc = -1;
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
        b->cell = (int)jnum(o, "cell", 0);
        b->line = (int)jnum(o, "line", 0);
        const cJSON *nums = cJSON_GetObjectItemCaseSensitive(o, "numbers");
        b->numbers = cJSON_IsTrue(nums);
        if (!strcmp(type, "markdown")) {
            b->kind = RP_B_MD;
            b->md = rp_md_parse(d, jstr(o, "text") ? jstr(o, "text") : "");
        } else if (!strcmp(type, "code")) {
            b->kind = RP_B_CODE;
            b->text = strdup(jstr(o, "text") ? jstr(o, "text") : "");
            b->lang = strdup(jstr(o, "lang") ? jstr(o, "lang") : "lua");
        } else if (!strcmp(type, "output")) {
            b->kind = RP_B_OUTPUT;
            b->text = strdup(jstr(o, "text") ? jstr(o, "text") : "");
        } else if (!strcmp(type, "figure")) {
            b->kind = RP_B_FIGURE;
            b->width = jnum(o, "width", 1.0);
            if (b->width <= 0.05 || b->width > 1.0) b->width = 1.0;
            b->caption = rp_md_parse(d, jstr(o, "caption") ? jstr(o, "caption") : "");
            const cJSON *spec = cJSON_GetObjectItemCaseSensitive(o, "spec");
            char err[256] = "";
            b->spec = cJSON_IsObject(spec) ? fg_spec_from_cjson(spec, dir, err, sizeof err) : NULL;
            if (!b->spec) {   /* drawn as a marked empty box; the report goes on */
                b->spec_err = strdup(spec ? err : "figure has no spec");
                fprintf(stderr, "clipbook render: warning: %s: block %d: %s\n", path, i + 1, b->spec_err);
            }
        } else if (!strcmp(type, "table")) {
            b->kind = RP_B_TABLE;
            b->caption = rp_md_parse(d, jstr(o, "caption") ? jstr(o, "caption") : "");
            if (load_table(d, b, o, path, i + 1)) goto out;
        } else if (!strcmp(type, "math")) {
            b->kind = RP_B_MATH;
            b->text = strdup(jstr(o, "tex") ? jstr(o, "tex") : "");
            char err[256] = "";
            b->math = rp_math_parse(b->text, 1, err, sizeof err);
            if (!b->math) b->math_err = strdup(err);
        } else if (!strcmp(type, "callout")) {
            b->kind = RP_B_CALLOUT;
            b->callout = strdup(jstr(o, "kind") ? jstr(o, "kind") : "note");
            b->md = rp_md_parse(d, jstr(o, "text") ? jstr(o, "text") : "");
        } else if (!strcmp(type, "error")) {
            b->kind = RP_B_ERROR;
            b->message = strdup(jstr(o, "message") ? jstr(o, "message") : "error");
            b->traceback = dupstr(jstr(o, "traceback"));
        } else {
            en_error("%s: block %d: unknown type '%s'", path, i + 1, type);
            goto out;
        }
    }
    rc = 0;
out:
    cJSON_Delete(root);
    return rc;
}

int rp_doc_load_meta(rp_doc *d, const char *path) {
    char *text = rp_doc_read_file(path, NULL);
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
            x->year = (int)jnum(r, "year", 0);
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
    free(b->message); free(b->traceback); free(b->spec_err); free(b->math_err);
    if (b->spec) fg_spec_free(b->spec);
    free_md(b->md);
    free_md(b->caption);
    if (b->cells) {
        for (int i = 0; i < (b->nrows + 1) * b->ncols; i++)
            free_md(b->cells[i]);
        free(b->cells);
    }
    free(b->align);
    if (b->math) rp_math_free(b->math);
}

void rp_doc_free(rp_doc *d) {
    if (!d) return;
    g_numbered = d->numbered;
    for (int c = 0; c < d->nchapters; c++) {
        rp_chapter *ch = &d->chapters[c];
        for (int i = 0; i < ch->nblocks; i++) free_block(&ch->blocks[i]);
        free(ch->blocks); free(ch->stem); free(ch->source); free(ch->dir); free(ch->prov);
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
