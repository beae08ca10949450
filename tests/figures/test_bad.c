/* Bad data and bad specs: each must draw something sensible (or a clear
 * mark) and return, never crash or hang (a timeout per test guards it).
 * "Something" is checked as ink: the number of non-white pixels. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg_internal.h"

static long ink_of(cairo_surface_t *s) {
    cairo_surface_flush(s);
    const unsigned char *d = cairo_image_surface_get_data(s);
    int w = cairo_image_surface_get_width(s), h = cairo_image_surface_get_height(s), st = cairo_image_surface_get_stride(s);
    long n = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            const unsigned char *p = d + y * st + x * 4;
            if (p[0] < 200 || p[1] < 200 || p[2] < 200) n++;
        }
    return n;
}

/* Parse and draw into a 390x240 pt box; returns fg_draw's status, and the
 * ink drawn through *ink. */
static int render(const char *json, long *ink, char *err, size_t errlen) {
    fg_spec *s = fg_spec_parse(json, "tests/figures/ref", err, errlen);
    cr_assert(s, "parse failed: %s\n%s", err, json);
    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 390, 240);
    cairo_t *cr = cairo_create(surf);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    int rc = fg_draw(cr, (fg_box){ 0, 0, 390, 240 }, s, err, errlen);
    cr_assert_eq(cairo_status(cr), CAIRO_STATUS_SUCCESS, "cairo error %s", cairo_status_to_string(cairo_status(cr)));
    cairo_destroy(cr);
    *ink = ink_of(surf);
    cairo_surface_destroy(surf);
    fg_spec_free(s);
    return rc;
}

/* min_ink: 200 px for data; a "no data" mark is lighter (its text), 50. */
static void check(const char *name, const char *json, long min_ink) {
    char err[512] = "";
    long ink;
    int rc = render(json, &ink, err, sizeof err);
    printf("figures: bad data %-22s rc=%d ink=%ld px\n", name, rc, ink);
    cr_assert_eq(rc, 0, "%s: %s", name, err);
    cr_assert_geq(ink, min_ink, "%s: almost nothing drawn (%ld px)", name, ink);
}
static void drawn_ok(const char *name, const char *json) { check(name, json, 200); }
static void marked(const char *name, const char *json) { check(name, json, 50); }

TestSuite(bad, .timeout = 20);

