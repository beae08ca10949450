/* The runner's C parts: SHA-256, chapter parsing, local hoisting, memo
 * entries (checksums, locks, why), Lua value serialisation and JSON. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "en_error.h"
#include "lx.h"
#include "nb_chapter.h"
#include "nb.h"
#include "nb_memo.h"
#include "en_sha256.h"

static void hex_of(const char *msg, size_t n, char out[65]) {
    uint8_t d[32];
    en_sha256_digest(d, msg, n);
    en_sha256_tohex(out, d);
}

Test(sha256, nist_vectors) {
    /* FIPS 180-2 appendix B examples */
    struct { const char *msg, *hex; } v[] = {
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        char h[65];
        hex_of(v[i].msg, strlen(v[i].msg), h);
        cr_expect_str_eq(h, v[i].hex, "vector %zu", i);
    }
}

Test(sha256, million_a_in_odd_chunks) {
    en_sha256 s;
    en_sha256_init(&s);
    char buf[997];
    memset(buf, 'a', sizeof buf);
    size_t left = 1000000;
    while (left) {
        size_t k = left < sizeof buf ? left : (left % 7) + 900;
        en_sha256_update(&s, buf, k);
        left -= k;
    }
    uint8_t d[32];
    char h[65];
    en_sha256_final(&s, d);
    en_sha256_tohex(h, d);
    cr_expect_str_eq(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static const char *CHAPTER =
    "-- preamble comment only\n"          /* 1 */
    "local pre = 1\n"                     /* 2 */
    "-- %% [markdown]\n"                  /* 3 */
    "-- # Title\n"                        /* 4 */
    "--\n"                                /* 5 */
    "-- Value {{ pre }}.\n"               /* 6 */
    "\n"                                  /* 7 */
    "-- %% train heads echo=false label=fig-a caption=\"Two words\"\n" /* 8 */
    "\n"                                  /* 9 */
    "local x = 2\n"                       /* 10 */
    "print(x)\n";                         /* 11 */

Test(chapter, cells_titles_options_lines) {
    nb_chapter ch;
    cr_assert_eq(nb_chapter_parse(&ch, CHAPTER, strlen(CHAPTER)), 0, "%s", en_error_msg());
    cr_assert_eq(ch.ncells, 3);
    cr_expect_eq(ch.cells[0].kind, NB_CELL_CODE);
    cr_expect_eq(ch.cells[0].first, 1);
    cr_expect_eq(ch.cells[1].kind, NB_CELL_MARKDOWN);
    cr_expect_str_eq(ch.cells[1].text, "# Title\n\nValue {{ pre }}.\n");
    cr_expect_eq(ch.cells[1].first, 4);
    const nb_cell *c = &ch.cells[2];
    cr_expect_str_eq(c->title, "train heads");
    cr_expect_str_eq(nb_cell_opt(c, "echo"), "false");
    cr_expect_str_eq(nb_cell_opt(c, "label"), "fig-a");
    cr_expect_str_eq(nb_cell_opt(c, "caption"), "Two words");
    cr_expect_eq(c->line, 8);
    cr_expect_eq(c->first, 10);
    cr_expect_eq(c->last, 11);
    /* code keeps file line numbers: 9 newlines, then line 10 */
    int nl = 0;
    const char *p = c->code;
    while (*p == '\n') { nl++; p++; }
    cr_expect_eq(nl, 9);
    cr_expect_str_eq(p, "      x = 2\nprint(x)\n");
    nb_chapter_free(&ch);
}

Test(chapter, markdown_line_without_comment_is_an_error) {
    const char *s = "-- %% [markdown]\n-- ok\nnot a comment\n";
    nb_chapter ch;
    cr_expect_eq(nb_chapter_parse(&ch, s, strlen(s)), -1);
    cr_expect(strstr(en_error_msg(), "line 3") != NULL, "message: %s", en_error_msg());
}

Test(hoist, top_level_only) {
    struct { const char *in, *out; } v[] = {
        {"local a = 1", "      a = 1"},
        {"local a, b = 1, 2", "      a, b = 1, 2"},
        {"local a", "      a = nil"},
        {"local a, b\nprint(a)", "      a, b = nil\nprint(a)"},
        {"local function f() local y = 1 end", "      function f() local y = 1 end"},
        {"local k <const> = 3", "      k         = 3"},
        {"local f <close> = g()", "local f <close> = g()"},
        {"do local z = 1 end", "do local z = 1 end"},
        {"for i = 1, 2 do local q = i end local r = 1", "for i = 1, 2 do local q = i end       r = 1"},
        {"if x then local a = 1 elseif y then local b = 2 else local c = 3 end", "if x then local a = 1 elseif y then local b = 2 else local c = 3 end"},
        {"repeat local u = 1 until u\nlocal w = 'end'", "repeat local u = 1 until u\n      w = 'end'"},
        {"s = [[ local in string ]] -- local in comment\nlocal v = 1", "s = [[ local in string ]] -- local in comment\n      v = 1"},
        {"local t = { f = function() local inner = 1 end }", "      t = { f = function() local inner = 1 end }"},
        {"local a = 1 == 1", "      a = 1 == 1"},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        char *h = nb_lua_hoist_locals(v[i].in, strlen(v[i].in));
        cr_expect_str_eq(h, v[i].out, "case %zu: %s", i, v[i].in);
        free(h);
    }
}

static char tmpdir[64];
static void mk_tmp(void) {
    strcpy(tmpdir, "/tmp/cbtestXXXXXX");
    cr_assert(mkdtemp(tmpdir));
}
static void rm_tmp(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd)) {}
}

