/* SVG for inlining: every id carries the prefix, every reference points at
 * an id of the same document, and two figures share no id. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg.h"

char *fgt_read(const char *path);

static int count_ids(const char *svg, const char *prefix, int *bad) {
    int n = 0;
    *bad = 0;
    for (const char *p = svg; (p = strstr(p, "id=\"")); p += 4) {
        n++;
        if (strncmp(p + 4, prefix, strlen(prefix))) (*bad)++;
    }
    return n;
}

static int refs_resolve(const char *svg, int *nrefs) {
    const char *pats[] = { "href=\"#", "url(#" };
    *nrefs = 0;
    for (int k = 0; k < 2; k++)
        for (const char *p = svg; (p = strstr(p, pats[k])); p++) {
            const char *q = p + strlen(pats[k]);
            size_t L = strcspn(q, "\")");
            char want[256];
            snprintf(want, sizeof want, "id=\"%.*s\"", (int)L, q);
            if (!strstr(svg, want)) { printf("figures: unresolved reference %s\n", want); return 0; }
            (*nrefs)++;
        }
    return 1;
}

Test(svg, prefixed_ids) {
    char err[256];
    char *json = fgt_read("tests/figures/ref/heatmap.json");
    cr_assert(json);
    fg_spec *s = fg_spec_parse(json, "tests/figures/ref", err, sizeof err);
    free(json);
    cr_assert(s, "%s", err);
    size_t n1, n2;
    char *a = fg_render_svg(s, 390, 0, "fig1-", &n1, err, sizeof err);
    char *b = fg_render_svg(s, 390, 0, "fig2-", &n2, err, sizeof err);
    cr_assert(a && b, "%s", err);
    cr_assert_eq(strlen(a), n1);
    cr_assert(strstr(a, "<svg") && strstr(a, "</svg>"));
    int bad, nrefs;
    int nid = count_ids(a, "fig1-", &bad);
    printf("figures: inline SVG %zu bytes, %d ids, %d without prefix\n", n1, nid, bad);
    cr_assert_gt(nid, 5);
    cr_assert_eq(bad, 0);
    cr_assert(refs_resolve(a, &nrefs));
    cr_assert_gt(nrefs, 5, "%d references", nrefs);
    cr_assert(!strstr(b, "id=\"fig1-"), "the second figure shares ids with the first");
    free(a); free(b);
    fg_spec_free(s);
}
