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
#include "en_safetensors.h"
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

/* ---- safetensors -------------------------------------------------------- */
/*   cb.load_safetensors(path) -> { name = tensor, ... }, metadata | nil, message
 *        float entries (F32, F16, BF16, F64) become f32, integers i64
 *   cb.save_safetensors(path, { name = tensor, ... } [, metadata])
 *        -> true | nil, message */
static int st_gc(lua_State *L) {
    en_st_file **f = lua_touserdata(L, 1);
    en_st_close(*f);
    *f = NULL;
    return 0;
}

static int cb_load_safetensors(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    en_st_file **h = lua_newuserdatauv(L, sizeof *h, 0);  /* closes the file if we raise */
    *h = NULL;
    lua_newtable(L);
    lua_pushcfunction(L, st_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    *h = en_st_open(path);
    if (!*h) return fail(L);
    int n = en_st_count(*h);
    lua_createtable(L, 0, n);
    for (int i = 0; i < n; i++) {
        const en_st_entry *e = en_st_entry_at(*h, i);
        int is_float = e->dtype == EN_F32 || e->dtype == EN_F16 || e->dtype == EN_BF16 || e->dtype == EN_F64;
        int64_t shape[EN_MAX_DIMS];
        for (int k = 0; k < e->ndim; k++) shape[k] = e->shape[k];
        en_tensor *t = en_tensor_new(is_float ? EN_F32 : EN_I64, e->ndim, shape);
        lx_tensor_push(L, t);
        int rc = is_float ? en_st_read_f32(*h, e, en_tensor_f32(t), e->numel)
                          : en_st_read_i64(*h, e, en_tensor_i64(t), e->numel);
        if (rc < 0) return fail(L);
        lua_setfield(L, -2, e->name);
    }
    int nm = en_st_meta_count(*h);
    lua_createtable(L, 0, nm);
    for (int i = 0; i < nm; i++) {
        const char *k, *v;
        en_st_meta_at(*h, i, &k, &v);
        lua_pushstring(L, v);
        lua_setfield(L, -2, k);
    }
    return 2;
}

static int cb_save_safetensors(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    int n = 0;
    lua_pushnil(L);
    while (lua_next(L, 2)) { n++; lua_pop(L, 1); }
    /* arrays in userdata so a raise frees them; tensors made contiguous are
     * anchored in a table */
    const char **names = lua_newuserdatauv(L, sizeof(char *) * (size_t)(n ? n : 1), 0);
    en_ndbuf *bufs = lua_newuserdatauv(L, sizeof(en_ndbuf) * (size_t)(n ? n : 1), 0);
    lua_newtable(L);
    int anchor = lua_gettop(L);
    int k = 0;
    lua_pushnil(L);
    while (lua_next(L, 2)) {
        if (lua_type(L, -2) != LUA_TSTRING) return luaL_argerror(L, 2, "keys must be tensor names (strings)");
        en_tensor *t = lx_tensor_test(L, -1);
        if (!t || (t->dtype != EN_F32 && t->dtype != EN_I64))
            return luaL_argerror(L, 2, lua_pushfstring(L, "'%s' is not an f32 or i64 tensor", lua_tostring(L, -2)));
        en_tensor *c = en_contiguous(t);
        lx_tensor_push(L, c);
        lua_rawseti(L, anchor, k + 1);
        names[k] = lua_tostring(L, -2);  /* anchored as a key of the table */
        memset(&bufs[k], 0, sizeof bufs[k]);
        bufs[k].dtype = c->dtype;
        bufs[k].ndim = c->ndim;
        for (int d = 0; d < c->ndim; d++) bufs[k].shape[d] = c->shape[d];
        bufs[k].data = c->dtype == EN_F32 ? (void *)en_tensor_f32(c) : (void *)en_tensor_i64(c);
        bufs[k].nbytes = (size_t)en_tensor_numel(c) * en_dtype_size(c->dtype);
        k++;
        lua_pop(L, 1);
    }
    int nm = 0;
    if (lua_istable(L, 3)) { lua_pushnil(L); while (lua_next(L, 3)) { nm++; lua_pop(L, 1); } }
    const char **mk = lua_newuserdatauv(L, sizeof(char *) * (size_t)(nm ? nm : 1), 0);
    const char **mv = lua_newuserdatauv(L, sizeof(char *) * (size_t)(nm ? nm : 1), 0);
    int j = 0;
    if (nm) {
        lua_pushnil(L);
        while (lua_next(L, 3)) {
            if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
                return luaL_argerror(L, 3, "metadata must map strings to strings");
            mk[j] = lua_tostring(L, -2);
            mv[j] = lua_tostring(L, -1);
            j++;
            lua_pop(L, 1);
        }
    }
    if (en_st_write(path, n, names, bufs, nm, mk, mv) < 0) return fail(L);
    lua_pushboolean(L, 1);
    return 1;
}

const luaL_Reg lx_st_functions[] = {
    {"load_safetensors", cb_load_safetensors}, {"save_safetensors", cb_save_safetensors}, {NULL, NULL},
};
