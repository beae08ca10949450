/* The fake device (fake_device.h): every kn_backend slot is the CPU's,
 * wrapped so that the fake's memory is readable only inside it. */
#include "fake_device.h"

#include <criterion/criterion.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* One reserved region, carved by a bump pointer with exact-size reuse, so
 * that opening and closing the fake's memory is one mprotect of the used
 * span (per-block calls made the ViT-B/32 forward take minutes of system
 * time). */
#define FAKE_MAX 4096
#define FAKE_SPAN ((size_t)16 << 30) /* address space only (MAP_NORESERVE) */
static char *region;
static size_t used;
static struct { char *base; size_t len; int live; } blocks[FAKE_MAX];
static int nblocks = 0, nlive = 0;
static int has[KN_KERNEL_COUNT];
static int calls[KN_KERNEL_COUNT];

static size_t page(void) { return (size_t)sysconf(_SC_PAGESIZE); }

static void protect(int prot) {
    if (used) cr_assert(mprotect(region, used, prot) == 0);
}

static void *fake_alloc(size_t n) {
    size_t len = (n + page() - 1) / page() * page();
    if (!len) len = page();
    if (!region) {
        region = mmap(NULL, FAKE_SPAN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        cr_assert(region != MAP_FAILED);
    }
    char *p = NULL;
    for (int i = 0; i < nblocks && !p; i++)
        if (!blocks[i].live && blocks[i].len == len) blocks[i].live = 1, p = blocks[i].base;
    if (!p) {
        cr_assert(used + len <= FAKE_SPAN && nblocks < FAKE_MAX, "the fake device is full");
        p = region + used;
        used += len;
        blocks[nblocks].base = p;
        blocks[nblocks].len = len;
        blocks[nblocks++].live = 1;
    }
    nlive++;
    cr_assert(mprotect(p, len, PROT_READ | PROT_WRITE) == 0);
    memset(p, 0xff, len); /* NaN: a result the engine forgot to write shows */
    cr_assert(mprotect(p, len, PROT_NONE) == 0);
    return p;
}

static void fake_free(void *p) {
    for (int i = 0; i < nblocks; i++)
        if (blocks[i].base == p && blocks[i].live) {
            blocks[i].live = 0;
            nlive--;
            return;
        }
    cr_assert_fail("fake_free of a pointer the fake never gave out");
}

#define CPU kn_cpu_backend()
#define OPEN(k) (calls[k]++, protect(PROT_READ | PROT_WRITE))
#define CLOSE() protect(PROT_NONE)
/* a void slot: open the memory, run the CPU's, close it */
#define WRAP(k, name, params, args)                                            \
    static void fake_##name params {                                           \
        OPEN(k);                                                               \
        CPU->name args;                                                        \
        CLOSE();                                                               \
    }

static void fake_copy(void *dst, const void *src, size_t n, int kind) {
    protect(PROT_READ | PROT_WRITE);
    CPU->copy(dst, src, n, kind);
    CLOSE();
}
static void fake_memzero(void *p, size_t n) {
    protect(PROT_READ | PROT_WRITE);
    memset(p, 0, n);
    CLOSE();
}
static int fake_supports(kn_kernel k) { return k >= 0 && k < KN_KERNEL_COUNT && has[k]; }

WRAP(KN_K_GEMM, gemm, (int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                       const float *B, int ldb, float beta, float *C, int ldc),
     (ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc))
WRAP(KN_K_GEMM_BATCHED, gemm_batched,
     (int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda, int64_t sa,
      const float *B, int ldb, int64_t sb, float beta, float *C, int ldc, int64_t sc, int batch),
     (ta, tb, M, N, K, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc, batch))
WRAP(KN_K_UNARY, unary_fwd, (kn_unary f, float *y, const float *x, int64_t n, float a, float b),
     (f, y, x, n, a, b))
WRAP(KN_K_UNARY, unary_bwd, (kn_unary f, float *dx, const float *dy, const float *x, const float *y,
                             int64_t n, float a, float b, int acc),
     (f, dx, dy, x, y, n, a, b, acc))
WRAP(KN_K_SOFTMAX, softmax_fwd, (float *y, const float *x, int64_t rows, int64_t C, int logsm),
     (y, x, rows, C, logsm))
