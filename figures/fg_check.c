/* fg_check — the chapter runner's check of a figure spec (fg_spec_check in
 * fg.h): the structure as fg_spec_parse sees it, pictures not decoded; then
 * long line series thinned for drawing and data no page can show refused.
 *
 * Thinning keeps, in each of FG_THIN_COLUMNS equal columns of the visible x
 * range (in axis units: log exponents on a log axis), the first, lowest,
 * highest and last point of every unbroken run (the M4 rule of Jugel et al.,
 * VLDB 2014) and the neighbours of the lowest and highest. A polyline
 * through those points covers the same pixels of any column at least as
 * wide as a thinning column, with the same slopes into and out of every
 * extreme, so at any resolution up to FG_THIN_COLUMNS pixels across the
 * plot the picture is the one the full series draws, up to the antialiased
 * coverage of edge pixels. Gaps (null, NaN, <= 0 on a log axis) are kept.
 * Only plain lines are thinned: a series with markers, a band (lo/hi/err)
 * or smoothing draws every point differently, and stays whole. */
#include <cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "fg_internal.h"

static double num_item(const cJSON *e) {
    return cJSON_IsNumber(e) && isfinite(e->valuedouble) ? e->valuedouble : NAN;
}

static int present(const cJSON *o, const char *key) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    return j && !cJSON_IsNull(j) && !cJSON_IsFalse(j);
}

static fg_scale_kind scale_named(const cJSON *o, const char *key) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsString(j)) return FG_SCALE_LINEAR;
    if (!strcmp(j->valuestring, "log2")) return FG_SCALE_LOG2;
    if (!strcmp(j->valuestring, "log10") || !strcmp(j->valuestring, "log")) return FG_SCALE_LOG10;
    if (!strcmp(j->valuestring, "category") || !strcmp(j->valuestring, "categorical")) return FG_SCALE_CATEGORY;
    return FG_SCALE_LINEAR;
}

static double num_named(const cJSON *o, const char *key) {
    return num_item(cJSON_GetObjectItemCaseSensitive(o, key));
}

typedef struct {
    fg_scale_kind xs, ys;
    double vlo, vhi;    /* the visible x range in axis units, NAN: the data's */
    int markers, smooth; /* the spec's: markers on, curve smoothing on */
} line_ctx;

