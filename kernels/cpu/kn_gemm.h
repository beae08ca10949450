/* kn_gemm — single-precision GEMM with an AVX-512 micro-kernel.
 *
 * Same contract as cblas_sgemm in row-major order:
 *     C (M,N) = alpha * op(A) * op(B) + beta * C,   op(A) (M,K), op(B) (K,N),
 * ta/tb = 1: A is stored (K,M) / B is stored (N,K). beta = 0 overwrites C
 * (NaNs in C do not leak through).
 *
 * Why: Debian's OpenBLAS runs its AVX2 kernels on this AVX-512 machine, about
 * half the core's peak. This is a BLIS-style GEMM: A and B packed into
 * micro-panels (alpha folded into A), an 8x48 register-blocked micro-kernel
 * (24 zmm accumulators). Outside an OpenMP parallel region it threads itself
 * with OpenMP over (row block, column block) tiles; inside one it runs on the
 * calling thread, so callers may run one GEMM per thread. It never starts
 * OpenBLAS's threads (which fight OpenMP's spinning workers).
 * On AVX2 + FMA machines the same kernel runs on ymm halves of the tile
 * (KN_GEMM_NATIVE); with neither at compile time it calls cblas_sgemm.
 *
 * Which path runs, per shape class (kn_gemm_class_of: small, skinny, large):
 * the environment variable CLIPBOOK_GEMM, read once at the first GEMM, forces
 * one path for every class: engine (the AVX-512 kernel; without it, a warning
 * and blas) or blas (every kn_sgemm through cblas_sgemm, and the convolutions
 * through im2col + cblas_sgemm instead of the packed kernel). auto (the
 * default) takes the per-class choice installed by kn_gemm_set_choice (the
 * engine installs the one measured on this machine, engine/en_machine.h),
 * and before any is installed the AVX-512 kernel where compiled in. Within a
 * process the choice is fixed, so every call of one shape takes one path and
 * both paths give the same bits at any thread count. The convolutions keep
 * the engine's packed kernels (implicit GEMM, Winograd) under any measured
 * choice, as they are not measured yet; only CLIPBOOK_GEMM=blas sends them
 * to im2col + cblas_sgemm. OpenBLAS's own kernel follows OPENBLAS_CORETYPE.
 * Direct cblas callers (en_logreg) are not switched. The thread count is
 * OpenMP's (OMP_NUM_THREADS, kn_set_num_threads); while any class runs
 * OpenBLAS, OpenBLAS itself runs on one thread (see blas_sgemm).
 *
 * Blocking: KC = 192 everywhere (it fixes the order of the K sums, hence the
 * bits of every result); MC and NC, which only partition C, are sized from
 * the L2 that cpuid reports (kn_cpuid.h): MC x KC takes 3/16 of it, KC x NC
 * 27/64, which is 256 and 576 on a 1 MiB L2.
 * Packing buffers are per thread, kept between calls (no per-call malloc).
 */
#ifndef KN_GEMM_H
#define KN_GEMM_H

/* The engine's packed kernel is compiled in with AVX-512 (an 8x48 tile in
 * zmm registers) or with AVX2 + FMA (the same tile in ymm halves): both do
 * each element's FMAs in the same k order from zero, so both give the same
 * bits. Without either, every product is cblas_sgemm. */
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#define KN_GEMM_NATIVE 1
#else
#define KN_GEMM_NATIVE 0
#endif

#include <stddef.h>

void kn_sgemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);

/* 1 when the convolutions may use the packed entry points below: the
 * AVX-512 kernel is compiled in and no path is forced to blas (a measured
 * choice leaves them on it). Callers of the packed entry points ask this
 * first. */
int kn_sgemm_is_native(void);

typedef enum { KN_GEMM_AUTO, KN_GEMM_ENGINE, KN_GEMM_BLAS } kn_gemm_path;
/* "auto" | "engine" | "blas" -> *out; 0 if s is none of them. */
int kn_gemm_path_parse(const char *s, kn_gemm_path *out);
/* Overrides CLIPBOOK_GEMM for the rest of the process (tests). Not to be
 * called while another thread runs a GEMM. */
void kn_gemm_set_path(kn_gemm_path p);
/* The path every kn_sgemm takes now: KN_GEMM_ENGINE or KN_GEMM_BLAS, or
 * KN_GEMM_AUTO when the classes take different paths (kn_gemm_path_for). */
kn_gemm_path kn_gemm_active(void);
/* "engine (AVX-512)", "blas (cblas_sgemm)", or per class: "small=engine
 * skinny=blas large=engine". Static storage, valid until the next set. */
const char *kn_gemm_active_name(void);
/* What CLIPBOOK_GEMM forces: KN_GEMM_ENGINE, KN_GEMM_BLAS, or KN_GEMM_AUTO
 * when it is unset or "auto" (then a measured choice may be installed). */
