/* The engine's device machinery on the CPU, with a fake "device": the CPU
 * back end's kernels behind an allocator whose memory is mprotect'ed
 * PROT_NONE except while one of the fake's own functions runs, so any host
 * read or write of "device" memory by engine code is a SIGSEGV here, on
 * every machine (tests/cuda/fake_device.c). Covers en_tensor_to /
 * en_tensor_cpu, a device op through the back end, the same op through the
 * counted host fallback, strided device views (the device's strided copy,
 * else the counted host gather), arenas, device selection and the guards
 * (en_tensor_f32 and autograd on a device tensor abort). */
#include <criterion/criterion.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "en_device.h"
#include "en_rng.h"
#include "en_error.h"
#include "en_ops.h"
#include "en_autograd.h"
#include "en_tensor.h"
#include "kn_backend.h"
#include "fake_device.h"

TestSuite(device, .init = fake_install, .fini = fake_remove);

/* a (3, 4) tensor 0..11 minus 5 and its transpose (a strided view) */
static en_tensor *sample(void) {
    float v[12];
    for (int i = 0; i < 12; i++) v[i] = (float)i - 5.0f;
    return en_tensor_from_f32(EN_DIMS(3, 4), v);
}

Test(device, to_and_back_through_the_back_end) {
    en_tensor *h = sample(), *ht = en_transpose(h, 0, 1);
    en_tensor *d = en_tensor_to(ht, EN_CUDA); /* strided on the host: made dense, then copied */
    cr_assert(d, "%s", en_error_msg());
    cr_expect_eq(en_tensor_device(d), EN_CUDA);
    cr_expect_eq(fake_live_count(), 1);
    cr_expect(en_tensor_to(d, EN_CUDA) == d, "same device: the tensor itself");
    en_tensor_release(d);
    en_tensor *back = en_tensor_cpu(d);
    cr_assert_eq(en_tensor_device(back), EN_CPU);
    cr_assert(back->shape[0] == 4 && back->shape[1] == 3);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) cr_expect_eq(en_tensor_f32(back)[i * 3 + j], (float)(j * 4 + i) - 5.0f);
    en_tensor_release(back);
    en_tensor_release(d);
    cr_expect_eq(fake_live_count(), 0, "the device storage went back to the back end's free");
    en_tensor_release(ht);
    en_tensor_release(h);
}

Test(device, op_runs_on_the_device_kernel) {
    en_tensor *h = sample(), *d = en_tensor_to(h, EN_CUDA);
    en_tensor *y = en_relu(d);
    cr_assert_eq(en_tensor_device(y), EN_CUDA, "the result stays on the device");
    cr_expect_eq(fake_calls(KN_K_UNARY), 1);
    cr_expect_eq(kn_fallback_count(KN_K_UNARY), 0);
    en_tensor *hy = en_tensor_cpu(y);
    for (int i = 0; i < 12; i++) cr_expect_eq(en_tensor_f32(hy)[i], fmaxf((float)i - 5.0f, 0.0f));
    en_tensor_release(hy);
    en_tensor_release(y);
    en_tensor_release(d);
    en_tensor_release(h);
}

Test(device, missing_kernel_falls_back_and_is_counted) {
    fake_set_kernel(KN_K_UNARY, 0);
    en_tensor *h = sample(), *d = en_tensor_to(h, EN_CUDA);
    en_tensor *y = en_exp(d), *z = en_mul_scalar(y, 2.0f);
    cr_assert_eq(en_tensor_device(z), EN_CUDA);
    cr_expect_eq(fake_calls(KN_K_UNARY), 0);
    cr_expect_eq(kn_fallback_count(KN_K_UNARY), 2, "two unary ops, two host fallbacks");
    char rep[256];
    en_device_report(rep, sizeof rep);
    printf("  %s\n", rep);
    cr_expect(strstr(rep, "unary 2") != NULL, "%s", rep);
    en_tensor *hz = en_tensor_cpu(z);
    for (int i = 0; i < 12; i++) {
        float want = 2.0f * expf((float)i - 5.0f);
        cr_expect(fabsf(en_tensor_f32(hz)[i] - want) <= 1e-6f * want, "%d: %g vs %g", i,
                  en_tensor_f32(hz)[i], want);
    }
    en_tensor_release(hz);
    en_tensor_release(z);
    en_tensor_release(y);
    en_tensor_release(d);
    en_tensor_release(h);
}

