/* fg_spec — a figure spec from JSON (cJSON), and its release.
 *
 * Parsing is strict about structure (a wrong type or mismatched lengths is
 * an error naming the field) and lenient about values: null, "NaN" and
 * "inf" become NAN and are drawn as gaps. A PNG that cannot be read is not
 * a parse error: the image keeps the reason and fg_draw reports it. */
#include <cJSON.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fg_internal.h"

#define MAX_DEPTH 4

static char *str_of(const cJSON *o, const char *key) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(j) ? fg_strdup(j->valuestring) : NULL;
}

static double num_of(const cJSON *o, const char *key, double dflt) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsNumber(j)) return j->valuedouble;
    if (cJSON_IsNull(j)) return NAN;
    return dflt;
}

static int bool_of(const cJSON *o, const char *key, int dflt) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsBool(j)) return cJSON_IsTrue(j);
    if (cJSON_IsNumber(j)) return j->valueint != 0;
    return dflt;
}

static double elem_num(const cJSON *e) {
    if (cJSON_IsNumber(e)) return isfinite(e->valuedouble) ? e->valuedouble : NAN;
    return NAN;   /* null, "NaN", "inf", anything else: a gap */
}

/* A number array; absent is fine (n = 0), anything but an array is not. */
static int vec_of(const cJSON *o, const char *key, fg_vec *v, const char *ctx, char *err, size_t errlen) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    v->v = NULL; v->n = 0;
    if (!j || cJSON_IsNull(j)) return 0;
    if (!cJSON_IsArray(j)) { fg_err(err, errlen, "%s: '%s' must be an array of numbers", ctx, key); return -1; }
    int n = cJSON_GetArraySize(j);
    v->v = malloc((n + 1) * sizeof(double));
    if (!v->v) { fg_err(err, errlen, "out of memory"); return -1; }
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, j) v->v[i++] = elem_num(e);
    v->n = n;
    return 0;
}

static int strs_of(const cJSON *o, const char *key, char ***out, int *n, const char *ctx, char *err, size_t errlen) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = NULL; *n = 0;
    if (!j || cJSON_IsNull(j)) return 0;
    if (!cJSON_IsArray(j)) { fg_err(err, errlen, "%s: '%s' must be an array of strings", ctx, key); return -1; }
    int m = cJSON_GetArraySize(j);
    *out = calloc(m + 1, sizeof(char *));
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, j) {
        if (cJSON_IsString(e)) (*out)[i] = fg_strdup(e->valuestring);
        else if (cJSON_IsNumber(e)) {
            char b[48];
            snprintf(b, sizeof b, "%g", e->valuedouble);
            (*out)[i] = fg_strdup(b);
        } else (*out)[i] = fg_strdup("");
        i++;
    }
    *n = m;
    return 0;
}

/* String arrays are NULL-terminated (strs_of allocates n + 1), so they are
 * freed whole even when a count check failed half-way. */
static void strs_free(char **s, int n) {
    (void)n;
    if (!s) return;
    for (int i = 0; s[i]; i++) free(s[i]);
    free(s);
}

static int scale_of(const cJSON *o, const char *key, fg_scale_kind *k, char *err, size_t errlen) {
    char *s = str_of(o, key);
    *k = FG_SCALE_LINEAR;
    if (!s) return 0;
    int rc = 0;
    if (!strcmp(s, "linear")) *k = FG_SCALE_LINEAR;
    else if (!strcmp(s, "log2")) *k = FG_SCALE_LOG2;
    else if (!strcmp(s, "log10") || !strcmp(s, "log")) *k = FG_SCALE_LOG10;
    else if (!strcmp(s, "category") || !strcmp(s, "categorical")) *k = FG_SCALE_CATEGORY;
    else { fg_err(err, errlen, "'%s': unknown scale '%s' (linear, log2, log10, category)", key, s); rc = -1; }
    free(s);
    return rc;
}

static int dash_of(const cJSON *o) {
    char *s = str_of(o, "style");
    int d = -1;
    if (s) {
        if (!strcmp(s, "dashed")) d = 1;
        else if (!strcmp(s, "dotted")) d = 2;
        else if (!strcmp(s, "solid")) d = 0;
        free(s);
    }
    return d;
}

static int color_of(const cJSON *o, fg_rgb *c) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, "color");
    if (cJSON_IsNumber(j)) { *c = fg_palette(j->valueint); return 1; }
    if (cJSON_IsString(j) && j->valuestring[0] == '#' && strlen(j->valuestring) == 7) {
        unsigned h;
        if (sscanf(j->valuestring + 1, "%06x", &h) == 1) {
            *c = (fg_rgb){ ((h >> 16) & 255) / 255.0, ((h >> 8) & 255) / 255.0, (h & 255) / 255.0 };
            return 1;
        }
    }
    return 0;
}

