/* Fitting from Lua: scikit-learn's logistic regression (engine/en_logreg.h),
 * torch.optim's SGD and AdamW, gradient clipping and the warm-up cosine
 * schedule (engine/en_optim.h, en_sched.h).
 *
 *   local m = cb.logreg_fit(X, y, { C = 0.316, max_iter = 1000, tol = 1e-4 })
 *        X f32 (N, D), y i64 (N) classes 0..K-1 -> model, or nil, message
 *        for what the data caused (one class, NaN in X, ...)
 *   m:predict(X) -> i64 (N)    m:predict_proba(X) / m:decision(X) -> f32 (N, K)
 *   m:score(X, y) -> accuracy  m:info() -> { n_iter, n_fev, loss, grad_max, status }
 *   m:state() -> { W = (K, D), b = (K) }   cb.logreg_load(state) -> model
 *   cb.head_train(X, y, W0, b0, { epochs=, lr=, weight_decay=, pull=, scale=,
 *                  Xval=, yval=, early_stop= })
 *        -> { W =, b =, loss = {per epoch}, val = {per epoch}, best_epoch = }
 *        a few-shot linear head trained from (W0, b0) (engine/en_fewshot.h)
 *   cb.head_accuracy(X, y, W, b) -> fraction of rows whose arg-max is y
 *   the later few-shot methods (engine/en_fewshot_methods.h), X unit rows:
 *   cb.tip_logits(X, keys, labels, Wzs, { scale=, beta=, alpha= }) -> (M, K)
 *   cb.tip_search(Xv, yv, keys, labels, Wzs, { scale=, beta_max=, n_beta=,
 *                 alpha_max=, n_alpha= }) -> { beta =, alpha =, val = }
 *   cb.lpp_train(X, y, T, { epochs=, alpha_every=, Xval=, yval= })
 *        -> { W =, b = (zeros), alpha = (K), val = {per epoch}, best_epoch =,
 *             lr_w =, lr_alpha =, alpha0 = }
 *   cb.clap_train(X, y, T, { epochs=, lr=, momentum=, scale=, constraint=,
 *                 Xval=, yval= }) -> { W = scale·P̂, b = (zeros), P =,
 *                 lambda = {K}, val = {per epoch}, best_epoch = }
 *   cb.crossmodal_set(X, y, T) -> X', y' (T's rows appended, repeated)
 *   local opt = cb.sgd(params, { lr =, momentum =, dampening =, weight_decay =, nesterov = })
 *   local opt = cb.adamw(params, { lr =, betas = { b1, b2 }, eps =, weight_decay = })
 *        params: a list of f32 leaf tensors (t:requires_grad())
 *   opt:step()  opt:zero_grad()  opt:lr([new])
 *   cb.clip_grad_norm(params, max_norm) -> the norm before clipping
 *   cb.warmup_cosine(step, total, warmup, lr_max [, lr_min]) (step 1-based)
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "en_autograd.h"
#include "en_error.h"
#include "en_fewshot.h"
#include "en_fewshot_methods.h"
#include "en_logreg.h"
#include "en_optim.h"
#include "en_sched.h"
#include "en_tensor.h"
#include "lx.h"
#include "lx_tensor.h"

#define LOGREG_MT "clipbook.LogReg"
#define OPTIM_MT "clipbook.Optimizer"

/* ---- logistic regression -------------------------------------------------- */

typedef struct { en_logreg m; int fitted; } lx_logreg;

static int logreg_release(lua_State *L) {
    lx_logreg *u = luaL_checkudata(L, 1, LOGREG_MT);
    en_logreg_free(&u->m);  /* idempotent: NULLs what it frees */
    u->fitted = 0;
    return 0;
}

static lx_logreg *check_logreg(lua_State *L) {
    lx_logreg *u = luaL_checkudata(L, 1, LOGREG_MT);
    if (!u->fitted) luaL_argerror(L, 1, "model was freed");
    return u;
}

static lx_logreg *new_logreg(lua_State *L) {
    lx_logreg *u = lua_newuserdatauv(L, sizeof *u, 0);
    memset(u, 0, sizeof *u);
    luaL_setmetatable(L, LOGREG_MT);
    return u;
}

/* A contiguous f32 copy-or-self of the (N, D) tensor at i, anchored on the
 * stack (so it is released whatever happens next). */