Test(device, strided_device_view_is_copied_on_the_device) {
    en_tensor *h = sample(), *d = en_tensor_to(h, EN_CUDA), *dt = en_transpose(d, 0, 1);
    uint64_t g0 = en_device_gather_count();
    en_tensor *y = en_abs(dt);
    cr_expect_eq(en_device_gather_count(), g0, "the device's copy_nd, no host gather");
    cr_expect_eq(fake_calls(KN_K_COPY_ND), 1);
    en_tensor *hy = en_tensor_cpu(y);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) cr_expect_eq(en_tensor_f32(hy)[i * 3 + j], fabsf((float)(j * 4 + i) - 5.0f));
    en_tensor_release(hy);
    en_tensor_release(y);
    en_tensor_release(dt);
    en_tensor_release(d);
    en_tensor_release(h);
}

Test(device, strided_device_view_is_gathered_on_the_host) {
    fake_set_kernel(KN_K_COPY_ND, 0);
    en_tensor *h = sample(), *d = en_tensor_to(h, EN_CUDA), *dt = en_transpose(d, 0, 1);
    uint64_t g0 = en_device_gather_count();
    en_tensor *y = en_abs(dt);
    cr_expect_eq(en_device_gather_count(), g0 + 1);
    en_tensor *hy = en_tensor_cpu(y);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) cr_expect_eq(en_tensor_f32(hy)[i * 3 + j], fabsf((float)(j * 4 + i) - 5.0f));
    en_tensor_release(hy);
    en_tensor_release(y);
    en_tensor_release(dt);
    en_tensor_release(d);
    en_tensor_release(h);
}

Test(device, arena_reset_drops_device_storage) {
    en_tensor *h = sample();
    en_arena *a = en_arena_new(1 << 16);
    en_arena_begin(a);
    en_tensor *d = en_tensor_to(h, EN_CUDA), *y = en_relu(d);
    (void)y;
    en_arena_end(a);
    cr_expect_eq(fake_live_count(), 2);
    en_arena_reset(a); /* neither released: the reset gives both back */
    cr_expect_eq(fake_live_count(), 0);
    en_arena_free(a);
    en_tensor_release(h);
}

/* The poison works: reading device memory from the host is caught. The
 * fault is taken by a handler of our own (AddressSanitizer would report it
 * as a crash of its own rather than let the test see SIGSEGV). */
static sigjmp_buf segv_jmp;
static void on_segv(int sig) {
    (void)sig;
    siglongjmp(segv_jmp, 1);
}

Test(device, host_read_of_device_memory_is_caught) {
    en_tensor *h = sample(), *d = en_tensor_to(h, EN_CUDA);
    struct sigaction sa = {0}, old;
    sa.sa_handler = on_segv;
    sigemptyset(&sa.sa_mask);
    cr_assert(sigaction(SIGSEGV, &sa, &old) == 0);
    volatile int faulted = 0;
    if (sigsetjmp(segv_jmp, 1) == 0) {
        volatile float v = ((const float *)en_tensor_data(d))[0];
        (void)v;
    } else {
        faulted = 1;
    }
    sigaction(SIGSEGV, &old, NULL);
    cr_expect(faulted, "a host read of the fake device's memory must fault");
    en_tensor_release(d);
    en_tensor_release(h);
}

Test(device, f32_pointer_of_a_device_tensor_aborts, .signal = SIGABRT) {
    en_tensor *h = sample(), *d = en_tensor_to(h, EN_CUDA);
    (void)en_tensor_f32(d);
}