static int marker_of(const cJSON *o) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, "marker");
    if (cJSON_IsBool(j)) return cJSON_IsTrue(j) ? FG_MARK_AUTO : FG_MARK_NONE;
    if (!cJSON_IsString(j)) return FG_MARK_AUTO;
    const char *names[] = { "none", "circle", "square", "triangle", "diamond" };
    for (int i = 0; i < 5; i++)
        if (!strcmp(j->valuestring, names[i])) return i;
    return FG_MARK_AUTO;
}

static int parse_series(const cJSON *o, fg_series *se, int idx, int need_x_match, char *err, size_t errlen) {
    char ctx[96];
    memset(se, 0, sizeof *se);
    se->dash = -1; se->marker = FG_MARK_AUTO;
    if (!cJSON_IsObject(o)) { fg_err(err, errlen, "series %d: must be an object", idx + 1); return -1; }
    se->name = str_of(o, "name");
    snprintf(ctx, sizeof ctx, "series %d%s%s%s", idx + 1, se->name ? " '" : "", se->name ? se->name : "", se->name ? "'" : "");
    if (vec_of(o, "x", &se->x, ctx, err, errlen) || vec_of(o, "y", &se->y, ctx, err, errlen)
        || vec_of(o, "lo", &se->lo, ctx, err, errlen) || vec_of(o, "hi", &se->hi, ctx, err, errlen)
        || vec_of(o, "err", &se->err, ctx, err, errlen))
        return -1;
    if (!se->err.n) {   /* "sd" is a synonym of "err" */
        free(se->err.v);
        if (vec_of(o, "sd", &se->err, ctx, err, errlen)) return -1;
    }
    int n = se->y.n;
    if (need_x_match && se->x.n && se->x.n != n) {
        fg_err(err, errlen, "%s: x has %d values, y has %d", ctx, se->x.n, n);
        return -1;
    }
    if ((se->lo.n && se->lo.n != n) || (se->hi.n && se->hi.n != n) || (se->err.n && se->err.n != n)) {
        fg_err(err, errlen, "%s: lo/hi/err must have as many values as y (%d)", ctx, n);
        return -1;
    }
    if ((se->lo.n > 0) != (se->hi.n > 0)) {
        fg_err(err, errlen, "%s: give both lo and hi, or neither", ctx);
        return -1;
    }
    se->has_color = color_of(o, &se->color);
    se->dash = dash_of(o);
    se->marker = marker_of(o);
    se->smooth = num_of(o, "smooth", NAN);
    if (!(se->smooth >= 0 && se->smooth < 1)) se->smooth = NAN;
    se->width = num_of(o, "width", 0);
    if (!isfinite(se->width)) se->width = 0;
    return 0;
}

static int parse_reflines(const cJSON *o, const char *key, fg_refline **out, int *n, char *err, size_t errlen) {
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    *out = NULL; *n = 0;
    if (!j || cJSON_IsNull(j)) return 0;
    if (!cJSON_IsArray(j)) { fg_err(err, errlen, "'%s' must be an array", key); return -1; }
    int m = cJSON_GetArraySize(j);
    *out = calloc(m + 1, sizeof **out);
    const cJSON *e;
    cJSON_ArrayForEach(e, j) {
        fg_refline *r = &(*out)[*n];
        r->dash = -1;
        if (cJSON_IsNumber(e)) r->v = e->valuedouble;
        else if (cJSON_IsObject(e)) {
            r->v = num_of(e, !strcmp(key, "hlines") ? "y" : "x", NAN);
            r->label = str_of(e, "label");
            r->dash = dash_of(e);
        } else { fg_err(err, errlen, "'%s': each entry is a number or an object", key); return -1; }
        (*n)++;
    }
    return 0;
}

/* ---- images ------------------------------------------------------------ */

/* Raw pixels of an image object: HWC uint8 from inline base64, a flat
 * "values" array, or a PNG file (then RGBA). */
