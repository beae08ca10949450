/* The decoders on CLIP features from Lua (engine/en_decoders.h):
 *   cb.vqvae_new{ in_ch=, grid=, image=, hidden=, codes=, code_dim=, res_blocks= (0), beta=,
 *                 decay=, dead_below= } [, seed] -> vq   (in_ch 0: its own trained encoder)
 *   vq:train_step(images, feats_or_nil, lr) -> loss, reconstruction MSE
 *   vq:reconstruct(images, feats_or_nil) -> images, distinct codes the batch used
 *   vq:restarts() -> dead-code restarts so far
 *   vq:decode_codes(codes i64 (n, g*g)) -> images   vq:codes_used()   vq:free()
 *   cb.cell_mean_mse(images, grid) -> MSE against the pictures' own g x g cell means
 *   cb.segnet_new{ in_ch=, grid=, image=, hidden=, train_blocks= } [, seed] -> seg
 *   seg:train_step(images_or_nil, feats_or_nil, masks, lr) -> loss
 *   seg:logits(images_or_nil, feats_or_nil) -> logits   seg:trainable()   seg:free()
 * Initialisation draws from a generator seeded with seed (0 without one). */
#include <math.h>

#include "en_decoders.h"
#include "en_error.h"
#include "en_rng.h"
#include "lx.h"
#include "lx_tensor.h"

#define VQ_MT  "clipbook.VQVAE"
#define SEG_MT "clipbook.SegNet"

typedef struct { en_vqvae *m; } lx_vq;
typedef struct { en_segnet *m; } lx_seg;

static en_vqvae *check_vq(lua_State *L) {
    lx_vq *u = luaL_checkudata(L, 1, VQ_MT);
    if (!u->m) luaL_argerror(L, 1, "model was freed");
    return u->m;
}

static en_segnet *check_seg(lua_State *L) {
    lx_seg *u = luaL_checkudata(L, 1, SEG_MT);
    if (!u->m) luaL_argerror(L, 1, "model was freed");
    return u->m;
}

static int vq_release(lua_State *L) {
    lx_vq *u = luaL_checkudata(L, 1, VQ_MT);
    en_vqvae_free(u->m);
    u->m = NULL;
    return 0;
}

static int seg_release(lua_State *L) {
    lx_seg *u = luaL_checkudata(L, 1, SEG_MT);
    en_segnet_free(u->m);
    u->m = NULL;
    return 0;
}

static int push_new(lua_State *L, en_tensor *t, const char *what) {
    if (!t) return luaL_error(L, "%s: %s", what, en_error_msg());
    lx_tensor_push(L, t);
    return 1;
}

static int cb_vqvae_new(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    en_vqvae_config c = { .in_ch = lx_opt_int(L, 1, "in_ch", 0, "vqvae"), .grid = lx_opt_int(L, 1, "grid", 4, "vqvae"),
                          .image = lx_opt_int(L, 1, "image", 32, "vqvae"), .hidden = lx_opt_int(L, 1, "hidden", 32, "vqvae"),
                          .codes = lx_opt_int(L, 1, "codes", 64, "vqvae"), .code_dim = lx_opt_int(L, 1, "code_dim", 16, "vqvae"),
                          .res_blocks = lx_opt_int(L, 1, "res_blocks", 0, "vqvae"),
                          .beta = lx_opt_num(L, 1, "beta", 0.25, "vqvae"), .decay = lx_opt_num(L, 1, "decay", 0.99, "vqvae"),
                          .dead_below = lx_opt_num(L, 1, "dead_below", 1.0, "vqvae") };
    en_rng r;
    en_rng_seed(&r, (uint64_t)luaL_optinteger(L, 2, 0));
    lx_vq *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->m = NULL;
    luaL_setmetatable(L, VQ_MT);
    u->m = en_vqvae_new(&c, &r);
    if (!u->m) return luaL_error(L, "vqvae_new: %s", en_error_msg());
    return 1;
}

static int vq_train_step(lua_State *L) {
    en_vqvae *m = check_vq(L);
    en_tensor *img = lx_tensor_check(L, 2), *f = lx_tensor_test(L, 3);
    float recon = NAN;
    float loss = en_vqvae_train_step(m, img, f, luaL_checknumber(L, 4), &recon);
    if (isnan(loss)) return luaL_error(L, "vqvae: %s", en_error_msg());
    lua_pushnumber(L, loss);
    lua_pushnumber(L, recon);
    return 2;
}

