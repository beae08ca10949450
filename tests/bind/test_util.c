/* lua/bind/lx_util.c: the option readers and the class helper every
 * binding uses. */
#include <criterion/criterion.h>
#include <lauxlib.h>
#include <lualib.h>
#include <string.h>

#include "lx.h"

static int releases;
static int release(lua_State *L) { releases++; return 0; }
static int hello(lua_State *L) { lua_pushliteral(L, "hi"); return 1; }

/* opts(t) -> n, x, b, d read with the shared readers */
static int read_opts(lua_State *L) {
    lua_pushinteger(L, lx_opt_int(L, 1, "n", 7, "test"));
    lua_pushnumber(L, lx_opt_num(L, 1, "x", 0.5, "test"));
    lua_pushboolean(L, lx_opt_bool(L, 1, "b", 0));
    lua_pushboolean(L, lx_opt_bool(L, 1, "d", 1));
    return 4;
}

static lua_State *state(void) {
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    lua_register(L, "opts", read_opts);
    return L;
}

static void run(lua_State *L, const char *code) {
    cr_assert_eq(luaL_dostring(L, code), LUA_OK, "%s: %s", code, lua_tostring(L, -1));
}

Test(bind_util, options_defaults_values_and_errors) {
    lua_State *L = state();
    run(L, "local n, x, b, d = opts{}; assert(n == 7 and x == 0.5 and b == false and d == true)");
    run(L, "local n, x, b, d = opts(); assert(n == 7 and x == 0.5 and d == true)");
    run(L, "local n, x, b, d = opts{n = 3, x = '2.5', b = 1, d = false};"
           "assert(n == 3 and x == 2.5 and b == true and d == false)");
    run(L, "local n = opts{n = 4.0}; assert(n == 4 and math.type(n) == 'integer')");
    const char *bad[][2] = {
        { "opts{n = 1.5}", "test: n must be an integer" },
        { "opts{n = 'three'}", "test: n must be an integer" },
        { "opts{x = {}}", "test: x must be a number" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_neq(luaL_dostring(L, bad[i][0]), LUA_OK, "%s should fail", bad[i][0]);
        cr_expect(strstr(lua_tostring(L, -1), bad[i][1]), "%s: '%s'", bad[i][0], lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    lua_close(L);
}

Test(bind_util, class_has_methods_and_one_release_for_gc_and_close) {
    lua_State *L = state();
    static const luaL_Reg methods[] = { {"hello", hello}, {NULL, NULL} };
    cr_assert_eq(lx_class_new(L, "test.Thing", methods, release), 1);
    lua_pop(L, 1);
    cr_assert_eq(lx_class_new(L, "test.Thing", NULL, NULL), 0, "exists: left as it was");
    lua_getfield(L, -1, "__index");
    cr_assert(lua_istable(L, -1), "the first call's methods are kept");
    lua_pop(L, 2);
    releases = 0;
    lua_newuserdatauv(L, 8, 0);
    luaL_setmetatable(L, "test.Thing");
    lua_setglobal(L, "thing");
    run(L, "assert(thing:hello() == 'hi'); do local t <close> = thing end");
    cr_expect_eq(releases, 1, "__close ran the release");
    run(L, "thing = nil; collectgarbage(); collectgarbage()");
    cr_expect_eq(releases, 2, "__gc ran the release");
    lua_close(L);
}