static int pixels_of(const cJSON *o, const char *base, int decode, int *w, int *h, int *ch, unsigned char **px,
                     char **load_err, const char *ctx, char *err, size_t errlen) {
    *px = NULL; *load_err = NULL;
    const cJSON *png = cJSON_GetObjectItemCaseSensitive(o, "png");
    if (cJSON_IsString(png) && !decode) { *w = *h = 0; *ch = 4; return 0; }   /* read when drawn */
    if (cJSON_IsString(png)) {
        char path[4096];
        if (png->valuestring[0] == '/' || !base || !*base) snprintf(path, sizeof path, "%s", png->valuestring);
        else snprintf(path, sizeof path, "%s/%s", base, png->valuestring);
        cairo_surface_t *s = cairo_image_surface_create_from_png(path);
        if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
            char b[4200];
            snprintf(b, sizeof b, "cannot read PNG %s: %s", path, cairo_status_to_string(cairo_surface_status(s)));
            *load_err = fg_strdup(b);
            cairo_surface_destroy(s);
            return 0;
        }
        cairo_surface_flush(s);
        *w = cairo_image_surface_get_width(s); *h = cairo_image_surface_get_height(s); *ch = 4;
        int stride = cairo_image_surface_get_stride(s);
        const unsigned char *d = cairo_image_surface_get_data(s);
        int fmt = cairo_image_surface_get_format(s);
        *px = malloc((size_t)*w * *h * 4 + 1);
        for (int y = 0; y < *h; y++)
            for (int x = 0; x < *w; x++) {
                unsigned char *q = *px + ((size_t)y * *w + x) * 4;
                if (fmt == CAIRO_FORMAT_A8) { q[0] = q[1] = q[2] = 0; q[3] = d[y * stride + x]; continue; }
                uint32_t v = *(const uint32_t *)(d + y * stride + x * 4);
                unsigned a = fmt == CAIRO_FORMAT_ARGB32 ? v >> 24 : 255;
                unsigned r = (v >> 16) & 255, g = (v >> 8) & 255, b = v & 255;
                if (a && a < 255) { r = r * 255 / a; g = g * 255 / a; b = b * 255 / a; }
                q[0] = r; q[1] = g; q[2] = b; q[3] = a;
            }
        cairo_surface_destroy(s);
        return 0;
    }
    *w = (int)num_of(o, "width", 0); *h = (int)num_of(o, "height", 0); *ch = (int)num_of(o, "channels", 1);
    if (*w <= 0 || *h <= 0 || *w > 16384 || *h > 16384) {
        fg_err(err, errlen, "%s: needs \"png\", or \"width\" and \"height\" (1..16384) with \"pixels\" or \"values\"", ctx);
        return -1;
    }
    if (*ch != 1 && *ch != 3 && *ch != 4) { fg_err(err, errlen, "%s: channels must be 1, 3 or 4", ctx); return -1; }
    size_t need = (size_t)*w * *h * *ch;
    const cJSON *pj = cJSON_GetObjectItemCaseSensitive(o, "pixels");
    const cJSON *vj = cJSON_GetObjectItemCaseSensitive(o, "values");
    if (cJSON_IsString(pj) && !decode) {   /* the length base64 stands for, without decoding */
        size_t L = strlen(pj->valuestring), n = L / 4 * 3;
        if (L % 4) { fg_err(err, errlen, "%s: \"pixels\" is not valid base64", ctx); return -1; }
        if (L && pj->valuestring[L - 1] == '=') n--;
        if (L > 1 && pj->valuestring[L - 2] == '=') n--;
        if (n != need) {
            fg_err(err, errlen, "%s: \"pixels\" holds %zu bytes, %dx%dx%d needs %zu", ctx, n, *w, *h, *ch, need);
            return -1;
        }
        return 0;
    }
    if (cJSON_IsString(pj)) {
        size_t n = 0;
        *px = fg_base64_decode(pj->valuestring, &n);
        if (!*px) { fg_err(err, errlen, "%s: \"pixels\" is not valid base64", ctx); return -1; }
        if (n != need) {
            fg_err(err, errlen, "%s: \"pixels\" holds %zu bytes, %dx%dx%d needs %zu", ctx, n, *w, *h, *ch, need);
            free(*px); *px = NULL;
            return -1;
        }
        return 0;
    }
    if (cJSON_IsArray(vj)) {
        if ((size_t)cJSON_GetArraySize(vj) != need) {
            fg_err(err, errlen, "%s: \"values\" holds %d numbers, %dx%dx%d needs %zu", ctx, cJSON_GetArraySize(vj), *w, *h, *ch, need);
            return -1;
        }
        if (!decode) return 0;
        *px = malloc(need + 1);
        size_t i = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, vj) {
            double v = elem_num(e);
            (*px)[i++] = !(v > 0) ? 0 : v > 255 ? 255 : (unsigned char)lround(v);
        }
        return 0;
    }
    fg_err(err, errlen, "%s: needs \"pixels\" (base64) or \"values\"", ctx);
    return -1;
}

