/* .npy in and out (engine/en_npy.h), for arrays shared with NumPy:
 *   cb.load_npy(path) -> tensor, or nil, message (a missing or bad file)
 *        float files ('<f2' '<f4' '<f8') become f32, integer and bool
 *        files i64
 *   cb.save_npy(t, path) / t:save_npy(path) -> true, or nil, message
 *        f32 tensors as '<f4', i64 as '<i8', byte-identical to numpy.save */
#include <string.h>

#include "en_error.h"
#include "en_ndbuf.h"
#include "en_npy.h"
#include "en_tensor.h"
#include "lx.h"
#include "lx_tensor.h"

static int fail(lua_State *L) {
    lua_pushnil(L);
    lua_pushstring(L, en_error_msg());
    return 2;
}

static int cb_load_npy(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    /* the buffer's bytes live in a box, so an error below frees them */
    void **slot = lx_box_new(L);
    en_ndbuf b;
    memset(&b, 0, sizeof b);
    if (en_npy_read(path, &b) < 0) return fail(L);
    *slot = b.data;
    int is_float = b.dtype == EN_F32 || b.dtype == EN_F64 || b.dtype == EN_F16 || b.dtype == EN_BF16;
    en_dtype to = is_float ? EN_F32 : EN_I64;
    int64_t shape[EN_MAX_DIMS];
    for (int i = 0; i < b.ndim; i++) shape[i] = b.shape[i];
    lx_tensor_push(L, en_tensor_new(to, b.ndim, shape));
    en_tensor *t = lx_tensor_test(L, -1);
    void *dst = to == EN_F32 ? (void *)en_tensor_f32(t) : (void *)en_tensor_i64(t);
    if (en_convert(dst, to, b.data, b.dtype, en_ndbuf_numel(&b)) < 0) return fail(L);
    return 1;
}

static int cb_save_npy(lua_State *L) {
    en_tensor *t = lx_tensor_check(L, 1);
    const char *path = luaL_checkstring(L, 2);
    if (t->dtype != EN_F32 && t->dtype != EN_I64)
        return luaL_argerror(L, 1, "only f32 and i64 tensors are written (use :float())");
    en_tensor *c = en_contiguous(t);
    lx_tensor_push(L, c);  /* released by the collector */
    en_ndbuf b;
    memset(&b, 0, sizeof b);
    b.dtype = c->dtype;
    b.ndim = c->ndim;
    for (int i = 0; i < c->ndim; i++) b.shape[i] = c->shape[i];
    b.data = c->dtype == EN_F32 ? (void *)en_tensor_f32(c) : (void *)en_tensor_i64(c);
    b.nbytes = (size_t)en_tensor_numel(c) * en_dtype_size(c->dtype);
    if (en_npy_write(path, &b) < 0) return fail(L);
    lua_pushboolean(L, 1);
    return 1;
}

const luaL_Reg lx_npy_functions[] = {
    {"load_npy", cb_load_npy}, {"save_npy", cb_save_npy}, {NULL, NULL},
};

/* t:save_npy(path) as a method too. */
void lx_npy_open(lua_State *L) {
    luaL_getmetatable(L, LX_TENSOR_MT);
    lua_getfield(L, -1, "__methods");
    lua_pushcfunction(L, cb_save_npy);
    lua_setfield(L, -2, "save_npy");
    lua_pop(L, 2);
}
