/* CLIP's BPE tokenizer from Lua (engine/en_bpe.h):
 *   local tok = cb.bpe(path [, max_merges])    nil, message when unreadable
 *   local tok = cb.bpe_pair(vocab_json, merges_txt)
 *   tok:tokenize(text_or_list [, ctx = 77 [, truncate = false]])
 *        -> i64 (n, ctx): [sot, ids..., eot, 0...] per text
 *   tok:encode(text) -> { ids... }   tok:decode({ ids... }) -> text
 *   tok:vocab_size(), tok:sot(), tok:eot(), tok:free()
 *   cb.bpe_train(texts, n_merges, path) -> merges learnt
 * Token ids are the engine's (0-based) values. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "en_bpe.h"
#include "en_error.h"
#include "en_tensor.h"
#include "lx.h"
#include "lx_tensor.h"

#define BPE_MT "clipbook.BPE"

typedef struct { en_bpe *b; } lx_bpe;

static en_bpe *check_bpe(lua_State *L) {
    lx_bpe *u = luaL_checkudata(L, 1, BPE_MT);
    if (!u->b) luaL_argerror(L, 1, "tokenizer was freed");
    return u->b;
}

/* For other binding files: the tokenizer at i (raises naming i). */
void lx_bpe_check(lua_State *L, int i, en_bpe **out) {
    lx_bpe *u = luaL_testudata(L, i, BPE_MT);
    if (!u || !u->b) luaL_argerror(L, 1, "bpe must be a tokenizer from cb.bpe(path)");
    *out = u->b;
}

static int bpe_release(lua_State *L) {
    lx_bpe *u = luaL_checkudata(L, 1, BPE_MT);
    en_bpe_free(u->b);
    u->b = NULL;
    return 0;
}

static int push_loaded(lua_State *L, lx_bpe *u, en_bpe *b) {
    if (!b) { lua_pushnil(L); lua_pushstring(L, en_error_msg()); return 2; }
    u->b = b;
    return 1;
}

static lx_bpe *new_handle(lua_State *L) {
    lx_bpe *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->b = NULL;
    luaL_setmetatable(L, BPE_MT);
    return u;
}

static int cb_bpe(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    int max = (int)luaL_optinteger(L, 2, -1);
    lx_bpe *u = new_handle(L);
    return push_loaded(L, u, en_bpe_load(path, max));
}

static int cb_bpe_pair(lua_State *L) {
    const char *v = luaL_checkstring(L, 1), *m = luaL_checkstring(L, 2);
    lx_bpe *u = new_handle(L);
    return push_loaded(L, u, en_bpe_load_pair(v, m));
}

static int bpe_tokenize(lua_State *L) {
    en_bpe *b = check_bpe(L);
    int one = lua_type(L, 2) == LUA_TSTRING;
    if (!one) luaL_checktype(L, 2, LUA_TTABLE);
    int ctx = (int)luaL_optinteger(L, 3, 77);
    luaL_argcheck(L, ctx >= 2 && ctx <= 4096, 3, "context length must be 2..4096");
    int truncate = lua_toboolean(L, 4);
    int n = one ? 1 : (int)lua_rawlen(L, 2);
    int64_t shape[2] = {n, ctx};
    lx_tensor_push(L, en_tensor_new(EN_I64, 2, shape));  /* owned by Lua from here */
    en_tensor *t = lx_tensor_test(L, -1);
    int32_t *row = lua_newuserdatauv(L, sizeof(int32_t) * (size_t)ctx, 0);
    for (int i = 0; i < n; i++) {
        const char *s;
        if (one) s = lua_tostring(L, 2);
        else {
            lua_rawgeti(L, 2, i + 1);
            s = lua_tostring(L, -1);
            if (!s) luaL_argerror(L, 2, lua_pushfstring(L, "element %d is not a string", i + 1));
            lua_pop(L, 1);  /* still anchored in the list */
        }
        if (en_bpe_tokenize(b, s, ctx, truncate, row) < 0)
            return luaL_error(L, "tokenize: text %d: %s", i + 1, en_error_msg());
        for (int k = 0; k < ctx; k++) en_tensor_i64(t)[(int64_t)i * ctx + k] = row[k];
    }
    lua_pop(L, 1);
    return 1;
}