static en_tensor *dense_f32(lua_State *L, int i, int ndim, const char *what) {
    en_tensor *t = lx_tensor_check(L, i);
    if (t->dtype != EN_F32) luaL_argerror(L, i, lua_pushfstring(L, "%s must be an f32 tensor", what));
    if (t->ndim != ndim) luaL_argerror(L, i, lua_pushfstring(L, "%s must have %d dims", what, ndim));
    en_tensor *c = en_contiguous(t);
    lx_tensor_push(L, c);
    return c;
}

static en_tensor *dense_i64(lua_State *L, int i, const char *what) {
    en_tensor *t = lx_tensor_check(L, i);
    if (t->dtype != EN_I64 || t->ndim != 1) luaL_argerror(L, i, lua_pushfstring(L, "%s must be an i64 vector of classes", what));
    en_tensor *c = en_contiguous(t);
    lx_tensor_push(L, c);
    return c;
}

static int cb_logreg_fit(lua_State *L) {
    en_tensor *X = dense_f32(L, 1, 2, "X");
    en_tensor *y = dense_i64(L, 2, "y");
    if (y->shape[0] != X->shape[0]) return luaL_argerror(L, 2, "y must have one class per row of X");
    en_logreg_opts o = en_logreg_defaults();
    o.C = lx_opt_num(L, 3, "C", o.C, "logreg_fit");
    o.max_iter = (int)lx_opt_num(L, 3, "max_iter", o.max_iter, "logreg_fit");
    o.tol = lx_opt_num(L, 3, "tol", o.tol, "logreg_fit");
    o.verbose = (int)lx_opt_num(L, 3, "verbose", 0, "logreg_fit");
    int64_t K = 0;
    for (int64_t i = 0; i < y->shape[0]; i++) if (en_tensor_i64(y)[i] + 1 > K) K = en_tensor_i64(y)[i] + 1;
    K = (int64_t)lx_opt_num(L, 3, "classes", (double)K, "logreg_fit");
    lx_logreg *u = new_logreg(L);
    if (en_logreg_fit(&u->m, en_tensor_f32(X), en_tensor_i64(y), X->shape[0], X->shape[1], K, &o) < 0) {
        en_logreg_free(&u->m);
        lua_pushnil(L);
        lua_pushstring(L, en_error_msg());
        return 2;
    }
    u->fitted = 1;
    return 1;
}

typedef enum { OUT_LABELS, OUT_PROBA, OUT_SCORES } out_kind;

static int logreg_apply(lua_State *L, out_kind k) {
    lx_logreg *u = check_logreg(L);
    en_tensor *X = dense_f32(L, 2, 2, "X");
    if (X->shape[1] != u->m.D) return luaL_argerror(L, 2, lua_pushfstring(L, "X has %d features, the model %d", (int)X->shape[1], (int)u->m.D));
    int64_t N = X->shape[0];
    int64_t shape[2] = {N, u->m.K};
    en_tensor *out = en_tensor_new(k == OUT_LABELS ? EN_I64 : EN_F32, k == OUT_LABELS ? 1 : 2, shape);
    lx_tensor_push(L, out);
    int rc = k == OUT_LABELS ? en_logreg_predict(&u->m, en_tensor_f32(X), N, en_tensor_i64(out))
           : k == OUT_PROBA  ? en_logreg_predict_proba(&u->m, en_tensor_f32(X), N, en_tensor_f32(out))
                             : en_logreg_decision(&u->m, en_tensor_f32(X), N, en_tensor_f32(out));
    if (rc < 0) return luaL_error(L, "logreg: %s", en_error_msg());
    return 1;
}
static int logreg_predict(lua_State *L) { return logreg_apply(L, OUT_LABELS); }
static int logreg_proba(lua_State *L) { return logreg_apply(L, OUT_PROBA); }
static int logreg_decision(lua_State *L) { return logreg_apply(L, OUT_SCORES); }

static int logreg_score(lua_State *L) {
    lua_settop(L, 3);
    en_tensor *y = dense_i64(L, 3, "y");            /* stack: m X y yc */
    lua_pushcfunction(L, logreg_predict);
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_call(L, 2, 1);
    en_tensor *p = lx_tensor_test(L, -1);
    if (p->shape[0] != y->shape[0]) return luaL_argerror(L, 3, "y must have one class per row of X");
    int64_t hit = 0;
    for (int64_t i = 0; i < y->shape[0]; i++) hit += en_tensor_i64(p)[i] == en_tensor_i64(y)[i];
    lua_pushnumber(L, y->shape[0] ? (double)hit / (double)y->shape[0] : 0.0);
    return 1;
}

