/* kn_registry — which back end serves which device, the fallback counts,
 * and the CUDA entry points' stand-ins when the CUDA back end is not built
 * (CB_CUDA undefined), so the engine calls the same API either way. */
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>

#include "kn_assert.h"
#include "kn_backend.h"

static const kn_backend *registered[2]; /* by device; NULL: the built one */

void kn_backend_register(int device, const kn_backend *be) {
    KN_ASSERT(device >= 0 && device < 2);
    registered[device] = be;
}

const kn_backend *kn_backend_get(int device) {
    if (device < 0 || device >= 2) return NULL;
    if (registered[device]) return registered[device];
    return device == 0 ? kn_cpu_backend() : kn_cuda_backend();
}

static const char *const kernel_names[KN_KERNEL_COUNT] = {
    [KN_K_GEMM] = "gemm", [KN_K_GEMM_BATCHED] = "gemm_batched", [KN_K_UNARY] = "unary",
    [KN_K_SOFTMAX] = "softmax", [KN_K_LAYERNORM] = "layernorm", [KN_K_ATTENTION] = "attention",
    [KN_K_CONV2D] = "conv2d", [KN_K_CONV_TRANSPOSE2D] = "conv_transpose2d",
    [KN_K_POOL2D] = "pool2d", [KN_K_UPSAMPLE] = "upsample", [KN_K_BATCHNORM2D] = "batchnorm2d",
    [KN_K_COPY_ND] = "copy_nd", [KN_K_BINARY] = "binary", [KN_K_REDUCE] = "reduce",
    [KN_K_ARGMAX] = "argmax", [KN_K_GATHER] = "gather", [KN_K_XENT] = "cross_entropy",
    [KN_K_L2NORM] = "l2norm", [KN_K_OPTIM] = "optim",
    [KN_K_PAIR_LOSS] = "pair_loss",
};

const char *kn_kernel_name(kn_kernel k) {
    return k >= 0 && k < KN_KERNEL_COUNT && kernel_names[k] ? kernel_names[k] : "?";
}

static _Atomic uint64_t fallbacks[KN_KERNEL_COUNT];

void kn_fallback_note(kn_kernel k) {
    KN_ASSERT(k >= 0 && k < KN_KERNEL_COUNT);
    atomic_fetch_add(&fallbacks[k], 1);
}
uint64_t kn_fallback_count(kn_kernel k) {
    KN_ASSERT(k >= 0 && k < KN_KERNEL_COUNT);
    return atomic_load(&fallbacks[k]);
}
void kn_fallback_reset(void) {
    for (int k = 0; k < KN_KERNEL_COUNT; k++) atomic_store(&fallbacks[k], 0);
}

#ifndef CB_CUDA
int kn_cuda_built(void) { return 0; }
int kn_cuda_device_count(void) { return 0; }
int kn_cuda_blas_probe(char *why, size_t n) { snprintf(why, n, "not built"); return -1; }
const kn_backend *kn_cuda_backend(void) { return NULL; }
#include <string.h>
/* The names are checked even without CUDA, so a typo in a profile shows. */
int kn_cuda_set_precision(const char *name) {
    return strcmp(name, "fp32") && strcmp(name, "tf32") && strcmp(name, "bf16") ? -1 : 0;
}
kn_precision kn_cuda_precision(void) { return KN_PREC_FP32; }
const char *kn_cuda_last_error(void) { return ""; }
void kn_cuda_memory_stats(size_t *live_bytes, size_t *cached_bytes) {
    if (live_bytes) *live_bytes = 0;
    if (cached_bytes) *cached_bytes = 0;
}
void kn_cuda_conv_out_mode(const char *mode) { (void)mode; }
#endif
