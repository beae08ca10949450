/* lx_tensor_hooks — how the value code (JSON, memo entries) handles tensor
 * userdata without depending on the tensor binding's internals. The tensor
 * binding fills lx_tensor_hooks when the module is opened; all NULL means
 * "no tensors". */
#ifndef LX_TENSOR_HOOKS_H
#define LX_TENSOR_HOOKS_H

#include <lua.h>
#include <stddef.h>

typedef void (*lx_add_fn)(void *ctx, const void *p, size_t n);

typedef struct {
    /* 1 and hex = SHA-256 of dtype, shape and contents when idx is a tensor */
    int (*digest)(lua_State *L, int idx, char hex[65]);
    /* push {dtype=..., shape={...}} for the tensor at idx */
    void (*describe)(lua_State *L, int idx);
    /* 1 after appending the tensor at idx (dtype, shape, data) via add */
    int (*pack)(lua_State *L, int idx, lx_add_fn add, void *ctx);
    /* push a tensor read from p[0..n); bytes used in *used; 0 + en_error */
    int (*unpack)(lua_State *L, const char *p, size_t n, size_t *used);
} lx_tensor_hooks_t;

extern lx_tensor_hooks_t lx_tensor_hooks;

#endif
