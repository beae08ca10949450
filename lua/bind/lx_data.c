/* Data sets for chapters. cb.shapes: the mini profile's shapes world
 * (engine/en_shapes.h) as tensors.
 *
 *   cb.shapes.batch{split=, start=, n=, size=, seed=, masks=, captions=,
 *                   variant=, caption_noise=}
 *     split: "pretrain" | "cls_train" | "cls_val" | "cls_test" |
 *            "seg_train" | "seg_val" | "seg_test"; pictures start..start+n-1
 *            (1-based, like Lua lists; picture i is the same in any batch)
 *     -> { images = f32 (n,3,size,size) in [0,1] (CHW, as ToTensor),
 *          labels = i64 (n), counts = i64 (n), cells = i64 (n),
 *          semantic = i64 (n,size,size)   when masks=true,
 *          captions = { "...", ... }      when captions=true }
 *     caption_noise = { background=, other=, hypernym=, synonym=, merge=,
 *     wrong= } (rates, absent ones 0; en_caption_noise in engine/en_shapes.h)
 *     makes the captions fall short of the labels as alt-text does.
 *     labels are the engine's 0-based class indices (cross-entropy
 *     targets): cb.shapes.class_names()[label + 1] names one.
 *   cb.shapes.class_names() -> { "red circle", ... } (64)
 *   cb.shapes.class_names{ renamed = k } -> the evaluation's names with k
 *     colours and k shapes renamed by a synonym (en_shapes_eval_name)
 *   cb.shapes.classes = 64
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "en_error.h"
#include "en_shapes.h"
#include "en_tensor.h"
#include "lx.h"
#include "lx_tensor.h"

static const char *const SPLITS[] = {"pretrain", "cls_train", "cls_val", "cls_test",
                                     "seg_train", "seg_val", "seg_test", NULL};

static int opt_int(lua_State *L, const char *k, lua_Integer def, lua_Integer lo, lua_Integer hi) {
    lua_Integer v = lx_opt_int(L, 1, k, def, "shapes.batch");
    if (v < lo || v > hi) luaL_error(L, "shapes.batch: %s = %d is out of range %d..%d", k, (int)v, (int)lo, (int)hi);
    return (int)v;
}

/* The caption noise table at index t (nil or absent: none): 1 and *nz
 * filled, 0 for none; an unknown key or a bad rate is an error naming it. */
int lx_caption_noise_read(lua_State *L, int t, const char *what, en_caption_noise *nz) {
    memset(nz, 0, sizeof *nz);
    if (lua_isnoneornil(L, t)) return 0;
    t = lua_absindex(L, t);
    luaL_checktype(L, t, LUA_TTABLE);
    static const char *const keys[] = { "background", "other", "hypernym", "synonym", "merge", "wrong", NULL };
    double *fields[] = { &nz->background, &nz->other, &nz->hypernym, &nz->synonym, &nz->merge, &nz->wrong };
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        int i = 0;
        while (k && keys[i] && strcmp(keys[i], k)) i++;
        if (!k || !keys[i]) return luaL_error(L, "%s: caption_noise has an unknown key '%s' (the keys: background, "
                                                 "other, hypernym, synonym, merge, wrong)", what, k ? k : "?");
    }
    for (int i = 0; keys[i]; i++) *fields[i] = lx_opt_num(L, t, keys[i], 0, what);
    if (en_caption_noise_check(nz) < 0) return luaL_error(L, "%s: %s", what, en_error_msg());
    return 1;
}

