/* Lua values as JSON (documents, canonical memo parameters) and as bytes
 * (memo entries). Buffers live in userdata so a Lua error cannot leak them. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "en_error.h"
#include "en_strbuf.h"
#include "lx.h"
#include "lx_tensor_hooks.h"
#include "en_sha256.h"

typedef en_strbuf jbuf;

static int jbuf_gc(lua_State *L) {
    jbuf *b = lua_touserdata(L, 1);
    free(b->s);
    b->s = NULL;
    return 0;
}

static jbuf *jbuf_new(lua_State *L) {
    jbuf *b = lua_newuserdatauv(L, sizeof *b, 0);
    memset(b, 0, sizeof *b);
    if (luaL_newmetatable(L, "clipbook.jbuf")) {
        lua_pushcfunction(L, jbuf_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return b;
}

static void jb_string(jbuf *b, const char *s, size_t n) {
    en_strbuf_add(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        switch (c) {
        case '"': en_strbuf_add(b, "\\\"", 2); break;
        case '\\': en_strbuf_add(b, "\\\\", 2); break;
        case '\n': en_strbuf_add(b, "\\n", 2); break;
        case '\r': en_strbuf_add(b, "\\r", 2); break;
        case '\t': en_strbuf_add(b, "\\t", 2); break;
        default:
            if (c < 0x20) { snprintf(esc, sizeof esc, "\\u%04x", c); en_strbuf_str(b, esc); }
            else en_strbuf_add(b, (const char *)&s[i], 1);
        }
    }
    en_strbuf_add(b, "\"", 1);
}

static void fmt_double(char *out, size_t cap, double d) {
    snprintf(out, cap, "%.15g", d);
    if (strtod(out, NULL) != d) snprintf(out, cap, "%.17g", d);
}

typedef struct {
    lua_State *L;
    jbuf *b;
    int canonical;
    int seen;    /* stack index of a table of tables being visited */
    char path[256];
} jctx;

static void jfail(jctx *c, const char *what) {
    luaL_error(c->L, "cannot encode %s at %s", what, c->path[0] ? c->path : "(top)");
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void jvalue(jctx *c, int idx, int depth);

static void path_push(jctx *c, const char *k, size_t *saved) {
    *saved = strlen(c->path);
    size_t n = *saved;
    if (n < sizeof c->path - 2) snprintf(c->path + n, sizeof c->path - n, "%s%s", n ? "." : "", k);
}

static void jtable(jctx *c, int idx, int depth) {
    lua_State *L = c->L;
    idx = lua_absindex(L, idx);
    if (depth > 64) jfail(c, "a table nested too deeply");
    lua_pushvalue(L, idx);
    if (lua_rawget(L, c->seen) != LUA_TNIL) jfail(c, "a table that contains itself");
    lua_pop(L, 1);
    lua_pushvalue(L, idx);
    lua_pushboolean(L, 1);
    lua_rawset(L, c->seen);

    const char *kind = NULL;
    if (luaL_getmetafield(L, idx, "__json") == LUA_TSTRING) kind = lua_tostring(L, -1);
    if (kind) lua_pop(L, 1);
    lua_Integer len = (lua_Integer)lua_rawlen(L, idx), count = 0;
    int keys_ok = 1;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        count++;
        if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) < 1 || lua_tointeger(L, -2) > len) keys_ok = 0;
        lua_pop(L, 1);
    }
    int array = kind ? !strcmp(kind, "array") : (count == 0 || (keys_ok && count == len));
    if (array && count != len) jfail(c, "a table marked as an array with non-sequence keys");
    if (array) {
        en_strbuf_add(c->b, "[", 1);
        for (lua_Integer i = 1; i <= len; i++) {
            if (i > 1) en_strbuf_add(c->b, ",", 1);
            char k[32];
            size_t saved;
            snprintf(k, sizeof k, "%lld", (long long)i);
            path_push(c, k, &saved);
            lua_rawgeti(L, idx, i);
            jvalue(c, -1, depth + 1);
            lua_pop(L, 1);
            c->path[saved] = 0;
        }
        en_strbuf_add(c->b, "]", 1);
    } else {
        /* key strings, sorted; anchored in a Lua table so errors free them */
        lua_createtable(L, (int)count, 0);
        int ks = lua_gettop(L);
        lua_Integer nk = 0;
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            lua_pop(L, 1);
            char kb[64];
            if (lua_type(L, -1) == LUA_TSTRING) lua_pushvalue(L, -1);
            else if (lua_isinteger(L, -1)) { snprintf(kb, sizeof kb, "%lld", (long long)lua_tointeger(L, -1)); lua_pushstring(L, kb); }
            else if (lua_type(L, -1) == LUA_TNUMBER) { fmt_double(kb, sizeof kb, lua_tonumber(L, -1)); lua_pushstring(L, kb); }
            else if (lua_type(L, -1) == LUA_TBOOLEAN) lua_pushstring(L, lua_toboolean(L, -1) ? "true" : "false");
            else jfail(c, "a table key that is not a string or number");
            lua_rawseti(L, ks, ++nk);
        }
        const char **arr = lua_newuserdatauv(L, sizeof(char *) * (size_t)(nk ? nk : 1), 0);
        for (lua_Integer i = 0; i < nk; i++) {
            lua_rawgeti(L, ks, i + 1);
            arr[i] = lua_tostring(L, -1);
            lua_pop(L, 1);  /* still anchored in ks */
        }
        qsort(arr, (size_t)nk, sizeof *arr, cmp_str);
        en_strbuf_add(c->b, "{", 1);
        for (lua_Integer i = 0; i < nk; i++) {
            if (i) en_strbuf_add(c->b, ",", 1);
            jb_string(c->b, arr[i], strlen(arr[i]));
            en_strbuf_add(c->b, ":", 1);
            size_t saved;
            path_push(c, arr[i], &saved);
            /* find the value: by string key, else by the number it spells */
            lua_pushstring(L, arr[i]);
            if (lua_rawget(L, idx) == LUA_TNIL) {
                lua_pop(L, 1);
                lua_pushstring(L, arr[i]);
                if (lua_stringtonumber(L, arr[i])) { lua_remove(L, -2); lua_rawget(L, idx); }
                else if (!strcmp(arr[i], "true") || !strcmp(arr[i], "false")) { lua_pop(L, 1); lua_pushboolean(L, arr[i][0] == 't'); lua_rawget(L, idx); }
            }
            jvalue(c, -1, depth + 1);
            lua_pop(L, 1);
            c->path[saved] = 0;
        }
        en_strbuf_add(c->b, "}", 1);
        lua_pop(L, 2);
    }
    lua_pushvalue(L, idx);
    lua_pushnil(L);
    lua_rawset(L, c->seen);
}

