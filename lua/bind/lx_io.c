/* Data files from Lua: CIFAR-100, PNG/JPEG images, CLIP preprocessing.
 *   cb.cifar100(path [, { start = 1, n = all }])
 *        -> { images = f32 (n,3,32,32) in [0,1], fine = i64 (n),
 *             coarse = i64 (n) } | nil, message
 *   cb.cifar_names(path [, expected]) -> { "apple", ... } | nil, message
 *   cb.load_image(path [, channels = 3]) -> f32 (H,W,C) in [0,1] | nil, message
 *   cb.save_png(t, path) -> true | nil, message   (H,W[,C]) or (C,H,W) in [0,1]
 *   cb.clip_preprocess(img [, n = 224]) -> f32 (3,n,n), CLIP's resize,
 *        centre crop and normalisation; img f32 (H,W,3) in [0,1]
 *   cb.json_decode(text) -> value | nil, message   (cJSON; null -> nil)
 * Pixel values in [0,1] map to bytes as round(255 v), so images read here
 * go back to their exact bytes. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "en_cifar.h"
#include "en_error.h"
#include "en_image.h"
#include "en_preprocess.h"
#include "en_tensor.h"
#include "lx.h"
#include "lx_tensor.h"

static int fail(lua_State *L) {
    lua_pushnil(L);
    lua_pushstring(L, en_error_msg());
    return 2;
}

/* A userdata that owns an en_cifar until collected. */
static int cifar_gc(lua_State *L) {
    en_cifar_free(lua_touserdata(L, 1));
    return 0;
}