static int shapes_batch(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "split");
    int split = luaL_checkoption(L, -1, NULL, SPLITS);
    lua_pop(L, 1);
    int start = opt_int(L, "start", 1, 1, INT32_MAX);
    int n = opt_int(L, "n", 0, 1, 1 << 20);
    int size = opt_int(L, "size", 32, 8, 1024);
    lua_getfield(L, 1, "seed");
    lua_Integer seed = lua_isnil(L, -1) ? 0 : luaL_checkinteger(L, -1);
    lua_pop(L, 1);
    int masks = lx_opt_bool(L, 1, "masks", 0), captions = lx_opt_bool(L, 1, "captions", 0);
    int variant = opt_int(L, "variant", 0, 0, INT32_MAX);
    en_caption_noise noise;
    lua_getfield(L, 1, "caption_noise");
    int noisy = lx_caption_noise_read(L, -1, "shapes.batch", &noise);
    lua_pop(L, 1);
    if ((int64_t)n * size * size * 3 > (int64_t)1 << 31) return luaL_error(L, "shapes.batch: n * size^2 too large");

    /* scratch buffers as userdata: collected even if something below raises */
    size_t px = (size_t)n * size * size;
    uint8_t *rgb = lua_newuserdatauv(L, px * 3, 0);
    uint8_t *sem = masks ? lua_newuserdatauv(L, px, 0) : NULL;
    int32_t *ints = lua_newuserdatauv(L, sizeof(int32_t) * 3 * (size_t)n, 0);
    en_shapes_batch((uint64_t)seed, (en_split)split, (uint64_t)(start - 1), n, size, rgb, sem, NULL,
                    ints, ints + n, ints + 2 * n);

    lua_createtable(L, 0, 6);
    int res = lua_gettop(L);
    int64_t ish[4] = {n, 3, size, size};
    en_tensor *img = en_tensor_new(EN_F32, 4, ish);
    lx_tensor_push(L, img);
    float *f = en_tensor_f32(img);
    for (int i = 0; i < n; i++)
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
                for (int c = 0; c < 3; c++)
                    f[(((size_t)i * 3 + c) * size + y) * size + x] =
                        rgb[(((size_t)i * size + y) * size + x) * 3 + c] * (1.0f / 255.0f);
    lua_setfield(L, res, "images");
    const char *names[3] = {"labels", "counts", "cells"};
    int64_t vsh[1] = {n};
    for (int k = 0; k < 3; k++) {
        en_tensor *t = en_tensor_new(EN_I64, 1, vsh);
        lx_tensor_push(L, t);
        for (int i = 0; i < n; i++) en_tensor_i64(t)[i] = ints[k * n + i];
        lua_setfield(L, res, names[k]);
    }
    if (masks) {
        int64_t msh[3] = {n, size, size};
        en_tensor *t = en_tensor_new(EN_I64, 3, msh);
        lx_tensor_push(L, t);
        for (size_t i = 0; i < px; i++) en_tensor_i64(t)[i] = sem[i];
        lua_setfield(L, res, "semantic");
    }
    if (captions) {
        lua_createtable(L, n, 0);
        for (int i = 0; i < n; i++) {
            en_shapes_scene sc;
            char buf[512];
            en_shapes_scene_make(&sc, (uint64_t)seed, (en_split)split, (uint64_t)(start - 1 + i));
            en_shapes_caption_noisy(&sc, (uint64_t)variant, noisy ? &noise : NULL, buf, sizeof buf, NULL);
            lua_pushstring(L, buf);
            lua_rawseti(L, -2, i + 1);
        }
        lua_setfield(L, res, "captions");
    }
    return 1;
}

static int shapes_class_names(lua_State *L) {
    int renamed = 0;
    if (!lua_isnoneornil(L, 1)) {
        luaL_checktype(L, 1, LUA_TTABLE);
        lua_getfield(L, 1, "renamed");
        renamed = (int)luaL_optinteger(L, -1, 0);
        lua_pop(L, 1);
        if (renamed < 0 || renamed > 8)
            return luaL_error(L, "shapes.class_names: renamed = %d is not a count of words in 0..8", renamed);
    }
    lua_createtable(L, EN_SHAPES_CLASSES, 0);
    for (int i = 0; i < EN_SHAPES_CLASSES; i++) {
        char buf[64];
        en_shapes_eval_name(i, renamed, buf, sizeof buf);
        lua_pushstring(L, buf);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

/* Adds cb.shapes to the module table on top of the stack. */
void lx_data_open(lua_State *L) {
    static const luaL_Reg fns[] = {{"batch", shapes_batch}, {"class_names", shapes_class_names}, {NULL, NULL}};
    luaL_newlib(L, fns);
    lua_pushinteger(L, EN_SHAPES_CLASSES);
    lua_setfield(L, -2, "classes");
    lua_setfield(L, -2, "shapes");
}