static int vq_reconstruct(lua_State *L) {
    en_vqvae *m = check_vq(L);
    int used = 0;
    push_new(L, en_vqvae_reconstruct_codes(m, lx_tensor_check(L, 2), lx_tensor_test(L, 3), &used), "vqvae");
    lua_pushinteger(L, used);
    return 2;
}

/* cb.cell_mean_mse(images, grid) -> the MSE of the pictures against their
 * own g x g cell means (engine/en_decoders.h) */
static int cb_cell_mean_mse(lua_State *L) {
    double v = en_cell_mean_mse(lx_tensor_check(L, 1), (int)luaL_checkinteger(L, 2));
    if (isnan(v)) return luaL_error(L, "cell_mean_mse: %s", en_error_msg());
    lua_pushnumber(L, v);
    return 1;
}

static int vq_restarts(lua_State *L) { lua_pushinteger(L, en_vqvae_restarts(check_vq(L))); return 1; }

static int vq_decode_codes(lua_State *L) {
    en_vqvae *m = check_vq(L);
    en_tensor *c = lx_tensor_check(L, 2);
    if (c->dtype != EN_I64 || c->ndim != 2) return luaL_argerror(L, 2, "codes must be i64 (n, g*g)");
    en_tensor *cc = en_contiguous(c);
    lx_tensor_push(L, cc);
    return push_new(L, en_vqvae_decode_codes(m, en_tensor_i64(cc), (int)c->shape[0]), "vqvae");
}

static int vq_codes_used(lua_State *L) { lua_pushinteger(L, en_vqvae_codes_used(check_vq(L))); return 1; }

static int cb_segnet_new(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    en_segnet_config c = { lx_opt_int(L, 1, "in_ch", 0, "segnet"), lx_opt_int(L, 1, "grid", 4, "segnet"), lx_opt_int(L, 1, "image", 32, "segnet"),
                           lx_opt_int(L, 1, "hidden", 32, "segnet"), lx_opt_bool(L, 1, "train_blocks", 1) };
    en_rng r;
    en_rng_seed(&r, (uint64_t)luaL_optinteger(L, 2, 0));
    lx_seg *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->m = NULL;
    luaL_setmetatable(L, SEG_MT);
    u->m = en_segnet_new(&c, &r);
    if (!u->m) return luaL_error(L, "segnet_new: %s", en_error_msg());
    return 1;
}

static int seg_train_step(lua_State *L) {
    en_segnet *m = check_seg(L);
    float loss = en_segnet_train_step(m, lx_tensor_test(L, 2), lx_tensor_test(L, 3), lx_tensor_check(L, 4),
                                      luaL_checknumber(L, 5));
    if (isnan(loss)) return luaL_error(L, "segnet: %s", en_error_msg());
    lua_pushnumber(L, loss);
    return 1;
}

static int seg_logits(lua_State *L) {
    en_segnet *m = check_seg(L);
    return push_new(L, en_segnet_logits(m, lx_tensor_test(L, 2), lx_tensor_test(L, 3)), "segnet");
}

static int seg_trainable(lua_State *L) { lua_pushinteger(L, (lua_Integer)en_segnet_trainable(check_seg(L))); return 1; }

const luaL_Reg lx_decoders_functions[] = {
    {"vqvae_new", cb_vqvae_new}, {"segnet_new", cb_segnet_new}, {"cell_mean_mse", cb_cell_mean_mse}, {NULL, NULL},
};

void lx_decoders_open(lua_State *L) {
    static const luaL_Reg vq_methods[] = {
        {"train_step", vq_train_step}, {"reconstruct", vq_reconstruct}, {"decode_codes", vq_decode_codes},
        {"codes_used", vq_codes_used}, {"restarts", vq_restarts}, {"free", vq_release}, {NULL, NULL},
    };
    static const luaL_Reg seg_methods[] = {
        {"train_step", seg_train_step}, {"logits", seg_logits}, {"trainable", seg_trainable},
        {"free", seg_release}, {NULL, NULL},
    };
    if (luaL_newmetatable(L, VQ_MT)) {
        luaL_newlib(L, vq_methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, vq_release); lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, vq_release); lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);
    if (luaL_newmetatable(L, SEG_MT)) {
        luaL_newlib(L, seg_methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, seg_release); lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, seg_release); lua_setfield(L, -2, "__close");
    }
    lua_pop(L, 1);
}
