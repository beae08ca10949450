/* kn_gemm — packed GEMM with an AVX-512 8x48 micro-kernel. See kn_gemm.h. */
#include "kn_gemm.h"

#include <cblas.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kn_assert.h"
#include "kn_cpuid.h"

/* ---- which GEMM runs (CLIPBOOK_GEMM, then the per-class choice) ----------
 * CLIPBOOK_GEMM is read once, at the first GEMM. The per-class paths change
 * only through kn_gemm_set_path / kn_gemm_set_choice (at start-up: the
 * engine installs the machine's measured choice before it computes), so
 * every call of a process with the same shape class takes the same path (a
 * path switch mid-run would change results between two calls). */
#define HAVE_NATIVE KN_GEMM_NATIVE

static kn_gemm_path env_path = KN_GEMM_AUTO;   /* what CLIPBOOK_GEMM says */
static kn_gemm_path set_path = KN_GEMM_AUTO;   /* kn_gemm_set_path; AUTO: none */
static kn_gemm_path class_path[KN_GC_COUNT];   /* resolved: ENGINE or BLAS */
static kn_gemm_choice auto_choice;             /* what "auto" takes */
static pthread_once_t gemm_once = PTHREAD_ONCE_INIT;
static int blas_one;                           /* OpenBLAS set to one thread here */

void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

/* class_path from the forced path or auto_choice; OpenBLAS on one thread
 * whenever a class runs it (see blas_sgemm). */
static void resolve(void) {
    kn_gemm_path f = set_path != KN_GEMM_AUTO ? set_path : env_path;
    int blas = 0;
    for (int c = 0; c < KN_GC_COUNT; c++) {
        kn_gemm_path p = f != KN_GEMM_AUTO ? f : auto_choice.path[c];
        class_path[c] = HAVE_NATIVE && p == KN_GEMM_ENGINE ? KN_GEMM_ENGINE : KN_GEMM_BLAS;
        blas |= class_path[c] == KN_GEMM_BLAS;
    }
    /* back to OpenMP's count when no class needs OpenBLAS serial any more
     * (for en_logreg's direct cblas calls, as kn_set_num_threads sets it) */
    if (blas) openblas_set_num_threads(1);
    else if (blas_one) openblas_set_num_threads(omp_get_max_threads());
    blas_one = blas;
}



static void gemm_path_init(void) {
    const char *e = getenv("CLIPBOOK_GEMM");
    kn_gemm_path p = KN_GEMM_AUTO;
    if (e && *e && !kn_gemm_path_parse(e, &p))
        fprintf(stderr, "clipbook: CLIPBOOK_GEMM=%s is not auto, engine or blas; using auto\n", e);
    if (p == KN_GEMM_ENGINE && !HAVE_NATIVE)
        fprintf(stderr, "clipbook: CLIPBOOK_GEMM=engine needs an AVX-512 or AVX2 build; using blas\n");
    env_path = p;
    for (int c = 0; c < KN_GC_COUNT; c++) auto_choice.path[c] = KN_GEMM_ENGINE; /* until one is set */
    resolve();
}

int kn_gemm_path_parse(const char *s, kn_gemm_path *out) {
    static const char *names[] = {"auto", "engine", "blas"};
    for (int i = 0; i < 3; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (kn_gemm_path)i;
            return 1;
        }
    return 0;
}

void kn_gemm_set_path(kn_gemm_path p) {
    pthread_once(&gemm_once, gemm_path_init);
    set_path = p;
    resolve();
}

void kn_gemm_set_choice(const kn_gemm_choice *c) {
    pthread_once(&gemm_once, gemm_path_init);
    auto_choice = *c;
    resolve();
}

void kn_gemm_current(kn_gemm_choice *c) {
    pthread_once(&gemm_once, gemm_path_init);
    memset(c, 0, sizeof *c);
    memcpy(c->path, class_path, sizeof c->path);
}

const char *kn_blas_corename(void) {
    const char *n = openblas_get_corename();
    return n && *n ? n : "?";
}

int kn_gemm_uses_blas(void) {
    pthread_once(&gemm_once, gemm_path_init);
    return blas_one;
}

kn_gemm_path kn_gemm_forced(void) {
    pthread_once(&gemm_once, gemm_path_init);
    return env_path;
}

kn_gemm_class kn_gemm_class_of(int M, int N, int K) {
    if ((double)M * N * K <= 4e6) return KN_GC_SMALL;
    return (M < N ? M : N) < 128 ? KN_GC_SKINNY : KN_GC_LARGE;
}

const char *kn_gemm_class_name(kn_gemm_class c) {
    static const char *names[KN_GC_COUNT] = {"small", "skinny", "large"};
    return c >= 0 && c < KN_GC_COUNT ? names[c] : "?";
}

kn_gemm_path kn_gemm_path_for(int M, int N, int K) {
    pthread_once(&gemm_once, gemm_path_init);
    return class_path[kn_gemm_class_of(M, N, K)];
}

/* ENGINE or BLAS when every class agrees, else AUTO. */
kn_gemm_path kn_gemm_active(void) {
    pthread_once(&gemm_once, gemm_path_init);
    for (int c = 1; c < KN_GC_COUNT; c++)
        if (class_path[c] != class_path[0]) return KN_GEMM_AUTO;
    return class_path[0];
}