WRAP(KN_K_SOFTMAX, softmax_bwd, (float *dx, const float *dy, const float *y, int64_t rows, int64_t C,
                                 int logsm, int acc),
     (dx, dy, y, rows, C, logsm, acc))
WRAP(KN_K_LAYERNORM, layernorm_fwd, (float *y, float *mean, float *rstd, const float *x, const float *w,
                                     const float *b, int64_t N, int64_t C, float eps),
     (y, mean, rstd, x, w, b, N, C, eps))
WRAP(KN_K_LAYERNORM, layernorm_bwd, (float *dx, float *dw, float *db, const float *dy, const float *x,
                                     const float *w, const float *mean, const float *rstd, int64_t N,
                                     int64_t C, int accx),
     (dx, dw, db, dy, x, w, mean, rstd, N, C, accx))
WRAP(KN_K_ATTENTION, attention_fwd, (float *out, float *att, const float *qkv, int B, int T, int C, int H,
                                     int causal),
     (out, att, qkv, B, T, C, H, causal))
WRAP(KN_K_ATTENTION, attention_bwd, (float *dqkv, const float *dout, const float *qkv, const float *att,
                                     int B, int T, int C, int H, int acc),
     (dqkv, dout, qkv, att, B, T, C, H, acc))
WRAP(KN_K_CONV2D, conv2d_fwd, (float *out, float *scratch, const float *inp, const float *w,
                               const float *b, int N, int C, int H, int W, int OC, int KH, int KW,
                               int stride, int pad),
     (out, scratch, inp, w, b, N, C, H, W, OC, KH, KW, stride, pad))
WRAP(KN_K_CONV2D, conv2d_bwd, (float *dinp, float *dw, float *db, float *scratch, const float *dout,
                               const float *inp, const float *w, int N, int C, int H, int W, int OC,
                               int KH, int KW, int stride, int pad, int acc),
     (dinp, dw, db, scratch, dout, inp, w, N, C, H, W, OC, KH, KW, stride, pad, acc))
WRAP(KN_K_CONV_TRANSPOSE2D, convt2d_fwd, (float *out, float *scratch, const float *inp, const float *w,
                                          const float *b, int N, int C, int H, int W, int OC, int KH,
                                          int KW, int stride, int pad, int outpad),
     (out, scratch, inp, w, b, N, C, H, W, OC, KH, KW, stride, pad, outpad))
WRAP(KN_K_CONV_TRANSPOSE2D, convt2d_bwd,
     (float *dinp, float *dw, float *db, float *scratch, const float *dout, const float *inp,
      const float *w, int N, int C, int H, int W, int OC, int KH, int KW, int stride, int pad,
      int outpad, int acc),
     (dinp, dw, db, scratch, dout, inp, w, N, C, H, W, OC, KH, KW, stride, pad, outpad, acc))
WRAP(KN_K_POOL2D, maxpool2d_fwd, (float *out, int32_t *idx, const float *inp, int N, int C, int H,
                                  int W, int KH, int KW, int stride, int pad),
     (out, idx, inp, N, C, H, W, KH, KW, stride, pad))
WRAP(KN_K_POOL2D, maxpool2d_bwd, (float *dinp, const float *dout, const int32_t *idx, int N, int C,
                                  int H, int W, int OH, int OW, int acc),
     (dinp, dout, idx, N, C, H, W, OH, OW, acc))
WRAP(KN_K_POOL2D, avgpool2d_fwd, (float *out, const float *inp, int N, int C, int H, int W, int KH,
                                  int KW, int stride, int pad, int cip),
     (out, inp, N, C, H, W, KH, KW, stride, pad, cip))
WRAP(KN_K_POOL2D, avgpool2d_bwd, (float *dinp, const float *dout, int N, int C, int H, int W, int KH,
                                  int KW, int stride, int pad, int cip, int acc),
     (dinp, dout, N, C, H, W, KH, KW, stride, pad, cip, acc))
WRAP(KN_K_POOL2D, adaptive_avgpool2d_fwd, (float *out, const float *inp, int N, int C, int H, int W,
                                           int OH, int OW),
     (out, inp, N, C, H, W, OH, OW))
WRAP(KN_K_POOL2D, adaptive_avgpool2d_bwd, (float *dinp, const float *dout, int N, int C, int H, int W,
                                           int OH, int OW, int acc),
     (dinp, dout, N, C, H, W, OH, OW, acc))
