/* A stand-in for the few Criterion macros tests/cuda/test_cuda.c uses, so
 * the GPU check program (tests/gpu/gpu_check.c, `make gpu-check`) runs the
 * very same parity tests on a machine without Criterion (the GPU machines
 * have none of Debian's -dev libraries). Tests register themselves at load
 * time; gpu_check.c runs them in order, each under setjmp: cr_assert and
 * cr_skip_test leave the test, cr_expect records a failure and goes on. */
#ifndef GPU_CRITERION_SHIM_H
#define GPU_CRITERION_SHIM_H

#include <setjmp.h>
#include <stdio.h>

typedef struct gc_test {
    const char *suite, *name;
    void (*fn)(void);
} gc_test;

void gc_register(const char *suite, const char *name, void (*fn)(void));
void gc_fail(const char *file, int line, const char *cond, const char *fmt, ...);
__attribute__((noreturn)) void gc_leave(int skipped, const char *why);

#define GC_CAT_(a, b) a##b
#define GC_CAT(a, b) GC_CAT_(a, b)
#define Test(suite, name, ...)                                                  \
    static void GC_CAT(suite##_, name)(void);                                   \
    __attribute__((constructor)) static void GC_CAT(gc_reg_##suite##_, name)(void) { \
        gc_register(#suite, #name, GC_CAT(suite##_, name));                     \
    }                                                                           \
    static void GC_CAT(suite##_, name)(void)

#define cr_expect(cond, ...)                                                    \
    do {                                                                        \
        if (!(cond)) gc_fail(__FILE__, __LINE__, #cond, "" __VA_ARGS__);       \
    } while (0)
#define cr_assert(cond, ...)                                                    \
    do {                                                                        \
        if (!(cond)) {                                                          \
            gc_fail(__FILE__, __LINE__, #cond, "" __VA_ARGS__);                \
            gc_leave(0, "assertion");                                           \
        }                                                                       \
    } while (0)
#define cr_expect_eq(a, b, ...) cr_expect((a) == (b), __VA_ARGS__)
#define cr_assert_eq(a, b, ...) cr_assert((a) == (b), __VA_ARGS__)
#define cr_assert_fail(...) cr_assert(0, __VA_ARGS__)
#define cr_skip_test(...) gc_leave(1, "" __VA_ARGS__)

#endif