Test(bad, empty_series) { marked("empty series", "{\"kind\":\"line\",\"series\":[]}"); }
Test(bad, no_series_key) { marked("no series", "{\"kind\":\"curve\",\"x_label\":\"step\"}"); }
Test(bad, zero_length) { marked("zero-length series", "{\"kind\":\"line\",\"series\":[{\"name\":\"a\",\"x\":[],\"y\":[]}]}"); }
Test(bad, one_point) { drawn_ok("one point", "{\"kind\":\"line\",\"series\":[{\"name\":\"a\",\"x\":[3],\"y\":[0.5]}]}"); }
Test(bad, one_point_curve) { drawn_ok("one point curve", "{\"kind\":\"curve\",\"series\":[{\"y\":[7]}]}"); }
Test(bad, nan_inf) {
    drawn_ok("nan/null/strings", "{\"kind\":\"line\",\"series\":[{\"name\":\"a\",\"x\":[1,2,3,4,5],"
             "\"y\":[1,null,\"NaN\",\"inf\",2],\"lo\":[0,null,1,2,1],\"hi\":[2,3,null,4,3]}]}");
}
Test(bad, all_nan) { marked("all null", "{\"kind\":\"line\",\"series\":[{\"y\":[null,null,null]}]}"); }
Test(bad, all_equal) { drawn_ok("all equal", "{\"kind\":\"line\",\"series\":[{\"name\":\"flat\",\"y\":[5,5,5,5]}]}"); }
Test(bad, all_zero) { drawn_ok("all zero", "{\"kind\":\"line\",\"series\":[{\"x\":[0,0,0],\"y\":[0,0,0]}]}"); }
Test(bad, huge_range) { drawn_ok("huge range", "{\"kind\":\"line\",\"series\":[{\"y\":[1e-300,1e300,-1e300]}]}"); }
Test(bad, max_double) { drawn_ok("±DBL_MAX", "{\"kind\":\"line\",\"series\":[{\"x\":[-1.7e308,1.7e308],\"y\":[1.7e308,-1.7e308]}]}"); }
Test(bad, tiny_span) { drawn_ok("tiny span", "{\"kind\":\"line\",\"series\":[{\"y\":[1,1.0000000000001,1.0000000000002]}]}"); }
Test(bad, big_values) { drawn_ok("1e9 values", "{\"kind\":\"line\",\"y_label\":\"n\",\"series\":[{\"y\":[1.2e9,3.4e9,2.2e9]}]}"); }
Test(bad, small_values) { drawn_ok("1e-7 values", "{\"kind\":\"line\",\"series\":[{\"y\":[1.2e-7,3.4e-7,2.2e-7]}]}"); }
Test(bad, log_nonpositive) { drawn_ok("log of <=0", "{\"kind\":\"line\",\"y_scale\":\"log10\",\"x_scale\":\"log2\",\"series\":[{\"x\":[0,-1,2],\"y\":[-1,0,5]}]}"); }
Test(bad, log_all_bad) { marked("log all <=0", "{\"kind\":\"line\",\"y_scale\":\"log10\",\"series\":[{\"y\":[-1,0,-5]}]}"); }
Test(bad, log_huge) { drawn_ok("log 1e-300..1e300", "{\"kind\":\"line\",\"y_scale\":\"log10\",\"series\":[{\"y\":[1e-300,1,1e300]}]}"); }
Test(bad, limits_reversed) { drawn_ok("x_min > x_max", "{\"kind\":\"line\",\"x_min\":10,\"x_max\":0,\"series\":[{\"y\":[1,2,3]}]}"); }
Test(bad, limits_exclude_data) { drawn_ok("limits off data", "{\"kind\":\"line\",\"x_min\":100,\"x_max\":200,\"y_min\":-5,\"y_max\":-4,\"series\":[{\"y\":[1,2,3]}]}"); }
Test(bad, many_categories) {
    char *j = malloc(20000);
    int n = sprintf(j, "{\"kind\":\"line\",\"x_scale\":\"category\",\"series\":[{\"x\":[");
    for (int i = 0; i < 200; i++) n += sprintf(j + n, "%s%d", i ? "," : "", i * 7);
    n += sprintf(j + n, "],\"y\":[");
    for (int i = 0; i < 200; i++) n += sprintf(j + n, "%s%d", i ? "," : "", i % 13);
    sprintf(j + n, "]}]}");
    drawn_ok("200 categories", j);
    free(j);
}
Test(bad, long_labels) {
    drawn_ok("long category labels", "{\"kind\":\"bar\",\"categories\":[\"a very long category name indeed\",\"another extremely long category name\","
             "\"and a third one that is long\",\"fourth long label of a category\"],\"series\":[{\"y\":[1,2,3,4]}]}");
}
Test(bad, long_curve) {
    char *j = malloc(400000);
    int n = sprintf(j, "{\"kind\":\"curve\",\"smooth\":0.9,\"series\":[{\"name\":\"train\",\"y\":[");
    for (int i = 0; i < 20000; i++) n += sprintf(j + n, "%s%.4f", i ? "," : "", 1.0 / (1 + i * 0.01) + (i % 7) * 0.01);
    sprintf(j + n, "]}]}");
    drawn_ok("20000-point curve", j);
    free(j);
}
Test(bad, crowded_legend) {
    /* Data everywhere: the legend has to go outside the plot. */
    drawn_ok("crowded legend", "{\"kind\":\"line\",\"series\":[{\"name\":\"up\",\"y\":[0,1,2,3,4,5,6,7,8,9]},"
             "{\"name\":\"down\",\"y\":[9,8,7,6,5,4,3,2,1,0]},{\"name\":\"top\",\"y\":[9,9,9,9,9,9,9,9,9,9]},"
             "{\"name\":\"bottom\",\"y\":[0,0,0,0,0,0,0,0,0,0]}]}");
}
Test(bad, bar_nan) { drawn_ok("bar with null", "{\"kind\":\"bar\",\"series\":[{\"name\":\"a\",\"y\":[1,null,-2]},{\"name\":\"b\",\"y\":[null,null,null]}]}"); }
Test(bad, bar_empty) { marked("bar empty", "{\"kind\":\"bar\",\"series\":[]}"); }
Test(bad, heatmap_null) { marked("heatmap all null", "{\"kind\":\"heatmap\",\"values\":[[null,null],[null,null]]}"); }
Test(bad, heatmap_empty) { marked("heatmap empty", "{\"kind\":\"heatmap\",\"values\":[]}"); }
Test(bad, heatmap_const) { drawn_ok("heatmap constant", "{\"kind\":\"heatmap\",\"values\":[[3,3],[3,3]]}"); }
Test(bad, heatmap_ragged) { drawn_ok("heatmap ragged", "{\"kind\":\"heatmap\",\"values\":[[1],[1,2,3],[]]}"); }
Test(bad, heatmap_big) {
    char *j = malloc(200000);
    int n = sprintf(j, "{\"kind\":\"heatmap\",\"values\":[");
    for (int r = 0; r < 100; r++) {
        n += sprintf(j + n, "%s[", r ? "," : "");
        for (int c = 0; c < 100; c++) n += sprintf(j + n, "%s%d", c ? "," : "", (r * c) % 17);
        n += sprintf(j + n, "]");
    }
    sprintf(j + n, "]}");
    drawn_ok("heatmap 100x100", j);
    free(j);
}
Test(bad, grid_empty) { marked("image grid empty", "{\"kind\":\"image_grid\",\"images\":[]}"); }
Test(bad, grid_nulls) { marked("image grid of nulls", "{\"kind\":\"image_grid\",\"images\":[[null,null],[null]],\"col_titles\":[\"a\",\"b\"]}"); }
Test(bad, panels_empty) { marked("panels empty", "{\"kind\":\"panels\",\"panels\":[]}"); }
Test(bad, panels_of_bad) {
    drawn_ok("panels of bad data", "{\"kind\":\"panels\",\"panels\":[{\"kind\":\"line\",\"series\":[]},"
             "{\"kind\":\"heatmap\",\"values\":[[null]]},{\"kind\":\"bar\",\"series\":[{\"y\":[1]}]}]}");
}