static int logreg_info(lua_State *L) {
    lx_logreg *u = check_logreg(L);
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, u->m.n_iter); lua_setfield(L, -2, "n_iter");
    lua_pushinteger(L, u->m.n_fev); lua_setfield(L, -2, "n_fev");
    lua_pushnumber(L, u->m.loss); lua_setfield(L, -2, "loss");
    lua_pushnumber(L, u->m.grad_max); lua_setfield(L, -2, "grad_max");
    lua_pushstring(L, en_logreg_status_name(u->m.status)); lua_setfield(L, -2, "status");
    return 1;
}

static int logreg_state(lua_State *L) {
    lx_logreg *u = check_logreg(L);
    lua_createtable(L, 0, 2);
    int64_t ws[2] = {u->m.K, u->m.D}, bs[1] = {u->m.K};
    lx_tensor_push(L, en_tensor_from_f32(2, ws, u->m.W));
    lua_setfield(L, -2, "W");
    lx_tensor_push(L, en_tensor_from_f32(1, bs, u->m.b));
    lua_setfield(L, -2, "b");
    return 1;
}

/* The inverse of m:state(), e.g. for a model kept in the memo store. */
static int cb_logreg_load(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "W");
    en_tensor *W = dense_f32(L, lua_gettop(L), 2, "state.W");
    lua_getfield(L, 1, "b");
    en_tensor *b = dense_f32(L, lua_gettop(L), 1, "state.b");
    if (b->shape[0] != W->shape[0]) return luaL_argerror(L, 1, "state.b must have one entry per row of state.W");
    lx_logreg *u = new_logreg(L);
    u->m.K = W->shape[0];
    u->m.D = W->shape[1];
    u->m.W = malloc(sizeof(float) * (size_t)(u->m.K * u->m.D));
    u->m.b = malloc(sizeof(float) * (size_t)u->m.K);
    if (!u->m.W || !u->m.b) { free(u->m.W); free(u->m.b); u->m.W = u->m.b = NULL; return luaL_error(L, "out of memory"); }
    memcpy(u->m.W, en_tensor_f32(W), sizeof(float) * (size_t)(u->m.K * u->m.D));
    memcpy(u->m.b, en_tensor_f32(b), sizeof(float) * (size_t)u->m.K);
    u->fitted = 1;
    return 1;
}

/* ---- few-shot heads (engine/en_fewshot.h) ---------------------------------- */

static int fewshot_gc(lua_State *L) { en_fewshot_result_free(lua_touserdata(L, 1)); return 0; }

/* An f32 (K, D) / (K) tensor at i, contiguous and anchored. */
static en_tensor *head_arg(lua_State *L, int i, int ndim, int64_t K, int64_t D, const char *what) {
    en_tensor *t = dense_f32(L, i, ndim, what);
    if (t->shape[0] != K || (ndim == 2 && t->shape[1] != D))
        luaL_argerror(L, i, lua_pushfstring(L, "%s must be (%d%s%d)", what, (int)K, ndim == 2 ? ", " : "",
                                            ndim == 2 ? (int)D : 0));
    return t;
}

