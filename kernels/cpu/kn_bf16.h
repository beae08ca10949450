/* kn_bf16 — BF16 inference GEMM: C (M,N) = A (M,K) · W^T, W (N,K) the weight
 * (en_linear's layout), A and W rounded to bfloat16 (round to nearest even),
 * products summed in float32.
 *
 * Why: a CPU with AVX512_BF16 (Zen 4/5, Cooper Lake, Sapphire Rapids) does
 * 32 bf16 multiply-adds per instruction (vdpbf16ps) where float32 FMA does
 * 16, and the weights take half the memory. Inference only (embed-images,
 * embed-texts, frozen features), opt-in: results differ from float32 by the
 * inputs' rounding, |a b - bf(a) bf(b)| <= (2u + u^2)|a b|, u = 2^-8
 * (bfloat16 keeps 8 significant bits).
 *
 * Dispatch is at run time, by cpuid (kn_cpuid.h), never by compile flags:
 * the kernel is compiled with a target attribute and runs only where
 * kn_bf16_available() says so. AMX tiles (Sapphire Rapids) are not used
 * yet: such CPUs also have AVX512_BF16 and take this kernel.
 *
 * Usage: pack the weight once (kn_bf16_pack_w, kn_bf16_packed_size
 * uint16s), then kn_bf16_gemm per batch. Threads: OpenMP over column panels
 * outside a parallel region, the calling thread inside one; every value is
 * one fixed-order sum, the same at any thread count. */
#ifndef KN_BF16_H
#define KN_BF16_H

#include <stddef.h>
#include <stdint.h>

/* 1 when the CPU (and OS) run vdpbf16ps: the kernel below may be called. */
int kn_bf16_available(void);
/* Why not, for a message ("no AVX512_BF16 on this CPU"); "" when available. */
const char *kn_bf16_unavailable_reason(void);

/* float -> bfloat16 bits, round to nearest even (NaN stays NaN). */
uint16_t kn_bf16_from_f32(float x);
float    kn_bf16_to_f32(uint16_t b);

/* uint16s of a packed (N, K) weight */
size_t kn_bf16_packed_size(int N, int K);
/* W (N,K) row-major, leading dimension ldw -> Wp (panels of 16 rows of W,
 * K in pairs: Wp[panel][k/2][16][2], zero past N and K). */
void kn_bf16_pack_w(uint16_t *Wp, const float *W, int ldw, int N, int K);
/* C (M,N) = A (M,K, leading dimension lda) · W^T (+ C when beta is 1; beta
 * 0 overwrites). Needs kn_bf16_available() (asserted). */
void kn_bf16_gemm(int M, int N, int K, const float *A, int lda, const uint16_t *Wp, float beta,
                  float *C, int ldc);

#endif