Test(bad, missing_png) {
    char err[512] = "";
    long ink;
    int rc = render("{\"kind\":\"image_grid\",\"images\":[{\"png\":\"no/such.png\"},{\"width\":2,\"height\":2,\"values\":[0,255,255,0]}]}",
                    &ink, err, sizeof err);
    printf("figures: missing PNG -> rc=%d, '%s', ink=%ld\n", rc, err, ink);
    cr_assert_eq(rc, -1);
    cr_assert(strstr(err, "no/such.png"), "error names the file: %s", err);
    cr_assert_gt(ink, 200, "a mark is drawn");
}

Test(bad, tiny_box) {
    char err[256] = "";
    fg_spec *s = fg_spec_parse("{\"kind\":\"line\",\"series\":[{\"y\":[1,2]}]}", ".", err, sizeof err);
    cr_assert(s);
    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 10, 10);
    cairo_t *cr = cairo_create(surf);
    cr_assert_eq(fg_draw(cr, (fg_box){ 0, 0, 5, 5 }, s, err, sizeof err), -1);
    cr_assert(strstr(err, "small"), "%s", err);
    cr_assert_eq(fg_draw(cr, (fg_box){ 0, 0, 60, 40 }, s, err, sizeof err), 0, "%s", err);
    cairo_destroy(cr);
    cairo_surface_destroy(surf);
    fg_spec_free(s);
}

/* Specs that are wrong in structure: NULL and a message naming the problem. */
static void parse_fails(const char *json, const char *needle) {
    char err[512] = "";
    fg_spec *s = fg_spec_parse(json, ".", err, sizeof err);
    printf("figures: bad spec -> '%s'\n", err);
    cr_assert_null(s, "parsed: %s", json);
    cr_assert(strstr(err, needle), "message '%s' lacks '%s'", err, needle);
}

