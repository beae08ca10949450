/* Tensors as images for figure specs (figures/FORMAT.md): cb.image(t) and
 * cb.mask(t) return {width=, height=, channels=, pixels=<base64 uint8>},
 * which image_grid and mask_overlay specs take as they are. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "en_tensor.h"
#include "lx.h"
#include "lx_tensor.h"

static void b64(luaL_Buffer *B, const uint8_t *p, size_t n) {
    static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        char o[4] = {T[v >> 18 & 63], T[v >> 12 & 63], i + 1 < n ? T[v >> 6 & 63] : '=', i + 2 < n ? T[v & 63] : '='};
        luaL_addlstring(B, o, 4);
    }
}

static double elem(const en_tensor *t, int64_t off) {
    return t->dtype == EN_I64 ? (double)en_tensor_i64(t)[off] : (double)en_tensor_f32(t)[off];
}

/* Shared by image and mask: t is (H,W), (H,W,C) or (C,H,W). */
static int to_image(lua_State *L, int mask) {
    en_tensor *t = lx_tensor_check(L, 1);
    if (t->dtype != EN_F32 && t->dtype != EN_I64) return luaL_argerror(L, 1, "image tensor must be f32 or i64");
    if (en_tensor_device(t) != EN_CPU) return luaL_argerror(L, 1, "image tensor is on the GPU");
    int chw = 0;
    double lo = 0, hi = -1;
    if (lua_istable(L, 2)) {
        if (lua_getfield(L, 2, "layout") == LUA_TSTRING) {
            const char *s = lua_tostring(L, -1);
            if (!strcmp(s, "chw")) chw = 1;
            else if (strcmp(s, "hwc")) return luaL_argerror(L, 2, "layout must be 'chw' or 'hwc'");
        } else if (t->ndim == 3) {
            /* guess: a small leading dim and a larger trailing one means CHW */
            chw = t->shape[0] <= 4 && t->shape[2] > 4;
        }
        lua_pop(L, 1);
        if (lua_getfield(L, 2, "range") == LUA_TTABLE) {
            lua_rawgeti(L, -1, 1); lo = luaL_checknumber(L, -1); lua_pop(L, 1);
            lua_rawgeti(L, -1, 2); hi = luaL_checknumber(L, -1); lua_pop(L, 1);
            if (!(hi > lo)) return luaL_argerror(L, 2, "range must be {lo, hi} with hi > lo");
        }
        lua_pop(L, 1);
    } else if (t->ndim == 3) {
        chw = t->shape[0] <= 4 && t->shape[2] > 4;
    }
    int64_t H, W, C, sh, sw, sc;
    if (t->ndim == 2) { H = t->shape[0]; W = t->shape[1]; C = 1; sh = t->stride[0]; sw = t->stride[1]; sc = 0; }
    else if (t->ndim == 3 && chw) { C = t->shape[0]; H = t->shape[1]; W = t->shape[2]; sc = t->stride[0]; sh = t->stride[1]; sw = t->stride[2]; }
    else if (t->ndim == 3) { H = t->shape[0]; W = t->shape[1]; C = t->shape[2]; sh = t->stride[0]; sw = t->stride[1]; sc = t->stride[2]; }
    else return luaL_argerror(L, 1, "image tensor must be (H,W), (H,W,C) or (C,H,W)");
    if (mask && C != 1) return luaL_argerror(L, 1, "a mask has one channel: (H,W)");
    if (C != 1 && C != 3 && C != 4) return luaL_argerror(L, 1, "images have 1, 3 or 4 channels");
    size_t n = (size_t)(H * W * C);
    if (!mask && hi < lo + 1e-30) {
        /* no range given: 0..1 floats unless values go beyond, then 0..255 */
        double mx = 0;
        for (int64_t y = 0; y < H; y++)
            for (int64_t x = 0; x < W; x++)
                for (int64_t c = 0; c < C; c++) { double v = elem(t, y * sh + x * sw + c * sc); if (v > mx) mx = v; }
        lo = 0;
        hi = mx > 1.5 ? 255 : 1;
    }
    uint8_t *px = lua_newuserdatauv(L, n ? n : 1, 0);  /* collected with the state */
    size_t k = 0;
    for (int64_t y = 0; y < H; y++)
        for (int64_t x = 0; x < W; x++)
            for (int64_t c = 0; c < C; c++) {
                double v = elem(t, y * sh + x * sw + c * sc);
                if (!mask) v = (v - lo) / (hi - lo) * 255.0;
                v = isnan(v) ? 0 : v < 0 ? 0 : v > 255 ? 255 : v;
                px[k++] = (uint8_t)(mask ? v : v + 0.5);
            }
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, W); lua_setfield(L, -2, "width");
    lua_pushinteger(L, H); lua_setfield(L, -2, "height");
    lua_pushinteger(L, C); lua_setfield(L, -2, "channels");
    luaL_Buffer B;
    luaL_buffinit(L, &B);
    b64(&B, px, n);
    luaL_pushresult(&B);
    lua_setfield(L, -2, "pixels");
    return 1;
}

static int cb_image(lua_State *L) { return to_image(L, 0); }
static int cb_mask(lua_State *L) { return to_image(L, 1); }

const luaL_Reg lx_image_functions[] = {
    {"image", cb_image}, {"mask", cb_mask}, {NULL, NULL},
};
