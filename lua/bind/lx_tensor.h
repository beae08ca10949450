/* lx_tensor — the tensor userdata ("clipbook.Tensor") shared by the
 * binding files. */
#ifndef LX_TENSOR_H
#define LX_TENSOR_H

#include "en_tensor.h"
#include "lx.h"

#define LX_TENSOR_MT "clipbook.Tensor"

/* Push a new handle owning t (the caller's reference passes to Lua). */
void       lx_tensor_push(lua_State *L, en_tensor *t);
/* The tensor at i, raising an argument error naming i otherwise. */
en_tensor *lx_tensor_check(lua_State *L, int i);
/* The tensor at i, or NULL. */
en_tensor *lx_tensor_test(lua_State *L, int i);
/* Registers the metatable and the memo hooks; functions for `cb`. */
void       lx_tensor_open(lua_State *L);
extern const luaL_Reg lx_tensor_functions[];
/* cb.image(t [, {layout=, range=}]) and cb.mask(t): figure image objects. */
extern const luaL_Reg lx_image_functions[];
/* The engine ops (lx_ops.c): cb.* functions, and tensor methods added by
 * lx_ops_open after lx_tensor_open. */
extern const luaL_Reg lx_ops_functions[];
void lx_ops_open(lua_State *L);
/* The BPE tokenizer (lx_bpe.c). */
extern const luaL_Reg lx_bpe_functions[];
void lx_bpe_open(lua_State *L);
/* .npy and safetensors in and out (lx_npy.c). */
extern const luaL_Reg lx_npy_functions[];
extern const luaL_Reg lx_st_functions[];
void lx_npy_open(lua_State *L);
/* CIFAR-100, images, CLIP preprocessing (lx_io.c). */
extern const luaL_Reg lx_io_functions[];
/* The Oxford-IIIT Pet segmentation set (lx_pets.c): cb.pets(dir). */
extern const luaL_Reg lx_pets_functions[];
void lx_pets_open(lua_State *L);
/* Logistic regression, few-shot heads, optimisers, schedules (lx_fit.c). */
extern const luaL_Reg lx_fit_functions[];
void lx_fit_open(lua_State *L);
/* CLIP models and pre-training (lx_model.c). */
extern const luaL_Reg lx_model_functions[];
void lx_model_open(lua_State *L);
/* The VQ-VAE and the segmentation decoder (lx_decoders.c). */
extern const luaL_Reg lx_decoders_functions[];
void lx_decoders_open(lua_State *L);
/* Adds cb.shapes (lx_data.c) to the module table on top of the stack. */
void lx_data_open(lua_State *L);

#endif