Test(spec, errors) {
    parse_fails("{\"kind\":\"line\",", "invalid JSON");
    parse_fails("[1,2]", "object");
    parse_fails("{\"series\":[]}", "kind");
    parse_fails("{\"kind\":\"pie\"}", "pie");
    parse_fails("{\"kind\":\"line\",\"series\":[{\"name\":\"a\",\"x\":[1,2],\"y\":[1,2,3]}]}", "x has 2 values, y has 3");
    parse_fails("{\"kind\":\"line\",\"series\":[{\"y\":[1,2],\"lo\":[1]}]}", "lo/hi");
    parse_fails("{\"kind\":\"line\",\"series\":[{\"y\":[1,2],\"lo\":[1,2]}]}", "both lo and hi");
    parse_fails("{\"kind\":\"line\",\"x_scale\":\"loglog\",\"series\":[]}", "loglog");
    parse_fails("{\"kind\":\"line\",\"series\":{\"a\":1}}", "series");
    parse_fails("{\"kind\":\"line\",\"series\":[{\"y\":\"abc\"}]}", "'y' must be an array");
    parse_fails("{\"kind\":\"image_grid\",\"images\":[{\"width\":2,\"height\":2,\"channels\":3,\"pixels\":\"AAAA\"}]}", "needs 12");
    parse_fails("{\"kind\":\"image_grid\",\"images\":[{\"width\":2,\"height\":2,\"pixels\":\"%%%%\"}]}", "base64");
    parse_fails("{\"kind\":\"image_grid\",\"images\":[{\"width\":2,\"height\":2,\"channels\":2,\"values\":[1,2,3,4]}]}", "channels");
    parse_fails("{\"kind\":\"heatmap\",\"values\":[[1,2]],\"row_labels\":[\"a\",\"b\"]}", "row_labels");
    parse_fails("{\"kind\":\"heatmap\",\"values\":[[1]],\"colormap\":\"jet\"}", "jet");
    parse_fails("{\"kind\":\"panels\",\"panels\":[{\"kind\":\"line\",\"series\":3}]}", "panel 1");
    parse_fails("{\"kind\":\"bar\",\"categories\":[\"a\"],\"series\":[{\"y\":[1,2]}]}", "categories");
}

Test(spec, aspect_and_base64) {
    char err[256];
    fg_spec *s = fg_spec_parse("{\"kind\":\"image_grid\",\"images\":[[{\"width\":2,\"height\":1,\"channels\":1,\"pixels\":\"AP8=\"}]]}", ".", err, sizeof err);
    cr_assert(s, "%s", err);
    double a = fg_spec_aspect(s);
    printf("figures: 1x1 grid of a 2x1 image: aspect %.3f\n", a);
    cr_assert(a > 0.1 && a < 1.0, "aspect %.3f", a);
    fg_spec_free(s);
    s = fg_spec_parse("{\"kind\":\"line\",\"aspect\":0.5}", ".", err, sizeof err);
    cr_assert_float_eq(fg_spec_aspect(s), 0.5, 1e-12);
    fg_spec_free(s);
}

/* A spec built in C draws the same as the same spec parsed from JSON. */
Test(spec, built_from_c) {
    double x[] = { 1, 2, 4, 8 }, y[] = { 30, 41, 52, 61 }, lo[] = { 28, 39, 51, 60 }, hi[] = { 32, 43, 53, 62 };
    fg_spec *a = fg_spec_new("line");
    cr_assert(a);
    cr_assert_eq(fg_spec_set(a, "x_label", "shots"), 0);
    cr_assert_eq(fg_spec_set(a, "x_scale", "log2"), 0);
    cr_assert_eq(fg_spec_set(a, "x_scale", "loglog"), -1);
    cr_assert_eq(fg_spec_add_series(a, "random init", x, y, lo, hi, 4), 0);
    cr_assert_eq(fg_spec_add_hline(a, 61.7, "zero-shot"), 0);
    char err[256];
    fg_spec *b = fg_spec_parse("{\"kind\":\"line\",\"x_label\":\"shots\",\"x_scale\":\"log2\",\"series\":[{\"name\":\"random init\","
                               "\"x\":[1,2,4,8],\"y\":[30,41,52,61],\"lo\":[28,39,51,60],\"hi\":[32,43,53,62]}],"
                               "\"hlines\":[{\"y\":61.7,\"label\":\"zero-shot\"}]}", ".", err, sizeof err);
    cr_assert(b, "%s", err);
    cairo_surface_t *sa = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 300, 200);
    cairo_surface_t *sb = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 300, 200);
    cairo_t *ca = cairo_create(sa), *cb = cairo_create(sb);
    cr_assert_eq(fg_draw(ca, (fg_box){ 0, 0, 300, 200 }, a, err, sizeof err), 0);
    cr_assert_eq(fg_draw(cb, (fg_box){ 0, 0, 300, 200 }, b, err, sizeof err), 0);
    cairo_surface_flush(sa); cairo_surface_flush(sb);
    int same = !memcmp(cairo_image_surface_get_data(sa), cairo_image_surface_get_data(sb),
                       (size_t)cairo_image_surface_get_stride(sa) * 200);
    cr_assert(same, "C-built and JSON specs draw differently");
    long ink = ink_of(sa);
    cr_assert_gt(ink, 500);
    cairo_destroy(ca); cairo_destroy(cb);
    cairo_surface_destroy(sa); cairo_surface_destroy(sb);
    fg_spec_free(a); fg_spec_free(b);
}

