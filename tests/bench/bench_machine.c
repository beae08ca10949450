/* bench_machine: the machine a `make bench` ran on, as one JSON object on
 * stdout (tests/bench/run.sh puts it into engine.json and clip.json): the
 * CPU's model, flags and caches (kn_cpuid.h), the cores, the thread count,
 * OpenBLAS's kernel, and the GEMM paths installed for this machine with the
 * times they were chosen by (engine/en_machine.h). Usage: bench_machine [threads] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "en_machine.h"
#include "en_tensor.h"
#include "kn_cpuid.h"

static void js(const char *k, const char *v, int last) {
    printf("  \"%s\": \"", k);
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\') putchar('\\');
        if ((unsigned char)*p >= 32) putchar(*p);
    }
    printf("\"%s\n", last ? "" : ",");
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    en_set_num_threads(threads);
    en_machine_install();
    const kn_cpu_info *ci = kn_cpu_info_get();
    kn_gemm_choice file = {0};
    int measured = 0;
    char path[4200] = "";
    int forced = kn_gemm_forced() != KN_GEMM_AUTO;
    if (!forced) en_machine_choose(en_machine_dir(), &file, &measured, path, sizeof path);
    printf("{\n");
    js("cpu", ci->model[0] ? ci->model : ci->vendor, 0);
    js("vendor", ci->vendor, 0);
    js("flags", ci->flags, 0);
    printf("  \"l1d_bytes\": %d, \"l2_bytes\": %d, \"l3_bytes\": %d,\n", ci->l1d, ci->l2, ci->l3);
    printf("  \"cores_online\": %ld, \"threads\": %d,\n", sysconf(_SC_NPROCESSORS_ONLN), threads);
    js("openblas_core", kn_blas_corename(), 0);
    js("compute", en_compute_signature(), 0);
    js("gemm_chosen_by", forced ? "CLIPBOOK_GEMM" : "measurement (machine file)", 0);
    js("machine_file", path, 0);
    printf("  \"gemm_classes\": {");
    for (int c = 0; c < KN_GC_COUNT; c++)
        printf("%s\"%s\": {\"path\": \"%s\", \"engine_ms\": %.3f, \"blas_ms\": %.3f}", c ? ", " : "",
               kn_gemm_class_name((kn_gemm_class)c), kn_gemm_path_for(c == KN_GC_SMALL ? 8 : c == KN_GC_SKINNY ? 64 : 512,
               c == KN_GC_SMALL ? 8 : 4096, c == KN_GC_SMALL ? 8 : 4096) == KN_GEMM_BLAS ? "blas" : "engine",
               file.engine_ms[c], file.blas_ms[c]);
    printf("}\n}\n");
    return 0;
}