void kn_gemm_choice_format(const kn_gemm_choice *c, char *buf, size_t n) {
    size_t at = 0;
    if (n) buf[0] = 0;
    for (int k = 0; k < KN_GC_COUNT && at < n; k++)
        at += (size_t)snprintf(buf + at, n - at, "%s%s=%s", k ? " " : "", kn_gemm_class_name((kn_gemm_class)k),
                               c->path[k] == KN_GEMM_BLAS ? "blas" : "engine");
}

int kn_gemm_choice_parse(const char *s, kn_gemm_choice *c) {
    kn_gemm_choice r;
    memset(&r, 0, sizeof r);
    for (int k = 0; k < KN_GC_COUNT; k++) {
        const char *name = kn_gemm_class_name((kn_gemm_class)k);
        size_t l = strlen(name);
        while (*s == ' ') s++;
        if (strncmp(s, name, l) != 0 || s[l] != '=') return 0;
        s += l + 1;
        if (strncmp(s, "engine", 6) == 0) { r.path[k] = KN_GEMM_ENGINE; s += 6; }
        else if (strncmp(s, "blas", 4) == 0) { r.path[k] = KN_GEMM_BLAS; s += 4; }
        else return 0;
        if (*s != ' ' && *s != '\n' && *s != 0) return 0;
    }
    while (*s == ' ' || *s == '\n') s++;
    if (*s) return 0;
    *c = r;
    return 1;
}

const char *kn_gemm_active_name(void) {
    static char buf[96];
    kn_gemm_path a = kn_gemm_active();
    if (a == KN_GEMM_ENGINE) return "engine (AVX-512)";
    if (a == KN_GEMM_BLAS) return "blas (cblas_sgemm)";
    kn_gemm_choice c;
    memcpy(c.path, class_path, sizeof c.path);
    kn_gemm_choice_format(&c, buf, sizeof buf);
    return buf;
}

/* The OpenBLAS path, with the engine kernel's guarantee: the same bits at
 * any thread count. OpenBLAS itself does not give it (with 2 threads it
 * splits some shapes differently: a 70x33 weight gradient over 1024 rows
 * differs in 1110 of 2310 values between 1 and 2 threads with its Haswell
 * kernels). So OpenBLAS runs on one thread (set when this path is chosen;
 * kn_set_num_threads keeps it so), and a large product is cut into fixed
 * tiles of C, BLAS_BM x BLAS_BN, each one cblas_sgemm over the whole K,
 * that OpenMP threads share: every value is computed by the same call
 * whatever the thread count, and inside a parallel region the tiles run on
 * the calling thread, as the engine kernel does. */