static int cb_head_train(lua_State *L) {
    en_tensor *X = dense_f32(L, 1, 2, "X");
    en_tensor *y = dense_i64(L, 2, "y");
    int64_t N = X->shape[0], D = X->shape[1];
    if (y->shape[0] != N) return luaL_argerror(L, 2, "y must have one class per row of X");
    en_tensor *W0 = dense_f32(L, 3, 2, "W0");
    int64_t K = W0->shape[0];
    if (W0->shape[1] != D) return luaL_argerror(L, 3, "W0 must be (K, D) with the D of X");
    en_tensor *b0 = head_arg(L, 4, 1, K, D, "b0");
    luaL_checktype(L, 5, LUA_TTABLE);
    en_fewshot_opts o = en_fewshot_defaults();
    o.epochs = lx_opt_int(L, 5, "epochs", o.epochs, "head_train");
    o.lr = lx_opt_num(L, 5, "lr", o.lr, "head_train");
    o.weight_decay = lx_opt_num(L, 5, "weight_decay", o.weight_decay, "head_train");
    o.pull = lx_opt_num(L, 5, "pull", o.pull, "head_train");
    o.scale = lx_opt_num(L, 5, "scale", o.scale, "head_train");
    o.early_stop = lx_opt_bool(L, 5, "early_stop", 0);
    lua_getfield(L, 5, "Xval");
    lua_getfield(L, 5, "yval");
    int xi = lua_gettop(L) - 1, yi = lua_gettop(L);
    if (lua_isnil(L, xi) != lua_isnil(L, yi)) return luaL_argerror(L, 5, "give both Xval and yval, or neither");
    if (!lua_isnil(L, xi)) {
        en_tensor *Xv = dense_f32(L, xi, 2, "Xval"), *yv = dense_i64(L, yi, "yval");
        if (Xv->shape[1] != D || yv->shape[0] != Xv->shape[0])
            return luaL_argerror(L, 5, "Xval must be (M, D) and yval (M)");
        o.Xval = en_tensor_f32(Xv);
        o.yval = en_tensor_i64(yv);
        o.Nval = Xv->shape[0];
    }
    en_fewshot_result *r = lua_newuserdatauv(L, sizeof *r, 0);   /* freed by __gc */
    memset(r, 0, sizeof *r);
    lua_newtable(L);
    lua_pushcfunction(L, fewshot_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    if (en_fewshot_train(r, en_tensor_f32(X), en_tensor_i64(y), N, D, K, en_tensor_f32(W0), en_tensor_f32(b0), &o) < 0)
        return luaL_error(L, "head_train: %s", en_error_msg());
    lua_createtable(L, 0, 5);
    lx_tensor_push(L, en_tensor_from_f32(EN_DIMS(K, D), r->W));
    lua_setfield(L, -2, "W");
    lx_tensor_push(L, en_tensor_from_f32(EN_DIMS(K), r->b));
    lua_setfield(L, -2, "b");
    lua_createtable(L, r->epochs, 0);
    for (int e = 0; e < r->epochs; e++) { lua_pushnumber(L, r->loss[e]); lua_rawseti(L, -2, e + 1); }
    lua_setfield(L, -2, "loss");
    lua_createtable(L, r->val ? r->epochs : 0, 0);
    for (int e = 0; r->val && e < r->epochs; e++) { lua_pushnumber(L, r->val[e]); lua_rawseti(L, -2, e + 1); }
    lua_setfield(L, -2, "val");
    lua_pushinteger(L, r->best_epoch);
    lua_setfield(L, -2, "best_epoch");
    return 1;
}

static int cb_head_accuracy(lua_State *L) {
    en_tensor *X = dense_f32(L, 1, 2, "X");
    en_tensor *y = dense_i64(L, 2, "y");
    if (y->shape[0] != X->shape[0]) return luaL_argerror(L, 2, "y must have one class per row of X");
    en_tensor *W = dense_f32(L, 3, 2, "W");
    if (W->shape[1] != X->shape[1]) return luaL_argerror(L, 3, "W must be (K, D) with the D of X");
    en_tensor *b = head_arg(L, 4, 1, W->shape[0], W->shape[1], "b");
    double acc = en_fewshot_accuracy(en_tensor_f32(X), en_tensor_i64(y), en_tensor_f32(W), en_tensor_f32(b),
                                     X->shape[0], X->shape[1], W->shape[0], NULL);
    if (acc < 0) return luaL_error(L, "head_accuracy: %s", en_error_msg());
    lua_pushnumber(L, acc);
    return 1;
}

/* ---- the later few-shot methods (engine/en_fewshot_methods.h) --------------- */

/* The optional validation split of the options table at t (both or neither;
 * required when need). */
static void val_split(lua_State *L, int t, int64_t D, int need, const float **Xv, const int64_t **yv, int64_t *Nv,
                      const char *who) {
    lua_getfield(L, t, "Xval");
    lua_getfield(L, t, "yval");
    int xi = lua_gettop(L) - 1, yi = lua_gettop(L);
    *Xv = NULL; *yv = NULL; *Nv = 0;
    if (lua_isnil(L, xi) != lua_isnil(L, yi)) luaL_argerror(L, t, "give both Xval and yval, or neither");
    if (lua_isnil(L, xi)) {
        if (need) luaL_argerror(L, t, lua_pushfstring(L, "%s needs Xval and yval", who));
        return;
    }
    en_tensor *X = dense_f32(L, xi, 2, "Xval"), *y = dense_i64(L, yi, "yval");
    if (X->shape[1] != D || y->shape[0] != X->shape[0]) luaL_argerror(L, t, "Xval must be (M, D) and yval (M)");
    *Xv = en_tensor_f32(X); *yv = en_tensor_i64(y); *Nv = X->shape[0];
}

/* X (N, D), y (N) and T (K, D) at 1, 2, 3: checked and anchored. */
static void xyt(lua_State *L, en_tensor **X, en_tensor **y, en_tensor **T) {
    *X = dense_f32(L, 1, 2, "X");
    *y = dense_i64(L, 2, "y");
    if ((*y)->shape[0] != (*X)->shape[0]) luaL_argerror(L, 2, "y must have one class per row of X");
    *T = dense_f32(L, 3, 2, "T");
    if ((*T)->shape[1] != (*X)->shape[1]) luaL_argerror(L, 3, "T must be (K, D) with the D of X");
}

static void push_doubles(lua_State *L, const double *v, int n, const char *field) {
    lua_createtable(L, n, 0);
    for (int i = 0; v && i < n; i++) { lua_pushnumber(L, v[i]); lua_rawseti(L, -2, i + 1); }
    lua_setfield(L, -2, field);
}

static void push_zeros_b(lua_State *L, int64_t K) {
    en_tensor *b = en_tensor_zeros(EN_DIMS(K));
    lx_tensor_push(L, b);
    lua_setfield(L, -2, "b");
}

static int cb_tip_logits(lua_State *L) {
    en_tensor *X = dense_f32(L, 1, 2, "X"), *keys = dense_f32(L, 2, 2, "keys");
    en_tensor *lab = dense_i64(L, 3, "labels"), *W = dense_f32(L, 4, 2, "Wzs");
    int64_t D = X->shape[1], K = W->shape[0];
    if (keys->shape[1] != D || W->shape[1] != D || lab->shape[0] != keys->shape[0])
        return luaL_argerror(L, 2, "keys (NK, D), labels (NK) and Wzs (K, D) must share X's D");
    luaL_checktype(L, 5, LUA_TTABLE);
    double scale = lx_opt_num(L, 5, "scale", 100, "tip_logits"), beta = lx_opt_num(L, 5, "beta", 1, "tip_logits");
    double alpha = lx_opt_num(L, 5, "alpha", 1, "tip_logits");
    en_tensor *out = en_tensor_new(EN_F32, EN_DIMS(X->shape[0], K));
    lx_tensor_push(L, out);
    if (en_tip_logits(en_tensor_f32(out), en_tensor_f32(X), X->shape[0], en_tensor_f32(keys), en_tensor_i64(lab),
                      keys->shape[0], en_tensor_f32(W), K, D, scale, beta, alpha) < 0)
        return luaL_error(L, "tip_logits: %s", en_error_msg());
    return 1;
}

static int cb_tip_search(lua_State *L) {
    en_tensor *X = dense_f32(L, 1, 2, "Xv"), *y = dense_i64(L, 2, "yv"), *keys = dense_f32(L, 3, 2, "keys");
    en_tensor *lab = dense_i64(L, 4, "labels"), *W = dense_f32(L, 5, 2, "Wzs");
    int64_t D = X->shape[1], K = W->shape[0];
    if (y->shape[0] != X->shape[0]) return luaL_argerror(L, 2, "yv must have one class per row of Xv");
    if (keys->shape[1] != D || W->shape[1] != D || lab->shape[0] != keys->shape[0])
        return luaL_argerror(L, 3, "keys (NK, D), labels (NK) and Wzs (K, D) must share Xv's D");
    luaL_checktype(L, 6, LUA_TTABLE);
    en_tip_choice c;
    if (en_tip_search(&c, en_tensor_f32(X), en_tensor_i64(y), X->shape[0], en_tensor_f32(keys), en_tensor_i64(lab),
                      keys->shape[0], en_tensor_f32(W), K, D, lx_opt_num(L, 6, "scale", 100, "tip_search"),
                      lx_opt_num(L, 6, "beta_max", 7, "tip_search"), (int)lx_opt_int(L, 6, "n_beta", 200, "tip_search"),
                      lx_opt_num(L, 6, "alpha_max", 3, "tip_search"), (int)lx_opt_int(L, 6, "n_alpha", 20, "tip_search")) < 0)
        return luaL_error(L, "tip_search: %s", en_error_msg());
    lua_createtable(L, 0, 3);
    lua_pushnumber(L, c.beta); lua_setfield(L, -2, "beta");
    lua_pushnumber(L, c.alpha); lua_setfield(L, -2, "alpha");
    lua_pushnumber(L, c.val); lua_setfield(L, -2, "val");
    return 1;
}

static int lpp_gc(lua_State *L) { en_lpp_result_free(lua_touserdata(L, 1)); return 0; }
static int clap_gc(lua_State *L) { en_clap_result_free(lua_touserdata(L, 1)); return 0; }

/* A userdata holding an engine result of size sz, freed by gc whatever
 * happens next (the engine's result is filled after this). */
static void *result_box(lua_State *L, size_t sz, lua_CFunction gc) {
    void *r = lua_newuserdatauv(L, sz, 0);
    memset(r, 0, sz);
    lua_newtable(L);
    lua_pushcfunction(L, gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    return r;
}

static int cb_lpp_train(lua_State *L) {
    en_tensor *X, *y, *T;
    xyt(L, &X, &y, &T);
    luaL_checktype(L, 4, LUA_TTABLE);
    int64_t N = X->shape[0], D = X->shape[1], K = T->shape[0];
    en_lpp_opts o = { (int)lx_opt_int(L, 4, "epochs", 300, "lpp_train"), (int)lx_opt_int(L, 4, "alpha_every", 10, "lpp_train"),
                      NULL, NULL, 0 };
    val_split(L, 4, D, 1, &o.Xval, &o.yval, &o.Nval, "lpp_train");
    en_lpp_result *r = result_box(L, sizeof *r, lpp_gc);
    if (en_lpp_train(r, en_tensor_f32(X), en_tensor_i64(y), N, D, K, en_tensor_f32(T), &o) < 0)
        return luaL_error(L, "lpp_train: %s", en_error_msg());
    lua_createtable(L, 0, 8);
    lx_tensor_push(L, en_tensor_from_f32(EN_DIMS(K, D), r->W));
    lua_setfield(L, -2, "W");
    push_zeros_b(L, K);
    lx_tensor_push(L, en_tensor_from_f32(EN_DIMS(K), r->alpha));
    lua_setfield(L, -2, "alpha");
    push_doubles(L, r->val, r->epochs, "val");
    lua_pushinteger(L, r->best_epoch); lua_setfield(L, -2, "best_epoch");
    lua_pushnumber(L, r->lr_w); lua_setfield(L, -2, "lr_w");
    lua_pushnumber(L, r->lr_alpha); lua_setfield(L, -2, "lr_alpha");
    lua_pushnumber(L, r->alpha0); lua_setfield(L, -2, "alpha0");
    return 1;
}

static int cb_clap_train(lua_State *L) {
    en_tensor *X, *y, *T;
    xyt(L, &X, &y, &T);
    luaL_checktype(L, 4, LUA_TTABLE);
    int64_t N = X->shape[0], D = X->shape[1], K = T->shape[0];
    en_clap_opts o = en_clap_defaults();
    o.epochs = (int)lx_opt_int(L, 4, "epochs", o.epochs, "clap_train");
    o.lr = lx_opt_num(L, 4, "lr", o.lr, "clap_train");
    o.momentum = lx_opt_num(L, 4, "momentum", o.momentum, "clap_train");
    o.scale = lx_opt_num(L, 4, "scale", o.scale, "clap_train");
    o.constraint = lx_opt_bool(L, 4, "constraint", 0);
    val_split(L, 4, D, 1, &o.Xval, &o.yval, &o.Nval, "clap_train");
    en_clap_result *r = result_box(L, sizeof *r, clap_gc);
    if (en_clap_train(r, en_tensor_f32(X), en_tensor_i64(y), N, D, K, en_tensor_f32(T), &o) < 0)
        return luaL_error(L, "clap_train: %s", en_error_msg());
    lua_createtable(L, 0, 6);
    lx_tensor_push(L, en_tensor_from_f32(EN_DIMS(K, D), r->W));
    lua_setfield(L, -2, "W");
    push_zeros_b(L, K);
    lx_tensor_push(L, en_tensor_from_f32(EN_DIMS(K, D), r->P));
    lua_setfield(L, -2, "P");
    push_doubles(L, r->lambda, (int)K, "lambda");
    push_doubles(L, r->val, r->epochs, "val");
    lua_pushinteger(L, r->best_epoch); lua_setfield(L, -2, "best_epoch");
    return 1;
}

static int cb_crossmodal_set(lua_State *L) {
    en_tensor *X, *y, *T;
    xyt(L, &X, &y, &T);
    int64_t D = X->shape[1], K = T->shape[0], M;
    float *Xo;
    int64_t *yo;
    if (en_crossmodal_set(&Xo, &yo, &M, en_tensor_f32(X), en_tensor_i64(y), X->shape[0], en_tensor_f32(T), K, D) < 0)
        return luaL_error(L, "crossmodal_set: %s", en_error_msg());
    /* copy into tensors made before anything can raise, then free */
    en_tensor *tx = en_tensor_new(EN_F32, EN_DIMS(M, D)), *ty = en_tensor_new(EN_I64, EN_DIMS(M));
    memcpy(en_tensor_f32(tx), Xo, sizeof(float) * (size_t)(M * D));
    memcpy(en_tensor_i64(ty), yo, sizeof(int64_t) * (size_t)M);
    free(Xo);
    free(yo);
    lx_tensor_push(L, tx);
    lx_tensor_push(L, ty);
    return 2;
}

/* ---- optimisers ------------------------------------------------------------- */

typedef struct {
    int kind;      /* 0 sgd, 1 adamw */
    int live;
    size_t n;      /* total elements */
    en_sgd sgd;
    en_adamw adam;
} lx_optim;

static int optim_release(lua_State *L) {
    lx_optim *o = luaL_checkudata(L, 1, OPTIM_MT);
    if (o->live) { if (o->kind == 0) en_sgd_free(&o->sgd); else en_adamw_free(&o->adam); }
    o->live = 0;
    return 0;
}

static lx_optim *check_optim(lua_State *L) {
    lx_optim *o = luaL_checkudata(L, 1, OPTIM_MT);
    if (!o->live) luaL_argerror(L, 1, "optimizer was freed");
    return o;
}

/* Check the parameter list at i: f32, contiguous, leaves. Returns the count
 * and the total number of elements. */
static int check_params(lua_State *L, int i, size_t *total) {
    luaL_checktype(L, i, LUA_TTABLE);
    int n = (int)lua_rawlen(L, i);
    luaL_argcheck(L, n >= 1, i, "needs a non-empty list of tensors");
    *total = 0;
    for (int k = 1; k <= n; k++) {
        lua_rawgeti(L, i, k);
        en_tensor *t = lx_tensor_test(L, -1);
        if (!t || t->dtype != EN_F32 || !en_tensor_is_contiguous(t) || !en_tensor_requires_grad(t))
            luaL_argerror(L, i, lua_pushfstring(L, "element %d is not a contiguous f32 tensor with requires_grad()", k));
        *total += (size_t)en_tensor_numel(t);
        lua_pop(L, 1);
    }
    return n;
}

/* Segments for the list at i (in a userdata on the stack); parameters
 * without a gradient yet get a zero one, so the layout never changes. */
static en_seg *segments(lua_State *L, int i, int n) {
    en_seg *s = lua_newuserdatauv(L, sizeof *s * (size_t)n, 0);
    for (int k = 0; k < n; k++) {
        lua_rawgeti(L, i, k + 1);
        en_tensor *t = lx_tensor_test(L, -1);
        lua_pop(L, 1);
        size_t m = (size_t)en_tensor_numel(t);
        en_tensor *g = en_tensor_grad(t);
        s[k].p = en_tensor_f32(t);
        s[k].n = m;
        if (g && en_tensor_numel(g) == (int64_t)m) s[k].g = en_tensor_f32(g);
        else s[k].g = memset(lua_newuserdatauv(L, sizeof(float) * (m ? m : 1), 0), 0, sizeof(float) * (m ? m : 1));
    }
    return s;
}

static int new_optim(lua_State *L, int kind) {
    size_t total;
    check_params(L, 1, &total);
    lx_optim *o = lua_newuserdatauv(L, sizeof *o, 1);
    memset(o, 0, sizeof *o);
    luaL_setmetatable(L, OPTIM_MT);
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, -2, 1);   /* the list keeps its tensors alive */
    o->kind = kind;
    o->n = total;
    int rc;
    if (kind == 0) {
        rc = en_sgd_init(&o->sgd, total, NULL, lx_opt_num(L, 2, "lr", 1e-2, "sgd"),
                         lx_opt_num(L, 2, "momentum", 0, "sgd"), lx_opt_num(L, 2, "dampening", 0, "sgd"),
                         lx_opt_num(L, 2, "weight_decay", 0, "sgd"), (int)lx_opt_num(L, 2, "nesterov", 0, "sgd"));
    } else {
        double b1 = 0.9, b2 = 0.999;
        if (lua_istable(L, 2) && lua_getfield(L, 2, "betas") == LUA_TTABLE) {
            lua_rawgeti(L, -1, 1); b1 = luaL_checknumber(L, -1); lua_pop(L, 1);
            lua_rawgeti(L, -1, 2); b2 = luaL_checknumber(L, -1); lua_pop(L, 1);
        }
        if (lua_istable(L, 2)) lua_pop(L, 1);
        rc = en_adamw_init(&o->adam, total, NULL, lx_opt_num(L, 2, "lr", 1e-3, "adamw"), b1, b2,
                           lx_opt_num(L, 2, "eps", 1e-8, "adamw"), lx_opt_num(L, 2, "weight_decay", 1e-2, "adamw"));
    }
    if (rc < 0) return luaL_argerror(L, 2, en_error_msg());
    o->live = 1;
    return 1;
}
static int cb_sgd(lua_State *L) { return new_optim(L, 0); }
static int cb_adamw(lua_State *L) { return new_optim(L, 1); }

static int optim_step(lua_State *L) {
    lx_optim *o = check_optim(L);
    lua_getiuservalue(L, 1, 1);
    int li = lua_gettop(L);
    size_t total;
    int n = check_params(L, li, &total);
    if (total != o->n) return luaL_error(L, "optimizer: the parameters changed size since it was made");
    en_seg *s = segments(L, li, n);
    if (o->kind == 0) en_sgd_step(&o->sgd, s, n);
    else en_adamw_step(&o->adam, s, n);
    return 0;
}

static int optim_zero_grad(lua_State *L) {
    check_optim(L);
    lua_getiuservalue(L, 1, 1);
    int n = (int)lua_rawlen(L, -1);
    for (int k = 1; k <= n; k++) {
        lua_rawgeti(L, -1, k);
        en_tensor *t = lx_tensor_test(L, -1);
        if (t) en_zero_grad(t);
        lua_pop(L, 1);
    }
    return 0;
}

static int optim_lr(lua_State *L) {
    lx_optim *o = check_optim(L);
    double *lr = o->kind == 0 ? &o->sgd.lr : &o->adam.lr;
    if (!lua_isnoneornil(L, 2)) {
        double v = luaL_checknumber(L, 2);
        luaL_argcheck(L, v >= 0, 2, "lr must be >= 0");
        *lr = v;
    }
    lua_pushnumber(L, *lr);
    return 1;
}

static int cb_clip_grad_norm(lua_State *L) {
    size_t total;
    int n = check_params(L, 1, &total);
    float max = (float)luaL_checknumber(L, 2);
    luaL_argcheck(L, max > 0, 2, "max_norm must be > 0");
    en_seg *s = segments(L, 1, n);
    lua_pushnumber(L, en_clip_grad_norm(s, n, max));
    return 1;
}

static int cb_warmup_cosine(lua_State *L) {
    lua_Integer s = luaL_checkinteger(L, 1), S = luaL_checkinteger(L, 2), W = luaL_checkinteger(L, 3);
    double hi = luaL_checknumber(L, 4), lo = luaL_optnumber(L, 5, 0);
    luaL_argcheck(L, S >= 1, 2, "total must be >= 1");
    luaL_argcheck(L, W >= 0 && W <= S, 3, "warmup must be in 0..total");
    luaL_argcheck(L, s >= 1, 1, "step is 1-based");
    lua_pushnumber(L, en_sched_warmup_cosine((long)(s - 1), (long)S, (long)W, hi, lo));
    return 1;
}

const luaL_Reg lx_fit_functions[] = {
    {"logreg_fit", cb_logreg_fit}, {"logreg_load", cb_logreg_load}, {"head_train", cb_head_train},
    {"head_accuracy", cb_head_accuracy}, {"tip_logits", cb_tip_logits}, {"tip_search", cb_tip_search},
    {"lpp_train", cb_lpp_train}, {"clap_train", cb_clap_train}, {"crossmodal_set", cb_crossmodal_set}, {"sgd", cb_sgd},
    {"adamw", cb_adamw}, {"clip_grad_norm", cb_clip_grad_norm}, {"warmup_cosine", cb_warmup_cosine},
    {NULL, NULL},
};

void lx_fit_open(lua_State *L) {
    static const luaL_Reg lr_methods[] = {
        {"predict", logreg_predict}, {"predict_proba", logreg_proba}, {"decision", logreg_decision},
        {"score", logreg_score}, {"info", logreg_info}, {"state", logreg_state},
        {"free", logreg_release}, {NULL, NULL},
    };
    static const luaL_Reg opt_methods[] = {
        {"step", optim_step}, {"zero_grad", optim_zero_grad}, {"lr", optim_lr},
        {"free", optim_release}, {NULL, NULL},
    };
    lx_class_new(L, LOGREG_MT, lr_methods, logreg_release);
    lua_pop(L, 1);
    lx_class_new(L, OPTIM_MT, opt_methods, optim_release);
    lua_pop(L, 1);
}