WRAP(KN_K_UPSAMPLE, upsample_nearest_fwd, (float *out, const float *inp, int N, int C, int H, int W,
                                           int OH, int OW, double sh, double sw),
     (out, inp, N, C, H, W, OH, OW, sh, sw))
WRAP(KN_K_UPSAMPLE, upsample_nearest_bwd, (float *dinp, const float *dout, int N, int C, int H, int W,
                                           int OH, int OW, double sh, double sw, int acc),
     (dinp, dout, N, C, H, W, OH, OW, sh, sw, acc))
WRAP(KN_K_UPSAMPLE, upsample_bilinear_fwd, (float *out, const float *inp, int N, int C, int H, int W,
                                            int OH, int OW, int ac, double sh, double sw),
     (out, inp, N, C, H, W, OH, OW, ac, sh, sw))
WRAP(KN_K_UPSAMPLE, upsample_bilinear_bwd, (float *dinp, const float *dout, int N, int C, int H, int W,
                                            int OH, int OW, int ac, double sh, double sw, int acc),
     (dinp, dout, N, C, H, W, OH, OW, ac, sh, sw, acc))
WRAP(KN_K_BATCHNORM2D, batchnorm2d_fwd,
     (float *out, float *mean, float *rstd, float *rm, float *rv, const float *inp, const float *gamma,
      const float *beta, int N, int C, int HW, int training, float momentum, float eps),
     (out, mean, rstd, rm, rv, inp, gamma, beta, N, C, HW, training, momentum, eps))
WRAP(KN_K_BATCHNORM2D, batchnorm2d_bwd,
     (float *dinp, float *dgamma, float *dbeta, const float *dout, const float *inp, const float *mean,
      const float *rstd, const float *gamma, int N, int C, int HW, int training, int acc),
     (dinp, dgamma, dbeta, dout, inp, mean, rstd, gamma, N, C, HW, training, acc))
WRAP(KN_K_COPY_ND, copy_nd, (float *dst, const int64_t *ds, const float *src, const int64_t *ss, int nd,
                             const int64_t *shape, int acc),
     (dst, ds, src, ss, nd, shape, acc))
WRAP(KN_K_BINARY, binary_nd, (kn_binary f, float *out, int nd, const int64_t *shape, const float *x,
                              const int64_t *sx, const float *y, const int64_t *sy, const float *z,
                              const int64_t *sz),
     (f, out, nd, shape, x, sx, y, sy, z, sz))
WRAP(KN_K_REDUCE, reduce_sum, (float *out, const float *x, int64_t outer, int64_t R, int64_t inner,
                               float scale, int acc),
     (out, x, outer, R, inner, scale, acc))
WRAP(KN_K_ARGMAX, max_axis, (float *val, int64_t *idx, const float *x, int64_t outer, int64_t K,
                             int64_t inner),
     (val, idx, x, outer, K, inner))
WRAP(KN_K_GATHER, gather_rows, (float *out, const float *x, const int64_t *idx, int64_t M, int64_t row),
     (out, x, idx, M, row))
WRAP(KN_K_GATHER, scatter_rows, (float *dx, const float *g, const int64_t *idx, int64_t M, int64_t row),
     (dx, g, idx, M, row))
WRAP(KN_K_XENT, xent_fwd, (float *loss, float *lse, const float *x, const int64_t *t, int64_t N,
                           int64_t K),
     (loss, lse, x, t, N, K))
WRAP(KN_K_XENT, xent_bwd, (float *dx, const float *g, const float *x, const float *lse,
                           const int64_t *t, int64_t N, int64_t K, int acc),
     (dx, g, x, lse, t, N, K, acc))
WRAP(KN_K_L2NORM, l2norm_fwd, (float *y, float *nrm, const float *x, int64_t N, int64_t C, float eps),
     (y, nrm, x, N, C, eps))
WRAP(KN_K_L2NORM, l2norm_bwd, (float *dx, const float *dy, const float *y, const float *nrm, int64_t N,
                               int64_t C, float eps, int acc),
     (dx, dy, y, nrm, N, C, eps, acc))
WRAP(KN_K_OPTIM, adamw, (float *p, const float *g, float *m, float *v, int64_t n, float decay, float step,
                         float bc2_sqrt, float b1, float b2, float eps, float a1, float a2),
     (p, g, m, v, n, decay, step, bc2_sqrt, b1, b2, eps, a1, a2))