static void jvalue(jctx *c, int idx, int depth) {
    lua_State *L = c->L;
    idx = lua_absindex(L, idx);
    char num[64];
    switch (lua_type(L, idx)) {
    case LUA_TNIL: en_strbuf_str(c->b, "null"); break;
    case LUA_TBOOLEAN: en_strbuf_str(c->b, lua_toboolean(L, idx) ? "true" : "false"); break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) snprintf(num, sizeof num, "%lld", (long long)lua_tointeger(L, idx));
        else {
            double d = lua_tonumber(L, idx);
            if (isfinite(d)) fmt_double(num, sizeof num, d);
            else if (c->canonical) snprintf(num, sizeof num, "\"%s\"", isnan(d) ? "nan" : d > 0 ? "inf" : "-inf");
            else snprintf(num, sizeof num, "null");
        }
        en_strbuf_str(c->b, num);
        break;
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        jb_string(c->b, s, n);
        break;
    }
    case LUA_TTABLE: jtable(c, idx, depth); break;
    case LUA_TUSERDATA: {
        char hex[65];
        if (c->canonical && lx_tensor_hooks.digest && lx_tensor_hooks.digest(L, idx, hex)) {
            /* a tensor parameter: its content hash, dtype and shape */
            en_strbuf_str(c->b, "{\"$tensor\":");
            jb_string(c->b, hex, strlen(hex));
            en_strbuf_str(c->b, ",\"meta\":");
            lx_tensor_hooks.describe(L, idx);
            jvalue(c, -1, depth + 1);
            lua_pop(L, 1);
            en_strbuf_str(c->b, "}");
            break;
        }
        if (c->canonical && luaL_getmetafield(L, idx, "__memo_digest") == LUA_TFUNCTION) {
            /* another engine object (a model): a hash of what it holds */
            lua_pushvalue(L, idx);
            lua_call(L, 1, 1);
            en_strbuf_str(c->b, "{\"$object\":");
            jvalue(c, -1, depth + 1);
            en_strbuf_str(c->b, "}");
            lua_pop(L, 1);
            break;
        }
        if (luaL_getmetafield(L, idx, "__json") == LUA_TFUNCTION) {
            lua_pushvalue(L, idx);
            lua_call(L, 1, 1);
            jvalue(c, -1, depth + 1);
            lua_pop(L, 1);
            break;
        }
        jfail(c, "a userdata");
        break;
    }
    default:
        jfail(c, lua_typename(L, lua_type(L, idx)));
    }
}

