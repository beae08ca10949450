/* Device selection, precision and the fallback report. See en_device.h. */
#include "en_device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "en_autograd.h"
#include "en_error.h"
#include "en_ops.h"
#include "kn_backend.h"

static int chosen = -1; /* -1: not selected yet (the CPU until then) */

const char *en_device_name(en_device d) { return d == EN_CUDA ? "cuda" : "cpu"; }

int en_device_parse(const char *name) {
    if (!strcmp(name, "cpu")) return EN_CPU;
    if (!strcmp(name, "cuda") || !strcmp(name, "gpu")) return EN_CUDA;
    return en_error("unknown device '%s' (expected cpu or cuda)", name);
}

int en_device_resolve(const char *want, char *note, size_t note_n) {
    const char *env = getenv("CLIPBOOK_DEVICE");
    /* the environment wins over the profile, so one run can be moved */
    const char *w = env && *env ? env : (want && *want ? want : "auto");
    const char *from = env && *env ? "CLIPBOOK_DEVICE" : "device";
    if (note && note_n) note[0] = 0;
    if (!strcmp(w, "auto")) {
        if (kn_backend_get(EN_CUDA)) return EN_CUDA;
        char line[160];
        snprintf(line, sizeof line, "device: auto: %s; computing on the CPU",
                 kn_cuda_built() ? "no CUDA device visible" : "this build has no CUDA back end");
        if (note && note_n) snprintf(note, note_n, "%s", line);
        else fprintf(stderr, "%s\n", line);
        return EN_CPU;
    }
    int d = en_device_parse(w);
    if (d < 0) return en_error_prefix("%s", from);
    if (d == EN_CUDA && !kn_backend_get(EN_CUDA))
        return en_error("%s=cuda: %s", from,
                        kn_cuda_built() ? "no CUDA device is visible (cudaGetDeviceCount found none)"
                                        : "this clipbook was built without the CUDA back end "
                                          "(no nvcc/cuBLAS at build time, or CUDA=0)");
    return d;
}

int en_device_select(const char *want) {
    int d = en_device_resolve(want, NULL, 0);
    if (d < 0) return -1;
    chosen = d;
    return d;
}

en_device en_device_default(void) { return chosen < 0 ? EN_CPU : (en_device)chosen; }

int en_device_set_precision(const char *name) {
    if (kn_cuda_set_precision(name) != 0)
        return en_error("unknown precision '%s' (expected fp32, tf32 or bf16)", name);
    return 0;
}

const char *en_device_precision(void) {
    switch (kn_cuda_precision()) {
    case KN_PREC_TF32: return "tf32";
    case KN_PREC_BF16: return "bf16";
    default: return "fp32";
    }
}

char *en_device_report(char *buf, size_t n) {
    size_t k = (size_t)snprintf(buf, n, "device %s, precision %s, host fallbacks:",
                                en_device_name(en_device_default()), en_device_precision());
    int any = 0;
    for (int i = 0; i < KN_KERNEL_COUNT && k < n; i++) {
        uint64_t c = kn_fallback_count((kn_kernel)i);
        if (!c) continue;
        k += (size_t)snprintf(buf + k, n - k, "%s %s %llu", any ? "," : "", kn_kernel_name((kn_kernel)i),
                              (unsigned long long)c);
        any = 1;
    }
    for (int i = 0; i < EN_OP_COUNT && k < n; i++) {
        uint64_t c = en_device_host_op_count(i);
        if (!c) continue;
        k += (size_t)snprintf(buf + k, n - k, "%s op %s %llu", any ? "," : "", en_op_name((en_op)i),
                              (unsigned long long)c);
        any = 1;
    }
    uint64_t g = en_device_gather_count();
    if (g && k < n) k += (size_t)snprintf(buf + k, n - k, "%s strided gathers %llu", any ? "," : "",
                                          (unsigned long long)g), any = 1;
    if (!any && k < n) snprintf(buf + k, n - k, " none");
    return buf;
}
