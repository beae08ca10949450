/* `clipbook run`: one chapter in its own Lua state. The work is done by
 * lua/notebook/runner.lua; this file finds it, opens the modules and passes argv. */
#include <limits.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lx.h"
#include "nb.h"

/* The lua/ folder: $CLIPBOOK_LUA, else the nearest ancestor of the binary
 * (build/bin/clipbook, build/asan/bin/clipbook) holding lua/notebook/runner.lua,
 * else ./lua. */
static void find_lua_dir(char *out, size_t cap) {
    const char *env = getenv("CLIPBOOK_LUA");
    if (env && *env) { snprintf(out, cap, "%s", env); return; }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        for (int up = 0; up < 5; up++) {
            char *slash = strrchr(exe, '/');
            if (!slash) break;
            *slash = 0;
            char probe[PATH_MAX + 32];
            snprintf(probe, sizeof probe, "%s/lua/notebook/runner.lua", exe);
            if (access(probe, R_OK) == 0) {
                size_t k = strlen(probe) - strlen("/runner.lua");
                probe[k] = 0;
                snprintf(out, cap, "%.*s", (int)(cap - 1), probe);
                return;
            }
        }
    }
    snprintf(out, cap, "lua/notebook");
}

static int traceback(lua_State *L) {
    luaL_traceback(L, L, lua_tostring(L, 1), 1);
    return 1;
}

int nb_lua_main(const char *entry, int argc, char **argv) {
    lua_State *L = luaL_newstate();
    if (!L) { fprintf(stderr, "clipbook: out of memory\n"); return 1; }
    luaL_openlibs(L);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_clipbook); lua_setfield(L, -2, "clipbook");
    lua_pushcfunction(L, luaopen_clipbook_runtime); lua_setfield(L, -2, "clipbook.runtime");
    lua_pop(L, 1);
    char dir[PATH_MAX];
    find_lua_dir(dir, sizeof dir);
    lua_getglobal(L, "package");
    lua_pushfstring(L, "%s/?.lua", dir);
    lua_setfield(L, -2, "path");
    lua_pushstring(L, dir);
    lua_setfield(L, -2, "clipbook_dir");
    lua_pop(L, 1);
    lua_pushcfunction(L, traceback);
    lua_getglobal(L, "require");
    lua_pushstring(L, "runner");
    int rc = 1;
    if (lua_pcall(L, 1, 1, 1) != LUA_OK) {
        fprintf(stderr, "clipbook %s: %s\n", entry, lua_tostring(L, -1));
        lua_close(L);
        return 1;
    }
    lua_getfield(L, -1, entry);
    lua_createtable(L, argc, 0);
    for (int i = 1; i < argc; i++) { lua_pushstring(L, argv[i]); lua_rawseti(L, -2, i); }
    if (lua_pcall(L, 1, 1, 1) != LUA_OK) {
        fprintf(stderr, "clipbook %s: internal error: %s\n", entry, lua_tostring(L, -1));
    } else {
        rc = (int)luaL_optinteger(L, -1, 0);
    }
    lua_close(L);
    return rc;
}

int nb_cmd_run(int argc, char **argv) { return nb_lua_main("run", argc, argv); }