Test(memo, roundtrip_truncation_and_bitflip, .init = mk_tmp, .fini = rm_tmp) {
    nb_memo *m = nb_memo_open(tmpdir, "test");
    cr_assert(m, "%s", en_error_msg());
    const char payload[] = "some payload bytes";
    cr_assert_eq(nb_memo_put(m, "art", "k1", payload, sizeof payload), 0);
    char *d; size_t n;
    cr_assert_eq(nb_memo_get(m, "art", "k1", &d, &n), 0);
    cr_expect_eq(n, sizeof payload);
    cr_expect_eq(memcmp(d, payload, n), 0);
    free(d);
    cr_expect_eq(nb_memo_get(m, "art", "nokey", &d, &n), 1);
    char path[256];
    snprintf(path, sizeof path, "%s/art/k1.val", tmpdir);
    /* a flipped payload byte fails the checksum */
    int fd = open(path, O_WRONLY);
    cr_assert(pwrite(fd, "X", 1, NB_MEMO_HEADER + 2) == 1);
    close(fd);
    cr_expect_eq(nb_memo_get(m, "art", "k1", &d, &n), 2);
    cr_expect(strstr(en_error_msg(), "checksum"), "%s", en_error_msg());
    cr_expect_eq(nb_memo_get(m, "art", "k1", &d, &n), 1, "a corrupt entry is removed");
    /* a truncated entry fails its length */
    cr_assert_eq(nb_memo_put(m, "art", "k1", payload, sizeof payload), 0);
    cr_assert_eq(truncate(path, NB_MEMO_HEADER + 3), 0);
    cr_expect_eq(nb_memo_get(m, "art", "k1", &d, &n), 2);
    cr_expect(strstr(en_error_msg(), "truncated"), "%s", en_error_msg());
    nb_memo_close(m);
}

Test(memo, lock_is_exclusive, .init = mk_tmp, .fini = rm_tmp) {
    nb_memo *m = nb_memo_open(tmpdir, "test");
    int fd = nb_memo_lock(m, "art", "k");
    cr_assert(fd >= 0);
    char path[256];
    snprintf(path, sizeof path, "%s/art/k.lock", tmpdir);
    int fd2 = open(path, O_RDWR);
    cr_expect_eq(flock(fd2, LOCK_EX | LOCK_NB), -1, "second lock must fail while held");
    nb_memo_unlock(fd);
    cr_expect_eq(flock(fd2, LOCK_EX | LOCK_NB), 0, "free after unlock");
    close(fd2);
    nb_memo_close(m);
}