char *lx_json_encode(lua_State *L, int idx, int canonical, size_t *n) {
    idx = lua_absindex(L, idx);
    jctx c = {.L = L, .canonical = canonical};
    c.b = jbuf_new(L);
    lua_newtable(L);
    c.seen = lua_gettop(L);
    jvalue(&c, idx, 0);
    char *s = c.b->s ? c.b->s : strdup("null");
    if (n) *n = c.b->s ? c.b->n : 4;
    c.b->s = NULL;  /* ownership passes to the caller */
    lua_pop(L, 2);
    return s;
}

/* ---- binary values for the memo store -------------------------------- */

lx_tensor_hooks_t lx_tensor_hooks;

enum { V_NIL = 'n', V_TRUE = 't', V_FALSE = 'f', V_INT = 'i', V_DBL = 'd', V_STR = 's', V_TAB = 'T', V_TENSOR = 'X',
       V_OBJECT = 'U' };

#define UNPACKERS "clipbook.memo_unpack"

void lx_memo_register_unpack(lua_State *L, const char *type, lua_CFunction fn) {
    luaL_getsubtable(L, LUA_REGISTRYINDEX, UNPACKERS);
    lua_pushcfunction(L, fn);
    lua_setfield(L, -2, type);
    lua_pop(L, 1);
}

static void put_u64(jbuf *b, uint64_t v) {
    char s[8];
    for (int i = 0; i < 8; i++) s[i] = (char)(v >> (8 * i));
    en_strbuf_add(b, s, 8);
}

static void jb_addfn(void *ctx, const void *p, size_t n) { en_strbuf_add(ctx, p, n); }

static void pack(lua_State *L, int idx, jbuf *b, int depth, int seen) {
    idx = lua_absindex(L, idx);
    char tag;
    switch (lua_type(L, idx)) {
    case LUA_TNIL: en_strbuf_add(b, "n", 1); break;
    case LUA_TBOOLEAN: tag = lua_toboolean(L, idx) ? V_TRUE : V_FALSE; en_strbuf_add(b, &tag, 1); break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) { tag = V_INT; en_strbuf_add(b, &tag, 1); put_u64(b, (uint64_t)lua_tointeger(L, idx)); }
        else {
            double d = lua_tonumber(L, idx);
            uint64_t u;
            memcpy(&u, &d, 8);
            tag = V_DBL;
            en_strbuf_add(b, &tag, 1);
            put_u64(b, u);
        }
        break;
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        tag = V_STR;
        en_strbuf_add(b, &tag, 1);
        put_u64(b, n);
        en_strbuf_add(b, s, n);
        break;
    }
    case LUA_TTABLE: {
        if (depth > 64) luaL_error(L, "memo: value nested too deeply");
        lua_pushvalue(L, idx);
        int cyc = lua_rawget(L, seen) != LUA_TNIL;
        lua_pop(L, 1);
        if (cyc) luaL_error(L, "memo: cannot store a table that contains itself");
        lua_pushvalue(L, idx);
        lua_pushboolean(L, 1);
        lua_rawset(L, seen);
        uint64_t count = 0;
        lua_pushnil(L);
        while (lua_next(L, idx)) { count++; lua_pop(L, 1); }
        tag = V_TAB;
        en_strbuf_add(b, &tag, 1);
        put_u64(b, count);
        luaL_checkstack(L, 4, "memo: value nested too deeply");
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            pack(L, -2, b, depth + 1, seen);
            pack(L, -1, b, depth + 1, seen);
            lua_pop(L, 1);
        }
        lua_pushvalue(L, idx);
        lua_pushnil(L);
        lua_rawset(L, seen);
        break;
    }
    case LUA_TUSERDATA:
        if (luaL_getmetafield(L, idx, "__memo_pack") == LUA_TFUNCTION) {
            /* another engine object: its type name and its own bytes */
            if (luaL_getmetafield(L, idx, "__memo_type") != LUA_TSTRING) luaL_error(L, "memo: object without a __memo_type");
            size_t tn, pn;
            const char *type = lua_tolstring(L, -1, &tn);
            lua_pushvalue(L, -2);
            lua_pushvalue(L, idx);
            lua_call(L, 1, 1);
            const char *payload = luaL_checklstring(L, -1, &pn);
            tag = V_OBJECT;
            en_strbuf_add(b, &tag, 1);
            put_u64(b, tn);
            en_strbuf_add(b, type, tn);
            put_u64(b, pn);
            en_strbuf_add(b, payload, pn);
            lua_pop(L, 3);
            break;
        }
        tag = V_TENSOR;
        if (lx_tensor_hooks.pack) {
            size_t at = b->n;
            en_strbuf_add(b, &tag, 1);
            if (lx_tensor_hooks.pack(L, idx, jb_addfn, b)) break;
            b->n = at;
        }
        /* fall through */
    default:
        luaL_error(L, "memo: cannot store a value of type %s", luaL_typename(L, idx));
    }
}