#define BLAS_BM 256
#define BLAS_BN 512
static void blas_sgemm(int ta, int tb, int M, int N, int K, float alpha, const float *A,
                       int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    CBLAS_TRANSPOSE TA = ta ? CblasTrans : CblasNoTrans, TB = tb ? CblasTrans : CblasNoTrans;
    int nI = (M + BLAS_BM - 1) / BLAS_BM, nJ = (N + BLAS_BN - 1) / BLAS_BN, items = nI * nJ;
    if (items == 1 || (double)M * N * K <= 4e6) { /* by shape only, never by thread count */
        cblas_sgemm(CblasRowMajor, TA, TB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    int par = !omp_in_parallel() && omp_get_max_threads() > 1;
#pragma omp parallel for schedule(dynamic, 1) if (par)
    for (int it = 0; it < items; it++) {
        int i0 = (it % nI) * BLAS_BM, j0 = (it / nI) * BLAS_BN;
        int mb = M - i0 < BLAS_BM ? M - i0 : BLAS_BM, nb = N - j0 < BLAS_BN ? N - j0 : BLAS_BN;
        const float *a = ta ? A + i0 : A + (size_t)i0 * lda;
        const float *b = tb ? B + (size_t)j0 * ldb : B + j0;
        cblas_sgemm(CblasRowMajor, TA, TB, mb, nb, K, alpha, a, lda, b, ldb, beta,
                    C + (size_t)i0 * ldc + j0, ldc);
    }
}

#if KN_GEMM_NATIVE
#include <immintrin.h>

#define MR 8
#define NR KN_GEMM_NR
#define KC 192  /* a B micro-panel, KC x NR floats = 36 KiB, stays in L1 (48 KiB) */
/* MC (an A block, MC x KC, 192 KiB in a 1 MiB L2) and NC (a B block, KC x
 * NC, 432 KiB) from cpuid's L2, fixed at the first GEMM of the process
 * (kn_sgemm_pack_a's layout depends on MC). */
static int mc_blk = 256, nc_blk = 576;
static pthread_once_t blk_once = PTHREAD_ONCE_INIT;
static void blocking_init(void) {
    long l2 = kn_cpu_info_get()->l2;
    if (l2 < 256 * 1024) l2 = 1024 * 1024; /* not reported (or absurd): the 1 MiB values */
    if (l2 > 8L * 1024 * 1024) l2 = 8L * 1024 * 1024;
    int mc = (int)(l2 * 3 / 16 / (KC * 4)) / MR * MR, nc = (int)(l2 * 27 / 64 / (KC * 4)) / NR * NR;
    mc_blk = mc < 64 ? 64 : mc;
    nc_blk = nc < 2 * NR ? 2 * NR : nc;
}
#define MC mc_blk
#define NC nc_blk
#define BLOCKING() pthread_once(&blk_once, blocking_init)
#define MAX_THREADS 256

/* Packing buffers per OpenMP thread number, grown on demand and kept: a
 * GEMM allocates nothing once warm. Reachable from this array, not leaked. */
static float *pack_buf[MAX_THREADS];
static size_t pack_cap[MAX_THREADS];

static float *pack_space(size_t floats) {
    int t = omp_get_thread_num();
    KN_ASSERT(t < MAX_THREADS);
    if (pack_cap[t] < floats) {
        free(pack_buf[t]);
        pack_buf[t] = aligned_alloc(64, ((floats * sizeof(float) + 63) / 64) * 64);
        KN_ASSERT(pack_buf[t] != NULL);
        pack_cap[t] = floats;
    }
    return pack_buf[t];
}

/* A block rows [i0, i0+mc) x cols [p0, p0+kc) of op(A), times alpha, into
 * micro-panels of MR rows: Ap[panel][k][MR], zero past mc. */
static void pack_a(float *Ap, int ta, const float *A, int lda, int i0, int mc, int p0, int kc,
                   float alpha) {
    for (int ip = 0; ip < mc; ip += MR) {
        int mr = mc - ip < MR ? mc - ip : MR;
        float *dst = Ap + (size_t)ip * kc;
        if (!ta) {
            for (int ii = 0; ii < mr; ii++) {
                const float *src = A + (size_t)(i0 + ip + ii) * lda + p0;
                for (int k = 0; k < kc; k++) dst[k * MR + ii] = alpha * src[k];
            }
        } else {
            for (int k = 0; k < kc; k++) {
                const float *src = A + (size_t)(p0 + k) * lda + i0 + ip;
                for (int ii = 0; ii < mr; ii++) dst[k * MR + ii] = alpha * src[ii];
            }
        }
        for (int ii = mr; ii < MR; ii++)
            for (int k = 0; k < kc; k++) dst[k * MR + ii] = 0.0f;
    }
}

/* B block rows [p0, p0+kc) x cols [j0, j0+nc) of op(B) into micro-panels of
 * NR columns: Bp[panel][k][NR], zero past nc. */
static void pack_b(float *Bp, int tb, const float *B, int ldb, int p0, int kc, int j0, int nc) {
    for (int jp = 0; jp < nc; jp += NR) {
        int nr = nc - jp < NR ? nc - jp : NR;
        float *dst = Bp + (size_t)jp * kc;
        if (!tb) {
            for (int k = 0; k < kc; k++) {
                const float *src = B + (size_t)(p0 + k) * ldb + j0 + jp;
                float *d = dst + (size_t)k * NR;
                memcpy(d, src, sizeof(float) * nr);
                for (int jj = nr; jj < NR; jj++) d[jj] = 0.0f;
            }
        } else {
            for (int jj = 0; jj < nr; jj++) {
                const float *src = B + (size_t)(j0 + jp + jj) * ldb + p0;
                for (int k = 0; k < kc; k++) dst[(size_t)k * NR + jj] = src[k];
            }
            for (int jj = nr; jj < NR; jj++)
                for (int k = 0; k < kc; k++) dst[(size_t)k * NR + jj] = 0.0f;
        }
    }
}

#ifdef __AVX512F__
static inline __mmask16 cols_mask(int nr, int v) {
    int n = nr - 16 * v;
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* C[0:mr, 0:nr] += A (MR x kc) · Bp (kc x NR) over NV of the panel's three
 * 16-column vectors (nr <= 16 * NV): a narrow tail panel (N = 64 leaves 16
 * columns) does not multiply the panel's zero padding. A's element (i, k) is
 * read at a[i * rs + k * ks]: a packed panel (rs = 1, ks = MR), or A itself
 * when no packing is needed (rows: rs = lda, ks = 1; op(A) = Aᵀ: rs = 1,
 * ks = lda). Every variant does the same FMAs in the same k order, so C's
 * bits do not depend on which one ran. The tile lives in 3 * NV registers
 * for the whole k loop. */
static inline __attribute__((always_inline)) void
micro_8xn(const int NV, int kc, const float *restrict a, long rs, long ks, const float *restrict b,
          float *restrict c, int ldc, int mr, int nr) {
#define ROW(i) __m512 c##i##0 = _mm512_setzero_ps(), c##i##1 = c##i##0, c##i##2 = c##i##0;
    ROW(0) ROW(1) ROW(2) ROW(3) ROW(4) ROW(5) ROW(6) ROW(7)
#undef ROW
    const float *a0 = a, *a1 = a + rs, *a2 = a + 2 * rs, *a3 = a + 3 * rs, *a4 = a + 4 * rs,
                *a5 = a + 5 * rs, *a6 = a + 6 * rs, *a7 = a + 7 * rs;
    for (int k = 0; k < kc; k++) {
        __m512 b0 = _mm512_load_ps(b), b1 = b0, b2 = b0;
        if (NV > 1) b1 = _mm512_load_ps(b + 16);
        if (NV > 2) b2 = _mm512_load_ps(b + 32);
#define FMA(i)                                                                 \
    {                                                                          \
        __m512 ai = _mm512_set1_ps(a##i[(long)k * ks]);                        \
        c##i##0 = _mm512_fmadd_ps(ai, b0, c##i##0);                            \
        if (NV > 1) c##i##1 = _mm512_fmadd_ps(ai, b1, c##i##1);                \
        if (NV > 2) c##i##2 = _mm512_fmadd_ps(ai, b2, c##i##2);                \
    }
        FMA(0) FMA(1) FMA(2) FMA(3) FMA(4) FMA(5) FMA(6) FMA(7)
#undef FMA
        b += NR;
    }
    if (mr == MR && nr == 16 * NV) {
#define STORE(i)                                                               \
    {                                                                          \
        float *r = c + (size_t)(i) * ldc;                                      \
        _mm512_storeu_ps(r, _mm512_add_ps(_mm512_loadu_ps(r), c##i##0));       \
        if (NV > 1) _mm512_storeu_ps(r + 16, _mm512_add_ps(_mm512_loadu_ps(r + 16), c##i##1)); \
        if (NV > 2) _mm512_storeu_ps(r + 32, _mm512_add_ps(_mm512_loadu_ps(r + 32), c##i##2)); \
    }
        STORE(0) STORE(1) STORE(2) STORE(3) STORE(4) STORE(5) STORE(6) STORE(7)
#undef STORE
        return;
    }
    __mmask16 m0 = cols_mask(nr, 0), m1 = cols_mask(nr, 1), m2 = cols_mask(nr, 2);
#define STOREM(i)                                                              \
    if ((i) < mr) {                                                            \
        float *r = c + (size_t)(i) * ldc;                                      \
        _mm512_mask_storeu_ps(r, m0, _mm512_add_ps(_mm512_maskz_loadu_ps(m0, r), c##i##0)); \
        if (NV > 1)                                                            \
            _mm512_mask_storeu_ps(r + 16, m1,                                  \
                                  _mm512_add_ps(_mm512_maskz_loadu_ps(m1, r + 16), c##i##1)); \
        if (NV > 2)                                                            \
            _mm512_mask_storeu_ps(r + 32, m2,                                  \
                                  _mm512_add_ps(_mm512_maskz_loadu_ps(m2, r + 32), c##i##2)); \
    }
    STOREM(0) STOREM(1) STOREM(2) STOREM(3) STOREM(4) STOREM(5) STOREM(6) STOREM(7)
#undef STOREM
}

#else
/* AVX2 + FMA: the 8 x 16NV tile in passes of 4 rows by G <= 3 ymm vectors
 * (24 columns: 12 accumulators, 3 loads of B and 4 broadcasts of A per 12
 * FMAs), each pass over the whole k range. Each element still gets its
 * FMAs from zero in k order, then one add into C: the AVX-512 kernel's
 * bits. Partial tiles store through a buffer (rows < mr, columns < nr). */
static inline __attribute__((always_inline)) void
pass_4xg(const int G, int kc, const float *restrict a, long rs, long ks, const float *restrict b,
         float *restrict c, int ldc, int rows, int cols) {
    const float *a0 = a, *a1 = a + rs, *a2 = a + 2 * rs, *a3 = a + 3 * rs;
    __m256 z = _mm256_setzero_ps();
    __m256 c00 = z, c01 = z, c02 = z, c10 = z, c11 = z, c12 = z;
    __m256 c20 = z, c21 = z, c22 = z, c30 = z, c31 = z, c32 = z;
    for (int k = 0; k < kc; k++) {
        const float *bk = b + (size_t)k * NR;
        __m256 b0 = _mm256_load_ps(bk), b1 = b0, b2 = b0, x;
        if (G > 1) b1 = _mm256_load_ps(bk + 8);
        if (G > 2) b2 = _mm256_load_ps(bk + 16);
        long o = (long)k * ks;
#define FMA4(i)                                                                 \
    x = _mm256_broadcast_ss(a##i + o);                                          \
    c##i##0 = _mm256_fmadd_ps(x, b0, c##i##0);                                  \
    if (G > 1) c##i##1 = _mm256_fmadd_ps(x, b1, c##i##1);                       \
    if (G > 2) c##i##2 = _mm256_fmadd_ps(x, b2, c##i##2);
        FMA4(0) FMA4(1) FMA4(2) FMA4(3)
#undef FMA4
    }
    if (rows == 4 && cols == 8 * G) {
#define STORE4(i)                                                               \
    {                                                                           \
        float *r = c + (size_t)(i) * ldc;                                       \
        _mm256_storeu_ps(r, _mm256_add_ps(_mm256_loadu_ps(r), c##i##0));        \
        if (G > 1) _mm256_storeu_ps(r + 8, _mm256_add_ps(_mm256_loadu_ps(r + 8), c##i##1));    \
        if (G > 2) _mm256_storeu_ps(r + 16, _mm256_add_ps(_mm256_loadu_ps(r + 16), c##i##2)); \
    }
        STORE4(0) STORE4(1) STORE4(2) STORE4(3)
#undef STORE4
        return;
    }
    float t[4][24];
    _mm256_storeu_ps(t[0], c00); _mm256_storeu_ps(t[0] + 8, c01); _mm256_storeu_ps(t[0] + 16, c02);
    _mm256_storeu_ps(t[1], c10); _mm256_storeu_ps(t[1] + 8, c11); _mm256_storeu_ps(t[1] + 16, c12);
    _mm256_storeu_ps(t[2], c20); _mm256_storeu_ps(t[2] + 8, c21); _mm256_storeu_ps(t[2] + 16, c22);
    _mm256_storeu_ps(t[3], c30); _mm256_storeu_ps(t[3] + 8, c31); _mm256_storeu_ps(t[3] + 16, c32);
    for (int i = 0; i < rows; i++) {
        float *r = c + (size_t)i * ldc;
        for (int j = 0; j < cols; j++) r[j] = r[j] + t[i][j];
    }
}

static inline __attribute__((always_inline)) void
micro_8xn(const int NV, int kc, const float *restrict a, long rs, long ks, const float *restrict b,
          float *restrict c, int ldc, int mr, int nr) {
    for (int h = 0; h < 2 && 4 * h < mr; h++) {
        const float *ah = a + (long)(4 * h) * rs;
        float *ch = c + (size_t)(4 * h) * ldc;
        int rows = mr - 4 * h < 4 ? mr - 4 * h : 4;
        /* column groups of 24, 24 (NV = 3); 24, 8 (NV = 2); 16 (NV = 1) */
        for (int j0 = 0; j0 < 16 * NV && j0 < nr; j0 += 24) {
            int w = 16 * NV - j0 < 24 ? 16 * NV - j0 : 24, cols = nr - j0 < w ? nr - j0 : w;
            if (w == 24) pass_4xg(3, kc, ah, rs, ks, b + j0, ch + j0, ldc, rows, cols);
            else if (w == 16) pass_4xg(2, kc, ah, rs, ks, b + j0, ch + j0, ldc, rows, cols);
            else pass_4xg(1, kc, ah, rs, ks, b + j0, ch + j0, ldc, rows, cols);
        }
    }
}
#endif

/* The variants, one instantiation each: packed A, and A read in place by
 * rows (ks = 1) or by columns (rs = 1). */
#define MICRO_VARIANTS(NV)                                                              \
    static void micro_p##NV(int kc, const float *a, const float *b, float *c, int ldc, int mr, int nr) { \
        micro_8xn(NV, kc, a, 1, MR, b, c, ldc, mr, nr);                                  \
    }                                                                                   \
    static void micro_r##NV(int kc, const float *a, long lda, const float *b, float *c, int ldc, int mr, \
                            int nr) {                                                   \
        micro_8xn(NV, kc, a, lda, 1, b, c, ldc, mr, nr);                                 \
    }                                                                                   \
    static void micro_c##NV(int kc, const float *a, long lda, const float *b, float *c, int ldc, int mr, \
                            int nr) {                                                   \
        micro_8xn(NV, kc, a, 1, lda, b, c, ldc, mr, nr);                                 \
    }
MICRO_VARIANTS(1)
MICRO_VARIANTS(2)
MICRO_VARIANTS(3)
#undef MICRO_VARIANTS

/* One micro-tile, the narrowest variant that covers nr columns; A packed
 * (direct = 0) or read in place from op(A)'s block at a (direct: ta says
 * how, lda its stride). */
static inline void micro(int direct, int ta, int kc, const float *a, long lda, const float *b, float *c,
                         int ldc, int mr, int nr) {
    int nv = (nr + 15) / 16;
    if (!direct) {
        if (nv == 3) micro_p3(kc, a, b, c, ldc, mr, nr);
        else if (nv == 2) micro_p2(kc, a, b, c, ldc, mr, nr);
        else micro_p1(kc, a, b, c, ldc, mr, nr);
    } else if (!ta) {
        if (nv == 3) micro_r3(kc, a, lda, b, c, ldc, mr, nr);
        else if (nv == 2) micro_r2(kc, a, lda, b, c, ldc, mr, nr);
        else micro_r1(kc, a, lda, b, c, ldc, mr, nr);
    } else {
        if (nv == 3) micro_c3(kc, a, lda, b, c, ldc, mr, nr);
        else if (nv == 2) micro_c2(kc, a, lda, b, c, ldc, mr, nr);
        else micro_c1(kc, a, lda, b, c, ldc, mr, nr);
    }
}

typedef struct { int tb; const float *B; int ldb; } dense_b;

static void pack_dense_b(float *Bp, const void *ctx, int p0, int kc, int j0, int nc) {
    const dense_b *d = ctx;
    pack_b(Bp, d->tb, d->B, d->ldb, p0, kc, j0, nc);
}

/* Pre-packed A (kn_sgemm_pack_a): the (MC x KC) blocks in the order the
 * GEMM visits them, row blocks outer; block (i0, p0) starts at i0*K +
 * round_up(mc, MR)*p0 (every earlier row block is a full MC x K). */
static size_t prepacked_off(int i0, int mc, int p0, int K) {
    return (size_t)i0 * K + (size_t)((mc + MR - 1) / MR * MR) * p0;
}

/* One output tile: rows [i0, i0+mc), cols [j0, j0+nc), all of K. With
 * alpha = 1 and no pre-packed A, the micro-kernel reads A where it lies
 * (alpha * a = a, so the bits are those of the packed path) and only a
 * last panel of fewer than MR rows is packed: packing every panel cost a
 * quarter of the arithmetic when N is narrow (tokens x 64 products). */
static void gemm_tile(int ta, int K, float alpha, const float *A, int lda, const float *Apre,
                      kn_packb_fn packb, const void *bctx, float *C, int ldc, int i0, int mc,
                      int j0, int nc) {
    float *Ap = pack_space((size_t)MC * KC + (size_t)KC * NC);
    float *Bp = Ap + (size_t)MC * KC;
    int direct = !Apre && alpha == 1.0f, full = direct ? mc / MR * MR : 0;
    for (int p0 = 0; p0 < K; p0 += KC) {
        int kc = K - p0 < KC ? K - p0 : KC;
        packb(Bp, bctx, p0, kc, j0, nc);
        if (Apre)
            Ap = (float *)Apre + prepacked_off(i0, mc, p0, K);
        else if (full < mc)
            pack_a(Ap + (size_t)full * kc, ta, A, lda, i0 + full, mc - full, p0, kc, alpha);
        for (int jp = 0; jp < nc; jp += NR) {
            const float *bp = Bp + (size_t)jp * kc;
            int nr = nc - jp < NR ? nc - jp : NR;
            for (int ip = 0; ip < mc; ip += MR) {
                float *cp = C + (size_t)(i0 + ip) * ldc + j0 + jp;
                int mr = mc - ip < MR ? mc - ip : MR;
                if (ip < full) {
                    const float *a = ta ? A + (size_t)p0 * lda + i0 + ip : A + (size_t)(i0 + ip) * lda + p0;
                    micro(1, ta, kc, a, lda, bp, cp, ldc, mr, nr);
                } else {
                    micro(0, 0, kc, Ap + (size_t)ip * kc, 0, bp, cp, ldc, mr, nr);
                }
            }
        }
    }
}

static void scale_c(float *C, int ldc, int M, int N, float beta) {
    if (beta == 1.0f) return;
    for (int i = 0; i < M; i++) {
        float *r = C + (size_t)i * ldc;
        if (beta == 0.0f)
            memset(r, 0, sizeof(float) * N);
        else
            for (int j = 0; j < N; j++) r[j] *= beta;
    }
}

size_t kn_sgemm_packed_a_floats(int M, int K) { return (size_t)((M + MR - 1) / MR * MR) * K; }

void kn_sgemm_pack_a(float *Ap, int ta, int M, int K, float alpha, const float *A, int lda) {
    BLOCKING();
    for (int i0 = 0; i0 < M; i0 += MC) {
        int mc = M - i0 < MC ? M - i0 : MC;
        for (int p0 = 0; p0 < K; p0 += KC)
            pack_a(Ap + prepacked_off(i0, mc, p0, K), ta, A, lda, i0, mc, p0,
                   K - p0 < KC ? K - p0 : KC, alpha);
    }
}

static void gemm_run(int ta, int M, int N, int K, float alpha, const float *A, int lda,
                     const float *Apre, kn_packb_fn packb, const void *bctx, float beta,
                     float *C, int ldc);

void kn_sgemm_packed_b(int ta, int M, int N, int K, float alpha, const float *A, int lda,
                       kn_packb_fn packb, const void *bctx, float beta, float *C, int ldc) {
    gemm_run(ta, M, N, K, alpha, A, lda, NULL, packb, bctx, beta, C, ldc);
}

void kn_sgemm_prepacked_a(int M, int N, int K, const float *Ap, const float *B, int ldb,
                          float beta, float *C, int ldc) {
    dense_b d = {0, B, ldb};
    gemm_run(0, M, N, K, 1.0f, NULL, 0, Ap, pack_dense_b, &d, beta, C, ldc);
}

static void gemm_run(int ta, int M, int N, int K, float alpha, const float *A, int lda,
                     const float *Apre, kn_packb_fn packb, const void *bctx, float beta,
                     float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    BLOCKING();
    int nI = (M + MC - 1) / MC, nJ = (N + NC - 1) / NC, items = nI * nJ;
    int par = !omp_in_parallel() && omp_get_max_threads() > 1 &&
              (double)M * N * K > 4e6;
    if (!par) {
        scale_c(C, ldc, M, N, beta);
        if (K <= 0 || alpha == 0.0f) return;
        for (int it = 0; it < items; it++) {
            int i0 = (it % nI) * MC, j0 = (it / nI) * NC;
            gemm_tile(ta, K, alpha, A, lda, Apre, packb, bctx, C, ldc, i0,
                      M - i0 < MC ? M - i0 : MC, j0, N - j0 < NC ? N - j0 : NC);
        }
        return;
    }
    /* More tiles than threads, so that the split is even: halve the column
     * blocks until there are at least 2 per thread (down to NR columns). */
    int T = omp_get_max_threads(), nc = NC;
    while (nc > NR && (long)nI * ((N + nc - 1) / nc) < 2L * T) nc = (nc / 2 + NR - 1) / NR * NR;
    nJ = (N + nc - 1) / nc;
    items = nI * nJ;
#pragma omp parallel
    {
#pragma omp for schedule(static)
        for (int i = 0; i < M; i++) {
            float *r = C + (size_t)i * ldc;
            if (beta == 0.0f)
                memset(r, 0, sizeof(float) * N);
            else if (beta != 1.0f)
                for (int j = 0; j < N; j++) r[j] *= beta;
        }
        if (K > 0 && alpha != 0.0f) {
#pragma omp for schedule(dynamic, 1)
            for (int it = 0; it < items; it++) {
                int i0 = (it % nI) * MC, j0 = (it / nI) * nc;
                gemm_tile(ta, K, alpha, A, lda, Apre, packb, bctx, C, ldc, i0,
                          M - i0 < MC ? M - i0 : MC, j0, N - j0 < nc ? N - j0 : nc);
            }
        }
    }
}

void kn_sgemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc) {
    if (kn_gemm_path_for(M, N, K) == KN_GEMM_BLAS) {
        blas_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    dense_b d = {tb, B, ldb};
    kn_sgemm_packed_b(ta, M, N, K, alpha, A, lda, pack_dense_b, &d, beta, C, ldc);
}

/* Under CLIPBOOK_GEMM=blas the convolutions must not reach the packed
 * kernel either (implicit GEMM, Winograd): they ask here and fall back to
 * im2col + kn_sgemm. A measured choice does not switch them: the GEMM
 * calibration times plain products, not the convolution variants (on the
 * AMD machine Winograd beats PyTorch by 1.2-1.9x, README), so they keep
 * the engine's packed kernels until they are measured themselves. The prepacked/packed-B entry points stay callable (the
 * kernel tests run them directly), only their callers are redirected. */
int kn_sgemm_is_native(void) {
    pthread_once(&gemm_once, gemm_path_init);
    kn_gemm_path f = set_path != KN_GEMM_AUTO ? set_path : env_path;
    return f != KN_GEMM_BLAS;
}

void kn_gemm_blocking(int *mc, int *kc, int *nc) {
    BLOCKING();
    *mc = MC; *kc = KC; *nc = NC;
}

#else /* neither AVX-512 nor AVX2 + FMA: OpenBLAS */

void kn_sgemm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc) {
    blas_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void kn_sgemm_packed_b(int ta, int M, int N, int K, float alpha, const float *A, int lda,
                       kn_packb_fn packb, const void *bctx, float beta, float *C, int ldc) {
    (void)ta; (void)M; (void)N; (void)K; (void)alpha; (void)A; (void)lda; (void)packb;
    (void)bctx; (void)beta; (void)C; (void)ldc;
    KN_ASSERT(!"kn_sgemm_packed_b needs the AVX-512 build (kn_sgemm_is_native)");
}

size_t kn_sgemm_packed_a_floats(int M, int K) { return (size_t)M * K; }

/* Without the native kernel "packed" A is A itself, alpha folded in. */
void kn_sgemm_pack_a(float *Ap, int ta, int M, int K, float alpha, const float *A, int lda) {
    for (int i = 0; i < M; i++)
        for (int k = 0; k < K; k++)
            Ap[(size_t)i * K + k] = alpha * (ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]);
}

void kn_sgemm_prepacked_a(int M, int N, int K, const float *Ap, const float *B, int ldb,
                          float beta, float *C, int ldc) {
    kn_sgemm(0, 0, M, N, K, 1.0f, Ap, K, B, ldb, beta, C, ldc);
}

int kn_sgemm_is_native(void) { return 0; }

void kn_gemm_blocking(int *mc, int *kc, int *nc) { *mc = *kc = *nc = 0; }

#endif

/* ---- calibration ----------------------------------------------------------
 * Representative shapes per class, (ta, tb, M, N, K) as en_linear, the
 * convolutions and the heads call them: */
typedef struct { int ta, tb, M, N, K; } cal_shape;
static const cal_shape cal_small[] = { /* mini towers: width 64-128, one head's attention */
    {0, 1, 64, 128, 256}, {0, 0, 128, 64, 128}, {1, 0, 96, 96, 192}};
static const cal_shape cal_skinny[] = { /* few-shot heads (100 classes, 512-d), a ViT's projection at batch 32 */
    {0, 1, 1024, 100, 512}, {1, 0, 100, 512, 1024}, {0, 1, 32, 512, 768}};
static const cal_shape cal_large[] = { /* ViT-B/32 qkv, fc1, fc2 over 256 tokens; RN50 3x3 (128@28x28); a weight gradient */
    {0, 1, 256, 2304, 768}, {0, 1, 256, 3072, 768}, {0, 1, 256, 768, 3072},
    {0, 0, 128, 784, 1152}, {1, 0, 768, 768, 256}};
static const struct { const cal_shape *s; int n, reps; } cal_classes[KN_GC_COUNT] = {
    {cal_small, 3, 15}, {cal_skinny, 3, 7}, {cal_large, 5, 5}};

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* 1 when blas_sgemm gives each row of op(A) op(B) the same bits whatever
 * the number of rows in the call, on every shape of the class: the engine
 * encodes a batch in chunks and promises the rows of one call (a resumed
 * feature extraction equals an uninterrupted one). The engine's kernel sums
 * each element in an order fixed by K alone; OpenBLAS's SkylakeX and
 * Cooperlake builds switch to small-matrix kernels by M*N*K, and their
 * rows then change with the batch (measured: a 4-picture encode against
 * chunks of 3 differed by 3e-7). C holds the whole product, then a part. */
static int blas_rows_stable(const void *cls, const float *A, const float *B, float *C) {
    const struct { const cal_shape *s; int n, reps; } *k = cls;
    for (int i = 0; i < k->n; i++) {
        const cal_shape *z = &k->s[i];
        int lda = z->ta ? z->M : z->K, ldb = z->tb ? z->K : z->N;
        size_t whole = (size_t)z->M * z->N;
        float *W = malloc(whole * sizeof *W);
        KN_ASSERT(W != NULL);
        blas_sgemm(z->ta, z->tb, z->M, z->N, z->K, 1.0f, A, lda, B, ldb, 0.0f, W, z->N);
        int same = 1;
        for (int m = 1; same && m < z->M; m = m < 4 ? m + 1 : 2 * m + 1) {
            blas_sgemm(z->ta, z->tb, m, z->N, z->K, 1.0f, A, lda, B, ldb, 0.0f, C, z->N);
            same = !memcmp(C, W, (size_t)m * z->N * sizeof *C);
        }
        free(W);
        if (!same) return 0;
    }
    return 1;
}

void kn_gemm_calibrate(kn_gemm_choice *out) {
    memset(out, 0, sizeof *out);
    for (int c = 0; c < KN_GC_COUNT; c++) out->path[c] = HAVE_NATIVE ? KN_GEMM_ENGINE : KN_GEMM_BLAS;
    if (!HAVE_NATIVE) return;
    size_t most = 0;
    for (int c = 0; c < KN_GC_COUNT; c++)
        for (int i = 0; i < cal_classes[c].n; i++) {
            const cal_shape *z = &cal_classes[c].s[i];
            size_t a = (size_t)z->M * z->K, b = (size_t)z->K * z->N, cc = (size_t)z->M * z->N;
            if (a > most) most = a;
            if (b > most) most = b;
            if (cc > most) most = cc;
        }
    float *A = malloc(most * sizeof(float)), *B = malloc(most * sizeof(float)), *C = malloc(most * sizeof(float));
    KN_ASSERT(A && B && C);
    for (size_t i = 0; i < most; i++) { /* any finite values: the time does not depend on them */
        A[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
        B[i] = (float)((i * 40503u) % 1000) / 1000.0f - 0.5f;
    }
    int saved = openblas_get_num_threads();
    openblas_set_num_threads(1); /* as blas_sgemm runs it */
    /* The two paths alternate within each repeat (in turns: engine first,
     * then blas first), so that a load that comes and goes on a shared
     * machine falls on both alike; the decision is on the median of the
     * per-repeat ratios, the times kept are the medians of each path. */
    double te[16], tbl[16], ratio[16];
    for (int c = 0; c < KN_GC_COUNT; c++) {
        int reps = cal_classes[c].reps;
        for (int r = -1; r < reps; r++) { /* r = -1: warm-up (packing buffers, OpenBLAS's first call) */
            double tt[2];
            for (int turn = 0; turn < 2; turn++) {
                int path = (turn + (r & 1)) & 1;
                double t0 = omp_get_wtime();
                for (int i = 0; i < cal_classes[c].n; i++) {
                    const cal_shape *z = &cal_classes[c].s[i];
                    int lda = z->ta ? z->M : z->K, ldb = z->tb ? z->K : z->N;
                    if (path == 0) {
#if HAVE_NATIVE
                        dense_b d = {z->tb, B, ldb};
                        kn_sgemm_packed_b(z->ta, z->M, z->N, z->K, 1.0f, A, lda, pack_dense_b, &d, 0.0f, C, z->N);
#endif
                    } else {
                        blas_sgemm(z->ta, z->tb, z->M, z->N, z->K, 1.0f, A, lda, B, ldb, 0.0f, C, z->N);
                    }
                }
                tt[path] = omp_get_wtime() - t0;
            }
            if (r < 0) continue;
            te[r] = tt[0]; tbl[r] = tt[1]; ratio[r] = tt[1] / (tt[0] > 0 ? tt[0] : 1e-12);
        }
        qsort(te, (size_t)reps, sizeof te[0], cmp_double);
        qsort(tbl, (size_t)reps, sizeof tbl[0], cmp_double);
        qsort(ratio, (size_t)reps, sizeof ratio[0], cmp_double);
        out->engine_ms[c] = 1e3 * te[reps / 2];
        out->blas_ms[c] = 1e3 * tbl[reps / 2];
        out->path[c] = ratio[reps / 2] < 0.97 ? KN_GEMM_BLAS : KN_GEMM_ENGINE;
        if (out->path[c] == KN_GEMM_BLAS && !blas_rows_stable(&cal_classes[c], A, B, C)) {
            out->path[c] = KN_GEMM_ENGINE;
            out->blas_rows_differ[c] = 1;
        }
    }
    openblas_set_num_threads(saved);
    free(A); free(B); free(C);
}
