/* CLIP models from Lua (engine/en_clip.h, en_pretrain.h):
 *   cb.clip_new{ embed_dim=, image_resolution=, vit=true|false,
 *                vision_layers= n | {a,b,c,d}, vision_width=, patch_size=,
 *                context_length=, vocab_size=, width=, layers=, heads=,
 *                stem_stride=, stem_pool= }     -> model (OpenAI's init,
 *                                                  drawn from cb's generator)
 *   cb.clip_load(path) -> model | nil, message     m:save(path) -> true | nil, message
 *   m:encode_image(images (N,3,R,R)) / m:encode_text(tokens i64 (N,L)) -> (N, E)
 *   m:prepool(images) (ResNet (N,C,h,w); ViT (N,T,W))   m:attnpool(feats)
 *   m:logit_scale() -> 0-dim tensor   m:train(on)   m:config() -> table
 *   m:params() -> { name = tensor }   (the live parameters; leaves)
 *   m:free()
 *   cb.contrastive_loss(img_feats, txt_feats, logit_scale) -> 0-dim
 *   cb.pretrain{ <clip_new sizes>, bpe = tok, steps=, batch=, lr=, warmup=,
 *                seed=, corpus=, state_path=, checkpoint_every=,
 *                on_step = function(log) end }
 *        -> model, { loss = {...}, steps_done=, resumed_from=, wall_s=,
 *                    images_per_s=, interrupted= }
 * Models go into the memo store whole (as their safetensors checkpoint) and
 * count as memo parameters by a hash of their parameters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "en_clip.h"
#include "en_error.h"
#include "en_pretrain.h"
#include "en_tensor.h"
#include "lx.h"
#include "lx_tensor.h"
#include "rp_chapter.h"
#include "rp_sha256.h"

#define CLIP_MT "clipbook.CLIP"

typedef struct { en_clip *m; } lx_clip;

en_rng *lx_rng_global(void);
void lx_bpe_check(lua_State *L, int i, en_bpe **out); /* lx_bpe.c */

static int clip_release(lua_State *L) {
    lx_clip *u = luaL_checkudata(L, 1, CLIP_MT);
    en_clip_free(u->m);
    u->m = NULL;
    return 0;
}

static en_clip *check_clip(lua_State *L, int i) {
    lx_clip *u = luaL_checkudata(L, i, CLIP_MT);
    if (!u->m) luaL_argerror(L, i, "model was freed");
    return u->m;
}

static lx_clip *new_handle(lua_State *L) {
    lx_clip *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->m = NULL;
    luaL_setmetatable(L, CLIP_MT);
    return u;
}

static int geti(lua_State *L, int t, const char *k, int def) {
    lua_getfield(L, t, k);
    int ok, v = def;
    if (!lua_isnil(L, -1)) {
        v = (int)lua_tointegerx(L, -1, &ok);
        if (!ok) luaL_error(L, "clip: %s must be an integer", k);
    }
    lua_pop(L, 1);
    return v;
}

static void read_config(lua_State *L, int t, en_clip_config *c) {
    memset(c, 0, sizeof *c);
    c->embed_dim = geti(L, t, "embed_dim", 64);
    c->image_resolution = geti(L, t, "image_resolution", 32);
    lua_getfield(L, t, "vit");
    c->vision_vit = lua_isnil(L, -1) ? 1 : lua_toboolean(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, t, "vision_layers");
    if (lua_istable(L, -1)) {
        for (int i = 0; i < 4; i++) { lua_rawgeti(L, -1, i + 1); c->vision_layers[i] = (int)lua_tointeger(L, -1); lua_pop(L, 1); }
    } else {
        c->vision_layers[0] = lua_isnil(L, -1) ? 2 : (int)luaL_checkinteger(L, -1);
    }
    lua_pop(L, 1);
    c->vision_width = geti(L, t, "vision_width", 64);
    c->vision_patch_size = geti(L, t, "patch_size", 4);
    c->vision_heads = geti(L, t, "vision_heads", 0);
    c->context_length = geti(L, t, "context_length", 32);
    c->vocab_size = geti(L, t, "vocab_size", 49408);
    c->transformer_width = geti(L, t, "width", 64);
    c->transformer_heads = geti(L, t, "heads", 0);
    c->transformer_layers = geti(L, t, "layers", 2);
    c->resnet_stem_stride = geti(L, t, "stem_stride", 0);
    c->resnet_stem_pool = geti(L, t, "stem_pool", 0);
    en_clip_config_finish(c);
}

static int cb_clip_new(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    en_clip_config c;
    read_config(L, 1, &c);
    lx_clip *u = new_handle(L);
    u->m = en_clip_new(&c, lx_rng_global());
    if (!u->m) return luaL_argerror(L, 1, en_error_msg());  /* sizes are the caller's */
    return 1;
}

