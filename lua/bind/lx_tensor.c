/* Tensors in Lua: `cb.tensor{...}`, shape, 1-based indexing, arithmetic
 * metamethods, :item(), :totable(), views, autodiff, a no-grad scope.
 *
 * Conventions: indices and dims are 1-based like Lua's (negative dims count
 * from the end: -1 is the last). A userdata owns one reference to an
 * en_tensor; views hold their own reference, and the engine's storage
 * refcount keeps a base's data alive while any view of it lives.
 * Ownership per STYLE.md: the userdata is created empty before the tensor,
 * __gc / __close / :free() share one idempotent release. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#include "en_autograd.h"
#include "en_device.h"
#include "en_error.h"
#include "en_ops.h"
#include "en_tensor.h"
#include "lx.h"
#include "lx_tensor.h"
#include "lx_tensor_hooks.h"
#include "en_sha256.h"

typedef struct { en_tensor *t; } lx_tensor;

/* An empty handle on the stack; fill ->t once the tensor exists. */
static lx_tensor *push_empty(lua_State *L) {
    lx_tensor *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->t = NULL;
    luaL_setmetatable(L, LX_TENSOR_MT);
    return u;
}

/* Lua's collector paces itself by the Lua heap, where a tensor is a 16-byte
 * handle: its data, allocated by the engine, is invisible to it. A loop that
 * makes a batch tensor a step (chapter 6's 600 VQ-VAE steps) then held
 * every dead batch until the Lua heap happened to grow enough, 2.35 GB at
 * the peak. So each new tensor of 64 KiB or more advances the collector as
 * if that much had been allocated in Lua (lua_gc LUA_GCSTEP takes KiB). Any
 * allocation may already run a GC step, so callers are safe at this point. */
static void gc_pressure(lua_State *L, const en_tensor *t) {
    size_t nbytes = (size_t)en_tensor_numel(t) * en_dtype_size(t->dtype);
    if (nbytes >= ((size_t)64 << 10)) lua_gc(L, LUA_GCSTEP, (int)(nbytes >> 10));
}

/* Push t (taking the caller's reference); NULL raises the engine's error. */
static int push_result(lua_State *L, lx_tensor *slot, en_tensor *t) {
    if (!t) return luaL_error(L, "%s", en_error_msg());
    slot->t = t;
    gc_pressure(L, t);
    return 1;
}

void lx_tensor_push(lua_State *L, en_tensor *t) {
    lx_tensor *u = push_empty(L);
    u->t = t;
    gc_pressure(L, t);
}

en_tensor *lx_tensor_check(lua_State *L, int i) {
    lx_tensor *u = luaL_checkudata(L, i, LX_TENSOR_MT);
    if (!u->t) luaL_argerror(L, i, "tensor was freed");
    return u->t;
}

en_tensor *lx_tensor_test(lua_State *L, int i) {
    lx_tensor *u = luaL_testudata(L, i, LX_TENSOR_MT);
    return u ? u->t : NULL;
}

/* Compute is float32: ops get f32 tensors, others are refused here rather
 * than tripping an engine assertion. */
static en_tensor *check_f32(lua_State *L, int i) {
    en_tensor *t = lx_tensor_check(L, i);
    if (t->dtype != EN_F32)
        luaL_argerror(L, i, lua_pushfstring(L, "expected an f32 tensor, got %s (convert with :float())", en_dtype_name(t->dtype)));
    return t;
}

static int t_release(lua_State *L) {
    lx_tensor *u = luaL_checkudata(L, 1, LX_TENSOR_MT);
    en_tensor_release(u->t);
    u->t = NULL;
    return 0;
}

/* ---- creation ----------------------------------------------------------- */

/* Shape from nested Lua tables: walks the first elements. */
static int nested_shape(lua_State *L, int idx, int64_t *shape) {
    int nd = 0;
    lua_pushvalue(L, idx);
    while (lua_type(L, -1) == LUA_TTABLE) {
        if (nd == EN_MAX_DIMS) luaL_error(L, "tensor: more than %d dims", EN_MAX_DIMS);
        shape[nd++] = (int64_t)lua_rawlen(L, -1);
        if (shape[nd - 1] == 0) break;
        lua_rawgeti(L, -1, 1);
        lua_remove(L, -2);
    }
    lua_pop(L, 1);
    return nd;
}