/* The document's fonts reach the figures: another family measures differently. */
Test(spec, fonts) {
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 10, 10);
    cairo_t *cr = cairo_create(s);
    double w1, w2, w3;
    fg_text_size(cr, "top-1 accuracy (%)", 9, 0, &w1, NULL);
    fg_set_fonts("TeX Gyre Pagella", NULL, 0);
    fg_text_size(cr, "top-1 accuracy (%)", 9, 0, &w2, NULL);
    fg_set_fonts("DejaVu Sans", "DejaVu Sans Mono", 9);
    fg_text_size(cr, "top-1 accuracy (%)", 9, 0, &w3, NULL);
    printf("figures: 'top-1 accuracy (%%)' at 9 pt: DejaVu Sans %.1f pt, TeX Gyre Pagella %.1f pt\n", w1, w2);
    cr_assert(fabs(w1 - w2) > 1, "font family had no effect");
    cr_assert_float_eq(w1, w3, 1e-9);
    cairo_destroy(cr);
    cairo_surface_destroy(s);
}

Test(bad, more_kinds) {
    drawn_ok("heatmap ±1e308", "{\"kind\":\"heatmap\",\"values\":[[1e308,-1e308],[0,1]],\"colormap\":\"diverging\"}");
    drawn_ok("heatmap vmin>vmax", "{\"kind\":\"heatmap\",\"values\":[[1,2],[3,4]],\"vmin\":5,\"vmax\":1}");
    drawn_ok("bar huge", "{\"kind\":\"bar\",\"series\":[{\"y\":[1e300,-1e300,5],\"err\":[1e300,1,null]}]}");
    drawn_ok("bar negative", "{\"kind\":\"bar\",\"categories\":[\"a\",\"b\"],\"series\":[{\"y\":[-3,-1]},{\"y\":[-2,-5]}]}");
    drawn_ok("bar log with zero", "{\"kind\":\"bar\",\"y_scale\":\"log10\",\"series\":[{\"y\":[0,10,1000]}]}");
    drawn_ok("curve smooth with gaps", "{\"kind\":\"curve\",\"smooth\":0.95,\"series\":[{\"y\":[null,1,2,null,null,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31]}]}");
    drawn_ok("mask size differs", "{\"kind\":\"mask_overlay\",\"classes\":[\"bg\",\"a\"],\"rows\":[{\"image\":{\"width\":4,\"height\":4,\"values\":[0,50,100,150,0,50,100,150,0,50,100,150,0,50,100,150]},"
             "\"masks\":[{\"width\":2,\"height\":2,\"values\":[0,1,1,0]},{\"width\":3,\"height\":1,\"values\":[9,200,255]}]}]}");
    drawn_ok("mask without image", "{\"kind\":\"mask_overlay\",\"rows\":[{\"image\":null,\"masks\":[{\"width\":2,\"height\":2,\"values\":[0,1,2,3]}]}]}");
    drawn_ok("1x1 image", "{\"kind\":\"image_grid\",\"images\":[{\"width\":1,\"height\":1,\"values\":[128]}]}");
    drawn_ok("mixed image sizes", "{\"kind\":\"image_grid\",\"images\":[{\"width\":1,\"height\":1,\"values\":[128]},{\"width\":4,\"height\":1,\"values\":[0,80,160,240]},"
             "{\"width\":1,\"height\":3,\"channels\":4,\"values\":[255,0,0,255,0,255,0,128,0,0,255,0]}],\"cols\":3}");
    drawn_ok("very wide image", "{\"kind\":\"image_grid\",\"images\":[{\"width\":3000,\"height\":1,\"pixels\":\"AAcOFRwjKjE4P0ZNVFtiaXB3foWMk5qhqK+2vcTL0tng5+71/AMKERgfJi00O0JJUFdeZWxzeoGIj5adpKuyucDHztXc4+rx+P8GDRQbIikwNz5FTFNaYWhvdn2Ei5KZoKeutbzDytHY3+bt9PsCCRAXHiUsMzpBSE9WXWRrcnmAh46VnKOqsbi/xs3U2+Lp8Pf+BQwTGiEoLzY9REtSWWBnbnV8g4qRmJ+mrbS7wsnQ197l7PP6AQgPFh0kKzI5QEdOVVxjanF4f4aNlJuiqbC3vsXM09rh6O/2/QQLEhkgJy41PENKUVhfZm10e4KJkJeepayzusHIz9bd5Ovy+QAHDhUcIyoxOD9GTVRbYmlwd36FjJOaoaivtr3Ey9LZ4Ofu9fwDChEYHyYtNDtCSVBXXmVsc3qBiI+WnaSrsrnAx87V3OPq8fj/Bg0UGyIpMDc+RUxTWmFob3Z9hIuSmaCnrrW8w8rR2N/m7fT7AgkQFx4lLDM6QUhPVl1ka3J5gIeOlZyjqrG4v8bN1Nvi6fD3/gUMExohKC82PURLUllgZ251fIOKkZifpq20u8LJ0Nfe5ezz+gEIDxYdJCsyOUBHTlVcY2pxeH+GjZSboqmwt77FzNPa4ejv9v0ECxIZICcuNTxDSlFYX2ZtdHuCiZCXnqWss7rByM/W3eTr8vkABw4VHCMqMTg/Rk1UW2JpcHd+hYyTmqGor7a9xMvS2eDn7vX8AwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kq7K5wMfO1dzj6vH4/wYNFBsiKTA3PkVMU1phaG92fYSLkpmgp661vMPK0djf5u30+wIJEBceJSwzOkFIT1ZdZGtyeYCHjpWco6qxuL/GzdTb4unw9/4FDBMaISgvNj1ES1JZYGdudXyDipGYn6attLvCydDX3uXs8/oBCA8WHSQrMjlAR05VXGNqcXh/ho2Um6KpsLe+xczT2uHo7/b9BAsSGSAnLjU8Q0pRWF9mbXR7gomQl56lrLO6wcjP1t3k6/L5AAcOFRwjKjE4P0ZNVFtiaXB3foWMk5qhqK+2vcTL0tng5+71/AMKERgfJi00O0JJUFdeZWxzeoGIj5adpKuyucDHztXc4+rx+P8GDRQbIikwNz5FTFNaYWhvdn2Ei5KZoKeutbzDytHY3+bt9PsCCRAXHiUsMzpBSE9WXWRrcnmAh46VnKOqsbi/xs3U2+Lp8Pf+BQwTGiEoLzY9REtSWWBnbnV8g4qRmJ+mrbS7wsnQ197l7PP6AQgPFh0kKzI5QEdOVVxjanF4f4aNlJuiqbC3vsXM09rh6O/2/QQLEhkgJy41PENKUVhfZm10e4KJkJeepayzusHIz9bd5Ovy+QAHDhUcIyoxOD9GTVRbYmlwd36FjJOaoaivtr3Ey9LZ4Ofu9fwDChEYHyYtNDtCSVBXXmVsc3qBiI+WnaSrsrnAx87V3OPq8fj/Bg0UGyIpMDc+RUxTWmFob3Z9hIuSmaCnrrW8w8rR2N/m7fT7AgkQFx4lLDM6QUhPVl1ka3J5gIeOlZyjqrG4v8bN1Nvi6fD3/gUMExohKC82PURLUllgZ251fIOKkZifpq20u8LJ0Nfe5ezz+gEIDxYdJCsyOUBHTlVcY2pxeH+GjZSboqmwt77FzNPa4ejv9v0ECxIZICcuNTxDSlFYX2ZtdHuCiZCXnqWss7rByM/W3eTr8vkABw4VHCMqMTg/Rk1UW2JpcHd+hYyTmqGor7a9xMvS2eDn7vX8AwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kq7K5wMfO1dzj6vH4/wYNFBsiKTA3PkVMU1phaG92fYSLkpmgp661vMPK0djf5u30+wIJEBceJSwzOkFIT1ZdZGtyeYCHjpWco6qxuL/GzdTb4unw9/4FDBMaISgvNj1ES1JZYGdudXyDipGYn6attLvCydDX3uXs8/oBCA8WHSQrMjlAR05VXGNqcXh/ho2Um6KpsLe+xczT2uHo7/b9BAsSGSAnLjU8Q0pRWF9mbXR7gomQl56lrLO6wcjP1t3k6/L5AAcOFRwjKjE4P0ZNVFtiaXB3foWMk5qhqK+2vcTL0tng5+71/AMKERgfJi00O0JJUFdeZWxzeoGIj5adpKuyucDHztXc4+rx+P8GDRQbIikwNz5FTFNaYWhvdn2Ei5KZoKeutbzDytHY3+bt9PsCCRAXHiUsMzpBSE9WXWRrcnmAh46VnKOqsbi/xs3U2+Lp8Pf+BQwTGiEoLzY9REtSWWBnbnV8g4qRmJ+mrbS7wsnQ197l7PP6AQgPFh0kKzI5QEdOVVxjanF4f4aNlJuiqbC3vsXM09rh6O/2/QQLEhkgJy41PENKUVhfZm10e4KJkJeepayzusHIz9bd5Ovy+QAHDhUcIyoxOD9GTVRbYmlwd36FjJOaoaivtr3Ey9LZ4Ofu9fwDChEYHyYtNDtCSVBXXmVsc3qBiI+WnaSrsrnAx87V3OPq8fj/Bg0UGyIpMDc+RUxTWmFob3Z9hIuSmaCnrrW8w8rR2N/m7fT7AgkQFx4lLDM6QUhPVl1ka3J5gIeOlZyjqrG4v8bN1Nvi6fD3/gUMExohKC82PURLUllgZ251fIOKkZifpq20u8LJ0Nfe5ezz+gEIDxYdJCsyOUBHTlVcY2pxeH+GjZSboqmwt77FzNPa4ejv9v0ECxIZICcuNTxDSlFYX2ZtdHuCiZCXnqWss7rByM/W3eTr8vkABw4VHCMqMTg/Rk1UW2JpcHd+hYyTmqGor7a9xMvS2eDn7vX8AwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kq7K5wMfO1dzj6vH4/wYNFBsiKTA3PkVMU1phaG92fYSLkpmgp661vMPK0djf5u30+wIJEBceJSwzOkFIT1ZdZGtyeYCHjpWco6qxuL/GzdTb4unw9/4FDBMaISgvNj1ES1JZYGdudXyDipGYn6attLvCydDX3uXs8/oBCA8WHSQrMjlAR05VXGNqcXh/ho2Um6KpsLe+xczT2uHo7/b9BAsSGSAnLjU8Q0pRWF9mbXR7gomQl56lrLO6wcjP1t3k6/L5AAcOFRwjKjE4P0ZNVFtiaXB3foWMk5qhqK+2vcTL0tng5+71/AMKERgfJi00O0JJUFdeZWxzeoGIj5adpKuyucDHztXc4+rx+P8GDRQbIikwNz5FTFNaYWhvdn2Ei5KZoKeutbzDytHY3+bt9PsCCRAXHiUsMzpBSE9WXWRrcnmAh46VnKOqsbi/xs3U2+Lp8Pf+BQwTGiEoLzY9REtSWWBnbnV8g4qRmJ+mrbS7wsnQ197l7PP6AQgPFh0kKzI5QEdOVVxjanF4f4aNlJuiqbC3vsXM09rh6O/2/QQLEhkgJy41PENKUVhfZm10e4KJkJeepayzusHIz9bd5Ovy+QAHDhUcIyoxOD9GTVRbYmlwd36FjJOaoaivtr3Ey9LZ4Ofu9fwDChEYHyYtNDtCSVBXXmVsc3qBiI+WnaSrsrnAx87V3OPq8fj/Bg0UGyIpMDc+RUxTWmFob3Z9hIuSmaCnrrW8w8rR2N/m7fT7AgkQFx4lLDM6QUhPVl1ka3J5gIeOlZyjqrG4v8bN1Nvi6fD3/gUMExohKC82PURLUllgZ251fIOKkZifpq20u8LJ0Nfe5ezz+gEIDxYdJCsyOUBHTlVcY2pxeH+GjZSboqmwt77FzNPa4ejv9v0ECxIZICcuNTxDSlFYX2ZtdHuCiZCXnqWss7rByM/W3eTr8vkABw4VHCMqMTg/Rk1UW2JpcHd+hYyTmqGor7a9xMvS2eDn7vX8AwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kq7K5wMfO1dzj6vH4/wYNFBsiKTA3PkVMU1phaG92fYSLkpmgp661vMPK0djf5u30+wIJEBceJSwzOkFIT1ZdZGtyeYCHjpWco6qxuL/GzdTb4unw9/4FDBMaISgvNj1ES1JZYGdudXyDipGYn6attLvCydDX3uXs8/oB\"}]}");
}