Test(memo, explain_names_what_changed, .init = mk_tmp, .fini = rm_tmp) {
    nb_memo *m = nb_memo_open(tmpdir, "test");
    char why[512];
    const char *a = "{\"key\":\"k1\",\"params\":{\"lr\":0.1,\"k\":1},\"env\":{},\"source\":\"return 1\",\"engine\":\"0.1\",\"profile\":\"mini\"}";
    cr_assert_eq(nb_memo_explain(m, "art", a, 1, why, sizeof why), 0);
    cr_expect_str_eq(why, "new");
    const char *b = "{\"key\":\"k2\",\"params\":{\"lr\":0.2,\"k\":1},\"env\":{},\"source\":\"return 1\",\"engine\":\"0.1\",\"profile\":\"mini\"}";
    cr_assert_eq(nb_memo_explain(m, "art", b, 0, why, sizeof why), 0);
    cr_expect_str_eq(why, "params changed: lr 0.1 -> 0.2");
    const char *c = "{\"key\":\"k3\",\"params\":{\"lr\":0.1,\"k\":1},\"env\":{},\"source\":\"return 2\",\"engine\":\"0.2\",\"profile\":\"mini\"}";
    cr_assert_eq(nb_memo_explain(m, "art", c, 0, why, sizeof why), 0);
    cr_expect(strstr(why, "source changed (line 1 of the function: `return 2`)"), "%s", why);
    cr_expect(strstr(why, "engine 0.1 -> 0.2"), "%s", why);
    nb_memo_close(m);
}

static lua_State *newL(void) {
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    luaL_requiref(L, "clipbook.runtime", luaopen_clipbook_runtime, 0);
    lua_setglobal(L, "rt");
    return L;
}

static const char *eval(lua_State *L, const char *code) {
    if (luaL_dostring(L, code) != LUA_OK) return lua_tostring(L, -1);
    return lua_tostring(L, -1);
}

Test(values, pack_roundtrip_and_canonical_json) {
    lua_State *L = newL();
    cr_expect_str_eq(eval(L, "local v = {1, 2.5, 'x', true, {a = {b = -3}}, [10] = 'ten', s = 'q\\0z'}\n"
                             "local w = rt.unpack(rt.pack(v))\n"
                             "return rt.canon(w) == rt.canon(v) and tostring(w[2]) .. w.s:len() or 'differs'"),
                     "2.53");
    cr_expect_str_eq(eval(L, "return rt.canon({b = 1, a = {2, 3}, c = 0.1})"), "{\"a\":[2,3],\"b\":1,\"c\":0.1}");
    cr_expect_str_eq(eval(L, "return rt.canon({0/0, 1/0})"), "[\"nan\",\"inf\"]");
    cr_expect_str_eq(eval(L, "return rt.json({0/0, 'a\"\\n'})"), "[null,\"a\\\"\\n\"]");
    const char *e = eval(L, "local ok, m = pcall(rt.canon, {x = {f = print}}) return m");
    cr_expect(strstr(e, "x.f"), "error should name the path: %s", e);
    e = eval(L, "local t = {} t.self = t local ok, m = pcall(rt.pack, t) return m");
    cr_expect(strstr(e, "contains itself"), "%s", e);
    e = eval(L, "local s = rt.pack({1,2,3}) local v, m = rt.unpack(s:sub(1, -3)) return tostring(v) .. ' ' .. m");
    cr_expect(strstr(e, "nil memo: value truncated"), "%s", e);
    lua_close(L);
}

/* ---- figure specs as the runner checks them (fg_spec_check) ---------- */

