/* "clipbook.runtime": the C services behind lua/notebook/runner.lua and
 * lua/notebook/notebook.lua (not for chapters). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "en_error.h"
#include "en_file.h"
#include "en_rng.h"
#include "en_tensor.h"
#include "en_machine.h"
#include "en_version.h"
#include "fg.h"
#include "lx.h"
#include "nb_chapter.h"
#include "nb.h"
#include "nb_memo.h"
#include "en_sha256.h"
#include "nb_filehash.h"

en_rng *lx_rng_global(void); /* lx_clipbook.c */

#define MEMO_MT "clipbook.MemoStore"
#define LOCK_MT "clipbook.MemoLock"

static int fail(lua_State *L) {
    lua_pushnil(L);
    lua_pushstring(L, en_error_msg());
    return 2;
}

/* parse(path) -> cells, source | nil, message */
static int rt_parse(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    size_t n;
    char *src = en_file_read(path, &n);
    if (!src) return fail(L);
    lua_pushlstring(L, src, n);  /* may raise: copy first, then free */
    free(src);
    size_t sn;
    const char *s = lua_tolstring(L, -1, &sn);
    nb_chapter ch;
    if (nb_chapter_parse(&ch, s, sn) < 0) return fail(L);
    /* build the table from a copy so a memory error cannot leak ch */
    lua_createtable(L, ch.ncells, 0);
    for (int i = 0; i < ch.ncells; i++) {
        const nb_cell *c = &ch.cells[i];
        lua_createtable(L, 0, 9);
        lua_pushstring(L, c->kind == NB_CELL_CODE ? "code" : "markdown"); lua_setfield(L, -2, "kind");
        lua_pushinteger(L, c->line); lua_setfield(L, -2, "line");
        lua_pushinteger(L, c->first); lua_setfield(L, -2, "first");
        lua_pushinteger(L, c->last); lua_setfield(L, -2, "last");
        lua_pushstring(L, c->title); lua_setfield(L, -2, "title");
        lua_pushstring(L, c->text); lua_setfield(L, -2, "text");
        if (c->code) { lua_pushstring(L, c->code); lua_setfield(L, -2, "code"); }
        lua_createtable(L, 0, c->nopts);
        for (int k = 0; k < c->nopts; k++) { lua_pushstring(L, c->opts[k].value); lua_setfield(L, -2, c->opts[k].key); }
        lua_setfield(L, -2, "opts");
        lua_rawseti(L, -2, i + 1);
    }
    nb_chapter_free(&ch);
    lua_insert(L, -2);
    return 2;
}

static int encode(lua_State *L, int canonical) {
    luaL_checkany(L, 1);
    size_t n;
    char *s = lx_json_encode(L, 1, canonical, &n);
    /* lua_pushlstring can only fail on memory; accept that tiny leak risk
     * rather than copying through another userdata */
    lua_pushlstring(L, s, n);
    free(s);
    return 1;
}
static int rt_json(lua_State *L) { return encode(L, 0); }
static int rt_canon(lua_State *L) { return encode(L, 1); }

static int rt_sha256(lua_State *L) {
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    uint8_t d[32];
    char hex[65];
    en_sha256_digest(d, s, n);
    en_sha256_tohex(hex, d);
    lua_pushstring(L, hex);
    return 1;
}

static int rt_pack(lua_State *L) { luaL_checkany(L, 1); lx_value_pack(L, 1); return 1; }

static int rt_unpack(lua_State *L) {
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    if (!lx_value_unpack(L, s, n)) return fail(L);
    return 1;
}

/* ---- the memo store handle ------------------------------------------- */

typedef struct { nb_memo *m; } memo_ud;
typedef struct { int fd; } lock_ud;

static nb_memo *check_store(lua_State *L) {
    memo_ud *u = luaL_checkudata(L, 1, MEMO_MT);
    if (!u->m) luaL_error(L, "memo store is closed");
    return u->m;
}

static const char *check_name(lua_State *L, int i) {
    const char *name = luaL_checkstring(L, i);
    if (!nb_memo_name_ok(name))
        luaL_argerror(L, i, "memo name must be letters, digits, '_', '-', '.' (not starting with '.')");
    return name;
}

static int rt_memo_open(lua_State *L) {
    const char *dir = luaL_checkstring(L, 1);
    const char *chapter = luaL_optstring(L, 2, "-");
    memo_ud *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->m = NULL;
    luaL_setmetatable(L, MEMO_MT);
    u->m = nb_memo_open(dir, chapter);
    if (!u->m) return fail(L);
    return 1;
}

static int memo_release(lua_State *L) {
    memo_ud *u = luaL_checkudata(L, 1, MEMO_MT);
    nb_memo_close(u->m);
    u->m = NULL;
    return 0;
}