static int cb_cifar100(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    lua_Integer start = 1, n = -1;
    if (lua_istable(L, 2)) {
        lua_getfield(L, 2, "start"); start = luaL_optinteger(L, -1, 1); lua_pop(L, 1);
        lua_getfield(L, 2, "n"); n = luaL_optinteger(L, -1, -1); lua_pop(L, 1);
    }
    en_cifar *c = lua_newuserdatauv(L, sizeof *c, 0);
    memset(c, 0, sizeof *c);
    lua_newtable(L);
    lua_pushcfunction(L, cifar_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    if (en_cifar_read(path, 1, c) < 0) return fail(L);   /* planes: (N,3,32,32) */
    int64_t N = c->fine.shape[0];
    if (start < 1 || start > N) return luaL_argerror(L, 2, lua_pushfstring(L, "start must be in 1..%d", (int)N));
    if (n < 0 || start - 1 + n > N) n = N - (start - 1);
    lua_createtable(L, 0, 3);
    int64_t ish[4] = {n, 3, 32, 32}, lsh[1] = {n};
    en_tensor *img = en_tensor_new(EN_F32, 4, ish);
    lx_tensor_push(L, img);
    const uint8_t *src = (const uint8_t *)c->images.data + (size_t)(start - 1) * 3072;
    float *dst = en_tensor_f32(img);
    for (size_t k = 0; k < (size_t)n * 3072; k++) dst[k] = src[k] * (1.0f / 255.0f);
    lua_setfield(L, -2, "images");
    const char *names[2] = {"fine", "coarse"};
    const en_ndbuf *labs[2] = {&c->fine, &c->coarse};
    for (int j = 0; j < 2; j++) {
        en_tensor *t = en_tensor_new(EN_I64, 1, lsh);
        lx_tensor_push(L, t);
        memcpy(en_tensor_i64(t), (const int64_t *)labs[j]->data + (start - 1), sizeof(int64_t) * (size_t)n);
        lua_setfield(L, -2, names[j]);
    }
    return 1;
}

static int cb_cifar_names(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    int expected = (int)luaL_optinteger(L, 2, 0);
    char **names = NULL;
    int n = 0;
    if (en_cifar_read_names(path, expected, &names, &n) < 0) return fail(L);
    lua_createtable(L, n, 0);   /* memory errors only past this point */
    for (int i = 0; i < n; i++) { lua_pushstring(L, names[i]); lua_rawseti(L, -2, i + 1); }
    en_cifar_free_names(names, n);
    return 1;
}

static int cb_load_image(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    int ch = (int)luaL_optinteger(L, 2, 3);
    luaL_argcheck(L, ch == 0 || ch == 3 || ch == 4, 2, "channels must be 3, 4 or 0 (as stored)");
    void **slot = lx_box_new(L);
    en_ndbuf b;
    memset(&b, 0, sizeof b);
    if (en_image_read(path, ch, &b) < 0) return fail(L);
    *slot = b.data;
    int64_t sh[3] = {b.shape[0], b.shape[1], b.ndim == 3 ? b.shape[2] : 1};
    en_tensor *t = en_tensor_new(EN_F32, 3, sh);
    lx_tensor_push(L, t);
    const uint8_t *s = b.data;
    float *d = en_tensor_f32(t);
    for (size_t k = 0; k < b.nbytes; k++) d[k] = s[k] * (1.0f / 255.0f);
    return 1;
}

/* Bytes (H,W,C) from an f32 image in [0,1], (H,W), (H,W,C) or (C,H,W). */
static uint8_t *image_bytes(lua_State *L, int i, int64_t *H, int64_t *W, int64_t *C) {
    en_tensor *t = lx_tensor_check(L, i);
    if (t->dtype != EN_F32) luaL_argerror(L, i, "image must be an f32 tensor in [0, 1]");
    int chw = t->ndim == 3 && t->shape[0] <= 4 && t->shape[2] > 4;
    if (t->ndim == 2) { *H = t->shape[0]; *W = t->shape[1]; *C = 1; }
    else if (t->ndim == 3 && chw) { *C = t->shape[0]; *H = t->shape[1]; *W = t->shape[2]; }
    else if (t->ndim == 3) { *H = t->shape[0]; *W = t->shape[1]; *C = t->shape[2]; }
    else luaL_argerror(L, i, "image must be (H,W), (H,W,C) or (C,H,W)");
    if (*C < 1 || *C > 4) luaL_argerror(L, i, "images have 1 to 4 channels");
    uint8_t *px = lua_newuserdatauv(L, (size_t)(*H * *W * *C) + 1, 0);
    const float *f = en_tensor_f32(t);
    size_t k = 0;
    for (int64_t y = 0; y < *H; y++)
        for (int64_t x = 0; x < *W; x++)
            for (int64_t c = 0; c < *C; c++) {
                int64_t off = t->ndim == 2 ? y * t->stride[0] + x * t->stride[1]
                            : chw ? c * t->stride[0] + y * t->stride[1] + x * t->stride[2]
                                  : y * t->stride[0] + x * t->stride[1] + c * t->stride[2];
                float v = f[off];
                v = isnan(v) ? 0 : v < 0 ? 0 : v > 1 ? 1 : v;
                px[k++] = (uint8_t)lrintf(v * 255.0f);
            }
    return px;
}

static int cb_save_png(lua_State *L) {
    int64_t H, W, C;
    uint8_t *px = image_bytes(L, 1, &H, &W, &C);
    const char *path = luaL_checkstring(L, 2);
    en_ndbuf b;
    memset(&b, 0, sizeof b);
    b.dtype = EN_U8;
    b.ndim = 3;
    b.shape[0] = H; b.shape[1] = W; b.shape[2] = C;
    b.data = px;
    b.nbytes = (size_t)(H * W * C);
    if (en_image_write_png(path, &b) < 0) return fail(L);
    lua_pushboolean(L, 1);
    return 1;
}

static int cb_clip_preprocess(lua_State *L) {
    int64_t H, W, C;
    uint8_t *px = image_bytes(L, 1, &H, &W, &C);
    int n = (int)luaL_optinteger(L, 2, 224);
    luaL_argcheck(L, C == 3, 1, "CLIP preprocessing takes RGB images (3 channels)");
    luaL_argcheck(L, n >= 1 && n <= 4096, 2, "size must be 1..4096");
    int64_t sh[3] = {3, n, n};
    en_tensor *t = en_tensor_new(EN_F32, 3, sh);
    lx_tensor_push(L, t);
    if (en_clip_preprocess(en_tensor_f32(t), px, (int)H, (int)W, n, NULL, NULL) < 0)
        return luaL_error(L, "clip_preprocess: %s", en_error_msg());
    return 1;
}

/* ---- JSON ------------------------------------------------------------------ */

static int json_gc(lua_State *L) {
    cJSON **p = lua_touserdata(L, 1);
    cJSON_Delete(*p);
    *p = NULL;
    return 0;
}

static void push_json(lua_State *L, const cJSON *j, int depth) {
    if (depth > 200) luaL_error(L, "json_decode: nested too deeply");
    luaL_checkstack(L, 4, "json_decode");
    if (cJSON_IsObject(j)) {
        lua_createtable(L, 0, cJSON_GetArraySize(j));
        for (const cJSON *c = j->child; c; c = c->next) {
            if (cJSON_IsNull(c)) continue;
            push_json(L, c, depth + 1);
            lua_setfield(L, -2, c->string);
        }
    } else if (cJSON_IsArray(j)) {
        lua_createtable(L, cJSON_GetArraySize(j), 0);
        lua_Integer i = 0;
        for (const cJSON *c = j->child; c; c = c->next) {
            i++;
            if (cJSON_IsNull(c)) continue;
            push_json(L, c, depth + 1);
            lua_rawseti(L, -2, i);
        }
    } else if (cJSON_IsString(j)) {
        lua_pushstring(L, j->valuestring);
    } else if (cJSON_IsNumber(j)) {
        double v = j->valuedouble;
        if (v == floor(v) && fabs(v) < 9007199254740992.0) lua_pushinteger(L, (lua_Integer)v);
        else lua_pushnumber(L, v);
    } else if (cJSON_IsBool(j)) {
        lua_pushboolean(L, cJSON_IsTrue(j));
    } else {
        lua_pushnil(L);
    }
}

static int cb_json_decode(lua_State *L) {
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    cJSON **box = lua_newuserdatauv(L, sizeof *box, 0);   /* owns the tree */
    *box = NULL;
    lua_newtable(L);
    lua_pushcfunction(L, json_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    const char *end = NULL;
    *box = cJSON_ParseWithLengthOpts(s, n, &end, 0);
    if (!*box) {
        lua_pushnil(L);
        lua_pushfstring(L, "json_decode: invalid JSON at byte %d", end ? (int)(end - s) + 1 : 1);
        return 2;
    }
    push_json(L, *box, 0);
    return 1;
}

const luaL_Reg lx_io_functions[] = {
    {"json_decode", cb_json_decode},
    {"cifar100", cb_cifar100}, {"cifar_names", cb_cifar_names}, {"load_image", cb_load_image},
    {"save_png", cb_save_png}, {"clip_preprocess", cb_clip_preprocess}, {NULL, NULL},
};