#include <cairo.h>
#include <math.h>

#include "fg.h"

/* A sorted series of n points: a sine with a one-point spike of height
 * `spike` every 99,991 points (what thinning must keep: a column's extremes).
 * (Dense noise would do too, but cairo takes minutes to stroke a million
 * crossing segments.) */
static char *series_json(int n, double spike, const char *extra) {
    size_t cap = (size_t)n * 52 + 512, k = 0;
    char *s = malloc(cap);
    cr_assert(s);
    k += snprintf(s + k, cap - k, "{\"kind\":\"line\",\"title\":\"points\"%s,\"series\":[{\"name\":\"signal\",\"x\":[", extra);
    for (int i = 0; i < n; i++) k += snprintf(s + k, cap - k, "%s%.17g", i ? "," : "", (double)i / n);
    k += snprintf(s + k, cap - k, "],\"y\":[");
    for (int i = 0; i < n; i++)
        k += snprintf(s + k, cap - k, "%s%.17g", i ? "," : "", sin(40 * M_PI * i / n) + (i % 99991 == 500 ? spike : 0));
    snprintf(s + k, cap - k, "]}]}");
    return s;
}

/* Worst channel difference between two PNGs of one size; *over8: how many
 * channel values differ by more than 8 (of *total). */
static int png_diff(const char *a, const char *b, long *over8, long *total) {
    cairo_surface_t *x = cairo_image_surface_create_from_png(a), *y = cairo_image_surface_create_from_png(b);
    cr_assert_eq(cairo_surface_status(x), CAIRO_STATUS_SUCCESS);
    cr_assert_eq(cairo_surface_status(y), CAIRO_STATUS_SUCCESS);
    int w = cairo_image_surface_get_width(x), h = cairo_image_surface_get_height(x);
    cr_assert(w == cairo_image_surface_get_width(y) && h == cairo_image_surface_get_height(y));
    int st = cairo_image_surface_get_stride(x), worst = 0;
    const unsigned char *p = cairo_image_surface_get_data(x), *q = cairo_image_surface_get_data(y);
    *over8 = 0;
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w * 4; j++) {
            int d = abs(p[i * st + j] - q[i * st + j]);
            if (d > worst) worst = d;
            if (d > 8) (*over8)++;
        }
    *total = (long)w * h * 4;
    cairo_surface_destroy(x);
    cairo_surface_destroy(y);
    return worst;
}

Test(figcheck, million_points_thinned_same_picture, .timeout = 300) {
    /* the legend is placed by hand: automatic placement samples at most
     * 400,000 points of ink (fg_legend.c), so for the full series it would
     * judge corners by the first 40 % of the line only */
    char *full = series_json(1000000, 0.4, ",\"legend\":\"outside\"");
    char *thin = NULL, err[256] = "";
    cr_assert_eq(fg_spec_check(full, ".", &thin, err, sizeof err), 0, "%s", err);
    cr_assert_not_null(thin, "a million points must be thinned");
    /* at most 8 points per column (first, last, the extremes and their
     * neighbours), two numbers of <= 25 characters each */
    size_t bound = (size_t)8 * FG_THIN_COLUMNS * 2 * 26 + 1024;
    printf("figcheck: spec %zu bytes -> %zu bytes (bound %zu)\n", strlen(full), strlen(thin), bound);
    cr_expect_leq(strlen(thin), bound);
    fg_spec *a = fg_spec_parse(full, ".", err, sizeof err), *b = fg_spec_parse(thin, ".", err, sizeof err);
    cr_assert(a && b, "%s", err);
    char dir[] = "/tmp/cbfigXXXXXX";
    cr_assert(mkdtemp(dir));
    /* the PNG preview's size (390 pt at 2 px/pt) and a print-sized one */
    const double widths[] = { 390, 1200 };
    for (int i = 0; i < 2; i++) {
        char pa[128], pb[128];
        snprintf(pa, sizeof pa, "%s/full.png", dir);
        snprintf(pb, sizeof pb, "%s/thin.png", dir);
        cr_assert_eq(fg_render_file(a, pa, widths[i], 0, err, sizeof err), 0, "%s", err);
        cr_assert_eq(fg_render_file(b, pb, widths[i], 0, err, sizeof err), 0, "%s", err);
        long over8, total;
        int worst = png_diff(pa, pb, &over8, &total);
        printf("figcheck: %.0f pt: worst channel difference %d/255, %ld of %ld values differ by more than 8\n",
               widths[i], worst, over8, total);
        /* Each pixel column keeps its first, lowest, highest and last point,
         * so the pixels the line covers are the same; what can differ is the
         * antialiased coverage of edge pixels where the kept polyline joins
         * differently from the dense one: a fraction of one pixel's area,
         * under 1/8 (32/255), and only in a thin set of edge pixels. */
        cr_expect_leq(worst, 32, "%.0f pt: worst difference %d", widths[i], worst);
        cr_expect_leq(over8, total / 10000, "%.0f pt: %ld values differ by more than 8", widths[i], over8);
        unlink(pa);
        unlink(pb);
    }
    rmdir(dir);
    fg_spec_free(a);
    fg_spec_free(b);
    free(full);
    free(thin);
}