static int cb_clip_load(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    lx_clip *u = new_handle(L);
    u->m = en_clip_load(path);
    if (!u->m) { lua_pushnil(L); lua_pushstring(L, en_error_msg()); return 2; }
    return 1;
}

static int clip_save(lua_State *L) {
    en_clip *m = check_clip(L, 1);
    if (en_clip_save(m, luaL_checkstring(L, 2)) < 0) { lua_pushnil(L); lua_pushstring(L, en_error_msg()); return 2; }
    lua_pushboolean(L, 1);
    return 1;
}

static en_tensor *f32_arg(lua_State *L, int i) {
    en_tensor *t = lx_tensor_check(L, i);
    if (t->dtype != EN_F32) luaL_argerror(L, i, "expected an f32 tensor");
    return t;
}

static int ret(lua_State *L, en_tensor *t) {
    if (!t) return luaL_error(L, "%s", en_error_msg());
    lx_tensor_push(L, t);
    return 1;
}

static int clip_encode_image(lua_State *L) { en_clip *m = check_clip(L, 1); return ret(L, en_clip_encode_image(m, f32_arg(L, 2))); }
static int clip_prepool(lua_State *L) { en_clip *m = check_clip(L, 1); return ret(L, en_clip_image_prepool(m, f32_arg(L, 2))); }
static int clip_attnpool(lua_State *L) {
    en_clip *m = check_clip(L, 1);
    if (en_clip_get_config(m)->vision_vit) return luaL_argerror(L, 1, "a ViT has no attention pool");
    return ret(L, en_clip_attnpool(m, f32_arg(L, 2)));
}
static int clip_encode_text(lua_State *L) {
    en_clip *m = check_clip(L, 1);
    en_tensor *t = lx_tensor_check(L, 2);
    if (t->dtype != EN_I64 || t->ndim != 2) return luaL_argerror(L, 2, "tokens must be an i64 tensor (N, L)");
    const en_clip_config *c = en_clip_get_config(m);
    if (t->shape[1] > c->context_length)
        return luaL_argerror(L, 2, lua_pushfstring(L, "%d tokens per row; the model takes at most %d", (int)t->shape[1], c->context_length));
    en_tensor *tc = en_contiguous(t);
    lx_tensor_push(L, tc);
    for (int64_t k = 0; k < en_tensor_numel(tc); k++)
        if (en_tensor_i64(tc)[k] < 0 || en_tensor_i64(tc)[k] >= c->vocab_size)
            return luaL_argerror(L, 2, lua_pushfstring(L, "token %d outside the vocabulary (0..%d)", (int)en_tensor_i64(tc)[k], c->vocab_size - 1));
    return ret(L, en_clip_encode_text(m, tc));
}
static int clip_logit_scale(lua_State *L) {
    en_clip *m = check_clip(L, 1);
    lx_tensor_push(L, en_tensor_retain(en_clip_logit_scale(m)));
    return 1;
}
static int clip_train(lua_State *L) {
    en_clip_set_train(check_clip(L, 1), lua_isnoneornil(L, 2) ? 1 : lua_toboolean(L, 2));
    lua_settop(L, 1);
    return 1;
}

static void push_config(lua_State *L, const en_clip_config *c) {
    lua_createtable(L, 0, 14);
    lua_pushinteger(L, c->embed_dim); lua_setfield(L, -2, "embed_dim");
    lua_pushinteger(L, c->image_resolution); lua_setfield(L, -2, "image_resolution");
    lua_pushboolean(L, c->vision_vit); lua_setfield(L, -2, "vit");
    if (c->vision_vit) lua_pushinteger(L, c->vision_layers[0]);
    else { lua_createtable(L, 4, 0); for (int i = 0; i < 4; i++) { lua_pushinteger(L, c->vision_layers[i]); lua_rawseti(L, -2, i + 1); } }
    lua_setfield(L, -2, "vision_layers");
    lua_pushinteger(L, c->vision_width); lua_setfield(L, -2, "vision_width");
    lua_pushinteger(L, c->vision_patch_size); lua_setfield(L, -2, "patch_size");
    lua_pushinteger(L, c->vision_heads); lua_setfield(L, -2, "vision_heads");
    lua_pushinteger(L, c->context_length); lua_setfield(L, -2, "context_length");
    lua_pushinteger(L, c->vocab_size); lua_setfield(L, -2, "vocab_size");
    lua_pushinteger(L, c->transformer_width); lua_setfield(L, -2, "width");
    lua_pushinteger(L, c->transformer_heads); lua_setfield(L, -2, "heads");
    lua_pushinteger(L, c->transformer_layers); lua_setfield(L, -2, "layers");
    lua_pushinteger(L, c->resnet_stem_stride); lua_setfield(L, -2, "stem_stride");
    lua_pushinteger(L, c->resnet_stem_pool); lua_setfield(L, -2, "stem_pool");
}
static int clip_config(lua_State *L) { push_config(L, en_clip_get_config(check_clip(L, 1))); return 1; }

