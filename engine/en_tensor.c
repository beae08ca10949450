/* Tensors, storage and arenas; the view ops are in en_views.c. */
#include "en_tensor.h"

#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "en_error.h"
#include "en_opdef.h"
#include "en_tensor_internal.h"
#include "kn_backend.h"

struct en_storage {
    void *data;
    size_t nbytes;
    int refcount;
    int device;
    en_arena *arena; /* struct and data live in this arena (NULL: heap) */
    size_t bucket;   /* the arena block size it came from */
};

/* ---- arena ----------------------------------------------------------------
 * A bump allocator with exact-size free lists: a released activation's
 * block goes on the list for its size and the next tensor of that size
 * takes it (last in, first out: still in cache). Inference steps repeat
 * the same sizes, so after the first step every block comes from a list
 * and the arena holds only the peak live set. */
typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t cap;
    char data[];
} arena_chunk;

typedef struct free_block { struct free_block *next; } free_block;
typedef struct { size_t size; free_block *head; } free_list;

#define EN_ARENA_LISTS 64

struct en_arena {
    char *base;
    size_t cap, used;
    arena_chunk *overflow; /* used when base is full; merged on reset */
    size_t overflow_bytes;
    free_list lists[EN_ARENA_LISTS];
    int nlists;
    free_block *headers;   /* released tensor headers */
    en_tensor **held;      /* arena headers viewing heap storage */
    int nheld, capheld;
};

#define EN_ARENA_STACK 16
static en_arena *arena_stack[EN_ARENA_STACK];
static int arena_top = 0;
static uint64_t alloc_count = 0;

static void *counted_malloc(size_t n) {
    __atomic_add_fetch(&alloc_count, 1, __ATOMIC_RELAXED);
    void *p = malloc(n ? n : 1);
    EN_ASSERT(p != NULL);
    return p;
}

uint64_t en_tensor_alloc_count(void) { return __atomic_load_n(&alloc_count, __ATOMIC_RELAXED); }

en_arena *en_arena_new(size_t initial) {
    en_arena *a = calloc(1, sizeof *a);
    EN_ASSERT(a != NULL);
    a->cap = initial ? (initial + 63) & ~(size_t)63 : (1u << 20);
    a->base = aligned_alloc(64, a->cap);
    EN_ASSERT(a->base != NULL);
    return a;
}

static void storage_release(en_storage *s);

static void arena_drop_contents(en_arena *a) {
    for (int i = 0; i < a->nheld; i++)
        if (a->held[i]->refcount > 0) storage_release(a->held[i]->storage);
    a->nheld = 0;
    while (a->overflow) {
        arena_chunk *c = a->overflow;
        a->overflow = c->next;
        free(c);
    }
    a->nlists = 0;
    a->headers = NULL;
}

void en_arena_reset(en_arena *a) {
    arena_drop_contents(a);
    if (a->overflow_bytes) {
        /* grow so that the next step fits in one block */
        size_t ncap = a->cap + a->overflow_bytes + a->overflow_bytes / 4;
        free(a->base);
        a->cap = (ncap + 63) & ~(size_t)63;
        a->base = aligned_alloc(64, a->cap);
        EN_ASSERT(a->base != NULL);
        a->overflow_bytes = 0;
    }
    a->used = 0;
}

void en_arena_free(en_arena *a) {
    if (!a) return;
    for (int i = 0; i < arena_top; i++) EN_ASSERT(arena_stack[i] != a);
    arena_drop_contents(a);
    free(a->held);
    free(a->base);
    free(a);
}

void en_arena_begin(en_arena *a) {
    EN_ASSERT(arena_top < EN_ARENA_STACK);
    arena_stack[arena_top++] = a;
}

void en_arena_end(en_arena *a) {
    EN_ASSERT(arena_top > 0 && arena_stack[arena_top - 1] == a);
    arena_top--;
}

size_t en_arena_used(const en_arena *a) { return a->used + a->overflow_bytes; }
size_t en_arena_capacity(const en_arena *a) { return a->cap; }

static void *arena_alloc(en_arena *a, size_t n) {
    n = (n + 63) & ~(size_t)63;
    if (a->used + n <= a->cap) {
        void *p = a->base + a->used;
        a->used += n;
        return p;
    }
    arena_chunk *c = counted_malloc(sizeof *c + n + 64);
    c->next = a->overflow;
    c->cap = n;
    a->overflow = c;
    a->overflow_bytes += n;
    return (void *)(((uintptr_t)c->data + 63) & ~(uintptr_t)63);
}