static int image_of(const cJSON *o, const char *base, int decode, fg_image *im, const char *ctx, char *err, size_t errlen) {
    memset(im, 0, sizeof *im);
    if (!o || cJSON_IsNull(o)) { im->empty = 1; return 0; }
    if (cJSON_IsString(o)) {   /* a bare string is a PNG path */
        cJSON *tmp = cJSON_CreateObject();
        cJSON_AddStringToObject(tmp, "png", o->valuestring);
        int rc = image_of(tmp, base, decode, im, ctx, err, errlen);
        cJSON_Delete(tmp);
        return rc;
    }
    if (!cJSON_IsObject(o)) { fg_err(err, errlen, "%s: an image is an object or null", ctx); return -1; }
    int w, h, ch;
    unsigned char *px;
    char *lerr;
    if (pixels_of(o, base, decode, &w, &h, &ch, &px, &lerr, ctx, err, errlen)) return -1;
    if (lerr) { im->err = lerr; return 0; }
    if (!decode) { im->empty = 1; return 0; }
    int rc = fg_image_from_pixels(im, w, h, ch, px);
    free(px);
    if (rc) { fg_err(err, errlen, "%s: cannot make an image surface", ctx); return -1; }
    return 0;
}

static int parse_grid(const cJSON *o, const char *base, int decode, fg_spec *s, char *err, size_t errlen) {
    const cJSON *im = cJSON_GetObjectItemCaseSensitive(o, "images");
    if (!cJSON_IsArray(im)) { fg_err(err, errlen, "image_grid: 'images' must be an array (of rows, or flat with 'cols')"); return -1; }
    int n = cJSON_GetArraySize(im);
    const cJSON *first = cJSON_GetArrayItem(im, 0);
    if (n > 0 && cJSON_IsArray(first)) {   /* rows of images */
        s->img_rows = n;
        const cJSON *r;
        cJSON_ArrayForEach(r, im) {
            if (!cJSON_IsArray(r)) { fg_err(err, errlen, "image_grid: every row of 'images' must be an array"); return -1; }
            if (cJSON_GetArraySize(r) > s->img_cols) s->img_cols = cJSON_GetArraySize(r);
        }
    } else {
        int cols = (int)num_of(o, "cols", 0);
        if (cols <= 0) cols = n < 8 ? n : 8;
        s->img_cols = cols;
        s->img_rows = cols ? (n + cols - 1) / cols : 0;
    }
    if ((long)s->img_rows * s->img_cols > 4096) { fg_err(err, errlen, "image_grid: more than 4096 cells"); return -1; }
    s->images = calloc((size_t)s->img_rows * s->img_cols + 1, sizeof *s->images);
    for (int i = 0; i < s->img_rows * s->img_cols; i++) s->images[i].empty = 1;
    char ctx[64];
    if (n > 0 && cJSON_IsArray(first)) {
        for (int r = 0; r < s->img_rows; r++) {
            const cJSON *row = cJSON_GetArrayItem(im, r);
            for (int c = 0; c < cJSON_GetArraySize(row); c++) {
                snprintf(ctx, sizeof ctx, "image_grid: image [%d][%d]", r + 1, c + 1);
                if (image_of(cJSON_GetArrayItem(row, c), base, decode, &s->images[r * s->img_cols + c], ctx, err, errlen)) return -1;
            }
        }
    } else {
        for (int i = 0; i < n; i++) {
            snprintf(ctx, sizeof ctx, "image_grid: image %d", i + 1);
            if (image_of(cJSON_GetArrayItem(im, i), base, decode, &s->images[i], ctx, err, errlen)) return -1;
        }
    }
    return 0;
}