static int bpe_encode(lua_State *L) {
    en_bpe *b = check_bpe(L);
    const char *s = luaL_checkstring(L, 2);
    int total = 0;
    if (en_bpe_encode(b, s, NULL, 0, &total) < 0) return luaL_error(L, "encode: %s", en_error_msg());
    int32_t *ids = lua_newuserdatauv(L, sizeof(int32_t) * (size_t)(total ? total : 1), 0);
    if (en_bpe_encode(b, s, ids, total, &total) < 0) return luaL_error(L, "encode: %s", en_error_msg());
    lua_createtable(L, total, 0);
    for (int i = 0; i < total; i++) { lua_pushinteger(L, ids[i]); lua_rawseti(L, -2, i + 1); }
    return 1;
}

static int bpe_decode(lua_State *L) {
    en_bpe *b = check_bpe(L);
    luaL_checktype(L, 2, LUA_TTABLE);
    int n = (int)lua_rawlen(L, 2), V = en_bpe_vocab_size(b);
    int32_t *ids = lua_newuserdatauv(L, sizeof(int32_t) * (size_t)(n ? n : 1), 0);
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, 2, i + 1);
        int ok;
        lua_Integer v = lua_tointegerx(L, -1, &ok);
        if (!ok || v < 0 || v >= V) luaL_argerror(L, 2, lua_pushfstring(L, "id %d is not a token id (0..%d)", i + 1, V - 1));
        ids[i] = (int32_t)v;
        lua_pop(L, 1);
    }
    char *s = en_bpe_decode(b, ids, n);
    if (!s) return luaL_error(L, "decode: %s", en_error_msg());
    lua_pushstring(L, s);  /* a memory error here would leak s: accepted */
    free(s);
    return 1;
}

static int bpe_vocab(lua_State *L) { lua_pushinteger(L, en_bpe_vocab_size(check_bpe(L))); return 1; }
static int bpe_sot(lua_State *L) { lua_pushinteger(L, en_bpe_sot(check_bpe(L))); return 1; }
static int bpe_eot(lua_State *L) { lua_pushinteger(L, en_bpe_eot(check_bpe(L))); return 1; }

static int cb_bpe_train(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    int merges = (int)luaL_checkinteger(L, 2);
    const char *path = luaL_checkstring(L, 3);
    luaL_argcheck(L, merges >= 1, 2, "n_merges must be >= 1");
    int n = (int)lua_rawlen(L, 1);
    const char **texts = lua_newuserdatauv(L, sizeof(char *) * (size_t)(n ? n : 1), 0);
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, 1, i + 1);
        texts[i] = lua_tostring(L, -1);
        if (!texts[i]) luaL_argerror(L, 1, lua_pushfstring(L, "element %d is not a string", i + 1));
        lua_pop(L, 1);
    }
    int k = en_bpe_train(texts, n, merges, path);
    if (k < 0) { lua_pushnil(L); lua_pushstring(L, en_error_msg()); return 2; }
    lua_pushinteger(L, k);
    return 1;
}

const luaL_Reg lx_bpe_functions[] = {
    {"bpe", cb_bpe}, {"bpe_pair", cb_bpe_pair}, {"bpe_train", cb_bpe_train}, {NULL, NULL},
};

void lx_bpe_open(lua_State *L) {
    static const luaL_Reg methods[] = {
        {"tokenize", bpe_tokenize}, {"encode", bpe_encode}, {"decode", bpe_decode},
        {"vocab_size", bpe_vocab}, {"sot", bpe_sot}, {"eot", bpe_eot}, {"free", bpe_release},
        {NULL, NULL},
    };
    lx_class_new(L, BPE_MT, methods, bpe_release);
    lua_pop(L, 1);
}