static free_list *arena_list(en_arena *a, size_t size) {
    for (int i = 0; i < a->nlists; i++)
        if (a->lists[i].size == size) return &a->lists[i];
    if (a->nlists == EN_ARENA_LISTS) return NULL; /* too many sizes: bump only */
    a->lists[a->nlists] = (free_list){size, NULL};
    return &a->lists[a->nlists++];
}

/* A block of at least n bytes (64-aligned); *bucket receives its size. */
static void *arena_block(en_arena *a, size_t n, size_t *bucket) {
    n = (n + 63) & ~(size_t)63;
    *bucket = n;
    free_list *l = arena_list(a, n);
    if (l && l->head) {
        free_block *b = l->head;
        l->head = b->next;
        return b;
    }
    return arena_alloc(a, n);
}

static void arena_block_free(en_arena *a, void *p, size_t bucket) {
    free_list *l = arena_list(a, bucket);
    if (!l) return;
    free_block *b = p;
    b->next = l->head;
    l->head = b;
}

static en_arena *arena_active(void) { return arena_top ? arena_stack[arena_top - 1] : NULL; }
en_arena *en_arena_active(void) { return arena_active(); }

/* ---- storage ------------------------------------------------------------- */
static pthread_once_t malloc_once = PTHREAD_ONCE_INIT;
static void malloc_tune(void) {
    /* Keep freed activation buffers in the heap instead of returning them
     * to the kernel: a fresh page costs ~11 us to fault in on this kind of
     * machine, more than the arithmetic done on it (engine/NOTES.md). */
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

static en_storage *storage_new(size_t nbytes) {
    en_arena *a = arena_active();
    en_storage *s;
    if (a) { /* struct and data in one block */
        size_t head = (sizeof *s + 63) & ~(size_t)63, bucket;
        char *blk = arena_block(a, head + nbytes, &bucket);
        s = (en_storage *)blk;
        s->data = blk + head;
        s->arena = a;
        s->bucket = bucket;
    } else {
        pthread_once(&malloc_once, malloc_tune);
        s = counted_malloc(sizeof *s);
        __atomic_add_fetch(&alloc_count, 1, __ATOMIC_RELAXED);
        s->data = kn_cpu_backend()->alloc(nbytes);
        EN_ASSERT(s->data != NULL);
        s->arena = NULL;
    }
    s->nbytes = nbytes;
    s->refcount = 1;
    s->device = EN_CPU;
    return s;
}

static void storage_release(en_storage *s) {
    if (!s) return;
    EN_ASSERT(s->refcount > 0);
    if (--s->refcount > 0) return;
    if (s->arena) arena_block_free(s->arena, s, s->bucket);
    else {
        kn_backend_get(s->device)->free(s->data);
        free(s);
    }
}

void en_storage_resize(en_tensor *t, size_t nbytes) {
    en_storage *s = t->storage;
    EN_ASSERT(!s->arena && s->device == EN_CPU);
    const kn_backend *be = kn_cpu_backend();
    void *nd = be->alloc(nbytes);
    EN_ASSERT(nd != NULL);
    size_t keep = s->nbytes < nbytes ? s->nbytes : nbytes;
    memcpy(nd, s->data, keep);
    if (nbytes > keep) memset((char *)nd + keep, 0, nbytes - keep);
    be->free(s->data);
    s->data = nd;
    s->nbytes = nbytes;
}

const kn_backend *en_backend_of(const en_tensor *t) {
    return kn_backend_get(t && t->storage ? t->storage->device : EN_CPU);
}

/* ---- headers ------------------------------------------------------------- */
static en_tensor *header_new(void) {
    en_arena *a = arena_active();
    en_tensor *t;
    if (a) {
        if (a->headers) {
            t = (en_tensor *)a->headers;
            a->headers = a->headers->next;
        } else {
            t = arena_alloc(a, sizeof *t);
        }
        memset(t, 0, sizeof *t);
        t->flags = EN_T_ARENA;
        t->arena = a;
    } else {
        t = counted_malloc(sizeof *t);
        memset(t, 0, sizeof *t);
    }
    t->refcount = 1;
    return t;
}

void en_tensor_set_dense_strides(en_tensor *t) {
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        t->stride[i] = s;
        s *= t->shape[i];
    }
}

