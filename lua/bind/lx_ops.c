/* The engine's differentiable ops as cb.* functions and tensor methods:
 *   cb.linear(x, w [, b])           x (..., in) @ w (out, in)^T + b
 *   cb.layer_norm(x [, w, b, eps])  over the last dim
 *   cb.normalize(x [, dim, eps])    x / ||x||_2 along dim (default -1)
 *   cb.cross_entropy(logits, targets)   targets i64 0-based classes
 *   cb.mse(pred, target), cb.bce_with_logits(logits, targets)
 *   cb.concat({t1, t2, ...}, dim), cb.stack({...}, dim)
 *   cb.embedding(w, idx), cb.gather_rows(x, idx)   idx i64 0-based rows
 *   cb.attention(qkv, nhead [, causal]), cb.mha(x, in_w, in_b, out_w, out_b, nhead [, causal])
 *   cb.all_finite(t)
 *   t:gelu(), t:gelu_erf(), t:quick_gelu(), t:clamp(lo, hi), t:normalize(dim, eps)
 *   t:copy_(src), t:fill_(v)        in place, outside autodiff (optimisers)
 * Dims are 1-based (negative from the end), as everywhere in Lua. */
#include <math.h>
#include <string.h>

#include "en_error.h"
#include "en_ops.h"
#include "en_tensor.h"
#include "lx.h"
#include "lx_tensor.h"

static en_tensor *f32_at(lua_State *L, int i) {
    en_tensor *t = lx_tensor_check(L, i);
    if (t->dtype != EN_F32)
        luaL_argerror(L, i, lua_pushfstring(L, "expected an f32 tensor, got %s (convert with :float())", en_dtype_name(t->dtype)));
    return t;
}

static en_tensor *i64_at(lua_State *L, int i) {
    en_tensor *t = lx_tensor_check(L, i);
    if (t->dtype != EN_I64)
        luaL_argerror(L, i, lua_pushfstring(L, "expected an i64 tensor of indices, got %s (make it with cb.tensor(t, \"i64\") or :long())", en_dtype_name(t->dtype)));
    return t;
}

static en_tensor *opt_f32(lua_State *L, int i) { return lua_isnoneornil(L, i) ? NULL : f32_at(L, i); }

static int dim_of(lua_State *L, int i, int ndim, int def) {
    if (lua_isnoneornil(L, i)) return def;
    lua_Integer d = luaL_checkinteger(L, i);
    if (d >= 1 && d <= ndim) return (int)d - 1;
    if (d < 0 && -d <= ndim) return (int)(ndim + d);
    return luaL_argerror(L, i, lua_pushfstring(L, "dim %d out of range for %d dims", (int)d, ndim));
}

/* Push the op's result (the reference passes to Lua) or raise its error. */
static int ret(lua_State *L, en_tensor *t) {
    if (!t) return luaL_error(L, "%s", en_error_msg());
    lx_tensor_push(L, t);
    return 1;
}

/* Values of an index tensor must lie in [0, n): checked here so a bad
 * label is a Lua error, not an engine assertion. */
static void check_range(lua_State *L, int i, const en_tensor *idx, int64_t n, const char *what) {
    en_tensor *c = en_contiguous((en_tensor *)idx);
    const int64_t *p = en_tensor_i64(c);
    int64_t m = en_tensor_numel(c), bad = -1;
    for (int64_t k = 0; k < m && bad < 0; k++) if (p[k] < 0 || p[k] >= n) bad = k;
    int64_t v = bad >= 0 ? p[bad] : 0;
    en_tensor_release(c);
    if (bad >= 0) luaL_argerror(L, i, lua_pushfstring(L, "%s %d is outside 0..%d", what, (int)v, (int)(n - 1)));
}

/* Creation of the result happens inside the engine call and the handle is
 * pushed right after, with no Lua call in between that could raise. */
static int cb_linear(lua_State *L) {
    en_tensor *x = f32_at(L, 1), *w = f32_at(L, 2), *b = opt_f32(L, 3);
    return ret(L, en_linear(x, w, b));
}
static int cb_layer_norm(lua_State *L) {
    en_tensor *x = f32_at(L, 1), *w = opt_f32(L, 2), *b = opt_f32(L, 3);
    float eps = (float)luaL_optnumber(L, 4, 1e-5);
    return ret(L, en_layer_norm(x, w, b, eps));
}
static int cb_normalize(lua_State *L) {
    en_tensor *x = f32_at(L, 1);
    int d = dim_of(L, 2, x->ndim, x->ndim - 1);
    float eps = (float)luaL_optnumber(L, 3, 1e-12);
    return ret(L, en_l2_normalize(x, d, eps));
}
static int cb_cross_entropy(lua_State *L) {
    en_tensor *lg = f32_at(L, 1), *tg = i64_at(L, 2);
    luaL_argcheck(L, lg->ndim == 2, 1, "logits must be (N, K)");
    check_range(L, 2, tg, lg->shape[1], "target");
    return ret(L, en_cross_entropy(lg, tg));
}
static int cb_mse(lua_State *L) { en_tensor *a = f32_at(L, 1), *b = f32_at(L, 2); return ret(L, en_mse(a, b)); }
static int cb_bce(lua_State *L) { en_tensor *a = f32_at(L, 1), *b = f32_at(L, 2); return ret(L, en_bce_with_logits(a, b)); }

