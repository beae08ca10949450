/* en_tensor — n-dimensional arrays with shared, reference-counted storage.
 *
 * A tensor is a view: dtype, shape and strides (in elements) and an offset
 * into a storage (one allocation, on one device, counted by reference).
 * Views (reshape, permute, transpose, slice, expand) share the storage of
 * their base; `en_contiguous` copies only when it must. Compute is float32
 * (EN_F32); EN_I64 tensors carry indices (labels, token ids, argmax).
 *
 * Ownership: every function that returns an `en_tensor *` hands the caller
 * one reference; give it back with en_tensor_release(). Arguments are
 * borrowed (a function that keeps one takes its own reference).
 *
 * Arena: between en_arena_begin(a) and en_arena_end(a), new tensors (header
 * and data) come from arena `a`: a bump allocator with exact-size free
 * lists, whose memory is kept from one en_arena_reset() to the next, so a
 * repeated inference step allocates nothing and touches no fresh page.
 * Releasing an arena tensor returns its block for reuse by the next tensor
 * of that size (so the arena holds the peak live set, not every
 * intermediate); en_arena_reset() frees whatever is left at once, after
 * which no arena tensor may be used or released. Copy out what must
 * outlive it with en_tensor_copy_ into a tensor made outside the arena.
 * Nothing made in an arena is recorded on the autodiff tape (an arena
 * implies no grad): use arenas for inference.
 *
 * Device: every storage lives on one device (EN_CPU, or EN_CUDA when the
 * CUDA back end is built and a GPU is visible, see en_device.h). Data
 * pointers of a device storage are device pointers: en_tensor_f32() and
 * en_tensor_i64() assert CPU, so no host code reads device memory by
 * mistake; en_tensor_to() / en_tensor_cpu() move data (copies, not
 * recorded on the tape). A device tensor's storage is on the heap even
 * while an arena is active (the arena drops it on reset).
 */
#ifndef EN_TENSOR_H
#define EN_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "en_dtype.h"
#include "en_rng.h"

#define EN_MAX_DIMS 8

typedef enum { EN_CPU = 0, EN_CUDA = 1, EN_DEVICE_COUNT } en_device;

typedef struct en_storage en_storage;
typedef struct en_arena en_arena;
typedef struct en_tensor en_tensor;

/* Fields are public for reading; change them only through the API. */
struct en_tensor {
    en_dtype dtype;
    int ndim;
    int64_t shape[EN_MAX_DIMS];
    int64_t stride[EN_MAX_DIMS];  /* elements, may be 0 (expand) */
    int64_t offset;               /* elements from the storage start */
    en_storage *storage;
    int refcount;
    unsigned flags;               /* EN_T_* below */
    en_tensor *grad;              /* contiguous, same shape; NULL until set */
    en_arena *arena;              /* internal: the arena holding the header */
};

enum {
    EN_T_REQUIRES_GRAD = 1u << 0, /* gradient wanted (leaf or derived) */
    EN_T_LEAF          = 1u << 1, /* parameter/input: grad accumulates */
    EN_T_ARENA         = 1u << 2, /* header lives in an arena */
};

/* Shape literal helper: en_tensor_zeros(EN_DIMS(2, 3)). */
#define EN_DIMS(...)                                                          \
    (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)),                \
        (int64_t[]) { __VA_ARGS__ }

/* ---- creation (contiguous, on the CPU) ---------------------------------- */
en_tensor *en_tensor_new(en_dtype dt, int ndim, const int64_t *shape); /* uninitialised */
en_tensor *en_tensor_empty(int ndim, const int64_t *shape);            /* f32, uninitialised */
en_tensor *en_tensor_zeros(int ndim, const int64_t *shape);
en_tensor *en_tensor_ones(int ndim, const int64_t *shape);
en_tensor *en_tensor_full(int ndim, const int64_t *shape, float v);
en_tensor *en_tensor_scalar(float v);                                  /* 0-dim */
en_tensor *en_tensor_from_f32(int ndim, const int64_t *shape, const float *data);   /* copies */
en_tensor *en_tensor_from_i64(int ndim, const int64_t *shape, const int64_t *data); /* copies */
en_tensor *en_tensor_randn(int ndim, const int64_t *shape, en_rng *r, float mean, float std);
en_tensor *en_tensor_uniform(int ndim, const int64_t *shape, en_rng *r, float lo, float hi);
/* Same shape/dtype as t, contiguous. */
en_tensor *en_tensor_empty_like(const en_tensor *t);
en_tensor *en_tensor_zeros_like(const en_tensor *t);