/* The tape records device ops: the gradient is made on the device by the
 * device's kernels (the fake's memory is unreadable from here). */
Test(device, autograd_on_the_device_keeps_the_gradient_there) {
    en_tensor *h = sample(), *d = en_tensor_to(h, EN_CUDA);
    en_requires_grad(d, 1);
    en_tensor *y = en_relu(d), *s = en_sum_all(y);
    cr_assert_eq(en_backward(s), 0, "%s", en_error_msg());
    en_tensor *g = en_tensor_grad(d);
    cr_assert(g != NULL);
    cr_expect_eq(en_tensor_device(g), EN_CUDA, "the gradient lives where the tensor does");
    en_tensor *hg = en_tensor_cpu(g);
    for (int64_t i = 0; i < en_tensor_numel(h); i++)
        cr_expect_eq(en_tensor_f32(hg)[i], en_tensor_f32(h)[i] > 0 ? 1.0f : 0.0f, "element %lld", (long long)i);
    cr_expect_eq(fake_fallbacks_total(), 0);
    en_tensor *rel[] = {h, d, y, s, hg};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) en_tensor_release(rel[i]);
}

/* An op that would run on host copies (here: the device lacks the unary
 * kernel) cannot carry a gradient: it aborts with a message, never drops
 * the gradient silently. */
Test(device, autograd_through_host_copies_aborts_with_a_message, .signal = SIGABRT) {
    en_tensor *h = sample(), *d = en_tensor_to(h, EN_CUDA);
    en_requires_grad(d, 1);
    fake_set_kernel(KN_K_UNARY, 0);
    (void)en_relu(d);
}

Test(device, selection) {
    char note[200];
    unsetenv("CLIPBOOK_DEVICE");
    cr_expect_eq(en_device_resolve("auto", note, sizeof note), EN_CUDA, "auto takes a visible device");
    cr_expect_eq(en_device_resolve(NULL, note, sizeof note), EN_CUDA, "no field: auto");
    cr_expect_eq(en_device_resolve("cpu", note, sizeof note), EN_CPU);
    setenv("CLIPBOOK_DEVICE", "cpu", 1);
    cr_expect_eq(en_device_resolve("cuda", note, sizeof note), EN_CPU, "the environment wins");
    unsetenv("CLIPBOOK_DEVICE");
    cr_expect_eq(en_device_resolve("tpu", note, sizeof note), -1);
    cr_expect(strstr(en_error_msg(), "unknown device 'tpu'"), "%s", en_error_msg());

    fake_remove(); /* now as on a machine without a GPU (or without the CUDA build) */
    if (kn_cuda_backend()) return; /* a real device is visible: the rest does not apply */
    cr_expect_eq(en_device_resolve("auto", note, sizeof note), EN_CPU);
    printf("  %s\n", note);
    cr_expect(strstr(note, "computing on the CPU") != NULL, "%s", note);
    cr_expect_eq(en_device_resolve("cuda", note, sizeof note), -1);
    printf("  %s\n", en_error_msg());
    cr_expect(strstr(en_error_msg(), "device=cuda: ") != NULL, "%s", en_error_msg());
    en_tensor *h = sample();
    cr_expect(en_tensor_to(h, EN_CUDA) == NULL, "no device: to() fails with a message");
    en_tensor_release(h);
    cr_expect_eq(en_device_set_precision("tf32"), 0);
    cr_expect_eq(en_device_set_precision("fp16"), -1);
}

/* A transformer block's forward ops, on the device and through the fallback:
 * both give the CPU's numbers. */