static int cat_or_stack(lua_State *L, int stack) {
    luaL_checktype(L, 1, LUA_TTABLE);
    int n = (int)lua_rawlen(L, 1);
    luaL_argcheck(L, n >= 1, 1, "needs a non-empty list of tensors");
    en_tensor **ts = lua_newuserdatauv(L, sizeof *ts * (size_t)n, 0);  /* collected with the state */
    int ndim = 0;
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, 1, i + 1);
        en_tensor *t = lx_tensor_test(L, -1);
        if (!t || t->dtype != EN_F32)
            luaL_argerror(L, 1, lua_pushfstring(L, "element %d is not an f32 tensor", i + 1));
        ts[i] = t;  /* anchored by the list */
        ndim = t->ndim;
        lua_pop(L, 1);
    }
    int d = dim_of(L, 2, ndim + stack, 0);
    return ret(L, stack ? en_stack(n, ts, d) : en_concat(n, ts, d));
}
static int cb_concat(lua_State *L) { return cat_or_stack(L, 0); }
static int cb_stack(lua_State *L) { return cat_or_stack(L, 1); }

static int cb_embedding(lua_State *L) {
    en_tensor *w = f32_at(L, 1), *idx = i64_at(L, 2);
    luaL_argcheck(L, w->ndim == 2, 1, "embedding weights must be (V, C)");
    check_range(L, 2, idx, w->shape[0], "index");
    return ret(L, en_embedding(w, idx));
}
static int cb_gather_rows(lua_State *L) {
    en_tensor *x = f32_at(L, 1), *idx = i64_at(L, 2);
    luaL_argcheck(L, x->ndim >= 1, 1, "needs at least one dim");
    check_range(L, 2, idx, x->shape[0], "row");
    return ret(L, en_gather_rows(x, idx));
}
static int cb_attention(lua_State *L) {
    en_tensor *qkv = f32_at(L, 1);
    int nhead = (int)luaL_checkinteger(L, 2);
    luaL_argcheck(L, nhead >= 1, 2, "nhead must be >= 1");
    return ret(L, en_attention(qkv, nhead, lua_toboolean(L, 3)));
}
static int cb_mha(lua_State *L) {
    en_tensor *x = f32_at(L, 1), *iw = f32_at(L, 2), *ib = opt_f32(L, 3), *ow = f32_at(L, 4), *ob = opt_f32(L, 5);
    int nhead = (int)luaL_checkinteger(L, 6);
    luaL_argcheck(L, nhead >= 1, 6, "nhead must be >= 1");
    return ret(L, en_mha(x, iw, ib, ow, ob, nhead, lua_toboolean(L, 7)));
}
static int cb_all_finite(lua_State *L) { lua_pushboolean(L, en_all_finite(f32_at(L, 1))); return 1; }

static int m_gelu(lua_State *L) { return ret(L, en_gelu(f32_at(L, 1))); }
static int m_gelu_erf(lua_State *L) { return ret(L, en_gelu_erf(f32_at(L, 1))); }
static int m_quick_gelu(lua_State *L) { return ret(L, en_quick_gelu(f32_at(L, 1))); }
static int m_clamp(lua_State *L) {
    en_tensor *a = f32_at(L, 1);
    float lo = (float)luaL_optnumber(L, 2, -HUGE_VAL), hi = (float)luaL_optnumber(L, 3, HUGE_VAL);
    luaL_argcheck(L, lo <= hi, 3, "hi must be >= lo");
    return ret(L, en_clamp(a, lo, hi));
}

/* t:copy_(src): t's elements = src's (same shape; not recorded for
 * autodiff: optimiser updates). t:fill_(v). Both return t. */
static int m_copy_(lua_State *L) {
    en_tensor *t = lx_tensor_check(L, 1), *s = lx_tensor_check(L, 2);
    if (en_tensor_copy_(t, s) < 0) return luaL_error(L, "copy_: %s", en_error_msg());
    lua_settop(L, 1);
    return 1;
}
static int m_fill_(lua_State *L) {
    en_tensor *t = f32_at(L, 1);
    en_tensor_fill_(t, (float)luaL_checknumber(L, 2));
    lua_settop(L, 1);
    return 1;
}

const luaL_Reg lx_ops_functions[] = {
    {"linear", cb_linear}, {"layer_norm", cb_layer_norm}, {"normalize", cb_normalize},
    {"cross_entropy", cb_cross_entropy}, {"mse", cb_mse}, {"bce_with_logits", cb_bce},
    {"concat", cb_concat}, {"stack", cb_stack}, {"embedding", cb_embedding},
    {"gather_rows", cb_gather_rows}, {"attention", cb_attention}, {"mha", cb_mha},
    {"all_finite", cb_all_finite}, {NULL, NULL},
};

/* Adds the tensor methods above to the tensor metatable's method table. */
void lx_ops_open(lua_State *L) {
    static const luaL_Reg methods[] = {
        {"gelu", m_gelu}, {"gelu_erf", m_gelu_erf}, {"quick_gelu", m_quick_gelu},
        {"clamp", m_clamp}, {"normalize", cb_normalize}, {"copy_", m_copy_}, {"fill_", m_fill_},
        {NULL, NULL},
    };
    luaL_getmetatable(L, LX_TENSOR_MT);
    lua_getfield(L, -1, "__methods");
    luaL_setfuncs(L, methods, 0);
    lua_pop(L, 2);
}