/* Thin one series in place. 0 (thinned or left alone), -1 with err. */
static int thin_series(cJSON *se, const line_ctx *L, int idx, int *changed, char *err, size_t errlen) {
    cJSON *yj = cJSON_GetObjectItemCaseSensitive(se, "y");
    cJSON *xj = cJSON_GetObjectItemCaseSensitive(se, "x");
    int n = cJSON_IsArray(yj) ? cJSON_GetArraySize(yj) : 0;
    if (n <= FG_THIN_MIN) return 0;
    if (present(se, "lo") || present(se, "hi") || present(se, "err") || present(se, "sd")) return 0;
    const cJSON *mk = cJSON_GetObjectItemCaseSensitive(se, "marker");
    int marked = mk ? !(cJSON_IsFalse(mk) || (cJSON_IsString(mk) && !strcmp(mk->valuestring, "none"))) : L->markers;
    double sm = num_named(se, "smooth");
    if (marked || (isfinite(sm) ? sm > 0 : L->smooth) || L->xs == FG_SCALE_CATEGORY) return 0;
    if (xj && (!cJSON_IsArray(xj) || cJSON_GetArraySize(xj) != n)) return 0;   /* fg_spec_parse has said so */

    double *t = malloc((size_t)n * sizeof *t), *y = malloc((size_t)n * sizeof *y), *ty = malloc((size_t)n * sizeof *ty);
    char *keep = calloc((size_t)n, 1);
    int rc = 0, sorted = 1;
    if (!t || !y || !ty || !keep) { fg_err(err, errlen, "out of memory"); rc = -1; goto out; }
    const cJSON *xe = xj ? xj->child : NULL, *ye = yj->child;
    for (int j = 0; j < n; j++, ye = ye->next) {
        double x = xj ? num_item(xe) : j + 1;
        if (xj) xe = xe->next;
        t[j] = fg_scale_t(L->xs, x);
        y[j] = num_item(ye);
        ty[j] = fg_scale_t(L->ys, y[j]);
        if (!isfinite(t[j]) || (j && t[j] < t[j - 1])) sorted = 0;
    }
    if (!sorted) {
        if (n > 8 * FG_THIN_MIN) {
            fg_err(err, errlen, "series %d: %d points on an unsorted x are more than a page can show "
                   "(sort x to have it thinned, or keep at most %d points)", idx + 1, n, 8 * FG_THIN_MIN);
            rc = -1;
        }
        goto out;
    }
    double lo = isfinite(L->vlo) && L->vlo > t[0] ? L->vlo : t[0];
    double hi = isfinite(L->vhi) && L->vhi < t[n - 1] ? L->vhi : t[n - 1];
    double scale = hi > lo ? FG_THIN_COLUMNS / (hi - lo) : 0;
    int kept = 0;
    for (int j = 0; j < n;) {
        if (!isfinite(ty[j])) { keep[j] = 1; j++; continue; }
        /* points left or right of the visible range get columns of the same
         * width out there, so a line entering the plot keeps its slope */
        double b = floor((t[j] - lo) * scale);
        if (t[j] == hi) b = FG_THIN_COLUMNS - 1;
        int first = j, mn = j, mx = j, last = j;
        for (j++; j < n && isfinite(ty[j]); j++) {
            double bj = t[j] == hi ? FG_THIN_COLUMNS - 1 : floor((t[j] - lo) * scale);
            if (bj != b) break;
            if (y[j] < y[mn]) mn = j;
            if (y[j] > y[mx]) mx = j;
            last = j;
        }
        keep[first] = keep[mn] = keep[mx] = keep[last] = 1;
        /* and the extremes' neighbours: the segments into and out of a peak
         * keep their slope, so its antialiased edges are the same too */
        int nb[4] = { mn - 1, mn + 1, mx - 1, mx + 1 };
        for (int q = 0; q < 4; q++)
            if (nb[q] >= 0 && nb[q] < n && isfinite(ty[nb[q]])) keep[nb[q]] = 1;
    }
    for (int j = 0; j < n; j++) kept += keep[j];
    if (kept > n / 2) goto out;   /* not worth a rewrite */
    cJSON *nx = cJSON_CreateArray(), *ny = cJSON_CreateArray();
    if (!nx || !ny) { cJSON_Delete(nx); cJSON_Delete(ny); fg_err(err, errlen, "out of memory"); rc = -1; goto out; }
    xe = xj ? xj->child : NULL;
    for (int j = 0; j < n; j++) {
        const cJSON *xv = xe;
        if (xj) xe = xe->next;
        if (!keep[j]) continue;
        cJSON_AddItemToArray(nx, cJSON_CreateNumber(xj ? xv->valuedouble : j + 1));
        cJSON_AddItemToArray(ny, isfinite(y[j]) ? cJSON_CreateNumber(y[j]) : cJSON_CreateNull());
    }
    cJSON_ReplaceItemInObjectCaseSensitive(se, "y", ny);
    if (xj) cJSON_ReplaceItemInObjectCaseSensitive(se, "x", nx);
    else cJSON_AddItemToObject(se, "x", nx);
    *changed = 1;
out:
    free(t); free(y); free(ty); free(keep);
    return rc;
}

/* Inline pixels under o (image objects with width, height and pixels or
 * values), summed into *px. */
static void count_pixels(const cJSON *o, double *px) {
    for (const cJSON *e = o; e; e = e->next) {
        if (cJSON_IsObject(e) && (present(e, "pixels") || present(e, "values"))) {
            double w = num_named(e, "width"), h = num_named(e, "height");
            if (w > 0 && h > 0) *px += w * h;
        }
        if (e->child) count_pixels(e->child, px);
    }
}