static int clip_params(lua_State *L) {
    en_clip *m = check_clip(L, 1);
    en_params *p = en_clip_params(m);
    int n = en_params_count(p);
    lua_createtable(L, 0, n);
    for (int i = 0; i < n; i++) {
        lx_tensor_push(L, en_tensor_retain(en_params_get(p, i)));
        lua_setfield(L, -2, en_params_name(p, i));
    }
    return 1;
}

static int cb_contrastive_loss(lua_State *L) {
    en_tensor *a = f32_arg(L, 1), *b = f32_arg(L, 2), *s = f32_arg(L, 3);
    return ret(L, en_clip_contrastive_loss(a, b, s));
}

/* ---- memo: models as their checkpoint bytes --------------------------- */

static int clip_digest(lua_State *L) {
    en_clip *m = check_clip(L, 1);
    en_params *p = en_clip_params(m);
    rp_sha256 s;
    rp_sha256_init(&s);
    const en_clip_config *c = en_clip_get_config(m);
    rp_sha256_update(&s, c, sizeof *c);
    rp_sha256_update(&s, en_params_data(p), sizeof(float) * (size_t)en_params_numel(p));
    uint8_t d[32];
    char hex[65];
    rp_sha256_final(&s, d);
    rp_sha256_tohex(hex, d);
    lua_pushfstring(L, "clip:%s", hex);
    return 1;
}

/* A temporary file in the memo store's own folder would be nicer; /tmp is
 * what every machine has. */
static void tmp_path(char *buf, size_t n) {
    const char *d = getenv("TMPDIR");
    snprintf(buf, n, "%s/clipbook-model-%ld-XXXXXX", d && *d ? d : "/tmp", (long)getpid());
}

static int clip_pack(lua_State *L) {
    en_clip *m = check_clip(L, 1);
    char path[512];
    tmp_path(path, sizeof path);
    int fd = mkstemp(path);
    if (fd < 0) return luaL_error(L, "memo: cannot make a temporary file for a model");
    close(fd);
    if (en_clip_save(m, path) < 0) { unlink(path); return luaL_error(L, "memo: %s", en_error_msg()); }
    size_t n;
    char *bytes = rp_file_read(path, &n);
    unlink(path);
    if (!bytes) return luaL_error(L, "memo: %s", en_error_msg());
    void **slot = lx_box_new(L);
    *slot = bytes;
    lua_pushlstring(L, bytes, n);
    return 1;
}

static int clip_unpack(lua_State *L) {
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    char path[512];
    tmp_path(path, sizeof path);
    int fd = mkstemp(path);
    if (fd < 0) return luaL_error(L, "memo: cannot make a temporary file for a model");
    ssize_t w = write(fd, s, n);
    close(fd);
    lx_clip *u = new_handle(L);
    if (w != (ssize_t)n) { unlink(path); return luaL_error(L, "memo: cannot write a temporary model file"); }
    u->m = en_clip_load(path);
    unlink(path);
    if (!u->m) return luaL_error(L, "memo: %s", en_error_msg());
    return 1;
}

/* ---- pre-training -------------------------------------------------------- */

typedef struct { lua_State *L; int fn; int failed; } step_ctx;

/* Called from inside the engine: a Lua error must not unwind through it,
 * so the callback runs protected and its first error is raised after. */
static void on_step(void *vctx, const en_pretrain_log *g) {
    step_ctx *c = vctx;
    if (c->failed || !c->fn) return;
    lua_State *L = c->L;
    lua_pushvalue(L, c->fn);
    lua_createtable(L, 0, 8);
    lua_pushinteger(L, g->step); lua_setfield(L, -2, "step");
    lua_pushinteger(L, g->steps); lua_setfield(L, -2, "steps");
    lua_pushnumber(L, g->loss); lua_setfield(L, -2, "loss");
    lua_pushnumber(L, g->lr); lua_setfield(L, -2, "lr");
    lua_pushnumber(L, g->logit_scale); lua_setfield(L, -2, "logit_scale");
    lua_pushnumber(L, g->images_per_s); lua_setfield(L, -2, "images_per_s");
    lua_pushnumber(L, g->eta_s); lua_setfield(L, -2, "eta_s");
    lua_pushnumber(L, g->elapsed_s); lua_setfield(L, -2, "elapsed_s");
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        c->failed = 1;
        lua_setfield(L, LUA_REGISTRYINDEX, "clipbook.pretrain_error");
    }
}