static int parse_masks(const cJSON *o, const char *base, int decode, fg_spec *s, char *err, size_t errlen) {
    const cJSON *rows = cJSON_GetObjectItemCaseSensitive(o, "rows");
    if (!cJSON_IsArray(rows)) { fg_err(err, errlen, "mask_overlay: 'rows' must be an array of {image, masks}"); return -1; }
    s->img_rows = cJSON_GetArraySize(rows);
    s->img_cols = 1;
    const cJSON *r;
    cJSON_ArrayForEach(r, rows) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(r, "masks");
        if (cJSON_IsArray(m) && 1 + cJSON_GetArraySize(m) > s->img_cols) s->img_cols = 1 + cJSON_GetArraySize(m);
    }
    if ((long)s->img_rows * s->img_cols > 4096) { fg_err(err, errlen, "mask_overlay: more than 4096 cells"); return -1; }
    double alpha = num_of(o, "alpha", 0.55);
    if (!(alpha >= 0 && alpha <= 1)) alpha = 0.55;
    int bg = (int)num_of(o, "background", 0);
    s->images = calloc((size_t)s->img_rows * s->img_cols + 1, sizeof *s->images);
    for (int i = 0; i < s->img_rows * s->img_cols; i++) s->images[i].empty = 1;
    char ctx[64];
    for (int ri = 0; ri < s->img_rows; ri++) {
        r = cJSON_GetArrayItem(rows, ri);
        if (!cJSON_IsObject(r)) { fg_err(err, errlen, "mask_overlay: row %d must be an object", ri + 1); return -1; }
        fg_image *img = &s->images[ri * s->img_cols];
        snprintf(ctx, sizeof ctx, "mask_overlay: row %d image", ri + 1);
        if (image_of(cJSON_GetObjectItemCaseSensitive(r, "image"), base, decode, img, ctx, err, errlen)) return -1;
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(r, "masks");
        for (int mi = 0; mi < cJSON_GetArraySize(m); mi++) {
            snprintf(ctx, sizeof ctx, "mask_overlay: row %d mask %d", ri + 1, mi + 1);
            fg_image *cell = &s->images[ri * s->img_cols + 1 + mi];
            const cJSON *mj = cJSON_GetArrayItem(m, mi);
            memset(cell, 0, sizeof *cell);
            if (cJSON_IsNull(mj)) { cell->empty = 1; continue; }
            if (!cJSON_IsObject(mj)) { fg_err(err, errlen, "%s: a mask is an object", ctx); return -1; }
            int w, h, ch;
            unsigned char *px;
            char *lerr;
            if (pixels_of(mj, base, decode, &w, &h, &ch, &px, &lerr, ctx, err, errlen)) return -1;
            if (lerr) { cell->err = lerr; continue; }
            if (!decode) { cell->empty = 1; continue; }
            unsigned char *cls = malloc((size_t)w * h + 1);
            for (size_t i = 0; i < (size_t)w * h; i++) cls[i] = px[i * ch];   /* class = first channel */
            free(px);
            int rc = fg_mask_overlay(cell, img->surf ? img : NULL, cls, w, h, bg, alpha);
            free(cls);
            if (rc) { fg_err(err, errlen, "%s: cannot make an image surface", ctx); return -1; }
        }
    }
    if (strs_of(o, "classes", &s->classes, &s->n_classes, "mask_overlay", err, errlen)) return -1;
    s->bg_class = bg;
    return 0;
}

static int parse_heatmap(const cJSON *o, fg_spec *s, char *err, size_t errlen) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "values");
    if (!cJSON_IsArray(v)) { fg_err(err, errlen, "heatmap: 'values' must be an array of rows"); return -1; }
    s->rows = cJSON_GetArraySize(v);
    const cJSON *r;
    cJSON_ArrayForEach(r, v) {
        if (!cJSON_IsArray(r)) { fg_err(err, errlen, "heatmap: every row of 'values' must be an array"); return -1; }
        if (cJSON_GetArraySize(r) > s->cols) s->cols = cJSON_GetArraySize(r);
    }
    if ((long)s->rows * s->cols > 1000000) { fg_err(err, errlen, "heatmap: more than 10^6 cells"); return -1; }
    s->cells = malloc(((size_t)s->rows * s->cols + 1) * sizeof(double));
    for (int i = 0; i < s->rows; i++) {
        r = cJSON_GetArrayItem(v, i);
        for (int j = 0; j < s->cols; j++) s->cells[(size_t)i * s->cols + j] = elem_num(cJSON_GetArrayItem(r, j));
    }
    int n;
    if (strs_of(o, "row_labels", &s->row_labels, &n, "heatmap", err, errlen)) return -1;
    if (s->row_labels && n != s->rows) { fg_err(err, errlen, "heatmap: %d row_labels for %d rows", n, s->rows); return -1; }
    if (strs_of(o, "col_labels", &s->col_labels, &n, "heatmap", err, errlen)) return -1;
    if (s->col_labels && n != s->cols) { fg_err(err, errlen, "heatmap: %d col_labels for %d columns", n, s->cols); return -1; }
    char *cm = str_of(o, "colormap");
    s->cmap = FG_CMAP_VIRIDIS;
    if (cm) {
        if (!strcmp(cm, "diverging")) s->cmap = FG_CMAP_DIVERGING;
        else if (!strcmp(cm, "gray") || !strcmp(cm, "grey")) s->cmap = FG_CMAP_GRAY;
        else if (!strcmp(cm, "blues")) s->cmap = FG_CMAP_BLUES;
        else if (strcmp(cm, "viridis")) { fg_err(err, errlen, "heatmap: unknown colormap '%s' (viridis, diverging, blues, gray)", cm); free(cm); return -1; }
        free(cm);
    }
    s->vmin = num_of(o, "vmin", NAN);
    s->vmax = num_of(o, "vmax", NAN);
    const cJSON *cv = cJSON_GetObjectItemCaseSensitive(o, "cell_values");
    s->cell_values = cJSON_IsBool(cv) ? cJSON_IsTrue(cv) : -1;
    s->digits = (int)num_of(o, "digits", -1);
    if (s->digits > 6) s->digits = 6;
    s->colorbar = bool_of(o, "colorbar", 1);
    s->cbar_label = str_of(o, "colorbar_label");
    return 0;
}