/* nan/inf written by number printers (not JSON) read as gaps; inside
 * strings they stay text. */
Test(spec, nonfinite_literals) {
    drawn_ok("nan/inf literals", "{\"kind\":\"line\",\"series\":[{\"name\":\"nan inf\",\"y\":[1,nan,-nan,inf,-inf,NaN,Infinity,-Infinity,2]}]}");
    char err[256];
    fg_spec *s = fg_spec_parse("{\"kind\":\"line\",\"title\":\"inf nan\",\"series\":[{\"y\":[1,nan,3]}]}", ".", err, sizeof err);
    cr_assert(s, "%s", err);
    cr_assert_str_eq(s->title, "inf nan");
    cr_assert(isnan(s->series[0].y.v[1]) && s->series[0].y.v[2] == 3);
    fg_spec_free(s);
    cr_assert_null(fg_spec_parse("{\"kind\":\"line\",\"series\":[{\"y\":[1,nanx]}]}", ".", err, sizeof err), "nanx is not a number");
}

/* Empty Lua tables arrive as {} as often as []. */
Test(spec, empty_object_is_empty_array) {
    drawn_ok("{} for []", "{\"kind\":\"line\",\"x_label\":\"x\",\"series\":[{\"name\":\"a\",\"x\":{},\"y\":{}},{\"name\":\"b\",\"y\":[1,2]}],\"hlines\":{}}");
    marked("series {}", "{\"kind\":\"curve\",\"series\":{}}");
}

Test(bad, invalid_utf8) {
    drawn_ok("invalid UTF-8 labels", "{\"kind\":\"bar\",\"x_label\":\"caf\xe9\",\"categories\":[\"\xff\xfe\",\"ok\"],\"series\":[{\"name\":\"\xc3\",\"y\":[1,2]},{\"name\":\"b\",\"y\":[2,1]}]}");
}

/* Found by tests/fuzz/fuzz_figspec: a band whose x is 0 on a log2 axis maps
 * to -inf, and the band's fill steps were (int)(inf) (UBSan, SANITIZE=1). */
Test(bad, band_at_log_zero) {
    long ink;
    char err[256] = "";
    render("{\"kind\":\"line\",\"x_scale\":\"log2\",\"series\":[{\"name\":\"a\",\"x\":[0,2,4],"
           "\"y\":[1,2,3],\"lo\":[0.5,1.5,2.5],\"hi\":[1.5,2.5,3.5]}]}", &ink, err, sizeof err);
    cr_assert_gt(ink, 0, "nothing drawn (%s)", err);
}