/* ---- lifetime ----------------------------------------------------------- */
en_tensor *en_tensor_retain(en_tensor *t);  /* returns t */
void       en_tensor_release(en_tensor *t); /* NULL is fine */

/* ---- information -------------------------------------------------------- */
int64_t en_tensor_numel(const en_tensor *t);
int     en_tensor_is_contiguous(const en_tensor *t);
int     en_tensor_same_shape(const en_tensor *a, const en_tensor *b);
en_device en_tensor_device(const en_tensor *t);
/* Pointer to element 0 (storage data + offset). CPU only (asserted). */
float   *en_tensor_f32(const en_tensor *t);
int64_t *en_tensor_i64(const en_tensor *t);
/* The single value of a one-element tensor (on a device: copied to the host, which waits for it). */
float    en_tensor_item(const en_tensor *t);
/* "[2, 3, 4]" into buf; returns buf. */
char    *en_tensor_shape_str(const en_tensor *t, char *buf, size_t n);
/* Normalise a possibly negative axis; returns -1 (with en_error) if out of range. */
int      en_tensor_axis(const en_tensor *t, int axis);

/* ---- views (share storage; differentiable; NULL + en_error on bad shape) - */
/* One -1 in shape is inferred. A view when the strides allow, else a copy. */
en_tensor *en_reshape(en_tensor *t, int ndim, const int64_t *shape);
en_tensor *en_flatten(en_tensor *t, int start_dim, int end_dim);
en_tensor *en_permute(en_tensor *t, const int *perm);
en_tensor *en_transpose(en_tensor *t, int d0, int d1);
/* Elements start, start+step, ... < end along dim (negative start/end count
 * from the end, as in Python; step >= 1). */
en_tensor *en_slice(en_tensor *t, int dim, int64_t start, int64_t end, int64_t step);
/* Index `i` along dim, dropping that dim. */
en_tensor *en_select(en_tensor *t, int dim, int64_t i);
en_tensor *en_unsqueeze(en_tensor *t, int dim);
en_tensor *en_squeeze(en_tensor *t, int dim);
/* Broadcast size-1 dims (and new leading dims) to shape; stride 0, no copy. */
en_tensor *en_expand(en_tensor *t, int ndim, const int64_t *shape);
/* t itself (retained) when contiguous, else a contiguous copy. */
en_tensor *en_contiguous(en_tensor *t);

/* ---- copies (not differentiable) ---------------------------------------- */
/* dst = src elementwise; shapes must match (dtype f32/i64 either side). */
int        en_tensor_copy_(en_tensor *dst, const en_tensor *src);
en_tensor *en_tensor_clone(const en_tensor *t);   /* contiguous copy, no grad */
/* A tensor sharing t's data but cut from the tape (no grad). */
en_tensor *en_tensor_detach(en_tensor *t);
void       en_tensor_fill_(en_tensor *t, float v);
/* Copy to another device (same device: retained t); contiguous. NULL with
 * en_error when the device is not available or out of memory (the message
 * names the size asked for and the free memory). Not differentiable. */
en_tensor *en_tensor_to(en_tensor *t, en_device dev);
en_tensor *en_tensor_cpu(en_tensor *t); /* en_tensor_to(t, EN_CPU) */
/* Uninitialised, contiguous, on dev; NULL with en_error as en_tensor_to. */
en_tensor *en_tensor_new_on(en_device dev, en_dtype dt, int ndim, const int64_t *shape);
/* Element 0's address in its storage, on whichever device: only for
 * passing to that device's back end (en_backend_of), never to read. */
void *en_tensor_data(const en_tensor *t);
/* Convert to float32 / int64 (new tensor). */
en_tensor *en_tensor_to_f32(const en_tensor *t);
en_tensor *en_tensor_to_i64(const en_tensor *t);

/* ---- arena -------------------------------------------------------------- */
en_arena *en_arena_new(size_t initial_bytes);  /* grows as needed */
void      en_arena_free(en_arena *a);
void      en_arena_begin(en_arena *a);  /* nests: a stack of active arenas */
void      en_arena_end(en_arena *a);    /* must match the last begin */
void      en_arena_reset(en_arena *a);  /* frees every tensor made in a */
size_t    en_arena_used(const en_arena *a);
size_t    en_arena_capacity(const en_arena *a);
/* Number of heap allocations the tensor module has made (for tests and
 * benchmarks proving a step allocates nothing). */
uint64_t  en_tensor_alloc_count(void);

/* ---- threads ------------------------------------------------------------ */
/* Bounds both OpenMP and OpenBLAS; 0 = all cores. */
void en_set_num_threads(int n);
int  en_get_num_threads(void);

#endif