kn_gemm_path kn_gemm_forced(void);
/* 1 when some class runs OpenBLAS (which then runs on one thread). */
int kn_gemm_uses_blas(void);

/* ---- shape classes and the measured choice --------------------------------
 * small:  M*N*K <= 4e6, which both paths run on one thread (heads of the mini
 *         towers, attention of one head);
 * skinny: min(M, N) < 128 (few-shot heads' 100 classes, projections of a
 *         small batch);
 * large:  the rest (ViT-B/32 layers, RN50's im2col GEMMs, their gradients). */
typedef enum { KN_GC_SMALL, KN_GC_SKINNY, KN_GC_LARGE, KN_GC_COUNT } kn_gemm_class;
kn_gemm_class kn_gemm_class_of(int M, int N, int K);
const char *kn_gemm_class_name(kn_gemm_class c);
/* The path a kn_sgemm of this shape takes now (ENGINE or BLAS). */
kn_gemm_path kn_gemm_path_for(int M, int N, int K);

typedef struct {
    kn_gemm_path path[KN_GC_COUNT];             /* ENGINE or BLAS */
    double engine_ms[KN_GC_COUNT], blas_ms[KN_GC_COUNT]; /* medians; 0: not timed */
    int blas_rows_differ[KN_GC_COUNT]; /* 1: blas was faster, but a row's bits changed with the
                                          rows in the call, so the class keeps the engine */
} kn_gemm_choice;
/* Times both paths on representative shapes of each class (ViT-B/32 and RN50
 * layers, few-shot heads, mini-tower products) at the current thread count:
 * a warm-up and 5-15 repeats, the two paths alternating inside each, ~0.3 s
 * in all on 2 cores. A class takes blas only when the median of the
 * per-repeat time ratios says it is at least 3 % faster (a tie keeps the
 * engine's kernel, whose bits do not depend on the OpenBLAS build) and its
 * rows keep their bits whatever the number of rows in a call, as the
 * engine's do (OpenBLAS's small-matrix kernels break that). Without
 * the AVX-512 kernel every class is blas and nothing is timed. */
void kn_gemm_calibrate(kn_gemm_choice *out);
/* Installs a per-class choice for "auto" (ignored while CLIPBOOK_GEMM forces
 * a path or kn_gemm_set_path does; ENGINE without the kernel reads as BLAS).
 * Not to be called while another thread runs a GEMM. */
void kn_gemm_set_choice(const kn_gemm_choice *c);
/* "engine:small engine:skinny blas:large"-style words -> c (paths only);
 * 0 when s is not exactly KN_GC_COUNT of them in class order. */
int kn_gemm_choice_parse(const char *s, kn_gemm_choice *c);
/* The paths of c as kn_gemm_choice_parse reads them, into buf (n bytes). */
void kn_gemm_choice_format(const kn_gemm_choice *c, char *buf, size_t n);
/* The paths in force now, per class (times 0). */
void kn_gemm_current(kn_gemm_choice *c);
/* OpenBLAS's kernel family ("Haswell", "SkylakeX"; OPENBLAS_CORETYPE). */
const char *kn_blas_corename(void);
/* MC, NC as sized from cpuid's L2 (for the machine file and the tests). */
void kn_gemm_blocking(int *mc, int *kc, int *nc);

/* The same GEMM (ta as above) with op(B) (K,N) never stored: packb writes
 * rows [p0, p0+kc) x columns [j0, j0+nc) of it into Bp as micro-panels of
 * KN_GEMM_NR columns, Bp[panel][k][KN_GEMM_NR], zero past nc. A convolution
 * packs straight from its input image this way (no im2col matrix). Native
 * build only (asserted). */
#define KN_GEMM_NR 48
typedef void (*kn_packb_fn)(float *Bp, const void *ctx, int p0, int kc, int j0, int nc);
void kn_sgemm_packed_b(int ta, int M, int N, int K, float alpha, const float *A, int lda,
                       kn_packb_fn packb, const void *bctx, float beta, float *C, int ldc);

/* A packed once for many GEMMs with the same left operand (Winograd's
 * transformed weights, used by every chunk of tiles): kn_sgemm_pack_a writes
 * op(A) (M,K) times alpha into Ap (kn_sgemm_packed_a_floats(M, K) floats);
 * kn_sgemm_prepacked_a then runs C = Ap * B + beta C, B (K,N) stored as is,
 * without repacking A (which costs as much as the FLOPs when N is ~100). */
size_t kn_sgemm_packed_a_floats(int M, int K);
void kn_sgemm_pack_a(float *Ap, int ta, int M, int K, float alpha, const float *A, int lda);
void kn_sgemm_prepacked_a(int M, int N, int K, const float *Ap, const float *B, int ldb,
                          float beta, float *C, int ldc);

#endif