static fg_spec *parse_obj(const cJSON *o, const char *base, int decode, int depth, char *err, size_t errlen);

static int parse_panels(const cJSON *o, const char *base, int decode, fg_spec *s, int depth, char *err, size_t errlen) {
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "panels");
    if (!cJSON_IsArray(p)) { fg_err(err, errlen, "panels: 'panels' must be an array of figure specs"); return -1; }
    if (depth >= MAX_DEPTH) { fg_err(err, errlen, "panels: nested more than %d deep", MAX_DEPTH); return -1; }
    int n = cJSON_GetArraySize(p);
    if (n > 64) { fg_err(err, errlen, "panels: more than 64 panels"); return -1; }
    s->panels = calloc(n + 1, sizeof *s->panels);
    for (int i = 0; i < n; i++) {
        char sub[256];
        s->panels[i] = parse_obj(cJSON_GetArrayItem(p, i), base, decode, depth + 1, sub, sizeof sub);
        if (!s->panels[i]) { fg_err(err, errlen, "panel %d: %s", i + 1, sub); return -1; }
        s->n_panels++;
    }
    s->panel_cols = (int)num_of(o, "cols", 0);
    if (s->panel_cols <= 0) s->panel_cols = n < 2 ? (n ? n : 1) : (n == 4 ? 2 : n < 3 ? n : 3);
    s->panel_labels = bool_of(o, "labels", 1);
    return 0;
}

