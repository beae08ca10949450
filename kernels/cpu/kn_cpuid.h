/* kn_cpuid — what the CPU says about itself (x86 cpuid, read once).
 *
 * The GEMM's blockings come from the cache sizes here, the machine file
 * (engine/en_machine.c) is keyed by the model and flags, and the BF16 GEMM
 * dispatches on bf16/amx at run time (never on compile flags alone: a binary
 * built with -march=native on one machine may run on another). A flag is set
 * only when the CPU has the instruction AND the OS saves its registers
 * (xgetbv; for AMX the Linux permission request, arch_prctl). On a non-x86
 * build every flag is 0 and the sizes are defaults. */
#ifndef KN_CPUID_H
#define KN_CPUID_H

typedef struct {
    char vendor[13];
    char model[64];        /* the brand string, trimmed; "" when none */
    char flags[160];       /* the flags below that are set, space-separated */
    int  l1d, l2, l3;      /* bytes; l1d and l2 per core; 0 when not reported */
    int  avx2, fma, avx512f, avx512bw, avx512vnni, avx512bf16, amx_tile, amx_bf16;
} kn_cpu_info;

/* Read once (thread-safe); the same pointer every call. */
const kn_cpu_info *kn_cpu_info_get(void);

#endif
