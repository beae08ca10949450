/* luaopen_clipbook: the engine module chapters see as `cb`. Grows with the
 * engine; tensors live in lx_tensor.c. */
#include <stdint.h>

#include "en_machine.h"
#include "en_rng.h"
#include "en_version.h"
#include "lx.h"
#include "lx_tensor.h"

/* The generator behind cb.seed / cb.rand; chapters get their seed from the
 * runner (provenance) and may reseed. */
static en_rng lx_rng;
static lua_Integer lx_seed;

static int cb_version(lua_State *L) { lua_pushstring(L, en_version()); return 1; }

static int cb_seed(lua_State *L) {
    if (lua_isnoneornil(L, 1)) { lua_pushinteger(L, lx_seed); return 1; }
    lx_seed = luaL_checkinteger(L, 1);
    en_rng_seed(&lx_rng, (uint64_t)lx_seed);
    lua_pushinteger(L, lx_seed);
    return 1;
}

/* cb.rand() uniform [0,1); cb.rand(n) integer in [1, n] */
static int cb_rand(lua_State *L) {
    if (lua_isnoneornil(L, 1)) { lua_pushnumber(L, en_rng_uniform_f64(&lx_rng)); return 1; }
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n > 0, 1, "n must be positive");
    lua_pushinteger(L, 1 + (lua_Integer)en_rng_below(&lx_rng, (uint64_t)n));
    return 1;
}

en_rng *lx_rng_global(void) { return &lx_rng; }

int luaopen_clipbook(lua_State *L) {
    en_machine_install(); /* the machine's GEMM paths before anything computes (en_machine.h) */
    static const luaL_Reg fns[] = {
        {"version", cb_version}, {"seed", cb_seed}, {"rand", cb_rand}, {NULL, NULL},
    };
    luaL_newlib(L, fns);
    lx_tensor_open(L);
    luaL_setfuncs(L, lx_tensor_functions, 0);
    luaL_setfuncs(L, lx_image_functions, 0);
    luaL_setfuncs(L, lx_ops_functions, 0);
    lx_ops_open(L);
    lx_data_open(L);
    luaL_setfuncs(L, lx_bpe_functions, 0);
    lx_bpe_open(L);
    luaL_setfuncs(L, lx_npy_functions, 0);
    lx_npy_open(L);
    luaL_setfuncs(L, lx_io_functions, 0);
    luaL_setfuncs(L, lx_pets_functions, 0);
    lx_pets_open(L);
    luaL_setfuncs(L, lx_st_functions, 0);
    luaL_setfuncs(L, lx_fit_functions, 0);
    lx_fit_open(L);
    luaL_setfuncs(L, lx_model_functions, 0);
    lx_model_open(L);
    luaL_setfuncs(L, lx_decoders_functions, 0);
    lx_decoders_open(L);
    return 1;
}
