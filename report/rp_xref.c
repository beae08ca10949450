/* rp_xref — numbering across chapters, in chapter order: sections (level 1
 * = chapter number, then 2.1, 2.1.3), figures, tables and labelled
 * equations (one sequence each for the whole report), citations (in order
 * of first citation). Labels are global; a duplicate label is an error. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "en_error.h"
#include "rp_model.h"

static int add_label(rp_doc *d, const char *label, char kind, const char *number, const char *title,
                     int level, int chapter) {
    for (int i = 0; i < d->nlabels; i++)
        if (!strcmp(d->labels[i].label, label))
            return en_error("label '%s' is defined twice", label);
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

int rp_xref_number(rp_doc *d) {
    counters k = {0};
    char num[32];
    d->numbered = 1;
    int rc = 0;
    if (d->abstract && number_md(d, d->abstract, &k, -1, 0)) rc = -1;
    for (int c = 0; c < d->nchapters; c++) {
        rp_chapter *ch = &d->chapters[c];
        for (int i = 0; i < ch->nblocks; i++) {
            rp_block *b = &ch->blocks[i];
            int bad = 0;
            if (b->md) bad |= number_md(d, b->md, &k, c, b->kind == RP_B_MD);
            if (b->caption) bad |= number_md(d, b->caption, &k, c, 0);
            for (int j = 0; b->cells && j < (b->nrows + 1) * b->ncols; j++)
                bad |= number_md(d, b->cells[j], &k, c, 0);
            if (bad) rc = -1;
            if (b->kind == RP_B_FIGURE) {
                b->number = ++k.fig;
                snprintf(num, sizeof num, "%d", b->number);
                if (b->label && add_label(d, b->label, 'f', num, NULL, 0, c) < 0) rc = -1;
            } else if (b->kind == RP_B_TABLE) {
                b->number = ++k.tbl;
                snprintf(num, sizeof num, "%d", b->number);
                if (b->label && add_label(d, b->label, 't', num, NULL, 0, c) < 0) rc = -1;
            } else if (b->kind == RP_B_MATH && b->label) {
                b->number = ++k.eq;
                snprintf(num, sizeof num, "%d", b->number);
                if (add_label(d, b->label, 'e', num, NULL, 0, c) < 0) rc = -1;
            }
        }
    }
    if (rc) return -1;
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
