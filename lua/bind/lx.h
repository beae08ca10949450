/* lx — the Lua 5.4 bindings of the engine: one module, `require
 * "clipbook"`, the `cb` chapters see (luaopen_clipbook), one binding file
 * per engine object, and the value serialisation the notebook's memo store
 * uses. Bindings know nothing of the notebook above them (lua/notebook/,
 * whose "clipbook.runtime" module is declared in nb.h).
 *
 * Misuse from Lua raises a Lua error naming the argument; expected failures
 * (a missing file) return nil, message. */
#ifndef LX_H
#define LX_H

#include <lauxlib.h>
#include <lua.h>
#include <stddef.h>

int luaopen_clipbook(lua_State *L);

/* Encode the value at idx as JSON into a malloc'd string. canonical: keys
 * sorted, tensors as {"$tensor": sha256, "dtype", "shape"}, NaN as a string
 * (memo parameters); otherwise tensors through their __json metamethod and
 * non-finite numbers as null (documents). Raises a Lua error on values that
 * cannot be encoded (functions, cycles), naming the path to them. */
char *lx_json_encode(lua_State *L, int idx, int canonical, size_t *n);

/* Serialise / deserialise a Lua value (nil, booleans, numbers, strings,
 * tables of them, tensors) for the memo store. */
void lx_value_pack(lua_State *L, int idx); /* pushes a string */
/* The same bytes without the copy into a Lua string: the returned pointer
 * lives in a buffer userdata left on the stack (pop it when done). */
const char *lx_value_pack_buf(lua_State *L, int idx, size_t *n);
/* Engine objects other than tensors (models) take part in memo through
 * metafields: __memo_digest(obj) -> string (their canonical identity as a
 * parameter), __memo_pack(obj) -> bytes and __memo_type = "name"; the
 * function registered here for "name" turns the bytes back into one. */
void lx_memo_register_unpack(lua_State *L, const char *type, lua_CFunction fn);
/* Push a userdata that frees *slot with free() when collected; store a
 * malloc'd pointer into the returned slot to hand it over. */
void **lx_box_new(lua_State *L);
int  lx_value_unpack(lua_State *L, const char *p, size_t n); /* 1, or 0 + en_error */

/* ---- helpers every binding uses (lx_util.c) ---- */

/* Optional fields of an options table at index t: absent or nil gives def,
 * and so does every field when t is not a table (options left out). A
 * field of the wrong type raises a Lua error naming it, prefixed by what
 * ("clip: layers must be an integer"). Numeric strings count, as in Lua. */
lua_Integer lx_opt_int(lua_State *L, int t, const char *k, lua_Integer def, const char *what);
double      lx_opt_num(lua_State *L, int t, const char *k, double def, const char *what);
int         lx_opt_bool(lua_State *L, int t, const char *k, int def);

/* A userdata class: the metatable `name` with methods as __index (may be
 * NULL) and release as both __gc and __close (the one idempotent release
 * STYLE.md asks for; may be NULL). Leaves the metatable on the stack for
 * further metafields and returns 1 when it was created now, 0 when it
 * existed (then nothing is set); the caller pops it. */
int lx_class_new(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction release);

#endif
