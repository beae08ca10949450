/* fg_build — building a spec from C without writing JSON: a line, curve or
 * bar figure, its labels, series and reference lines. Other kinds are built
 * as a cJSON tree and passed to fg_spec_from_cjson. Values are copied. */
#include <stdlib.h>
#include <string.h>

#include "fg_internal.h"

fg_spec *fg_spec_new(const char *kind) {
    int k = fg_kind_of(kind);   /* the names: fg_kind_names (fg_spec.c) */
    if (k != FG_LINE && k != FG_CURVE && k != FG_BAR) return NULL;
    fg_spec *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->kind = (fg_kind)k;
    s->x_min = s->x_max = s->y_min = s->y_max = NAN;
    s->vmin = s->vmax = NAN;
    s->grid = 1;
    s->markers = -1;
    s->gap = 2;
    return s;
}

static int set_str(char **dst, const char *v) {
    free(*dst);
    *dst = fg_strdup(v);
    return 0;
}

int fg_spec_set(fg_spec *s, const char *key, const char *value) {
    if (!s || !key) return -1;
    if (!strcmp(key, "title")) return set_str(&s->title, value);
    if (!strcmp(key, "x_label")) return set_str(&s->x_label, value);
    if (!strcmp(key, "y_label")) return set_str(&s->y_label, value);
    if (!strcmp(key, "x_scale") || !strcmp(key, "y_scale")) {
        fg_scale_kind k;
        if (!value) return -1;
        if (!strcmp(value, "linear")) k = FG_SCALE_LINEAR;
        else if (!strcmp(value, "log2")) k = FG_SCALE_LOG2;
        else if (!strcmp(value, "log10") || !strcmp(value, "log")) k = FG_SCALE_LOG10;
        else if (!strcmp(value, "category") && key[0] == 'x') k = FG_SCALE_CATEGORY;
        else return -1;
        if (key[0] == 'x') s->x_scale = k;
        else s->y_scale = k;
        return 0;
    }
    if (!strcmp(key, "legend")) {
        const char *ln[] = { "auto", "none", "upper right", "upper left", "lower right", "lower left", "outside" };
        for (int i = 0; i < 7; i++)
            if (value && !strcmp(value, ln[i])) { s->legend = (fg_legend_pos)i; return 0; }
        return -1;
    }
    return -1;
}

static int vec_copy(fg_vec *v, const double *src, int n) {
    v->v = NULL; v->n = 0;
    if (!src || n <= 0) return 0;
    v->v = malloc(n * sizeof(double));
    if (!v->v) return -1;
    for (int i = 0; i < n; i++) v->v[i] = isfinite(src[i]) ? src[i] : NAN;
    v->n = n;
    return 0;
}

int fg_spec_add_series(fg_spec *s, const char *name, const double *x, const double *y,
                       const double *lo, const double *hi, int n) {
    if (!s || !y || n < 0 || (!lo) != (!hi)) return -1;
    fg_series *ns = realloc(s->series, (s->n_series + 1) * sizeof *ns);
    if (!ns) return -1;
    s->series = ns;
    fg_series *se = &s->series[s->n_series];
    memset(se, 0, sizeof *se);
    se->dash = -1; se->marker = FG_MARK_AUTO; se->smooth = NAN;
    se->name = fg_strdup(name);
    if (vec_copy(&se->x, x, n) || vec_copy(&se->y, y, n) || vec_copy(&se->lo, lo, n) || vec_copy(&se->hi, hi, n)) {
        free(se->name); free(se->x.v); free(se->y.v); free(se->lo.v); free(se->hi.v);
        return -1;
    }
    if (n == 0) { se->y.v = NULL; se->y.n = 0; }
    s->n_series++;
    return 0;
}

int fg_spec_add_hline(fg_spec *s, double y, const char *label) {
    if (!s) return -1;
    fg_refline *r = realloc(s->hlines, (s->n_hlines + 1) * sizeof *r);
    if (!r) return -1;
    s->hlines = r;
    s->hlines[s->n_hlines++] = (fg_refline){ .v = y, .label = fg_strdup(label), .dash = -1 };
    return 0;
}
