/* kn_attn — the per-(batch, head) products of attention, as one thread's
 * small GEMMs: C (M,N) = alpha * op(A) * B + beta * C with B row-major (K,N)
 * and N <= KN_ATT_MAXN (a head of 64, or T <= 80 keys).
 *
 * Why: kn_sgemm's 8x48 micro-kernel pads N = 64 or 65 to 96 columns (a
 * third of its work wasted) and packs both operands per call; at T = 65,
 * hs = 64 attention ran at half the rate of the model's linear layers
 * (engine/NOTES.md, "training step"). Here 4 rows of C are held in up to 20
 * zmm accumulators (16 columns each, the last one masked), B rows are read
 * in place: no packing, no padding beyond 16 columns.
 *
 * ta = 1: A is stored (K, M), row stride lda. beta = 0 overwrites C.
 * Returns 0 when done, -1 when this shape or machine is not covered (no
 * AVX-512, or N > KN_ATT_MAXN): the caller falls back to a general GEMM.
 * Sums run over k in order: the same bits on every run.
 */
#ifndef KN_ATTN_H
#define KN_ATTN_H

#define KN_ATT_MAXN 80

/* 1 when kn_att_gemm handles N columns on this build. */
int kn_att_covers(int N);
int kn_att_gemm(int ta, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                int ldb, float beta, float *C, int ldc);

/* dst (cols, rows) = src (rows, cols)ᵀ, src rows lds apart, dst contiguous. */
void kn_att_transpose(float *dst, const float *src, int rows, int cols, int lds);

#endif