static void block_ops(int on_device, float *out, uint64_t *fallbacks) {
    en_rng r;
    en_rng_seed(&r, 5);
    en_tensor *x = en_tensor_randn(EN_DIMS(6, 8), &r, 0, 1), *w = en_tensor_randn(EN_DIMS(5, 8), &r, 0, 1),
              *b = en_tensor_randn(EN_DIMS(5), &r, 0, 1), *g = en_tensor_randn(EN_DIMS(8), &r, 1, 0.1f);
    en_tensor *xd = on_device ? en_tensor_to(x, EN_CUDA) : en_tensor_retain(x);
    en_tensor *ln = en_layer_norm(xd, g, NULL, 1e-5f); /* a host weight with a device input */
    en_tensor *h = en_linear(ln, w, b);
    en_tensor *sm = en_softmax(h, -1);
    en_tensor *y = en_add(sm, h); /* binary: the host fallback */
    cr_assert(y, "%s", en_error_msg());
    cr_expect_eq(en_tensor_device(y), on_device ? EN_CUDA : EN_CPU);
    en_tensor *hy = en_tensor_cpu(y);
    memcpy(out, en_tensor_f32(hy), 30 * sizeof(float));
    fallbacks[0] = kn_fallback_count(KN_K_GEMM) + kn_fallback_count(KN_K_SOFTMAX) +
                   kn_fallback_count(KN_K_LAYERNORM) + kn_fallback_count(KN_K_BINARY);
    fallbacks[1] = en_device_host_op_count(EN_OP_ADD);
    en_tensor *rel[] = {x, w, b, g, xd, ln, h, sm, y, hy};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) en_tensor_release(rel[i]);
}

Test(device, block_ops_on_the_device_and_through_the_fallback) {
    float cpu[30], dev[30], fb[30];
    uint64_t c0[2], c1[2], c2[2];
    block_ops(0, cpu, c0);
    block_ops(1, dev, c1);
    cr_expect_eq(c1[0], c0[0], "layer norm, linear, softmax, add ran on the device's kernels");
    cr_expect_eq(c1[1], c0[1], "no op ran on host copies");
    cr_expect_eq(fake_calls(KN_K_BINARY), 1, "the broadcast add on the device's binary kernel");
    kn_kernel off[] = {KN_K_GEMM, KN_K_SOFTMAX, KN_K_LAYERNORM, KN_K_BINARY};
    for (int i = 0; i < 4; i++) fake_set_kernel(off[i], 0);
    block_ops(1, fb, c2);
    cr_expect_eq(c2[0], c1[0] + 4, "no device kernels: four counted kernel fallbacks");
    for (int i = 0; i < 30; i++) {
        cr_expect(fabsf(dev[i] - cpu[i]) <= 1e-6f * (1 + fabsf(cpu[i])), "%d: %g vs %g", i, dev[i], cpu[i]);
        cr_expect(fabsf(fb[i] - cpu[i]) <= 1e-6f * (1 + fabsf(cpu[i])), "%d: %g vs %g", i, fb[i], cpu[i]);
    }
    char rep[512];
    printf("  %s\n", en_device_report(rep, sizeof rep));
    cr_expect(strstr(rep, "binary 1") != NULL, "%s", rep);
}

Test(device, a_parameter_used_on_the_device_with_grad_on_aborts, .signal = SIGABRT) {
    en_tensor *h = sample(), *d = en_tensor_to(h, EN_CUDA), *w = en_tensor_ones(EN_DIMS(2, 4));
    en_requires_grad(w, 1);
    (void)en_linear(d, w, NULL); /* the host copy would drop w's gradient */
}

/* cuBLAS is opened with dlopen when a device starts (kernels/cuda/kn_cuda.cu),
 * not linked, so a wrong soname or entry-point name would first show on a GPU
 * machine. Resolving needs no GPU: do it here, where the toolkit that built
 * the binary is installed. */
Test(cublas, every_entry_point_resolves_without_a_gpu) {
    char why[256] = "";
    if (!kn_cuda_built()) {
        printf("skip: built without CUDA\n");
        cr_skip_test("skip: built without CUDA");
    }
    cr_expect_eq(kn_cuda_blas_probe(why, sizeof why), 0, "%s", why);
}