/* store:get(name, key) -> true, value | false, "missing" | false, "corrupt", msg */
static int memo_get(lua_State *L) {
    nb_memo *m = check_store(L);
    const char *name = check_name(L, 2), *key = luaL_checkstring(L, 3);
    void **slot = lx_box_new(L);  /* owns the bytes while they are unpacked */
    char *data = NULL;
    size_t n = 0;
    int rc = nb_memo_get(m, name, key, &data, &n);
    *slot = data;
    if (rc == 1) { lua_pushboolean(L, 0); lua_pushliteral(L, "missing"); return 2; }
    if (rc == 2) { lua_pushboolean(L, 0); lua_pushliteral(L, "corrupt"); lua_pushstring(L, en_error_msg()); return 3; }
    lua_pushboolean(L, 1);
    if (!lx_value_unpack(L, data, n)) {
        lua_pushboolean(L, 0); lua_pushliteral(L, "corrupt"); lua_pushstring(L, en_error_msg());
        return 3;
    }
    return 2;
}

/* store:put(name, key, value) -> true | nil, msg */
static int memo_put(lua_State *L) {
    nb_memo *m = check_store(L);
    const char *name = check_name(L, 2), *key = luaL_checkstring(L, 3);
    luaL_checkany(L, 4);
    size_t n;
    const char *s = lx_value_pack_buf(L, 4, &n);
    if (nb_memo_put(m, name, key, s, n) < 0) return fail(L);
    lua_pushboolean(L, 1);
    return 1;
}

static int lock_release(lua_State *L) {
    lock_ud *k = luaL_checkudata(L, 1, LOCK_MT);
    nb_memo_unlock(k->fd);
    k->fd = -1;
    return 0;
}

/* store:lock(name, key) -> lock (close it, or let it be collected) */
static int memo_lock(lua_State *L) {
    nb_memo *m = check_store(L);
    const char *name = check_name(L, 2), *key = luaL_checkstring(L, 3);
    lock_ud *k = lua_newuserdatauv(L, sizeof *k, 0);
    k->fd = -1;
    luaL_setmetatable(L, LOCK_MT);
    k->fd = nb_memo_lock(m, name, key);
    if (k->fd < 0) return fail(L);
    return 1;
}

static int memo_log(lua_State *L) {
    nb_memo *m = check_store(L);
    nb_memo_log(m, luaL_checkstring(L, 2), luaL_checkstring(L, 3), luaL_checkstring(L, 4), luaL_optstring(L, 5, NULL));
    return 0;
}

/* store:explain(name, comps_json, record) -> why | nil, msg */
static int memo_explain(lua_State *L) {
    nb_memo *m = check_store(L);
    const char *name = check_name(L, 2), *comps = luaL_checkstring(L, 3);
    int record = lua_toboolean(L, 4);
    char why[512];
    if (nb_memo_explain(m, name, comps, record, why, sizeof why) < 0) return fail(L);
    lua_pushstring(L, why);
    return 1;
}

static int memo_dir(lua_State *L) { lua_pushstring(L, nb_memo_dir(check_store(L))); return 1; }

/* ---- small services ---------------------------------------------------- */

static int rt_write_atomic(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    size_t n;
    const char *s = luaL_checklstring(L, 2, &n);
    if (en_file_write_atomic(path, s, n) < 0) return fail(L);
    lua_pushboolean(L, 1);
    return 1;
}

static int rt_mkdirs(lua_State *L) {
    if (en_mkdirs(luaL_checkstring(L, 1)) < 0) return fail(L);
    lua_pushboolean(L, 1);
    return 1;
}

static int rt_clock(lua_State *L) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    lua_pushnumber(L, (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec);
    return 1;
}

static int rt_isatty(lua_State *L) { lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1))); return 1; }

static int rt_machine(lua_State *L) {
    struct utsname u;
    char model[128] = "";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "model name", 10)) {
                char *p = strchr(line, ':');
                if (p) { p++; while (*p == ' ') p++; snprintf(model, sizeof model, "%s", p); }
                model[strcspn(model, "\n")] = 0;
                break;
            }
        fclose(f);
    }
    if (uname(&u) < 0) strcpy(u.machine, "?");
    lua_pushfstring(L, "%s, %d cpus%s%s", u.machine, (int)sysconf(_SC_NPROCESSORS_ONLN), model[0] ? ", " : "", model);
    return 1;
}

/* check_spec(json [, base]) -> true [, thinned_json] | false, message: the
 * figures library's own check (fg_spec_check: no picture decoded), so a
 * spec it cannot draw fails at its cell, not at render time; a series too
 * long to matter point by point comes back thinned for drawing. */
