/* en_bf16 — the BF16 inference scope (contract in en_bf16.h). */
#include "en_bf16.h"

#include <pthread.h>
#include <stdlib.h>

#include "en_error.h"
#include "kn_bf16.h"

typedef struct { const float *w; int ldw, N, K; uint16_t *p; } entry;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static const float *lo, *hi; /* the scope's parameter buffer; lo == NULL: closed */
static entry *cache;
static int ncache, capcache;

int en_bf16_begin(const float *params, int64_t n) {
    if (!kn_bf16_available()) return 0;
    pthread_mutex_lock(&mu);
    EN_ASSERT(lo == NULL); /* one scope at a time */
    lo = params;
    hi = params + n;
    pthread_mutex_unlock(&mu);
    return 1;
}

void en_bf16_end(void) {
    pthread_mutex_lock(&mu);
    for (int i = 0; i < ncache; i++) free(cache[i].p);
    free(cache);
    cache = NULL;
    ncache = capcache = 0;
    lo = hi = NULL;
    pthread_mutex_unlock(&mu);
}

const char *en_bf16_unavailable(void) { return kn_bf16_unavailable_reason(); }

const uint16_t *en_bf16_weight(const float *W, int ldw, int N, int K) {
    if (!lo) return NULL; /* read without the lock: set and cleared outside any GEMM */
    if (W < lo || W + (size_t)(N - 1) * ldw + K > hi) return NULL;
    pthread_mutex_lock(&mu);
    const uint16_t *p = NULL;
    for (int i = 0; i < ncache && !p; i++)
        if (cache[i].w == W && cache[i].ldw == ldw && cache[i].N == N && cache[i].K == K) p = cache[i].p;
    if (!p) {
        if (ncache == capcache) {
            capcache = capcache ? 2 * capcache : 64;
            cache = realloc(cache, sizeof *cache * (size_t)capcache);
            EN_ASSERT(cache);
        }
        uint16_t *q = malloc(sizeof(uint16_t) * kn_bf16_packed_size(N, K));
        EN_ASSERT(q);
        kn_bf16_pack_w(q, W, ldw, N, K);
        cache[ncache++] = (entry){W, ldw, N, K, q};
        p = q;
    }
    pthread_mutex_unlock(&mu);
    return p;
}

void en_bf16_linear(int M, int N, int K, const float *A, const uint16_t *Wp, float beta, float *C) {
    kn_bf16_gemm(M, N, K, A, K, Wp, beta, C, N);
}
