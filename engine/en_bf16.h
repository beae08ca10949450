/* en_bf16 — BF16 inference: a scope in which en_linear runs its GEMM in
 * bfloat16 (kernels/cpu/kn_bf16.h) on weights converted once.
 *
 *   if (en_bf16_begin(params, n) ...)   params: the model's flat parameter
 *   ... inference (no tape) ...         buffer, n floats (en_params_data)
 *   en_bf16_end();                      frees the converted weights
 *
 * Inside the scope, an en_linear with the tape off whose weight (stored
 * (out, in), en_linear's layout) lies inside [params, params + n) multiplies
 * by that weight packed to bf16 at its first use and kept until the scope
 * ends; every other product (activations times activations, weights outside
 * the buffer, convolutions, anything with the tape on) stays float32. Only
 * parameters qualify because they cannot change or move during inference;
 * a pointer-keyed cache of arbitrary tensors could return a stale weight.
 *
 * One scope at a time per process (en_clip_encode_images_precision and
 * en_clip_encode_text_precision open it for precision "bf16"). Without
 * AVX512_BF16, begin returns 0 with the reason in en_bf16_unavailable()
 * and nothing changes. */
#ifndef EN_BF16_H
#define EN_BF16_H

#include <stdint.h>

/* 1 when the scope is open (bf16 runs), 0 when the CPU has no AVX512_BF16. */
int  en_bf16_begin(const float *params, int64_t n);
void en_bf16_end(void);
/* Why bf16 cannot run here ("no AVX512_BF16 on this CPU"); "" when it can. */
const char *en_bf16_unavailable(void);

/* For en_linear: the packed weight for W (N, K), leading dimension ldw, or
 * NULL when no scope is open or W is not a parameter of it. */
const uint16_t *en_bf16_weight(const float *W, int ldw, int N, int K);
/* C (M, N) = A (M, K) · W^T (+ C when beta is 1) with a packed weight. */
void en_bf16_linear(int M, int N, int K, const float *A, const uint16_t *Wp, float beta, float *C);

#endif