static void fill_nested(lua_State *L, int idx, const int64_t *shape, int nd, int d, en_tensor *t, int64_t *pos, char *path) {
    for (int64_t i = 1; i <= shape[d]; i++) {
        int ty = lua_rawgeti(L, idx, i);
        if (d + 1 < nd) {
            if (ty != LUA_TTABLE || (int64_t)lua_rawlen(L, -1) != shape[d + 1])
                luaL_error(L, "tensor: ragged nested table (at %s[%d] expected a list of %d)", path, (int)i, (int)shape[d + 1]);
            fill_nested(L, lua_gettop(L), shape, nd, d + 1, t, pos, path);
        } else {
            if (ty != LUA_TNUMBER && ty != LUA_TBOOLEAN)
                luaL_error(L, "tensor: element %d of a row is a %s, expected a number", (int)i, lua_typename(L, ty));
            double v = ty == LUA_TBOOLEAN ? lua_toboolean(L, -1) : lua_tonumber(L, -1);
            if (t->dtype == EN_I64) en_tensor_i64(t)[*pos] = (int64_t)v;
            else en_tensor_f32(t)[*pos] = (float)v;
            (*pos)++;
        }
        lua_pop(L, 1);
    }
}

static en_dtype check_dtype(lua_State *L, int i) {
    const char *s = luaL_optstring(L, i, "f32");
    if (!strcasecmp(s, "f32") || !strcmp(s, "float32")) return EN_F32;
    if (!strcasecmp(s, "i64") || !strcmp(s, "int64")) return EN_I64;
    luaL_argerror(L, i, "dtype must be 'f32' or 'i64'");
    return EN_F32;
}