Test(figcheck, what_is_left_alone_and_what_is_refused) {
    char *thin = NULL, err[256] = "";
    /* short series, and long ones with markers or a band: untouched */
    char *s = series_json(1000, 0, "");
    cr_expect_eq(fg_spec_check(s, ".", &thin, err, sizeof err), 0, "%s", err);
    cr_expect_null(thin);
    free(s);
    s = series_json(50000, 0, ",\"markers\":true");
    cr_expect_eq(fg_spec_check(s, ".", &thin, err, sizeof err), 0, "%s", err);
    cr_expect_null(thin, "a series with markers draws every point");
    free(s);
    /* a heatmap past the limit is refused with a message */
    size_t cap = 8 * 600 * 600 + 256, k = 0;
    char *h = malloc(cap);
    k += snprintf(h + k, cap - k, "{\"kind\":\"heatmap\",\"values\":[");
    for (int r = 0; r < 600; r++) {
        k += snprintf(h + k, cap - k, "%s[", r ? "," : "");
        for (int c = 0; c < 600; c++) k += snprintf(h + k, cap - k, "%s1", c ? "," : "");
        k += snprintf(h + k, cap - k, "]");
    }
    snprintf(h + k, cap - k, "]}");
    cr_expect_eq(fg_spec_check(h, ".", &thin, err, sizeof err), -1);
    cr_expect(strstr(err, "heatmap: 360000 cells"), "%s", err);
    free(h);
    /* a missing PNG is not read at check time (the renderer marks it) */
    cr_expect_eq(fg_spec_check("{\"kind\":\"image_grid\",\"images\":[\"no/such.png\"]}", ".", &thin, err, sizeof err), 0, "%s", err);
    cr_expect_eq(fg_spec_check("{\"kind\":\"pie\"}", ".", &thin, err, sizeof err), -1);
    cr_expect(strstr(err, "unknown figure kind 'pie' (line, curve (training), bar"), "%s", err);
}

Test(figcheck, one_table_of_kinds) {
    cr_assert_eq(fg_kind_count, 7);
    for (int i = 0; i < fg_kind_count; i++) cr_expect_eq(fg_kind_of(fg_kind_names[i]), i, "%s", fg_kind_names[i]);
    cr_expect_eq(fg_kind_of("training"), fg_kind_of("curve"));
    cr_expect_eq(fg_kind_of("pie"), -1);
    lua_State *L = newL();
    cr_expect_str_eq(eval(L, "return table.concat(rt.figure_kinds(), ',')"),
                     "line,curve,bar,heatmap,image_grid,mask_overlay,panels");
    lua_close(L);
}