static fg_spec *parse_obj(const cJSON *o, const char *base, int decode, int depth, char *err, size_t errlen) {
    if (!cJSON_IsObject(o)) { fg_err(err, errlen, "a figure spec must be a JSON object"); return NULL; }
    char *kind = str_of(o, "kind");
    if (!kind) { fg_err(err, errlen, "figure spec has no \"kind\" (%s; figures/FORMAT.md)", fg_kind_list()); return NULL; }
    int k = fg_kind_of(kind);
    if (k < 0) {
        fg_err(err, errlen, "unknown figure kind '%s' (%s)", kind, fg_kind_list());
        free(kind);
        return NULL;
    }
    free(kind);
    fg_spec *s = calloc(1, sizeof *s);
    s->kind = (fg_kind)k;
    s->title = str_of(o, "title");
    s->aspect = num_of(o, "aspect", 0);
    if (!(s->aspect > 0.05 && s->aspect < 20)) s->aspect = 0;
    s->x_label = str_of(o, "x_label");
    s->y_label = str_of(o, "y_label");
    s->x_min = num_of(o, "x_min", NAN); s->x_max = num_of(o, "x_max", NAN);
    s->y_min = num_of(o, "y_min", NAN); s->y_max = num_of(o, "y_max", NAN);
    s->grid = bool_of(o, "grid", 1);
    s->markers = -1;
    const cJSON *mk = cJSON_GetObjectItemCaseSensitive(o, "markers");
    if (cJSON_IsBool(mk)) s->markers = cJSON_IsTrue(mk);
    s->smooth = num_of(o, "smooth", 0);
    if (!(s->smooth > 0 && s->smooth < 1)) s->smooth = 0;
    s->bar_values = bool_of(o, "values_on_bars", 0);
    s->gap = num_of(o, "gap", 2);
    if (!(s->gap >= 0 && s->gap < 100)) s->gap = 2;
    s->vmin = s->vmax = NAN;

    char *leg = str_of(o, "legend");
    s->legend = FG_LEG_AUTO;
    const cJSON *lj = cJSON_GetObjectItemCaseSensitive(o, "legend");
    if (cJSON_IsFalse(lj)) s->legend = FG_LEG_NONE;
    if (leg) {
        const char *ln[] = { "auto", "none", "upper right", "upper left", "lower right", "lower left", "outside" };
        for (int i = 0; i < 7; i++)
            if (!strcmp(leg, ln[i])) s->legend = (fg_legend_pos)i;
        free(leg);
    }

    int rc = 0;
    if (scale_of(o, "x_scale", &s->x_scale, err, errlen) || scale_of(o, "y_scale", &s->y_scale, err, errlen)) rc = -1;
    if (!rc && s->y_scale == FG_SCALE_CATEGORY) { fg_err(err, errlen, "y_scale cannot be 'category'"); rc = -1; }
    if (!rc) rc = strs_of(o, "categories", &s->x_cats, &s->n_x_cats, "spec", err, errlen);
    if (!rc && !s->x_cats) rc = strs_of(o, "x_categories", &s->x_cats, &s->n_x_cats, "spec", err, errlen);
    if (!rc) rc = strs_of(o, "row_titles", &s->row_titles, &s->n_row_titles, "spec", err, errlen);
    if (!rc) rc = strs_of(o, "col_titles", &s->col_titles, &s->n_col_titles, "spec", err, errlen);
    if (!rc && (s->kind == FG_LINE || s->kind == FG_CURVE || s->kind == FG_BAR)) {
        const cJSON *sj = cJSON_GetObjectItemCaseSensitive(o, "series");
        if (sj && !cJSON_IsArray(sj)) { fg_err(err, errlen, "'series' must be an array"); rc = -1; }
        else if (sj) {
            int n = cJSON_GetArraySize(sj);
            s->series = calloc(n + 1, sizeof *s->series);
            for (int i = 0; i < n && !rc; i++) {
                rc = parse_series(cJSON_GetArrayItem(sj, i), &s->series[i], i, s->kind != FG_BAR, err, errlen);
                s->n_series = i + 1;
            }
        }
        if (!rc) rc = parse_reflines(o, "hlines", &s->hlines, &s->n_hlines, err, errlen);
        if (!rc) rc = parse_reflines(o, "vlines", &s->vlines, &s->n_vlines, err, errlen);
        const cJSON *an = cJSON_GetObjectItemCaseSensitive(o, "annotations");
        if (!rc && cJSON_IsArray(an)) {
            s->notes = calloc(cJSON_GetArraySize(an) + 1, sizeof *s->notes);
            const cJSON *e;
            cJSON_ArrayForEach(e, an) {
                if (!cJSON_IsObject(e)) continue;
                fg_note *nt = &s->notes[s->n_notes++];
                nt->x = num_of(e, "x", NAN); nt->y = num_of(e, "y", NAN);
                nt->text = str_of(e, "text");
            }
        }
        if (!rc && s->kind == FG_BAR && s->x_cats) {
            for (int i = 0; i < s->n_series; i++)
                if (s->series[i].y.n > s->n_x_cats) {
                    fg_err(err, errlen, "bar: series %d has %d values for %d categories", i + 1, s->series[i].y.n, s->n_x_cats);
                    rc = -1;
                    break;
                }
        }
    }
    if (!rc && s->kind == FG_HEATMAP) rc = parse_heatmap(o, s, err, errlen);
    if (!rc && s->kind == FG_IMAGE_GRID) rc = parse_grid(o, base, decode, s, err, errlen);
    if (!rc && s->kind == FG_MASK_OVERLAY) {
        rc = parse_masks(o, base, decode, s, err, errlen);
        if (!rc && !s->col_titles && s->img_cols == 3) {
            const char *d[] = { "image", "ground truth", "prediction" };
            s->col_titles = calloc(4, sizeof(char *));
            for (int i = 0; i < 3; i++) s->col_titles[i] = fg_strdup(d[i]);
            s->n_col_titles = 3;
        }
    }
    if (!rc && s->kind == FG_PANELS) rc = parse_panels(o, base, decode, s, depth, err, errlen);
    if (rc) { fg_spec_free(s); return NULL; }
    return s;
}

/* JSON has no NaN or infinity, but number printers (Lua's %.17g, C's
 * printf, Python's json) write nan, -nan, inf, Infinity, NaN. Outside
 * strings, such a word where a value starts becomes null: a gap. */
char *fg_json_nonfinite_to_null(const char *j) {
    static const char *words[] = { "-infinity", "infinity", "-inf", "inf", "-nan", "nan" };
    size_t n = strlen(j);
    char *o = malloc(2 * n + 1);   /* "null" replaces 3-letter "nan" too */
    if (!o) return NULL;
    size_t k = 0;
    int in_str = 0;
    for (size_t i = 0; i < n;) {
        char c = j[i];
        if (in_str) {
            o[k++] = c;
            if (c == '\\' && i + 1 < n) o[k++] = j[++i];
            else if (c == '"') in_str = 0;
            i++;
            continue;
        }
        if (c == '"') { in_str = 1; o[k++] = c; i++; continue; }
        int matched = 0;
        if (c == '-' || c == 'n' || c == 'N' || c == 'i' || c == 'I') {
            for (int w = 0; w < 6 && !matched; w++) {
                size_t L = strlen(words[w]);
                if (i + L <= n && !strncasecmp(j + i, words[w], L)
                    && (i + L == n || !(isalnum((unsigned char)j[i + L]) || j[i + L] == '_'))) {
                    memcpy(o + k, "null", 4); k += 4; i += L;
                    matched = 1;
                }
            }
        }
        if (!matched) o[k++] = j[i++];
    }
    o[k] = 0;
    return o;
}