/* cb.tensor(nested_table | number [, dtype]) */
static int cb_tensor(lua_State *L) {
    en_dtype dt = check_dtype(L, 2);
    lx_tensor *slot = push_empty(L);
    if (lua_type(L, 1) == LUA_TNUMBER) {
        en_tensor *t = en_tensor_new(dt, 0, NULL);
        if (dt == EN_I64) en_tensor_i64(t)[0] = (int64_t)lua_tonumber(L, 1);
        else en_tensor_f32(t)[0] = (float)lua_tonumber(L, 1);
        return push_result(L, slot, t);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    int64_t shape[EN_MAX_DIMS];
    int nd = nested_shape(L, 1, shape);
    slot->t = en_tensor_new(dt, nd, shape);  /* owned by the slot before filling can raise */
    int64_t pos = 0;
    char path[8] = "data";
    fill_nested(L, 1, shape, nd, 0, slot->t, &pos, path);
    return 1;
}

/* Shape from arguments start..top: numbers, or one table of numbers. */
static int shape_args(lua_State *L, int start, int64_t *shape) {
    int top = lua_gettop(L), nd = 0;
    if (start <= top && lua_type(L, start) == LUA_TTABLE) {
        nd = (int)lua_rawlen(L, start);
        luaL_argcheck(L, nd <= EN_MAX_DIMS, start, "too many dims");
        for (int i = 0; i < nd; i++) {
            lua_rawgeti(L, start, i + 1);
            int ok;
            lua_Integer v = lua_tointegerx(L, -1, &ok);
            luaL_argcheck(L, ok && v >= 0, start, "shape entries must be non-negative integers");
            shape[i] = v;
            lua_pop(L, 1);
        }
        return nd;
    }
    for (int i = start; i <= top && lua_type(L, i) == LUA_TNUMBER; i++) {
        luaL_argcheck(L, nd < EN_MAX_DIMS, i, "too many dims");
        lua_Integer v = luaL_checkinteger(L, i);
        luaL_argcheck(L, v >= 0, i, "shape entries must be non-negative");
        shape[nd++] = v;
    }
    return nd;
}

static int cb_zeros(lua_State *L) { int64_t s[EN_MAX_DIMS]; int nd = shape_args(L, 1, s); lx_tensor *u = push_empty(L); return push_result(L, u, en_tensor_zeros(nd, s)); }
static int cb_ones(lua_State *L) { int64_t s[EN_MAX_DIMS]; int nd = shape_args(L, 1, s); lx_tensor *u = push_empty(L); return push_result(L, u, en_tensor_ones(nd, s)); }

/* cb.full(shape, value) */
static int cb_full(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    float v = (float)luaL_checknumber(L, 2);
    int64_t s[EN_MAX_DIMS];
    int nd = shape_args(L, 1, s);
    lx_tensor *u = push_empty(L);
    return push_result(L, u, en_tensor_full(nd, s, v));
}

en_rng *lx_rng_global(void);

/* cb.randn(shape [, mean, std]) / cb.uniform(shape [, lo, hi]), from the seeded generator */
static int cb_randn(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    int64_t s[EN_MAX_DIMS];
    int nd = shape_args(L, 1, s);
    float mean = (float)luaL_optnumber(L, 2, 0), sd = (float)luaL_optnumber(L, 3, 1);
    lx_tensor *u = push_empty(L);
    return push_result(L, u, en_tensor_randn(nd, s, lx_rng_global(), mean, sd));
}
static int cb_uniform(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    int64_t s[EN_MAX_DIMS];
    int nd = shape_args(L, 1, s);
    float lo = (float)luaL_optnumber(L, 2, 0), hi = (float)luaL_optnumber(L, 3, 1);
    lx_tensor *u = push_empty(L);
    return push_result(L, u, en_tensor_uniform(nd, s, lx_rng_global(), lo, hi));
}

/* ---- reading -------------------------------------------------------------- */

static double get_at(const en_tensor *t, int64_t off) {
    if (t->dtype == EN_I64) return (double)en_tensor_i64(t)[off];
    return (double)en_tensor_f32(t)[off];
}

static void push_elem(lua_State *L, const en_tensor *t, int64_t off) {
    if (t->dtype == EN_I64) lua_pushinteger(L, en_tensor_i64(t)[off]);
    else lua_pushnumber(L, en_tensor_f32(t)[off]);
}

static void check_readable(lua_State *L, const en_tensor *t) {
    if (t->dtype != EN_F32 && t->dtype != EN_I64) luaL_error(L, "tensor of dtype %s: convert with :float() first", en_dtype_name(t->dtype));
    if (en_tensor_device(t) != EN_CPU) luaL_error(L, "tensor is on the GPU: copy it with :cpu() first");
}

static int t_item(lua_State *L) {
    en_tensor *t = lx_tensor_check(L, 1);
    check_readable(L, t);
    if (en_tensor_numel(t) != 1) {
        char b[96];
        return luaL_error(L, "item: tensor has %d elements (shape %s), expected 1", (int)en_tensor_numel(t), en_tensor_shape_str(t, b, sizeof b));
    }
    push_elem(L, t, 0);
    return 1;
}

static void totable(lua_State *L, const en_tensor *t, int d, int64_t off) {
    luaL_checkstack(L, 3, "tensor too deep");
    if (d == t->ndim) { push_elem(L, t, off); return; }
    lua_createtable(L, (int)t->shape[d], 0);
    for (int64_t i = 0; i < t->shape[d]; i++) {
        totable(L, t, d + 1, off + i * t->stride[d]);
        lua_rawseti(L, -2, i + 1);
    }
}

static int t_totable(lua_State *L) {
    en_tensor *t = lx_tensor_check(L, 1);
    check_readable(L, t);
    totable(L, t, 0, 0);
    return 1;
}

static int t_shape(lua_State *L) {
    en_tensor *t = lx_tensor_check(L, 1);
    lua_createtable(L, t->ndim, 0);
    for (int i = 0; i < t->ndim; i++) { lua_pushinteger(L, t->shape[i]); lua_rawseti(L, -2, i + 1); }
    return 1;
}

static int t_dim(lua_State *L) { lua_pushinteger(L, lx_tensor_check(L, 1)->ndim); return 1; }
static int t_numel(lua_State *L) { lua_pushinteger(L, en_tensor_numel(lx_tensor_check(L, 1))); return 1; }
/* lower case, as dtypes are written in Lua ("f32", "i64") */
static int t_dtype(lua_State *L) {
    char b[16];
    snprintf(b, sizeof b, "%s", en_dtype_name(lx_tensor_check(L, 1)->dtype));
    for (char *p = b; *p; p++) *p = (char)tolower((unsigned char)*p);
    lua_pushstring(L, b);
    return 1;
}

static int t_len(lua_State *L) {
    en_tensor *t = lx_tensor_check(L, 1);
    lua_pushinteger(L, t->ndim ? t->shape[0] : 0);
    return 1;
}

/* Lua dim (1-based, or negative from the end) to an engine axis. */
static int check_dim(lua_State *L, int i, const en_tensor *t) {
    lua_Integer d = luaL_checkinteger(L, i);
    if (d >= 1 && d <= t->ndim) return (int)d - 1;
    if (d < 0 && -d <= t->ndim) return (int)(t->ndim + d);
    luaL_argerror(L, i, lua_pushfstring(L, "dim %d out of range for a %d-dim tensor", (int)d, t->ndim));
    return 0;
}

static int64_t check_index(lua_State *L, int i, const en_tensor *t, int d) {
    lua_Integer k = luaL_checkinteger(L, i);
    int64_t n = t->shape[d];
    if (k < 0) k += n + 1;
    if (k < 1 || k > n)
        luaL_argerror(L, i, lua_pushfstring(L, "index %d out of range 1..%d along dim %d", (int)lua_tointeger(L, i), (int)n, d + 1));
    return (int64_t)(k - 1);
}

/* t:get(i, j, ...) -> number when every dim is indexed, else a view */
static int t_get(lua_State *L) {
    en_tensor *t = lx_tensor_check(L, 1);
    int n = lua_gettop(L) - 1;
    luaL_argcheck(L, n >= 1 && n <= t->ndim, 2, "give between 1 and ndim indexes");
    if (n == t->ndim) {
        check_readable(L, t);
        int64_t off = 0;
        for (int d = 0; d < n; d++) off += check_index(L, d + 2, t, d) * t->stride[d];
        push_elem(L, t, off);
        return 1;
    }
    /* every index checked before any view is held: a raise leaks nothing */
    int64_t ks[EN_MAX_DIMS];
    for (int d = 0; d < n; d++) ks[d] = check_index(L, d + 2, t, d);
    lx_tensor *slot = push_empty(L);
    en_tensor *v = en_tensor_retain(t);
    for (int d = 0; d < n; d++) {
        int64_t k = ks[d];
        en_tensor *w = en_select(v, 0, k);
        en_tensor_release(v);
        if (!w) return luaL_error(L, "%s", en_error_msg());
        v = w;
    }
    slot->t = v;
    return 1;
}

/* t:set(value, i, j, ...) — writes one element (no autodiff) */
static int t_set(lua_State *L) {
    en_tensor *t = lx_tensor_check(L, 1);
    double v = luaL_checknumber(L, 2);
    check_readable(L, t);
    luaL_argcheck(L, lua_gettop(L) - 2 == t->ndim, 3, "give one index per dim");
    int64_t off = 0;
    for (int d = 0; d < t->ndim; d++) off += check_index(L, d + 3, t, d) * t->stride[d];
    if (t->dtype == EN_I64) en_tensor_i64(t)[off] = (int64_t)v;
    else en_tensor_f32(t)[off] = (float)v;
    lua_settop(L, 1);
    return 1;
}

static int t_index(lua_State *L) {
    if (lua_type(L, 2) == LUA_TNUMBER) {
        en_tensor *t = lx_tensor_check(L, 1);
        luaL_argcheck(L, t->ndim >= 1, 2, "cannot index a 0-dim tensor (use :item())");
        lua_settop(L, 2);
        return t_get(L);
    }
    luaL_getmetafield(L, 1, "__methods");
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    return 1;
}

static int t_newindex(lua_State *L) {
    en_tensor *t = lx_tensor_check(L, 1);
    luaL_argcheck(L, t->ndim == 1, 2, "t[i] = v works on 1-dim tensors; use t:set(v, i, j, ...)");
    lua_settop(L, 3);
    lua_insert(L, 2);  /* t, v, i */
    return t_set(L);
}

static int t_tostring(lua_State *L) {
    en_tensor *t = lx_tensor_check(L, 1);
    char b[128];
    en_tensor_shape_str(t, b, sizeof b);
    luaL_Buffer B;
    luaL_buffinit(L, &B);
    lua_pushfstring(L, "Tensor(%s, %s", en_dtype_name(t->dtype), b);
    luaL_addvalue(&B);
    int64_t n = en_tensor_numel(t);
    if ((t->dtype == EN_F32 || t->dtype == EN_I64) && en_tensor_device(t) == EN_CPU && n <= 8) {
        luaL_addstring(&B, ": ");
        int64_t idx[EN_MAX_DIMS] = {0};
        for (int64_t k = 0; k < n; k++) {
            int64_t off = 0;
            for (int d = 0; d < t->ndim; d++) off += idx[d] * t->stride[d];
            char v[32];
            snprintf(v, sizeof v, "%s%.4g", k ? " " : "", get_at(t, off));
            luaL_addstring(&B, v);
            for (int d = t->ndim - 1; d >= 0; d--) { if (++idx[d] < t->shape[d]) break; idx[d] = 0; }
        }
    }
    luaL_addchar(&B, ')');
    luaL_pushresult(&B);
    return 1;
}

/* ---- arithmetic -------------------------------------------------------- */

typedef en_tensor *(*binop)(en_tensor *, en_tensor *);

static int arith(lua_State *L, binop op, int kind) {
    en_tensor *a = lx_tensor_test(L, 1), *b = lx_tensor_test(L, 2);
    if (!a && lua_type(L, 1) != LUA_TNUMBER) luaL_argerror(L, 1, "expected a tensor or a number");
    if (!b && lua_type(L, 2) != LUA_TNUMBER) luaL_argerror(L, 2, "expected a tensor or a number");
    if (a) check_f32(L, 1);
    if (b) check_f32(L, 2);
    lx_tensor *slot = push_empty(L);
    en_tensor *r;
    if (a && b) r = op(a, b);
    else if (a) {
        float s = (float)lua_tonumber(L, 2);
        r = kind == 0 ? en_add_scalar(a, s) : kind == 1 ? en_add_scalar(a, -s) : kind == 2 ? en_mul_scalar(a, s) : en_mul_scalar(a, 1.0f / s);
    } else {
        float s = (float)lua_tonumber(L, 1);
        if (kind == 0) r = en_add_scalar(b, s);
        else if (kind == 1) r = en_rsub_scalar(b, s);
        else if (kind == 2) r = en_mul_scalar(b, s);
        else { en_tensor *st = en_tensor_scalar(s); r = en_div(st, b); en_tensor_release(st); }
    }
    return push_result(L, slot, r);
}
static int t_add(lua_State *L) { return arith(L, en_add, 0); }
static int t_sub(lua_State *L) { return arith(L, en_sub, 1); }
static int t_mul(lua_State *L) { return arith(L, en_mul, 2); }
static int t_div(lua_State *L) { return arith(L, en_div, 3); }
static int t_unm(lua_State *L) { en_tensor *a = check_f32(L, 1); lx_tensor *u = push_empty(L); return push_result(L, u, en_neg(a)); }
static int t_pow(lua_State *L) {
    en_tensor *a = check_f32(L, 1);
    float p = (float)luaL_checknumber(L, 2);
    lx_tensor *u = push_empty(L);
    return push_result(L, u, en_pow(a, p));
}
static int t_matmul(lua_State *L) {
    en_tensor *a = check_f32(L, 1), *b = check_f32(L, 2);
    lx_tensor *u = push_empty(L);
    return push_result(L, u, en_matmul(a, b));
}

typedef en_tensor *(*unop)(en_tensor *);
static int unary(lua_State *L, unop f) { en_tensor *a = check_f32(L, 1); lx_tensor *u = push_empty(L); return push_result(L, u, f(a)); }
static int t_exp(lua_State *L) { return unary(L, en_exp); }
static int t_log(lua_State *L) { return unary(L, en_log); }
static int t_sqrt(lua_State *L) { return unary(L, en_sqrt); }
static int t_abs(lua_State *L) { return unary(L, en_abs); }
static int t_relu(lua_State *L) { return unary(L, en_relu); }
static int t_sigmoid(lua_State *L) { return unary(L, en_sigmoid); }
static int t_tanh(lua_State *L) { return unary(L, en_tanh); }
static int t_clone(lua_State *L) { en_tensor *a = lx_tensor_check(L, 1); lx_tensor *u = push_empty(L); return push_result(L, u, en_tensor_clone(a)); }
static int t_contiguous(lua_State *L) { en_tensor *a = lx_tensor_check(L, 1); lx_tensor *u = push_empty(L); return push_result(L, u, en_contiguous(a)); }
static int t_detach(lua_State *L) { en_tensor *a = lx_tensor_check(L, 1); lx_tensor *u = push_empty(L); return push_result(L, u, en_tensor_detach(a)); }
static int t_float(lua_State *L) { en_tensor *a = lx_tensor_check(L, 1); lx_tensor *u = push_empty(L); return push_result(L, u, en_tensor_to_f32(a)); }
static int t_long(lua_State *L) { en_tensor *a = lx_tensor_check(L, 1); lx_tensor *u = push_empty(L); return push_result(L, u, en_tensor_to_i64(a)); }

/* t:sum([dim [, keepdim]]) / t:mean(...): all elements when dim is nil */
static int reduce(lua_State *L, int mean) {
    en_tensor *a = check_f32(L, 1);
    lx_tensor *u;
    if (lua_isnoneornil(L, 2)) { u = push_empty(L); return push_result(L, u, mean ? en_mean_all(a) : en_sum_all(a)); }
    int ax = check_dim(L, 2, a), keep = lua_toboolean(L, 3);
    u = push_empty(L);
    return push_result(L, u, mean ? en_mean(a, 1, &ax, keep) : en_sum(a, 1, &ax, keep));
}
static int t_sum(lua_State *L) { return reduce(L, 0); }
static int t_mean(lua_State *L) { return reduce(L, 1); }
static int t_max(lua_State *L) { en_tensor *a = check_f32(L, 1); int ax = check_dim(L, 2, a), keep = lua_toboolean(L, 3); lx_tensor *u = push_empty(L); return push_result(L, u, en_max(a, ax, keep)); }
static int t_argmax(lua_State *L) { en_tensor *a = check_f32(L, 1); int ax = check_dim(L, 2, a), keep = lua_toboolean(L, 3); lx_tensor *u = push_empty(L); return push_result(L, u, en_argmax(a, ax, keep)); }
static int t_softmax(lua_State *L) { en_tensor *a = check_f32(L, 1); int ax = check_dim(L, 2, a); lx_tensor *u = push_empty(L); return push_result(L, u, en_softmax(a, ax)); }
static int t_log_softmax(lua_State *L) { en_tensor *a = check_f32(L, 1); int ax = check_dim(L, 2, a); lx_tensor *u = push_empty(L); return push_result(L, u, en_log_softmax(a, ax)); }

/* views */
static int t_reshape(lua_State *L) {
    en_tensor *a = lx_tensor_check(L, 1);
    int64_t s[EN_MAX_DIMS];
    int top = lua_gettop(L), nd = 0;
    if (top >= 2 && lua_type(L, 2) == LUA_TTABLE) {
        nd = (int)lua_rawlen(L, 2);
        luaL_argcheck(L, nd <= EN_MAX_DIMS, 2, "too many dims");
        for (int i = 0; i < nd; i++) { lua_rawgeti(L, 2, i + 1); s[i] = (int64_t)luaL_checkinteger(L, -1); lua_pop(L, 1); }
    } else {
        for (int i = 2; i <= top; i++) { luaL_argcheck(L, nd < EN_MAX_DIMS, i, "too many dims"); s[nd++] = (int64_t)luaL_checkinteger(L, i); }
    }
    lx_tensor *u = push_empty(L);
    return push_result(L, u, en_reshape(a, nd, s));
}
static int t_transpose(lua_State *L) {
    en_tensor *a = lx_tensor_check(L, 1);
    int d0 = lua_isnoneornil(L, 2) ? a->ndim - 2 : check_dim(L, 2, a);
    int d1 = lua_isnoneornil(L, 3) ? a->ndim - 1 : check_dim(L, 3, a);
    luaL_argcheck(L, a->ndim >= 2 || !lua_isnoneornil(L, 2), 1, "transpose needs 2 dims");
    lx_tensor *u = push_empty(L);
    return push_result(L, u, en_transpose(a, d0, d1));
}
/* t:slice(dim, first, last [, step]): elements first..last inclusive (1-based) */
static int t_slice(lua_State *L) {
    en_tensor *a = lx_tensor_check(L, 1);
    int d = check_dim(L, 2, a);
    int64_t n = a->shape[d];
    lua_Integer f = luaL_checkinteger(L, 3), l = luaL_optinteger(L, 4, n), st = luaL_optinteger(L, 5, 1);
    if (f < 0) f += n + 1;
    if (l < 0) l += n + 1;
    luaL_argcheck(L, f >= 1 && f <= n + 1, 3, "first out of range");
    luaL_argcheck(L, l >= f - 1 && l <= n, 4, "last out of range");
    luaL_argcheck(L, st >= 1, 5, "step must be >= 1");
    lx_tensor *u = push_empty(L);
    return push_result(L, u, en_slice(a, d, f - 1, l, st));
}
static int t_unsqueeze(lua_State *L) {
    en_tensor *a = lx_tensor_check(L, 1);
    lua_Integer d = luaL_checkinteger(L, 2);
    luaL_argcheck(L, (d >= 1 && d <= a->ndim + 1) || (d < 0 && -d <= a->ndim + 1), 2, "dim out of range");
    lx_tensor *u = push_empty(L);
    return push_result(L, u, en_unsqueeze(a, d > 0 ? (int)d - 1 : (int)(a->ndim + 1 + d)));
}
static int t_squeeze(lua_State *L) { en_tensor *a = lx_tensor_check(L, 1); int d = check_dim(L, 2, a); lx_tensor *u = push_empty(L); return push_result(L, u, en_squeeze(a, d)); }

/* autodiff */
static int t_requires_grad(lua_State *L) {
    en_tensor *a = check_f32(L, 1);
    en_requires_grad(a, lua_isnoneornil(L, 2) ? 1 : lua_toboolean(L, 2));
    lua_settop(L, 1);
    return 1;
}
static int t_grad(lua_State *L) {
    en_tensor *a = lx_tensor_check(L, 1);
    en_tensor *g = en_tensor_grad(a);
    if (!g) { lua_pushnil(L); return 1; }
    lx_tensor *u = push_empty(L);
    u->t = en_tensor_retain(g);
    return 1;
}
static int t_backward(lua_State *L) {
    en_tensor *a = check_f32(L, 1);
    if (en_backward(a) < 0) return luaL_error(L, "backward: %s", en_error_msg());
    return 0;
}
static int t_zero_grad(lua_State *L) { en_zero_grad(lx_tensor_check(L, 1)); return 0; }

/* cb.no_grad(fn, ...): fn(...) with the tape off; the mode is restored even
 * when fn raises. Returns fn's results. */
static int cb_no_grad(lua_State *L) {
    luaL_checktype(L, 1, LUA_TFUNCTION);
    int n = lua_gettop(L) - 1;
    int prev = en_grad_set_enabled(0);
    int st = lua_pcall(L, n, LUA_MULTRET, 0);
    en_grad_set_enabled(prev);
    if (st != LUA_OK) return lua_error(L);
    return lua_gettop(L);
}
/* cb.arange(n) -> i64 0..n-1; cb.randperm(n) -> i64, a permutation of
 * 0..n-1 from the seeded generator (batching, shuffles) */
static int index_vector(lua_State *L, int perm) {
    lua_Integer n = luaL_checkinteger(L, 1);
    luaL_argcheck(L, n >= 0, 1, "n must be >= 0");
    int64_t shape[1] = {n};
    lx_tensor *u = push_empty(L);
    u->t = en_tensor_new(EN_I64, 1, shape);
    int64_t *p = en_tensor_i64(u->t);
    if (perm) en_rng_permutation(lx_rng_global(), p, n);
    else for (int64_t i = 0; i < n; i++) p[i] = i;
    return 1;
}
static int cb_arange(lua_State *L) { return index_vector(L, 0); }
static int cb_randperm(lua_State *L) { return index_vector(L, 1); }

static int cb_grad_enabled(lua_State *L) { lua_pushboolean(L, en_grad_enabled()); return 1; }
static int cb_set_threads(lua_State *L) { en_set_num_threads((int)luaL_checkinteger(L, 1)); return 0; }

/* ---- devices ----------------------------------------------------------------
 * t:to("cpu"|"cuda") copies (not recorded on the tape); t:cpu(); t:device().
 * cb.device() names the device chosen for this run, cb.select_device(want)
 * resolves "auto"|"cpu"|"cuda" (CLIPBOOK_DEVICE wins, see en_device.h),
 * cb.set_precision("fp32"|"tf32"|"bf16"), cb.device_report() the one line
 * with the device, precision and host-fallback counts. */
static en_device check_device(lua_State *L, int i) {
    int d = en_device_parse(luaL_checkstring(L, i));
    if (d < 0) luaL_argerror(L, i, en_error_msg());
    return (en_device)d;
}
static int t_to(lua_State *L) {
    en_tensor *a = lx_tensor_check(L, 1);
    en_device d = check_device(L, 2);
    lx_tensor *u = push_empty(L);
    return push_result(L, u, en_tensor_to(a, d));
}
static int t_cpu(lua_State *L) { en_tensor *a = lx_tensor_check(L, 1); lx_tensor *u = push_empty(L); return push_result(L, u, en_tensor_cpu(a)); }
static int t_device(lua_State *L) { lua_pushstring(L, en_device_name(en_tensor_device(lx_tensor_check(L, 1)))); return 1; }
static int cb_device(lua_State *L) { lua_pushstring(L, en_device_name(en_device_default())); return 1; }
static int cb_select_device(lua_State *L) {
    if (en_device_select(luaL_optstring(L, 1, NULL)) < 0) return luaL_error(L, "%s", en_error_msg());
    lua_pushstring(L, en_device_name(en_device_default()));
    return 1;
}
static int cb_set_precision(lua_State *L) {
    if (en_device_set_precision(luaL_checkstring(L, 1)) < 0) return luaL_argerror(L, 1, en_error_msg());
    return 0;
}
static int cb_device_report(lua_State *L) {
    char b[512];
    lua_pushstring(L, en_device_report(b, sizeof b));
    return 1;
}
static int cb_is_tensor(lua_State *L) { lua_pushboolean(L, lx_tensor_test(L, 1) != NULL); return 1; }

/* ---- memo hooks ------------------------------------------------------------ */

static en_tensor *dense_for_bytes(en_tensor *t) {
    if (en_tensor_device(t) != EN_CPU) { /* hashed and stored from a host copy */
        en_tensor *h = en_tensor_cpu(t), *r = h ? dense_for_bytes(h) : NULL;
        en_tensor_release(h);
        return r;
    }
    if (t->dtype == EN_F32 || t->dtype == EN_I64) return en_contiguous(t);
    return en_tensor_to_f32(t);
}
static const void *bytes_of(const en_tensor *c, size_t *n) {
    *n = (size_t)en_tensor_numel(c) * en_dtype_size(c->dtype);
    return c->dtype == EN_I64 ? (const void *)en_tensor_i64(c) : (const void *)en_tensor_f32(c);
}

static int hook_digest(lua_State *L, int idx, char hex[65]) {
    en_tensor *t = lx_tensor_test(L, idx);
    if (!t) return 0;
    en_tensor *c = dense_for_bytes(t);
    en_sha256 s;
    en_sha256_init(&s);
    const char *dn = en_dtype_name(c->dtype);
    en_sha256_update(&s, dn, strlen(dn) + 1);
    en_sha256_update(&s, c->shape, sizeof(int64_t) * (size_t)c->ndim);
    size_t n;
    const void *p = bytes_of(c, &n);
    en_sha256_update(&s, p, n);
    uint8_t d[32];
    en_sha256_final(&s, d);
    en_sha256_tohex(hex, d);
    en_tensor_release(c);
    return 1;
}

static void hook_describe(lua_State *L, int idx) {
    en_tensor *t = lx_tensor_test(L, idx);
    lua_createtable(L, 0, 2);
    lua_pushstring(L, en_dtype_name(t->dtype));
    lua_setfield(L, -2, "dtype");
    lua_createtable(L, t->ndim, 0);
    for (int i = 0; i < t->ndim; i++) { lua_pushinteger(L, t->shape[i]); lua_rawseti(L, -2, i + 1); }
    lua_setfield(L, -2, "shape");
}

static int hook_pack(lua_State *L, int idx, lx_add_fn add, void *ctx) {
    en_tensor *t = lx_tensor_test(L, idx);
    if (!t) return 0;
    en_tensor *c = dense_for_bytes(t);
    uint8_t hdr[2] = {c->dtype == EN_I64 ? 1 : 0, (uint8_t)c->ndim};
    add(ctx, hdr, 2);
    add(ctx, c->shape, sizeof(int64_t) * (size_t)c->ndim);
    size_t n;
    const void *p = bytes_of(c, &n);
    add(ctx, p, n);
    en_tensor_release(c);
    return 1;
}

static int hook_unpack(lua_State *L, const char *p, size_t n, size_t *used) {
    if (n < 2 || (uint8_t)p[0] > 1 || (uint8_t)p[1] > EN_MAX_DIMS) return en_error("memo: bad tensor header"), 0;
    en_dtype dt = p[0] ? EN_I64 : EN_F32;
    int nd = (uint8_t)p[1];
    size_t at = 2;
    int64_t shape[EN_MAX_DIMS];
    if (n - at < sizeof(int64_t) * (size_t)nd) return en_error("memo: tensor truncated"), 0;
    memcpy(shape, p + at, sizeof(int64_t) * (size_t)nd);
    at += sizeof(int64_t) * (size_t)nd;
    size_t numel = 1;
    for (int i = 0; i < nd; i++) {
        if (shape[i] < 0 || (shape[i] && numel > SIZE_MAX / 8 / (size_t)shape[i])) return en_error("memo: bad tensor shape"), 0;
        numel *= (size_t)shape[i];
    }
    size_t nb = numel * en_dtype_size(dt);
    if (n - at < nb) return en_error("memo: tensor data truncated"), 0;
    lx_tensor *u = push_empty(L);
    u->t = en_tensor_new(dt, nd, shape);
    memcpy(dt == EN_I64 ? (void *)en_tensor_i64(u->t) : (void *)en_tensor_f32(u->t), p + at, nb);
    *used = at + nb;
    return 1;
}

/* ---- registration ------------------------------------------------------ */

void lx_tensor_open(lua_State *L) {
    static const luaL_Reg methods[] = {
        {"item", t_item}, {"totable", t_totable}, {"shape", t_shape}, {"dim", t_dim},
        {"numel", t_numel}, {"dtype", t_dtype}, {"get", t_get}, {"set", t_set},
        {"matmul", t_matmul}, {"exp", t_exp}, {"log", t_log}, {"sqrt", t_sqrt}, {"abs", t_abs},
        {"relu", t_relu}, {"sigmoid", t_sigmoid}, {"tanh", t_tanh}, {"clone", t_clone},
        {"contiguous", t_contiguous}, {"detach", t_detach}, {"float", t_float}, {"long", t_long},
        {"sum", t_sum}, {"mean", t_mean}, {"max", t_max}, {"argmax", t_argmax},
        {"softmax", t_softmax}, {"log_softmax", t_log_softmax}, {"reshape", t_reshape},
        {"transpose", t_transpose}, {"slice", t_slice}, {"unsqueeze", t_unsqueeze},
        {"squeeze", t_squeeze}, {"requires_grad", t_requires_grad}, {"grad", t_grad},
        {"backward", t_backward}, {"zero_grad", t_zero_grad}, {"free", t_release},
        {"to", t_to}, {"cpu", t_cpu}, {"device", t_device},
        {NULL, NULL},
    };
    static const luaL_Reg meta[] = {
        {"__index", t_index}, {"__newindex", t_newindex}, {"__gc", t_release}, {"__close", t_release},
        {"__tostring", t_tostring}, {"__len", t_len}, {"__add", t_add}, {"__sub", t_sub},
        {"__mul", t_mul}, {"__div", t_div}, {"__unm", t_unm}, {"__pow", t_pow},
        {"__json", t_totable}, {NULL, NULL},
    };
    if (luaL_newmetatable(L, LX_TENSOR_MT)) {
        luaL_setfuncs(L, meta, 0);
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__methods");
        lua_pushliteral(L, "clipbook.Tensor");
        lua_setfield(L, -2, "__name");
    }
    lua_pop(L, 1);
    lx_tensor_hooks.digest = hook_digest;
    lx_tensor_hooks.describe = hook_describe;
    lx_tensor_hooks.pack = hook_pack;
    lx_tensor_hooks.unpack = hook_unpack;
}

const luaL_Reg lx_tensor_functions[] = {
    {"tensor", cb_tensor}, {"zeros", cb_zeros}, {"ones", cb_ones}, {"full", cb_full},
    {"randn", cb_randn}, {"uniform", cb_uniform}, {"no_grad", cb_no_grad},
    {"grad_enabled", cb_grad_enabled}, {"set_threads", cb_set_threads},
    {"is_tensor", cb_is_tensor}, {"matmul", t_matmul}, {"arange", cb_arange},
    {"randperm", cb_randperm}, {"device", cb_device}, {"select_device", cb_select_device},
    {"set_precision", cb_set_precision}, {"device_report", cb_device_report}, {NULL, NULL},
};