en_tensor *en_tensor_new(en_dtype dt, int ndim, const int64_t *shape) {
    EN_ASSERT(ndim >= 0 && ndim <= EN_MAX_DIMS);
    en_tensor *t = header_new();
    t->dtype = dt;
    t->ndim = ndim;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        EN_ASSERT(shape[i] >= 0);
        t->shape[i] = shape[i];
        n *= shape[i];
    }
    en_tensor_set_dense_strides(t);
    t->storage = storage_new((size_t)n * en_dtype_size(dt));
    return t;
}

en_tensor *en_tensor_empty(int ndim, const int64_t *shape) { return en_tensor_new(EN_F32, ndim, shape); }

en_tensor *en_tensor_full(int ndim, const int64_t *shape, float v) {
    en_tensor *t = en_tensor_empty(ndim, shape);
    en_tensor_fill_(t, v);
    return t;
}
en_tensor *en_tensor_zeros(int ndim, const int64_t *shape) {
    en_tensor *t = en_tensor_empty(ndim, shape);
    memset(t->storage->data, 0, t->storage->nbytes);
    return t;
}
en_tensor *en_tensor_ones(int ndim, const int64_t *shape) { return en_tensor_full(ndim, shape, 1.0f); }
en_tensor *en_tensor_scalar(float v) { return en_tensor_full(0, NULL, v); }

en_tensor *en_tensor_from_f32(int ndim, const int64_t *shape, const float *data) {
    en_tensor *t = en_tensor_empty(ndim, shape);
    memcpy(t->storage->data, data, t->storage->nbytes);
    return t;
}
en_tensor *en_tensor_from_i64(int ndim, const int64_t *shape, const int64_t *data) {
    en_tensor *t = en_tensor_new(EN_I64, ndim, shape);
    memcpy(t->storage->data, data, t->storage->nbytes);
    return t;
}
en_tensor *en_tensor_randn(int ndim, const int64_t *shape, en_rng *r, float mean, float std) {
    en_tensor *t = en_tensor_empty(ndim, shape);
    en_rng_fill_normal(r, en_tensor_f32(t), (size_t)en_tensor_numel(t), mean, std);
    return t;
}
en_tensor *en_tensor_uniform(int ndim, const int64_t *shape, en_rng *r, float lo, float hi) {
    en_tensor *t = en_tensor_empty(ndim, shape);
    en_rng_fill_uniform(r, en_tensor_f32(t), (size_t)en_tensor_numel(t), lo, hi);
    return t;
}
en_tensor *en_tensor_empty_like(const en_tensor *t) { return en_tensor_new(t->dtype, t->ndim, t->shape); }
en_tensor *en_tensor_zeros_like(const en_tensor *t) {
    en_tensor *z = en_tensor_empty_like(t);
    memset(z->storage->data, 0, z->storage->nbytes);
    return z;
}

en_tensor *en_tensor_retain(en_tensor *t) {
    if (t) t->refcount++;
    return t;
}

void en_tensor_release(en_tensor *t) {
    if (!t) return;
    EN_ASSERT(t->refcount > 0);
    if (--t->refcount > 0) return;
    en_tensor_release(t->grad);
    en_storage *s = t->storage;
    if (t->arena && !s->arena) {
        /* an arena view of heap storage: on the held list, which must see
         * its refcount of 0, so the header is not recycled */
        storage_release(s);
        return;
    }
    storage_release(s);
    if (t->arena) {
        free_block *b = (free_block *)t;
        b->next = t->arena->headers;
        t->arena->headers = b;
    } else {
        free(t);
    }
}

/* ---- information --------------------------------------------------------- */
int64_t en_tensor_numel(const en_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

int en_tensor_is_contiguous(const en_tensor *t) {
    int64_t s = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != s) return 0;
        s *= t->shape[i];
    }
    return 1;
}