WRAP(KN_K_OPTIM, sum_squares, (double *out, const float *x, int64_t n, int parts), (out, x, n, parts))
WRAP(KN_K_ARGMAX, max_axis_bwd, (float *dx, const float *g, const int64_t *idx, int64_t outer, int64_t K,
                                 int64_t inner),
     (dx, g, idx, outer, K, inner))
WRAP(KN_K_PAIR_LOSS, pair_loss_fwd, (float *loss, const float *x, const float *t, int64_t n, int bce),
     (loss, x, t, n, bce))
WRAP(KN_K_PAIR_LOSS, pair_loss_bwd, (float *d, const float *g, const float *x, const float *t, int64_t n,
                                     int bce, int wrt_t, int acc),
     (d, g, x, t, n, bce, wrt_t, acc))

static kn_backend fake;

void fake_install(void) {
    const kn_backend *c = CPU;
    fake = (kn_backend){
        .name = "fake", .device = 1, .alloc = fake_alloc, .free = fake_free, .copy = fake_copy,
        .memzero = fake_memzero, .sync = c->sync, .supports = fake_supports,
        .gemm = fake_gemm, .gemm_batched = fake_gemm_batched, .unary_fwd = fake_unary_fwd,
        .unary_bwd = fake_unary_bwd, .softmax_fwd = fake_softmax_fwd, .softmax_bwd = fake_softmax_bwd,
        .layernorm_fwd = fake_layernorm_fwd, .layernorm_bwd = fake_layernorm_bwd,
        .attention_fwd = fake_attention_fwd, .attention_bwd = fake_attention_bwd,
        .conv2d_scratch = c->conv2d_scratch, .conv2d_fwd = fake_conv2d_fwd, .conv2d_bwd = fake_conv2d_bwd,
        .convt2d_scratch = c->convt2d_scratch, .convt2d_fwd = fake_convt2d_fwd,
        .convt2d_bwd = fake_convt2d_bwd, .maxpool2d_fwd = fake_maxpool2d_fwd,
        .maxpool2d_bwd = fake_maxpool2d_bwd, .avgpool2d_fwd = fake_avgpool2d_fwd,
        .avgpool2d_bwd = fake_avgpool2d_bwd, .adaptive_avgpool2d_fwd = fake_adaptive_avgpool2d_fwd,
        .adaptive_avgpool2d_bwd = fake_adaptive_avgpool2d_bwd,
        .upsample_nearest_fwd = fake_upsample_nearest_fwd, .upsample_nearest_bwd = fake_upsample_nearest_bwd,
        .upsample_bilinear_fwd = fake_upsample_bilinear_fwd,
        .upsample_bilinear_bwd = fake_upsample_bilinear_bwd, .batchnorm2d_fwd = fake_batchnorm2d_fwd,
        .batchnorm2d_bwd = fake_batchnorm2d_bwd, .copy_nd = fake_copy_nd, .binary_nd = fake_binary_nd,
        .reduce_sum = fake_reduce_sum, .max_axis = fake_max_axis, .gather_rows = fake_gather_rows,
        .scatter_rows = fake_scatter_rows, .xent_fwd = fake_xent_fwd, .xent_bwd = fake_xent_bwd,
        .l2norm_fwd = fake_l2norm_fwd, .l2norm_bwd = fake_l2norm_bwd, .adamw = fake_adamw,
        .sum_squares = fake_sum_squares, .max_axis_bwd = fake_max_axis_bwd,
        .pair_loss_fwd = fake_pair_loss_fwd, .pair_loss_bwd = fake_pair_loss_bwd};
    fake_set_all(1);
    memset(calls, 0, sizeof calls);
    kn_fallback_reset();
    kn_backend_register(1, &fake);
}

void fake_remove(void) { kn_backend_register(1, NULL); }
void fake_set_kernel(kn_kernel k, int on) { has[k] = on; }
void fake_set_all(int on) {
    for (int k = 0; k < KN_KERNEL_COUNT; k++) has[k] = on;
}
int fake_live_count(void) { return nlive; }
int fake_calls(kn_kernel k) { return calls[k]; }
uint64_t fake_fallbacks_total(void) {
    uint64_t s = 0;
    for (int k = 0; k < KN_KERNEL_COUNT; k++) s += kn_fallback_count((kn_kernel)k);
    return s;
}