const char *lx_value_pack_buf(lua_State *L, int idx, size_t *n) {
    idx = lua_absindex(L, idx);
    jbuf *b = jbuf_new(L);
    lua_newtable(L);
    pack(L, idx, b, 0, lua_gettop(L));
    lua_pop(L, 1);
    *n = b->n;
    return b->s ? b->s : "";
}

void lx_value_pack(lua_State *L, int idx) {
    size_t n;
    const char *s = lx_value_pack_buf(L, idx, &n);
    lua_pushlstring(L, s, n);
    lua_remove(L, -2);  /* the buffer; its __gc frees the bytes */
}

/* A malloc'd block owned by a userdata (freed by __gc), so it can be held
 * across calls that may raise. */
typedef struct { void *p; } box;
static int box_gc(lua_State *L) {
    box *b = lua_touserdata(L, 1);
    free(b->p);
    b->p = NULL;
    return 0;
}
void **lx_box_new(lua_State *L) {
    box *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->p = NULL;
    if (luaL_newmetatable(L, "clipbook.box")) {
        lua_pushcfunction(L, box_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return &b->p;
}

typedef struct { const char *p; size_t n, at; } rd;

static int get_u64(rd *r, uint64_t *v) {
    if (r->n - r->at < 8) return 0;
    *v = 0;
    for (int i = 0; i < 8; i++) *v |= (uint64_t)(uint8_t)r->p[r->at + i] << (8 * i);
    r->at += 8;
    return 1;
}

static int unpack(lua_State *L, rd *r, int depth) {
    if (r->at >= r->n || depth > 66 || !lua_checkstack(L, 4)) return en_error("memo: value truncated or too deep"), 0;
    char tag = r->p[r->at++];
    uint64_t u;
    switch (tag) {
    case V_NIL: lua_pushnil(L); return 1;
    case V_TRUE: lua_pushboolean(L, 1); return 1;
    case V_FALSE: lua_pushboolean(L, 0); return 1;
    case V_INT: if (!get_u64(r, &u)) break; lua_pushinteger(L, (lua_Integer)u); return 1;
    case V_DBL: {
        if (!get_u64(r, &u)) break;
        double d;
        memcpy(&d, &u, 8);
        lua_pushnumber(L, d);
        return 1;
    }
    case V_STR:
        if (!get_u64(r, &u) || u > r->n - r->at) break;
        lua_pushlstring(L, r->p + r->at, (size_t)u);
        r->at += u;
        return 1;
    case V_TAB:
        if (!get_u64(r, &u) || u > r->n - r->at) break;
        lua_createtable(L, 0, (int)(u < 1024 ? u : 1024));
        for (uint64_t i = 0; i < u; i++) {
            if (!unpack(L, r, depth + 1) || !unpack(L, r, depth + 1)) return 0;
            if (lua_isnil(L, -2)) return en_error("memo: nil table key"), 0;
            lua_rawset(L, -3);
        }
        return 1;
    case V_OBJECT: {
        uint64_t tn, pn;
        if (!get_u64(r, &tn) || tn > r->n - r->at || tn > 64) break;
        char type[65];
        memcpy(type, r->p + r->at, (size_t)tn);
        type[tn] = 0;
        r->at += tn;
        if (!get_u64(r, &pn) || pn > r->n - r->at) break;
        luaL_getsubtable(L, LUA_REGISTRYINDEX, UNPACKERS);
        if (lua_getfield(L, -1, type) != LUA_TFUNCTION) {
            lua_pop(L, 2);
            return en_error("memo: entry holds a '%s' but nothing reads those", type), 0;
        }
        lua_remove(L, -2);
        lua_pushlstring(L, r->p + r->at, (size_t)pn);
        r->at += pn;
        if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
            en_error("memo: cannot read back a '%s': %s", type, lua_tostring(L, -1));
            lua_pop(L, 1);
            return 0;
        }
        return 1;
    }
    case V_TENSOR: {
        if (!lx_tensor_hooks.unpack) return en_error("memo: entry holds a tensor but tensors are not available"), 0;
        size_t used = 0;
        if (!lx_tensor_hooks.unpack(L, r->p + r->at, r->n - r->at, &used)) return 0;
        r->at += used;
        return 1;
    }
    default:
        return en_error("memo: unknown value tag 0x%02x", (unsigned char)tag), 0;
    }
    return en_error("memo: value truncated"), 0;
}

int lx_value_unpack(lua_State *L, const char *p, size_t n) {
    int top = lua_gettop(L);
    rd r = {p, n, 0};
    if (!unpack(L, &r, 0)) { lua_settop(L, top); return 0; }
    if (r.at != n) { lua_settop(L, top); return en_error("memo: %zu trailing bytes after the value", n - r.at), 0; }
    return 1;
}
