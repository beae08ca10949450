/* The Oxford-IIIT Pet segmentation set from Lua (engine/en_pets.h):
 *   local pets = cb.pets(dir)          -> set | nil, message
 *   pets:count(split)                  -> integer
 *   pets:batch{split=, start=1, n=, size=, boundary="foreground"}
 *     -> { images = f32 (n,3,size,size) in [0,1] (CHW, as ToTensor),
 *          masks  = i64 (n,size,size): 1 pet, 0 background, the boundary 1
 *                   (boundary="foreground") or 255 (boundary="ignore"),
 *          labels = i64 (n) breed 0..36, species = i64 (n) 0 cat / 1 dog,
 *          names  = { "Abyssinian_100", ... } }
 *        | nil, message when a file is damaged (the message names it)
 *   pets:names(split)                  -> { names... } in split order
 *   pets:free()  (also __gc / __close)
 *   split: "train" | "val" | "test" | "trainval"; pictures start..start+n-1
 *   are 1-based like Lua lists. The splits are fixed (en_pets.h): val is
 *   every tenth trainval line, test is the published test list. */
#include <stdint.h>
#include <string.h>

#include "en_error.h"
#include "en_pets.h"
#include "en_tensor.h"
#include "lx.h"
#include "lx_tensor.h"

#define PETS_MT "clipbook.Pets"

static const char *const SPLITS[] = {"train", "val", "test", "trainval", NULL};
static const char *const BOUNDARY[] = {"foreground", "ignore", NULL};

typedef struct { en_pets *p; } lx_pets;

static en_pets *check_pets(lua_State *L) {
    lx_pets *u = luaL_checkudata(L, 1, PETS_MT);
    if (!u->p) luaL_argerror(L, 1, "pet set was freed");
    return u->p;
}

static int pets_release(lua_State *L) {
    lx_pets *u = luaL_checkudata(L, 1, PETS_MT);
    en_pets_free(u->p);
    u->p = NULL;
    return 0;
}

static int cb_pets(lua_State *L) {
    const char *dir = luaL_checkstring(L, 1);
    lx_pets *u = lua_newuserdatauv(L, sizeof *u, 0);  /* empty handle first */
    u->p = NULL;
    luaL_setmetatable(L, PETS_MT);
    u->p = en_pets_open(dir);
    if (!u->p) { lua_pushnil(L); lua_pushstring(L, en_error_msg()); return 2; }
    return 1;
}

static int pets_count(lua_State *L) {
    en_pets *p = check_pets(L);
    int s = luaL_checkoption(L, 2, NULL, SPLITS);
    lua_pushinteger(L, en_pets_count(p, s));
    return 1;
}

static int pets_names(lua_State *L) {
    en_pets *p = check_pets(L);
    int s = luaL_checkoption(L, 2, NULL, SPLITS);
    int n = en_pets_count(p, s);
    lua_createtable(L, n, 0);
    for (int i = 0; i < n; i++) { lua_pushstring(L, en_pets_name(p, s, i)); lua_rawseti(L, -2, i + 1); }
    return 1;
}

static lua_Integer field_int(lua_State *L, const char *k, lua_Integer def) {
    lua_getfield(L, 2, k);
    lua_Integer v = def;
    if (!lua_isnil(L, -1)) {
        int ok;
        v = lua_tointegerx(L, -1, &ok);
        if (!ok) luaL_argerror(L, 2, lua_pushfstring(L, "%s must be an integer", k));
    }
    lua_pop(L, 1);
    return v;
}

static int pets_batch(lua_State *L) {
    en_pets *p = check_pets(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_getfield(L, 2, "split");
    int s = luaL_checkoption(L, -1, NULL, SPLITS);
    lua_getfield(L, 2, "boundary");
    int b = luaL_checkoption(L, -1, "foreground", BOUNDARY);
    lua_pop(L, 2);
    int count = en_pets_count(p, s);
    lua_Integer start = field_int(L, "start", 1), size = field_int(L, "size", -1);
    lua_Integer n = field_int(L, "n", count - start + 1);
    if (start < 1 || start > count)
        return luaL_argerror(L, 2, lua_pushfstring(L, "start = %d is out of range 1..%d (%s)", (int)start, count, SPLITS[s]));
    if (n < 1 || start - 1 + n > count)
        return luaL_argerror(L, 2, lua_pushfstring(L, "n = %d: pictures %d..%d are not all in %s (1..%d)", (int)n, (int)start,
                                                   (int)(start - 1 + n), SPLITS[s], count));
    if (size < 1 || size > 4096) return luaL_argerror(L, 2, "size must be given, 1..4096");
    if ((int64_t)n * size * size * 3 > (int64_t)1 << 32) return luaL_argerror(L, 2, "n * size^2 is too large for one batch");

    /* scratch as userdata: collected even if something below raises */
    size_t px = (size_t)size * (size_t)size;
    uint8_t *rgb = lua_newuserdatauv(L, (size_t)n * px * 3, 0);
    uint8_t *msk = lua_newuserdatauv(L, (size_t)n * px, 0);
    if (en_pets_load_batch(p, s, (int)start - 1, (int)n, (int)size, b, rgb, msk) < 0) {
        lua_pushnil(L);
        lua_pushstring(L, en_error_msg());
        return 2;
    }
    lua_createtable(L, 0, 5);
    int res = lua_gettop(L);
    int64_t ish[4] = {n, 3, size, size}, msh[3] = {n, size, size}, lsh[1] = {n};
    en_tensor *img = en_tensor_new(EN_F32, 4, ish);
    lx_tensor_push(L, img);
    float *f = en_tensor_f32(img);
    for (lua_Integer i = 0; i < n; i++)
        for (size_t k = 0; k < px; k++)
            for (int c = 0; c < 3; c++) f[((size_t)i * 3 + c) * px + k] = rgb[((size_t)i * px + k) * 3 + c] * (1.0f / 255.0f);
    lua_setfield(L, res, "images");
    en_tensor *m = en_tensor_new(EN_I64, 3, msh);
    lx_tensor_push(L, m);
    for (size_t k = 0; k < (size_t)n * px; k++) en_tensor_i64(m)[k] = msk[k];
    lua_setfield(L, res, "masks");
    en_tensor *lab = en_tensor_new(EN_I64, 1, lsh);
    lx_tensor_push(L, lab);
    en_tensor *sp = en_tensor_new(EN_I64, 1, lsh);
    lx_tensor_push(L, sp);
    lua_createtable(L, (int)n, 0);
    for (lua_Integer i = 0; i < n; i++) {
        int at = (int)(start - 1 + i);
        en_tensor_i64(lab)[i] = en_pets_class(p, s, at);
        en_tensor_i64(sp)[i] = en_pets_species(p, s, at);
        lua_pushstring(L, en_pets_name(p, s, at));
        lua_rawseti(L, -2, (int)i + 1);
    }
    lua_setfield(L, res, "names");
    lua_setfield(L, res, "species");
    lua_setfield(L, res, "labels");
    return 1;
}

const luaL_Reg lx_pets_functions[] = {{"pets", cb_pets}, {NULL, NULL}};

void lx_pets_open(lua_State *L) {
    static const luaL_Reg methods[] = {
        {"count", pets_count}, {"names", pets_names}, {"batch", pets_batch}, {"free", pets_release}, {NULL, NULL},
    };
    if (luaL_newmetatable(L, PETS_MT)) {
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, pets_release); lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, pets_release); lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);
}
