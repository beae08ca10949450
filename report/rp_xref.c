/* rp_xref — numbering across chapters, in chapter order: sections (level 1
 * = chapter number, then 2.1, 2.1.3), figures, tables and labelled
 * equations (one sequence each for the whole report), citations (in order
 * of first citation). Labels are global. A label defined a second time is
 * an error block after the block that defines it again, naming both
 * chapters; references go to the first, the rest of the report renders,
 * and d->nerrors counts it (render then exits 1). */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "en_error.h"
#include "rp_model.h"

/* Duplicates found while numbering, turned into error blocks afterwards
 * (inserting while walking the blocks would move them under the walk). */
typedef struct { int chapter, block; char *msg; } dup_err;
static dup_err *g_dups;
static int g_ndups, g_block;

static const char *chapter_name(const rp_doc *d, int c) {
    if (c < 0) return "the abstract (meta.json)";
    const rp_chapter *ch = &d->chapters[c];
    return ch->source ? ch->source : ch->path ? ch->path : ch->stem;
}

static int add_label(rp_doc *d, const char *label, char kind, const char *number, const char *title,
                     int level, int chapter) {
    for (int i = 0; i < d->nlabels; i++)
        if (!strcmp(d->labels[i].label, label)) {
            char msg[1024];
            int other = d->labels[i].chapter;
            if (other == chapter)
                snprintf(msg, sizeof msg, "label '%s' is defined twice in %s; references to it go to the first",
                         label, chapter_name(d, chapter));
            else
                snprintf(msg, sizeof msg, "label '%s' is defined in %s and again in %s; references to it go to "
                         "the first (%s)", label, chapter_name(d, other), chapter_name(d, chapter),
                         chapter_name(d, other));
            fprintf(stderr, "clipbook render: %s\n", msg);
            d->nerrors++;
            g_dups = realloc(g_dups, (g_ndups + 1) * sizeof *g_dups);
            EN_ASSERT(g_dups);
            g_dups[g_ndups++] = (dup_err){ chapter, g_block, strdup(msg) };
            return en_error("%s", msg);
        }
    if (d->nlabels == d->caplabels) {
        d->caplabels = d->caplabels ? d->caplabels * 2 : 64;
        d->labels = realloc(d->labels, d->caplabels * sizeof *d->labels);
        EN_ASSERT(d->labels);
    }
    rp_label *l = &d->labels[d->nlabels];
    l->label = strdup(label);
    l->kind = kind;
    l->number = strdup(number);
    l->title = title ? strdup(title) : NULL;
    l->level = level;
    l->chapter = chapter;
    l->node = NULL;
    return d->nlabels++;
}

static int label_exists(const rp_doc *d, const char *label) { return rp_xref_find(d, label) != NULL; }

typedef struct { int chap, s2, s3, fig, tbl, eq; } counters;

static int number_md(rp_doc *d, cmark_node *doc, counters *k, int chapter, int headings) {
    cmark_iter *it = cmark_iter_new(doc);
    cmark_event_type ev;
    int rc = 0;
    while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
        cmark_node *n = cmark_iter_get_node(it);
        if (ev != CMARK_EVENT_ENTER) continue;
        cmark_node_type t = cmark_node_get_type(n);
        if (t == CMARK_NODE_HEADING) {
            char *given = cmark_node_get_user_data(n);
            cmark_node_set_user_data(n, NULL);
            int level = cmark_node_get_heading_level(n);
            if (!headings || level > 3) { free(given); continue; }
            char num[64];
            if (level == 1) { k->chap++; k->s2 = k->s3 = 0; snprintf(num, sizeof num, "%d", k->chap); }
            else if (level == 2) { k->s2++; k->s3 = 0; snprintf(num, sizeof num, "%d.%d", k->chap, k->s2); }
            else { k->s3++; snprintf(num, sizeof num, "%d.%d.%d", k->chap, k->s2, k->s3); }
            char *title = rp_md_plain(d, n);
            char lab[160];
            if (given) snprintf(lab, sizeof lab, "%s", given);
            else {   /* derived: sec-<slug of the title>, made unique */
                size_t j = snprintf(lab, sizeof lab, "sec-");
                for (const char *p = title; *p && j < 100; p++) {
                    if (isalnum((unsigned char)*p)) lab[j++] = tolower((unsigned char)*p);
                    else if (j > 4 && lab[j - 1] != '-') lab[j++] = '-';
                }
                while (j > 4 && lab[j - 1] == '-') j--;
                lab[j] = 0;
                if (j == 4) snprintf(lab, sizeof lab, "sec-%s", num);
                char base[160];
                memcpy(base, lab, sizeof base);
                for (int u = 2; label_exists(d, lab); u++) snprintf(lab, sizeof lab, "%.140s-%d", base, u);
            }
            free(given);
            int idx = add_label(d, lab, 's', num, title, level, chapter);
            free(title);
            if (idx < 0) rc = -1;   /* keep going: every heading must lose its string */
            else {
                cmark_node_set_user_data(n, (void *)(intptr_t)(idx + 1));
                d->labels[idx].node = n;
            }
        } else if (t == CMARK_NODE_TEXT) {
            const char *s = cmark_node_get_literal(n), *end;
            char kind;
            int idx;
            while ((s = rp_md_placeholder(s, &kind, &idx, &end))) {
                s = end;
                if (kind != RP_SP_DMATH || !d->sp[idx].label) continue;
                char num[32];
                snprintf(num, sizeof num, "%d", ++k->eq);
                if (add_label(d, d->sp[idx].label, 'e', num, NULL, 0, chapter) < 0) { rc = -1; break; }
            }
        }
    }
    cmark_iter_free(it);
    return rc;
}