static int rt_check_spec(lua_State *L) {
    const char *json = luaL_checkstring(L, 1);
    const char *base = luaL_optstring(L, 2, "build/doc");
    char err[512] = "";
    char *thin = NULL;
    if (fg_spec_check(json, base, &thin, err, sizeof err)) {
        lua_pushboolean(L, 0);
        lua_pushstring(L, err[0] ? err : "bad figure spec");
        return 2;
    }
    lua_pushboolean(L, 1);
    if (!thin) return 1;
    lua_pushstring(L, thin);  /* may raise only on memory: accept that leak risk */
    free(thin);
    return 2;
}

/* figure_kinds() -> {"line", "curve", ...}: figures' one table of kinds */
static int rt_figure_kinds(lua_State *L) {
    lua_createtable(L, fg_kind_count, 0);
    for (int i = 0; i < fg_kind_count; i++) {
        lua_pushstring(L, fg_kind_names[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int rt_threads(lua_State *L) { lua_pushinteger(L, en_get_num_threads()); return 1; }
static int rt_set_threads(lua_State *L) {
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 0, 1, "threads must be >= 0 (0: all cores)");
    en_set_num_threads((int)n);
    return 0;
}

/* The engine's generator as bytes, so memo can run fn from a seed of its
 * own and give the chapter's stream back untouched afterwards: a result
 * then does not depend on which other artifacts happened to be cached. */
static int rt_rng_save(lua_State *L) {
    en_rng *r = lx_rng_global();
    lua_pushlstring(L, (const char *)r, sizeof *r);
    return 1;
}
static int rt_rng_restore(lua_State *L) {
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    luaL_argcheck(L, n == sizeof(en_rng), 1, "not a saved generator state");
    memcpy(lx_rng_global(), s, n);
    return 0;
}
static int rt_rng_seed(lua_State *L) {
    en_rng_seed(lx_rng_global(), (uint64_t)luaL_checkinteger(L, 1));
    return 0;
}
static int rt_version(lua_State *L) { lua_pushstring(L, en_version()); return 1; }
static int rt_code_hash(lua_State *L) { lua_pushstring(L, en_code_hash()); return 1; }
/* the compute paths in force (en_machine.h): part of every memo key */
static int rt_compute(lua_State *L) { lua_pushstring(L, en_compute_signature()); return 1; }
static int rt_name_ok(lua_State *L) { lua_pushboolean(L, nb_memo_name_ok(luaL_checkstring(L, 1))); return 1; }
static int rt_pid(lua_State *L) { lua_pushinteger(L, getpid()); return 1; }

/* file_sha256(path, cache_dir) -> hex, how, bytes_read | nil, message:
 * a data file's or folder's content for memo keys (nb_filehash.h) */
static int rt_file_sha256(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    const char *cache = luaL_checkstring(L, 2);
    char hex[65];
    const char *how;
    int64_t bytes;
    if (nb_filehash(cache, path, hex, &how, &bytes) < 0) return fail(L);
    lua_pushstring(L, hex);
    lua_pushstring(L, how);
    lua_pushinteger(L, (lua_Integer)bytes);
    return 3;
}

int luaopen_clipbook_runtime(lua_State *L) {
    static const luaL_Reg memo_methods[] = {
        {"get", memo_get}, {"put", memo_put}, {"lock", memo_lock}, {"log", memo_log},
        {"explain", memo_explain}, {"dir", memo_dir}, {"close", memo_release}, {NULL, NULL},
    };
    lx_class_new(L, MEMO_MT, memo_methods, memo_release);
    lua_pop(L, 1);
    static const luaL_Reg lock_methods[] = { {"release", lock_release}, {NULL, NULL} };
    lx_class_new(L, LOCK_MT, lock_methods, lock_release);
    lua_pop(L, 1);
    static const luaL_Reg fns[] = {
        {"parse", rt_parse}, {"json", rt_json}, {"canon", rt_canon}, {"sha256", rt_sha256},
        {"pack", rt_pack}, {"unpack", rt_unpack}, {"memo_open", rt_memo_open},
        {"write_atomic", rt_write_atomic}, {"mkdirs", rt_mkdirs}, {"clock", rt_clock},
        {"isatty", rt_isatty}, {"machine", rt_machine}, {"threads", rt_threads},
        {"check_spec", rt_check_spec}, {"set_threads", rt_set_threads}, {"rng_save", rt_rng_save}, {"rng_restore", rt_rng_restore},
        {"rng_seed", rt_rng_seed}, {"engine_version", rt_version}, {"code_hash", rt_code_hash}, {"compute", rt_compute}, {"name_ok", rt_name_ok}, {"pid", rt_pid},
        {"file_sha256", rt_file_sha256}, {NULL, NULL},
    };
    luaL_newlib(L, fns);
    lua_pushcfunction(L, rt_figure_kinds);
    lua_setfield(L, -2, "figure_kinds");
    return 1;
}
