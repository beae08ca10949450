/* kn_assert — the kernels' one check: a broken invariant (a bug in the
 * caller or the kernel) aborts with file and line. Kernels take plain
 * arrays and sizes and report no user errors (the engine checks shapes
 * before it calls them), so this is all they need; it keeps kernels/ free
 * of any include from engine/. */
#ifndef KN_ASSERT_H
#define KN_ASSERT_H

#include <stdio.h>
#include <stdlib.h>

#define KN_ASSERT(cond)                                                        \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: %s: assertion '%s' failed\n", __FILE__,    \
                    __LINE__, __func__, #cond);                                \
            abort();                                                           \
        }                                                                      \
    } while (0)

#endif