static double getd(lua_State *L, int t, const char *k, double def) {
    lua_getfield(L, t, k);
    double v = lua_isnil(L, -1) ? def : luaL_checknumber(L, -1);
    lua_pop(L, 1);
    return v;
}

static int result_gc(lua_State *L) { en_pretrain_result_free(lua_touserdata(L, 1)); return 0; }

static int cb_pretrain(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    en_pretrain_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    read_config(L, 1, &cfg.model);
    cfg.steps = geti(L, 1, "steps", 100);
    cfg.batch = geti(L, 1, "batch", 32);
    cfg.warmup = geti(L, 1, "warmup", 0);
    cfg.lr = getd(L, 1, "lr", 0);
    cfg.lr_min = getd(L, 1, "lr_min", 0);
    cfg.weight_decay = getd(L, 1, "weight_decay", 0);
    cfg.grad_clip = getd(L, 1, "grad_clip", 0);
    cfg.seed = (uint64_t)geti(L, 1, "seed", 0);
    cfg.corpus = geti(L, 1, "corpus", 0);
    cfg.checkpoint_every = geti(L, 1, "checkpoint_every", 0);
    cfg.stop_after = geti(L, 1, "stop_after", 0);
    lua_getfield(L, 1, "state_path");
    cfg.state_path = lua_tostring(L, -1);   /* anchored: stays on the stack */
    lua_getfield(L, 1, "bpe");
    en_bpe *bpe = NULL;
    lx_bpe_check(L, lua_gettop(L), &bpe);
    lua_getfield(L, 1, "on_step");
    step_ctx sc = {L, lua_isfunction(L, -1) ? lua_gettop(L) : 0, 0};
    cfg.on_step = on_step;
    cfg.ctx = &sc;
    en_pretrain_defaults(&cfg);
    en_pretrain_result *r = lua_newuserdatauv(L, sizeof *r, 0);  /* freed by __gc */
    memset(r, 0, sizeof *r);
    lua_newtable(L);
    lua_pushcfunction(L, result_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    int ri = lua_gettop(L);
    lx_clip *u = new_handle(L);
    int rc = en_pretrain_run(&cfg, bpe, r);
    u->m = r->model;     /* the handle owns the model from here */
    r->model = NULL;
    if (sc.failed) {
        lua_getfield(L, LUA_REGISTRYINDEX, "clipbook.pretrain_error");
        return lua_error(L);
    }
    if (rc < 0) return luaL_error(L, "pretrain: %s", en_error_msg());
    lua_createtable(L, 0, 6);
    lua_createtable(L, r->steps_done, 0);
    for (int i = 0; i < r->steps_done; i++) { lua_pushnumber(L, r->loss[i]); lua_rawseti(L, -2, i + 1); }
    lua_setfield(L, -2, "loss");
    lua_pushinteger(L, r->steps_done); lua_setfield(L, -2, "steps_done");
    lua_pushinteger(L, r->resumed_from); lua_setfield(L, -2, "resumed_from");
    lua_pushnumber(L, r->wall_s); lua_setfield(L, -2, "wall_s");
    lua_pushnumber(L, r->images_per_s); lua_setfield(L, -2, "images_per_s");
    lua_pushboolean(L, r->interrupted); lua_setfield(L, -2, "interrupted");
    (void)ri;
    return 2;
}

const luaL_Reg lx_model_functions[] = {
    {"clip_new", cb_clip_new}, {"clip_load", cb_clip_load}, {"contrastive_loss", cb_contrastive_loss},
    {"pretrain", cb_pretrain}, {NULL, NULL},
};

void lx_model_open(lua_State *L) {
    static const luaL_Reg methods[] = {
        {"encode_image", clip_encode_image}, {"encode_text", clip_encode_text},
        {"prepool", clip_prepool}, {"attnpool", clip_attnpool}, {"logit_scale", clip_logit_scale},
        {"train", clip_train}, {"config", clip_config}, {"params", clip_params},
        {"save", clip_save}, {"free", clip_release}, {NULL, NULL},
    };
    if (luaL_newmetatable(L, CLIP_MT)) {
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, clip_release); lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, clip_release); lua_setfield(L, -2, "__close");
        lua_pushcfunction(L, clip_digest); lua_setfield(L, -2, "__memo_digest");
        lua_pushcfunction(L, clip_pack); lua_setfield(L, -2, "__memo_pack");
        lua_pushliteral(L, "clip"); lua_setfield(L, -2, "__memo_type");
    }
    lua_pop(L, 1);
    lx_memo_register_unpack(L, "clip", clip_unpack);
}
