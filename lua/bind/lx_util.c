/* The helpers every binding shares: option fields and userdata classes
 * (see lx.h). */
#include "lx.h"

lua_Integer lx_opt_int(lua_State *L, int t, const char *k, lua_Integer def, const char *what) {
    if (!lua_istable(L, t)) return def;
    lua_getfield(L, t, k);
    lua_Integer v = def;
    if (!lua_isnil(L, -1)) {
        int ok;
        v = lua_tointegerx(L, -1, &ok);
        if (!ok) luaL_error(L, "%s: %s must be an integer", what, k);
    }
    lua_pop(L, 1);
    return v;
}

double lx_opt_num(lua_State *L, int t, const char *k, double def, const char *what) {
    if (!lua_istable(L, t)) return def;
    lua_getfield(L, t, k);
    double v = def;
    if (!lua_isnil(L, -1)) {
        int ok;
        v = lua_tonumberx(L, -1, &ok);
        if (!ok) luaL_error(L, "%s: %s must be a number", what, k);
    }
    lua_pop(L, 1);
    return v;
}

int lx_opt_bool(lua_State *L, int t, const char *k, int def) {
    if (!lua_istable(L, t)) return def;
    lua_getfield(L, t, k);
    int v = lua_isnil(L, -1) ? def : lua_toboolean(L, -1);
    lua_pop(L, 1);
    return v;
}

int lx_class_new(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction release) {
    if (!luaL_newmetatable(L, name)) return 0;
    if (methods) {
        int n = 0;
        while (methods[n].name) n++;
        lua_createtable(L, 0, n);
        luaL_setfuncs(L, methods, 0);
        lua_setfield(L, -2, "__index");
    }
    if (release) {
        lua_pushcfunction(L, release); lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, release); lua_setfield(L, -2, "__close");
    }
    return 1;
}