int en_tensor_same_shape(const en_tensor *a, const en_tensor *b) {
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

en_device en_tensor_device(const en_tensor *t) { return (en_device)t->storage->device; }

float *en_tensor_f32(const en_tensor *t) {
    EN_ASSERT(t->dtype == EN_F32 && t->storage->device == EN_CPU);
    return (float *)t->storage->data + t->offset;
}
int64_t *en_tensor_i64(const en_tensor *t) {
    EN_ASSERT(t->dtype == EN_I64 && t->storage->device == EN_CPU);
    return (int64_t *)t->storage->data + t->offset;
}

static int64_t elem_offset(const en_tensor *t, int64_t lin) {
    int64_t off = 0;
    for (int d = t->ndim - 1; d >= 0; d--) {
        int64_t i = lin % t->shape[d];
        lin /= t->shape[d];
        off += i * t->stride[d];
    }
    return off;
}

float en_tensor_item(const en_tensor *t) {
    EN_ASSERT(en_tensor_numel(t) == 1);
    if (t->storage->device != EN_CPU) { /* one value to the host (a device loss) */
        union { float f; int64_t i; } v;
        kn_backend_get(t->storage->device)->copy(&v, en_tensor_data(t), en_dtype_size(t->dtype), KN_COPY_D2H);
        return t->dtype == EN_I64 ? (float)v.i : v.f;
    }
    if (t->dtype == EN_I64) return (float)en_tensor_i64(t)[0];
    return en_tensor_f32(t)[0];
}

char *en_tensor_shape_str(const en_tensor *t, char *buf, size_t n) {
    size_t k = 0;
    k += snprintf(buf + k, n - k, "[");
    for (int i = 0; i < t->ndim && k < n; i++)
        k += snprintf(buf + k, n - k, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    if (k < n) snprintf(buf + k, n - k, "]");
    return buf;
}

int en_tensor_axis(const en_tensor *t, int axis) {
    int a = axis < 0 ? axis + t->ndim : axis;
    if (a < 0 || a >= t->ndim) {
        char b[128];
        return en_error("axis %d out of range for a tensor of shape %s", axis,
                        en_tensor_shape_str(t, b, sizeof b));
    }
    return a;
}

/* ---- strided copy --------------------------------------------------------
 * dst (=|+=) src over `shape`, each side with its own strides. */
void en_nd_copy_f32(float *dst, const int64_t *ds, const float *src, const int64_t *ss,
                    int nd, const int64_t *shape, int acc) {
    kn_backend_get(EN_CPU)->copy_nd(dst, ds, src, ss, nd, shape, acc);
}

void en_dense_strides(int nd, const int64_t *shape, int64_t *st) {
    int64_t s = 1;
    for (int i = nd - 1; i >= 0; i--) {
        st[i] = s;
        s *= shape[i];
    }
}

int en_tensor_copy_(en_tensor *dst, const en_tensor *src) {
    if (en_tensor_numel(dst) != en_tensor_numel(src) || dst->ndim != src->ndim ||
        !en_tensor_same_shape(dst, src)) {
        char a[128], b[128];
        return en_error("copy: shape %s into %s", en_tensor_shape_str(src, a, sizeof a),
                        en_tensor_shape_str(dst, b, sizeof b));
    }
    if (dst->dtype == EN_F32 && src->dtype == EN_F32) {
        en_nd_copy_f32(en_tensor_f32(dst), dst->stride, en_tensor_f32(src), src->stride, dst->ndim,
                    dst->shape, 0);
        return 0;
    }
    int64_t n = en_tensor_numel(dst);
    for (int64_t i = 0; i < n; i++) {
        int64_t so = elem_offset(src, i), d = elem_offset(dst, i);
        EN_ASSERT(src->dtype == EN_F32 || src->dtype == EN_I64);
        double v = src->dtype == EN_F32 ? en_tensor_f32(src)[so] : (double)en_tensor_i64(src)[so];
        if (dst->dtype == EN_F32) en_tensor_f32(dst)[d] = (float)v;
        else if (dst->dtype == EN_I64) en_tensor_i64(dst)[d] = (int64_t)v;
        else EN_ASSERT(0);
    }
    return 0;
}

en_tensor *en_tensor_clone(const en_tensor *t) {
    en_tensor *c = en_tensor_empty_like(t);
    en_tensor_copy_(c, t);
    return c;
}

en_tensor *en_tensor_to_f32(const en_tensor *t) {
    en_tensor *c = en_tensor_new(EN_F32, t->ndim, t->shape);
    en_tensor_copy_(c, t);
    return c;
}
en_tensor *en_tensor_to_i64(const en_tensor *t) {
    en_tensor *c = en_tensor_new(EN_I64, t->ndim, t->shape);
    en_tensor_copy_(c, t);
    return c;
}

void en_tensor_fill_(en_tensor *t, float v) {
    int64_t n = en_tensor_numel(t);
    if (t->dtype == EN_I64) {
        for (int64_t i = 0; i < n; i++) en_tensor_i64(t)[elem_offset(t, i)] = (int64_t)v;
        return;
    }
    float *p = en_tensor_f32(t);
    if (en_tensor_is_contiguous(t)) {
        for (int64_t i = 0; i < n; i++) p[i] = v;
    } else {
        for (int64_t i = 0; i < n; i++) p[elem_offset(t, i)] = v;
    }
}

/* ---- devices ---------------------------------------------------------------
 * A device storage lives on the heap (never in an arena: an arena's bump
 * memory is host memory), its data from the device back end's allocator.
 * Made while an arena is active, the header is the arena's and the storage
 * goes on the arena's held list, so en_arena_reset() drops it as it drops
 * the arena's views of heap storage. */
static void arena_hold(en_tensor *v);

static en_storage *storage_new_dev(const kn_backend *be, size_t nbytes) {
    void *d = be->alloc(nbytes);
    if (!d) {
        const char *why = be->device == EN_CUDA ? kn_cuda_last_error() : "";
        en_error("%s", why && *why ? why : "out of device memory");
        return NULL;
    }
    en_storage *s = counted_malloc(sizeof *s);
    s->data = d;
    s->nbytes = nbytes;
    s->refcount = 1;
    s->device = be->device;
    s->arena = NULL;
    s->bucket = 0;
    return s;
}

en_tensor *en_tensor_new_on(en_device dev, en_dtype dt, int ndim, const int64_t *shape) {
    if (dev == EN_CPU) return en_tensor_new(dt, ndim, shape);
    const kn_backend *be = kn_backend_get(dev);
    if (!be) return en_error("device %s is not available", dev == EN_CUDA ? "cuda" : "?"), NULL;
    EN_ASSERT(ndim >= 0 && ndim <= EN_MAX_DIMS);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        EN_ASSERT(shape[i] >= 0);
        n *= shape[i];
    }
    en_storage *s = storage_new_dev(be, (size_t)n * en_dtype_size(dt));
    if (!s) return NULL;
    en_tensor *t = header_new();
    t->dtype = dt;
    t->ndim = ndim;
    if (ndim) memcpy(t->shape, shape, (size_t)ndim * sizeof *shape); /* a 0-dim tensor may pass NULL */
    en_tensor_set_dense_strides(t);
    t->storage = s;
    if (t->arena) arena_hold(t);
    return t;
}

void *en_tensor_data(const en_tensor *t) {
    return (char *)t->storage->data + (size_t)t->offset * en_dtype_size(t->dtype);
}

/* Copies of whole storages: host <-> device through the device's back end. */
en_tensor *en_tensor_to(en_tensor *t, en_device dev) {
    int from = t->storage->device;
    if ((int)dev == from) return en_tensor_retain(t);
    if (from != EN_CPU) {
        /* to the host first: the whole storage, then the view's elements */
        const kn_backend *be = kn_backend_get(from);
        EN_ASSERT(be != NULL);
        en_tensor *h = header_new();
        h->dtype = t->dtype;
        h->ndim = t->ndim;
        memcpy(h->shape, t->shape, sizeof h->shape);
        memcpy(h->stride, t->stride, sizeof h->stride);
        h->offset = t->offset;
        h->storage = storage_new(t->storage->nbytes);
        be->copy(h->storage->data, t->storage->data, t->storage->nbytes, KN_COPY_D2H);
        en_tensor *c = en_tensor_is_contiguous(h) && h->offset == 0 &&
                               (size_t)en_tensor_numel(h) * en_dtype_size(h->dtype) == h->storage->nbytes
                           ? en_tensor_retain(h)
                           : en_tensor_clone(h);
        en_tensor_release(h);
        if (dev == EN_CPU) return c;
        en_tensor *r = en_tensor_to(c, dev);
        en_tensor_release(c);
        return r;
    }
    const kn_backend *be = kn_backend_get(dev);
    if (!be)
        return en_error("device %s is not available (CLIPBOOK_DEVICE, or the build has no CUDA)",
                        dev == EN_CUDA ? "cuda" : "?"),
               NULL;
    en_tensor *c = en_tensor_is_contiguous(t) ? en_tensor_retain(t) : en_tensor_clone(t);
    en_tensor *r = en_tensor_new_on(dev, c->dtype, c->ndim, c->shape);
    if (r) be->copy(en_tensor_data(r), en_tensor_data(c),
                    (size_t)en_tensor_numel(c) * en_dtype_size(c->dtype), KN_COPY_H2D);
    en_tensor_release(c);
    return r;
}

en_tensor *en_tensor_cpu(en_tensor *t) { return en_tensor_to(t, EN_CPU); }

en_tensor *en_device_host(en_tensor *t) {
    en_tensor *h = en_tensor_to(t, EN_CPU);
    EN_ASSERT(h != NULL); /* to the host never fails but for host memory */
    return h;
}

void en_device_upload_(en_tensor *dst, const en_tensor *host) {
    EN_ASSERT(en_tensor_is_contiguous(dst) && en_tensor_is_contiguous(host));
    EN_ASSERT(host->storage->device == EN_CPU && dst->dtype == host->dtype);
    EN_ASSERT(en_tensor_numel(dst) == en_tensor_numel(host));
    kn_backend_get(dst->storage->device)
        ->copy(en_tensor_data(dst), en_tensor_data(host),
               (size_t)en_tensor_numel(host) * en_dtype_size(host->dtype),
               dst->storage->device == EN_CPU ? KN_COPY_D2D : KN_COPY_H2D);
}

en_device en_device_of(int n, en_tensor *const *ts) {
    for (int i = 0; i < n; i++)
        if (ts[i] && ts[i]->storage->device != EN_CPU) return (en_device)ts[i]->storage->device;
    return EN_CPU;
}

void en_device_grad_guard(en_op op, int n, en_tensor *const *ts) {
    if (!en_grad_enabled()) return;
    for (int i = 0; i < n; i++)
        if (ts[i] && (ts[i]->flags & EN_T_REQUIRES_GRAD)) {
            fprintf(stderr, "autograd: op %s would run on host copies of device tensors (the device "
                            "lacks its kernel, or the op has no device path), which would drop its "
                            "gradient; train on the CPU (CLIPBOOK_DEVICE=cpu)\n", en_op_name(op));
            abort();
        }
}

/* a gradient cannot follow a copy between devices (it is not on the tape) */
static void operand_guard(const char *op, const en_tensor *t, en_device dev) {
    if (!t || t->storage->device == (int)dev || !en_grad_enabled() || !(t->flags & EN_T_REQUIRES_GRAD))
        return;
    fprintf(stderr, "autograd: op %s runs on %s but an operand that requires grad is on %s: its "
                    "gradient would be lost in the copy; move the model there (en_clip_to, m:to)\n",
            op, dev == EN_CUDA ? "cuda" : "cpu", t->storage->device == EN_CUDA ? "cuda" : "cpu");
    abort();
}

en_tensor *en_device_operand(en_op op, en_tensor *t, en_device dev) {
    if (!t) return NULL;
    operand_guard(en_op_name(op), t, dev);
    en_tensor *d = en_tensor_to(t, dev);
    EN_ASSERT(d != NULL); /* out of device memory mid-op: en_error holds why */
    return d;
}

static uint64_t host_ops[EN_OP_COUNT];
uint64_t en_device_host_op_count(int op) {
    EN_ASSERT(op >= 0 && op < EN_OP_COUNT);
    return __atomic_load_n(&host_ops[op], __ATOMIC_RELAXED);
}

en_tensor *en_device_result(en_op op, en_tensor *r, en_device dev) {
    __atomic_add_fetch(&host_ops[op], 1, __ATOMIC_RELAXED);
    if (!r) return NULL;
    en_tensor *d = en_tensor_to(r, dev);
    en_tensor_release(r);
    return d;
}

en_tensor *en_device_empty(en_device dev, en_dtype dt, int nd, const int64_t *shape) {
    if (dev == EN_CPU) return en_tensor_new(dt, nd, shape);
    en_tensor *t = en_tensor_new_on(dev, dt, nd, shape);
    if (!t) { /* mid-op: nothing to hand back to the caller; the message says how much */
        fprintf(stderr, "%s\n", en_error_msg());
        abort();
    }
    return t;
}

en_tensor *en_device_dense(en_tensor *t, en_device dev) {
    if (!t) return NULL;
    operand_guard("(a device op)", t, dev);
    en_tensor *d = en_tensor_to(t, dev);
    EN_ASSERT(d != NULL); /* out of device memory mid-op: en_error holds why */
    if (en_tensor_is_contiguous(d)) return d;
    en_tensor *c = en_contiguous(d);
    en_tensor_release(d);
    return c;
}

float *en_dev_f32(const en_tensor *t) {
    if (!t) return NULL;
    EN_ASSERT(t->dtype == EN_F32);
    return en_tensor_data(t);
}

int64_t *en_dev_i64(const en_tensor *t) {
    if (!t) return NULL;
    EN_ASSERT(t->dtype == EN_I64);
    return en_tensor_data(t);
}

int en_device_lacks(en_device dev, kn_kernel k) {
    if (dev == EN_CPU) return 0;
    const kn_backend *be = kn_backend_get(dev);
    EN_ASSERT(be != NULL);
    if (be->supports(k)) return 0;
    kn_fallback_note(k);
    return 1;
}

en_tensor *en_device_back(en_tensor *r, en_device dev) {
    if (!r) return NULL;
    en_tensor *d = en_tensor_to(r, dev);
    en_tensor_release(r);
    EN_ASSERT(d != NULL); /* out of device memory mid-op: en_error holds why */
    return d;
}

int en_tensor_move_(en_tensor *t, en_device dev) {
    en_storage *s = t->storage;
    if (s->device == (int)dev) return 0;
    EN_ASSERT(!s->arena && !arena_active());
    const kn_backend *from = kn_backend_get(s->device), *to = kn_backend_get(dev);
    if (!to) return en_error("device %s is not available", dev == EN_CUDA ? "cuda" : "?");
    en_storage *ns = dev == EN_CPU ? storage_new(s->nbytes) : storage_new_dev(to, s->nbytes);
    if (!ns) return -1;
    if (s->device == EN_CPU) to->copy(ns->data, s->data, s->nbytes, KN_COPY_H2D);
    else if (dev == EN_CPU) from->copy(ns->data, s->data, s->nbytes, KN_COPY_D2H);
    else { /* between two devices, by way of the host */
        en_storage *h = storage_new(s->nbytes);
        from->copy(h->data, s->data, s->nbytes, KN_COPY_D2H);
        to->copy(ns->data, h->data, s->nbytes, KN_COPY_H2D);
        storage_release(h);
    }
    t->storage = ns;
    storage_release(s);
    return 0;
}

void en_tensor_share_(en_tensor *t, const en_tensor *base) {
    base->storage->refcount++;
    storage_release(t->storage);
    t->storage = base->storage;
}

static uint64_t gathers = 0;
uint64_t en_device_gather_count(void) { return __atomic_load_n(&gathers, __ATOMIC_RELAXED); }

en_tensor *en_device_gather(en_tensor *t) {
    __atomic_add_fetch(&gathers, 1, __ATOMIC_RELAXED);
    en_tensor *h = en_device_host(t); /* dense on the host */
    en_tensor *d = en_tensor_to(h, (en_device)t->storage->device);
    en_tensor_release(h);
    EN_ASSERT(d != NULL); /* out of device memory mid-op: en_error holds why */
    return d;
}

/* ---- views: the header (en_views.c has the view ops) ---------------------- */
en_tensor *en_tensor_view(en_tensor *t) {
    en_tensor *v = header_new();
    v->dtype = t->dtype;
    v->offset = t->offset;
    v->storage = t->storage;
    t->storage->refcount++;
    if (v->arena && !t->storage->arena) arena_hold(v); /* reset drops this reference if still held */
    return v;
}

static void arena_hold(en_tensor *v) {
    en_arena *a = v->arena;
    if (a->nheld == a->capheld) {
        a->capheld = a->capheld ? 2 * a->capheld : 64;
        a->held = realloc(a->held, (size_t)a->capheld * sizeof *a->held);
        EN_ASSERT(a->held != NULL);
    }
    a->held[a->nheld++] = v;
}

/* ---- threads --------------------------------------------------------------- */
void en_set_num_threads(int n) { kn_set_num_threads(n); }
int en_get_num_threads(void) { return kn_get_num_threads(); }