/* The second definition loses its label (one anchor per label in HTML). */
static void drop_label(rp_block *b) { free(b->label); b->label = NULL; }

/* Each duplicate becomes an error block right after the block that
 * defined the label again. */
static void insert_dup_errors(rp_doc *d) {
    for (int e = g_ndups - 1; e >= 0; e--) {   /* from the end: earlier indices stay valid */
        dup_err *x = &g_dups[e];
        if (x->chapter < 0) { free(x->msg); continue; }
        rp_chapter *ch = &d->chapters[x->chapter];
        ch->blocks = realloc(ch->blocks, (ch->nblocks + 1) * sizeof *ch->blocks);
        EN_ASSERT(ch->blocks);
        int at = x->block + 1;
        memmove(&ch->blocks[at + 1], &ch->blocks[at], (ch->nblocks - at) * sizeof *ch->blocks);
        memset(&ch->blocks[at], 0, sizeof *ch->blocks);
        ch->blocks[at].kind = RP_B_ERROR;
        ch->blocks[at].title = strdup("duplicate label");
        ch->blocks[at].message = x->msg;
        ch->nblocks++;
    }
    free(g_dups);
    g_dups = NULL;
    g_ndups = 0;
}

int rp_xref_number(rp_doc *d) {
    counters k = {0};
    char num[32];
    d->numbered = 1;
    g_block = 0;
    if (d->abstract) number_md(d, d->abstract, &k, -1, 0);
    for (int c = 0; c < d->nchapters; c++) {
        rp_chapter *ch = &d->chapters[c];
        for (int i = 0; i < ch->nblocks; i++) {
            rp_block *b = &ch->blocks[i];
            g_block = i;
            if (b->md) number_md(d, b->md, &k, c, b->kind == RP_B_MD);
            if (b->caption) number_md(d, b->caption, &k, c, 0);
            for (int j = 0; b->cells && j < (b->nrows + 1) * b->ncols; j++)
                number_md(d, b->cells[j], &k, c, 0);
            if (b->kind == RP_B_FIGURE) {
                b->number = ++k.fig;
                snprintf(num, sizeof num, "%d", b->number);
                if (b->label && add_label(d, b->label, 'f', num, NULL, 0, c) < 0) drop_label(b);
            } else if (b->kind == RP_B_TABLE) {
                b->number = ++k.tbl;
                snprintf(num, sizeof num, "%d", b->number);
                if (b->label && add_label(d, b->label, 't', num, NULL, 0, c) < 0) drop_label(b);
            }
        }
    }
    insert_dup_errors(d);
    /* Citations: numbered in order of first citation. */
    int next = 0;
    for (int i = 0; i < d->nsp; i++) {
        if (d->sp[i].kind != RP_SP_CITE) continue;
        char *keys = strdup(d->sp[i].text), *save = NULL;
        for (char *key = strtok_r(keys, ";", &save); key; key = strtok_r(NULL, ";", &save)) {
            rp_ref *r = (rp_ref *)rp_xref_ref(d, key);
            if (!r) fprintf(stderr, "clipbook render: warning: no reference '%s' in meta.json\n", key);
            else if (!r->number) r->number = ++next;
        }
        free(keys);
    }
    for (int i = 0; i < d->nrefs; i++)
        if (!d->refs[i].number) d->refs[i].number = ++next;
    for (int i = 0; i < d->nsp; i++)
        if (d->sp[i].kind == RP_SP_XREF && !label_exists(d, d->sp[i].text))
            fprintf(stderr, "clipbook render: warning: unresolved reference @%s\n", d->sp[i].text);
    return 0;
}

const rp_label *rp_xref_find(const rp_doc *d, const char *label) {
    for (int i = 0; i < d->nlabels; i++)
        if (!strcmp(d->labels[i].label, label)) return &d->labels[i];
    return NULL;
}

char *rp_xref_text(const rp_doc *d, const char *label) {
    const rp_label *l = rp_xref_find(d, label);
    if (!l) return NULL;
    char buf[256];
    switch (l->kind) {
    case 's': snprintf(buf, sizeof buf, "Section %s", l->number); break;
    case 'f': snprintf(buf, sizeof buf, "Figure %s", l->number); break;
    case 't': snprintf(buf, sizeof buf, "Table %s", l->number); break;
    default:  snprintf(buf, sizeof buf, "Equation (%s)", l->number); break;
    }
    return strdup(buf);
}

const rp_ref *rp_xref_ref(const rp_doc *d, const char *key) {
    for (int i = 0; i < d->nrefs; i++)
        if (!strcmp(d->refs[i].key, key)) return &d->refs[i];
    return NULL;
}

int rp_xref_heading_label(cmark_node *heading) {
    return (int)(intptr_t)cmark_node_get_user_data(heading) - 1;
}
