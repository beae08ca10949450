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
#include "rp_chapter.h"
#include "rp_memo.h"
#include "rp_sha256.h"

static void hex_of(const char *msg, size_t n, char out[65]) {
    uint8_t d[32];
    rp_sha256_digest(d, msg, n);
    rp_sha256_tohex(out, d);
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
    rp_sha256 s;
    rp_sha256_init(&s);
    char buf[997];
    memset(buf, 'a', sizeof buf);
    size_t left = 1000000;
    while (left) {
        size_t k = left < sizeof buf ? left : (left % 7) + 900;
        rp_sha256_update(&s, buf, k);
        left -= k;
    }
    uint8_t d[32];
    char h[65];
    rp_sha256_final(&s, d);
    rp_sha256_tohex(h, d);
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
    rp_chapter ch;
    cr_assert_eq(rp_chapter_parse(&ch, CHAPTER, strlen(CHAPTER)), 0, "%s", en_error_msg());
    cr_assert_eq(ch.ncells, 3);
    cr_expect_eq(ch.cells[0].kind, RP_CELL_CODE);
    cr_expect_eq(ch.cells[0].first, 1);
    cr_expect_eq(ch.cells[1].kind, RP_CELL_MARKDOWN);
    cr_expect_str_eq(ch.cells[1].text, "# Title\n\nValue {{ pre }}.\n");
    cr_expect_eq(ch.cells[1].first, 4);
    const rp_cell *c = &ch.cells[2];
    cr_expect_str_eq(c->title, "train heads");
    cr_expect_str_eq(rp_cell_opt(c, "echo"), "false");
    cr_expect_str_eq(rp_cell_opt(c, "label"), "fig-a");
    cr_expect_str_eq(rp_cell_opt(c, "caption"), "Two words");
    cr_expect_eq(c->line, 8);
    cr_expect_eq(c->first, 10);
    cr_expect_eq(c->last, 11);
    /* code keeps file line numbers: 9 newlines, then line 10 */
    int nl = 0;
    const char *p = c->code;
    while (*p == '\n') { nl++; p++; }
    cr_expect_eq(nl, 9);
    cr_expect_str_eq(p, "      x = 2\nprint(x)\n");
    rp_chapter_free(&ch);
}

Test(chapter, markdown_line_without_comment_is_an_error) {
    const char *s = "-- %% [markdown]\n-- ok\nnot a comment\n";
    rp_chapter ch;
    cr_expect_eq(rp_chapter_parse(&ch, s, strlen(s)), -1);
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
        char *h = rp_lua_hoist_locals(v[i].in, strlen(v[i].in));
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
    rp_memo *m = rp_memo_open(tmpdir, "test");
    cr_assert(m, "%s", en_error_msg());
    const char payload[] = "some payload bytes";
    cr_assert_eq(rp_memo_put(m, "art", "k1", payload, sizeof payload), 0);
    char *d; size_t n;
    cr_assert_eq(rp_memo_get(m, "art", "k1", &d, &n), 0);
    cr_expect_eq(n, sizeof payload);
    cr_expect_eq(memcmp(d, payload, n), 0);
    free(d);
    cr_expect_eq(rp_memo_get(m, "art", "nokey", &d, &n), 1);
    char path[256];
    snprintf(path, sizeof path, "%s/art/k1.val", tmpdir);
    /* a flipped payload byte fails the checksum */
    int fd = open(path, O_WRONLY);
    cr_assert(pwrite(fd, "X", 1, RP_MEMO_HEADER + 2) == 1);
    close(fd);
    cr_expect_eq(rp_memo_get(m, "art", "k1", &d, &n), 2);
    cr_expect(strstr(en_error_msg(), "checksum"), "%s", en_error_msg());
    cr_expect_eq(rp_memo_get(m, "art", "k1", &d, &n), 1, "a corrupt entry is removed");
    /* a truncated entry fails its length */
    cr_assert_eq(rp_memo_put(m, "art", "k1", payload, sizeof payload), 0);
    cr_assert_eq(truncate(path, RP_MEMO_HEADER + 3), 0);
    cr_expect_eq(rp_memo_get(m, "art", "k1", &d, &n), 2);
    cr_expect(strstr(en_error_msg(), "truncated"), "%s", en_error_msg());
    rp_memo_close(m);
}

Test(memo, lock_is_exclusive, .init = mk_tmp, .fini = rm_tmp) {
    rp_memo *m = rp_memo_open(tmpdir, "test");
    int fd = rp_memo_lock(m, "art", "k");
    cr_assert(fd >= 0);
    char path[256];
    snprintf(path, sizeof path, "%s/art/k.lock", tmpdir);
    int fd2 = open(path, O_RDWR);
    cr_expect_eq(flock(fd2, LOCK_EX | LOCK_NB), -1, "second lock must fail while held");
    rp_memo_unlock(fd);
    cr_expect_eq(flock(fd2, LOCK_EX | LOCK_NB), 0, "free after unlock");
    close(fd2);
    rp_memo_close(m);
}

Test(memo, explain_names_what_changed, .init = mk_tmp, .fini = rm_tmp) {
    rp_memo *m = rp_memo_open(tmpdir, "test");
    char why[512];
    const char *a = "{\"key\":\"k1\",\"params\":{\"lr\":0.1,\"k\":1},\"env\":{},\"source\":\"return 1\",\"engine\":\"0.1\",\"profile\":\"mini\"}";
    cr_assert_eq(rp_memo_explain(m, "art", a, 1, why, sizeof why), 0);
    cr_expect_str_eq(why, "new");
    const char *b = "{\"key\":\"k2\",\"params\":{\"lr\":0.2,\"k\":1},\"env\":{},\"source\":\"return 1\",\"engine\":\"0.1\",\"profile\":\"mini\"}";
    cr_assert_eq(rp_memo_explain(m, "art", b, 0, why, sizeof why), 0);
    cr_expect_str_eq(why, "params changed: lr 0.1 -> 0.2");
    const char *c = "{\"key\":\"k3\",\"params\":{\"lr\":0.1,\"k\":1},\"env\":{},\"source\":\"return 2\",\"engine\":\"0.2\",\"profile\":\"mini\"}";
    cr_assert_eq(rp_memo_explain(m, "art", c, 0, why, sizeof why), 0);
    cr_expect(strstr(why, "source changed (line 1 of the function: `return 2`)"), "%s", why);
    cr_expect(strstr(why, "engine 0.1 -> 0.2"), "%s", why);
    rp_memo_close(m);
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
