/* kn_cpuid: what the CPU reports, against what the build and /proc/cpuinfo
 * say (the kernel's own reading of cpuid and xgetbv). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "kn_cpuid.h"

static int proc_has(const char *flag) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return -1;
    char line[8192];
    int has = 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "flags", 5)) {
            char want[64];
            snprintf(want, sizeof want, " %s", flag);
            char *p = line;
            while ((p = strstr(p, want)) != NULL) {
                char e = p[strlen(want)];
                if (e == ' ' || e == '\n' || e == 0) { has = 1; break; }
                p += strlen(want);
            }
            break;
        }
    fclose(f);
    return has;
}

Test(cpuid, agrees_with_the_os) {
    const kn_cpu_info *ci = kn_cpu_info_get();
    printf("cpu: vendor %s, model '%s', flags '%s', L1d %d, L2 %d, L3 %d\n", ci->vendor, ci->model, ci->flags,
           ci->l1d, ci->l2, ci->l3);
    cr_assert_eq(ci, kn_cpu_info_get(), "read once");
#if defined(__x86_64__)
    cr_expect(ci->vendor[0] != 0);
    cr_expect(ci->l2 >= 64 * 1024 && ci->l2 <= 64 * 1024 * 1024, "L2 %d", ci->l2);
    cr_expect(ci->l1d >= 16 * 1024 && ci->l1d <= 1024 * 1024, "L1d %d", ci->l1d);
    struct { const char *proc; int ours; } f[] = {
        {"avx2", ci->avx2}, {"avx512f", ci->avx512f}, {"avx512bw", ci->avx512bw},
        {"avx512_vnni", ci->avx512vnni}, {"avx512_bf16", ci->avx512bf16}, {"amx_tile", ci->amx_tile},
    };
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
        int p = proc_has(f[i].proc);
        if (p < 0) cr_skip_test("no /proc/cpuinfo");
        /* the OS lists what it enables; AMX additionally needs the
         * per-process permission, which kn_cpuid asks for */
        cr_expect_eq(f[i].ours, p, "%s: cpuid says %d, /proc/cpuinfo %d", f[i].proc, f[i].ours, p);
        if (f[i].ours) cr_expect(strstr(ci->flags, f[i].proc) != NULL, "%s missing from '%s'", f[i].proc, ci->flags);
    }
#ifdef __AVX512F__
    cr_expect(ci->avx512f, "built for AVX-512 but cpuid says no");
#endif
#endif
}