/* A Lua table that is empty serialises as {} as often as []: every empty
 * object becomes an empty array (where an object was wanted, both are
 * equally wrong and still rejected). */
void fg_json_empty_objects_to_arrays(cJSON *j) {
    for (; j; j = j->next) {
        if (cJSON_IsObject(j) && !j->child) j->type = (j->type & ~0xFF) | cJSON_Array;
        else if (j->child) fg_json_empty_objects_to_arrays(j->child);
    }
}

fg_spec *fg_spec_parse(const char *json, const char *base_dir, char *err, size_t errlen) {
    if (!json) { fg_err(err, errlen, "no JSON text"); return NULL; }
    char *clean = fg_json_nonfinite_to_null(json);
    if (!clean) { fg_err(err, errlen, "out of memory"); return NULL; }
    cJSON *o = cJSON_Parse(clean);
    if (!o) {
        const char *at = cJSON_GetErrorPtr();   /* points into clean */
        fg_err(err, errlen, "invalid JSON near '%.24s'", at ? at : "?");
        free(clean);
        return NULL;
    }
    free(clean);
    fg_json_empty_objects_to_arrays(o->child);
    fg_spec *s = parse_obj(o, base_dir, 1, 0, err, errlen);
    cJSON_Delete(o);
    return s;
}

fg_spec *fg_spec_from_cjson(const struct cJSON *o, const char *base_dir, char *err, size_t errlen) {
    if (!o) { fg_err(err, errlen, "no figure spec"); return NULL; }
    cJSON *d = cJSON_Duplicate(o, 1);   /* the caller's tree stays as it is */
    if (!d) { fg_err(err, errlen, "out of memory"); return NULL; }
    fg_json_empty_objects_to_arrays(d->child);
    fg_spec *s = parse_obj(d, base_dir, 1, 0, err, errlen);
    cJSON_Delete(d);
    return s;
}

int fg_spec_validate_tree(const cJSON *o, const char *base_dir, char *err, size_t errlen) {
    fg_spec *s = parse_obj(o, base_dir, 0, 0, err, errlen);
    if (!s) return -1;
    fg_spec_free(s);
    return 0;
}

/* ---- figure kinds: the one table ----------------------------------------- */

const char *const fg_kind_names[] = { "line", "curve", "bar", "heatmap", "image_grid", "mask_overlay", "panels" };
_Static_assert(sizeof fg_kind_names / sizeof fg_kind_names[0] == FG_KIND_COUNT, "a name per figure kind");
const int fg_kind_count = FG_KIND_COUNT;

int fg_kind_of(const char *name) {
    if (!name) return -1;
    for (int i = 0; i < FG_KIND_COUNT; i++)
        if (!strcmp(name, fg_kind_names[i])) return i;
    if (!strcmp(name, "training")) return FG_CURVE;   /* an alias */
    return -1;
}

const char *fg_kind_list(void) {
    static char list[256];
    if (!list[0]) {
        size_t k = 0;
        for (int i = 0; i < FG_KIND_COUNT; i++)
            k += snprintf(list + k, sizeof list - k, "%s%s%s", i ? ", " : "", fg_kind_names[i],
                          i == FG_CURVE ? " (training)" : "");
    }
    return list;
}

void fg_spec_free(fg_spec *s) {
    if (!s) return;
    free(s->title); free(s->x_label); free(s->y_label);
    strs_free(s->x_cats, s->n_x_cats);
    for (int i = 0; i < s->n_series; i++) {
        fg_series *se = &s->series[i];
        free(se->name); free(se->x.v); free(se->y.v); free(se->lo.v); free(se->hi.v); free(se->err.v);
    }
    free(s->series);
    for (int i = 0; i < s->n_hlines; i++) free(s->hlines[i].label);
    for (int i = 0; i < s->n_vlines; i++) free(s->vlines[i].label);
    free(s->hlines); free(s->vlines);
    for (int i = 0; i < s->n_notes; i++) free(s->notes[i].text);
    free(s->notes);
    free(s->cells);
    strs_free(s->row_labels, s->rows);
    strs_free(s->col_labels, s->cols);
    free(s->cbar_label);
    for (int i = 0; i < s->img_rows * s->img_cols && s->images; i++) fg_image_clear(&s->images[i]);
    free(s->images);
    strs_free(s->row_titles, s->n_row_titles);
    strs_free(s->col_titles, s->n_col_titles);
    strs_free(s->classes, s->n_classes);
    for (int i = 0; i < s->n_panels; i++) fg_spec_free(s->panels[i]);
    free(s->panels);
    free(s);
}
