/* kn_cpuid — cpuid leaves 0, 1, 7, 0x80000002-4 and the cache leaves (4 on
 * Intel, 0x8000001D on AMD: the same layout). See kn_cpuid.h. */
#include "kn_cpuid.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static kn_cpu_info info;
static pthread_once_t info_once = PTHREAD_ONCE_INIT;

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

static void leaf(unsigned l, unsigned s, unsigned r[4]) {
    __cpuid_count(l, s, r[0], r[1], r[2], r[3]);
}

static unsigned long long xgetbv0(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

/* Linux keeps AMX's 8 KiB tile state off until a process asks for it
 * (arch_prctl ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA = 18); without the
 * permission the first tile instruction is SIGILL. */
static int amx_permitted(void) {
#ifdef SYS_arch_prctl
    return syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18) == 0;
#else
    return 0;
#endif
}

static void caches(unsigned cache_leaf) {
    for (unsigned i = 0; i < 16; i++) {
        unsigned r[4];
        leaf(cache_leaf, i, r);
        unsigned type = r[0] & 31, level = (r[0] >> 5) & 7;
        if (type == 0) break;
        if (type != 1 && type != 3) continue; /* data or unified */
        long size = (long)((r[1] >> 22) + 1) * (((r[1] >> 12) & 1023) + 1) * ((r[1] & 4095) + 1) * ((long)r[2] + 1);
        if (level == 1) info.l1d = (int)size;
        if (level == 2) info.l2 = (int)size;
        if (level == 3) info.l3 = (int)(size > 0x7fffffff ? 0x7fffffff : size);
    }
}

static void read_info(void) {
    unsigned r[4];
    leaf(0, 0, r);
    unsigned max = r[0];
    memcpy(info.vendor, &r[1], 4); memcpy(info.vendor + 4, &r[3], 4); memcpy(info.vendor + 8, &r[2], 4);
    leaf(0x80000000u, 0, r);
    unsigned maxext = r[0];
    if (maxext >= 0x80000004u) {
        char b[49] = {0};
        for (unsigned i = 0; i < 3; i++) { leaf(0x80000002u + i, 0, r); memcpy(b + 16 * i, r, 16); }
        char *s = b;
        while (*s == ' ') s++;
        size_t n = strlen(s);
        while (n && s[n - 1] == ' ') s[--n] = 0;
        snprintf(info.model, sizeof info.model, "%s", s);
    }
    leaf(1, 0, r);
    int osxsave = (r[2] >> 27) & 1, fma = (r[2] >> 12) & 1, avx = (r[2] >> 28) & 1;
    unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
    int ymm = (xcr0 & 6) == 6, zmm = (xcr0 & 0xe6) == 0xe6, tiles = (xcr0 & 0x60000) == 0x60000;
    info.fma = fma && avx && ymm;
    if (max >= 7) {
        leaf(7, 0, r);
        info.avx2 = ((r[1] >> 5) & 1) && ymm;
        info.avx512f = ((r[1] >> 16) & 1) && zmm;
        info.avx512bw = ((r[1] >> 30) & 1) && zmm;
        info.avx512vnni = ((r[2] >> 11) & 1) && zmm;
        int amx_tile = (r[3] >> 24) & 1, amx_bf16 = (r[3] >> 22) & 1;
        unsigned sub = r[0];
        if (sub >= 1) {
            leaf(7, 1, r);
            info.avx512bf16 = ((r[0] >> 5) & 1) && zmm;
        }
        if (amx_tile && tiles && amx_permitted()) {
            info.amx_tile = 1;
            info.amx_bf16 = amx_bf16;
        }
    }
    if (!strcmp(info.vendor, "AuthenticAMD") && maxext >= 0x8000001Du)
        caches(0x8000001Du);
    else if (max >= 4)
        caches(4);
}
#else
static void read_info(void) {}
#endif

static void fill(void) {
    read_info();
    const struct { const char *name; int on; } f[] = {
        {"avx2", info.avx2}, {"fma", info.fma}, {"avx512f", info.avx512f}, {"avx512bw", info.avx512bw},
        {"avx512_vnni", info.avx512vnni}, {"avx512_bf16", info.avx512bf16},
        {"amx_tile", info.amx_tile}, {"amx_bf16", info.amx_bf16},
    };
    size_t n = 0;
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (f[i].on) n += (size_t)snprintf(info.flags + n, sizeof info.flags - n, "%s%s", n ? " " : "", f[i].name);
}

const kn_cpu_info *kn_cpu_info_get(void) {
    pthread_once(&info_once, fill);
    return &info;
}