static int walk(cJSON *o, int *changed, char *err, size_t errlen) {
    const cJSON *kj = cJSON_GetObjectItemCaseSensitive(o, "kind");
    int kind = fg_kind_of(cJSON_IsString(kj) ? kj->valuestring : NULL);
    if (kind == FG_LINE || kind == FG_CURVE) {
        const cJSON *mk = cJSON_GetObjectItemCaseSensitive(o, "markers");
        double sm = num_named(o, "smooth");
        line_ctx L = { .xs = scale_named(o, "x_scale"), .ys = scale_named(o, "y_scale"),
                       .markers = cJSON_IsTrue(mk), .smooth = kind == FG_CURVE && sm > 0 && sm < 1 };
        L.vlo = fg_scale_t(L.xs, num_named(o, "x_min"));
        L.vhi = fg_scale_t(L.xs, num_named(o, "x_max"));
        cJSON *series = cJSON_GetObjectItemCaseSensitive(o, "series");
        int i = 0;
        for (cJSON *se = cJSON_IsArray(series) ? series->child : NULL; se; se = se->next, i++)
            if (cJSON_IsObject(se) && thin_series(se, &L, i, changed, err, errlen)) return -1;
    } else if (kind == FG_HEATMAP) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "values");
        double cells = 0, cols = 0;
        for (const cJSON *r = cJSON_IsArray(v) ? v->child : NULL; r; r = r->next) {
            double c = cJSON_IsArray(r) ? cJSON_GetArraySize(r) : 0;
            if (c > cols) cols = c;
            cells += 1;
        }
        cells *= cols;
        if (cells > FG_MAX_HEATMAP) {
            fg_err(err, errlen, "heatmap: %.0f cells are more than a page can show (at most %d, e.g. 500x500: "
                   "average blocks of cells first)", cells, FG_MAX_HEATMAP);
            return -1;
        }
    } else if (kind == FG_IMAGE_GRID || kind == FG_MASK_OVERLAY) {
        double px = 0;
        count_pixels(o->child, &px);
        if (px > FG_MAX_PIXELS) {
            fg_err(err, errlen, "%s: %.0f inline pixels are more than a page can show (at most %d in all: "
                   "downscale the pictures first)", fg_kind_names[kind], px, FG_MAX_PIXELS);
            return -1;
        }
    } else if (kind == FG_PANELS) {
        cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "panels");
        int i = 0;
        for (cJSON *e = cJSON_IsArray(p) ? p->child : NULL; e; e = e->next, i++) {
            char sub[256];
            if (cJSON_IsObject(e) && walk(e, changed, sub, sizeof sub)) {
                fg_err(err, errlen, "panel %d: %s", i + 1, sub);
                return -1;
            }
        }
    }
    return 0;
}

int fg_spec_check(const char *json, const char *base_dir, char **thinned, char *err, size_t errlen) {
    *thinned = NULL;
    if (!json) { fg_err(err, errlen, "no JSON text"); return -1; }
    char *clean = fg_json_nonfinite_to_null(json);
    if (!clean) { fg_err(err, errlen, "out of memory"); return -1; }
    cJSON *o = cJSON_Parse(clean);
    if (!o) {
        const char *at = cJSON_GetErrorPtr();   /* points into clean */
        fg_err(err, errlen, "invalid JSON near '%.24s'", at ? at : "?");
        free(clean);
        return -1;
    }
    free(clean);
    fg_json_empty_objects_to_arrays(o->child);
    int changed = 0, rc = -1;
    if (fg_spec_validate_tree(o, base_dir, err, errlen) == 0 && walk(o, &changed, err, errlen) == 0) {
        rc = 0;
        if (changed && !(*thinned = cJSON_PrintUnformatted(o))) { fg_err(err, errlen, "out of memory"); rc = -1; }
    }
    cJSON_Delete(o);
    return rc;
}
