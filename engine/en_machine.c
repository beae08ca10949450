/* en_machine — the machine file (contract in en_machine.h). */
#include "en_machine.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "en_error.h"
#include "en_file.h"
#include "en_sha256.h"
#include "kn_backend.h"
#include "kn_conv.h"
#include "kn_cpuid.h"

/* Bump when the calibration's shapes or rule change: old files are ignored. */
#define MACHINE_FORMAT "clipbook-machine/2" /* 2: blas only where its rows keep their bits */

const char *en_machine_dir(void) {
    static char dir[4096];
    const char *e = getenv("CLIPBOOK_MACHINE_DIR"), *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
    if (e && *e) snprintf(dir, sizeof dir, "%s", e);
    else if (x && *x) snprintf(dir, sizeof dir, "%s/clipbook", x);
    else if (h && *h) snprintf(dir, sizeof dir, "%s/.cache/clipbook", h);
    else snprintf(dir, sizeof dir, ".clipbook-cache");
    return dir;
}

/* The lines that describe what the choice was measured on; the file name
 * hashes them, and the file repeats them for a reader. */
static void machine_header(char *buf, size_t n) {
    const kn_cpu_info *ci = kn_cpu_info_get();
    int mc, kc, nc;
    kn_gemm_blocking(&mc, &kc, &nc);
    snprintf(buf, n,
             "format %s\nvendor %s\ncpu %s\nflags %s\nl2 %d\nopenblas %s\nthreads %d\nblocking mc %d kc %d nc %d\n",
             MACHINE_FORMAT, ci->vendor, ci->model[0] ? ci->model : "?", ci->flags, ci->l2, kn_blas_corename(),
             kn_get_num_threads(), mc, kc, nc);
}

static int read_choice(const char *path, const char *header, kn_gemm_choice *c) {
    size_t n;
    char *text = en_file_read(path, &n);
    if (!text) { en_error_clear(); return 0; }
    int ok = 0;
    size_t hl = strlen(header);
    char *body = strstr(text, "\nformat ");
    /* the header must match line for line (a hash collision or an edit) */
    if (body && strncmp(body + 1, header, hl) == 0) {
        char *g = strstr(body, "\ngemm ");
        if (g) {
            char *end = strchr(g + 1, '\n');
            if (end) *end = 0;
            ok = kn_gemm_choice_parse(g + 6, c);
        }
        /* the times the choice was made by, for a reader (bench_machine) */
        for (char *l = strstr(body, "\nmeasured_ms "); ok && l; l = strstr(l + 1, "\nmeasured_ms ")) {
            char name[16];
            double e, b;
            const char *eol = strchr(l + 1, '\n'), *why = strstr(l + 1, "(blas rows change");
            if (sscanf(l + 1, "measured_ms %15s engine %lf blas %lf", name, &e, &b) == 3)
                for (int k = 0; k < KN_GC_COUNT; k++)
                    if (!strcmp(name, kn_gemm_class_name((kn_gemm_class)k))) {
                        c->engine_ms[k] = e;
                        c->blas_ms[k] = b;
                        c->blas_rows_differ[k] = why && (!eol || why < eol);
                    }
        }
    }
    free(text);
    return ok;
}

int en_machine_choose(const char *dir, kn_gemm_choice *c, int *measured, char *path, size_t n) {
    char header[1024], hex[65], file[4200], lock[4210];
    uint8_t d[32];
    *measured = 0;
    machine_header(header, sizeof header);
    en_sha256_digest(d, header, strlen(header));
    en_sha256_tohex(hex, d);
    snprintf(file, sizeof file, "%s/machine-%.16s.txt", dir, hex);
    snprintf(lock, sizeof lock, "%s.lock", file);
    if (path) snprintf(path, n, "%s", file);
    if (read_choice(file, header, c)) return 0; /* the usual case: no lock needed */
    if (en_mkdirs(dir) < 0) return -1;
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return en_error("machine: cannot open %s: %s", lock, strerror(errno));
    while (flock(fd, LOCK_EX) < 0)
        if (errno != EINTR) { close(fd); return en_error("machine: cannot lock %s: %s", lock, strerror(errno)); }
    int rc = 0;
    /* another process may have measured while this one waited */
    if (!read_choice(file, header, c)) {
        kn_gemm_calibrate(c);
        *measured = 1;
        char body[2048], words[128];
        kn_gemm_choice_format(c, words, sizeof words);
        int at = snprintf(body, sizeof body,
                          "# clipbook: the GEMM path per shape class measured on this machine "
                          "(kernels/cpu/kn_gemm.h, engine/en_machine.h).\n"
                          "# Delete this file to measure again; CLIPBOOK_GEMM=engine|blas overrides it.\n%s", header);
        for (int k = 0; k < KN_GC_COUNT; k++)
            at += snprintf(body + at, sizeof body - (size_t)at, "measured_ms %s engine %.3f blas %.3f%s\n",
                           kn_gemm_class_name((kn_gemm_class)k), c->engine_ms[k], c->blas_ms[k],
                           c->blas_rows_differ[k] ? " (blas rows change with the batch: engine)" : "");
        snprintf(body + at, sizeof body - (size_t)at, "gemm %s\n", words);
        rc = en_file_write_atomic(file, body, strlen(body));
    }
    flock(fd, LOCK_UN);
    close(fd);
    return rc;
}

static pthread_once_t install_once = PTHREAD_ONCE_INIT;

static void install(void) {
    if (kn_gemm_forced() != KN_GEMM_AUTO) return;
    kn_gemm_choice c;
    int measured;
    if (en_machine_choose(en_machine_dir(), &c, &measured, NULL, 0) < 0) {
        fprintf(stderr, "clipbook: %s; the GEMM paths are measured for this process only\n", en_error_msg());
        en_error_clear();
        kn_gemm_calibrate(&c);
    }
    kn_gemm_set_choice(&c);
}

void en_machine_install(void) { pthread_once(&install_once, install); }

const char *en_compute_signature(void) {
    static __thread char buf[192];
    kn_gemm_choice c;
    char words[128];
    kn_gemm_current(&c);
    kn_gemm_choice_format(&c, words, sizeof words);
    /* the convolutions: the engine's packed kernels unless blas is forced
     * (kn_gemm.h), and which variant when CLIPBOOK_CONV forces one (kn_conv.h;
     * auto adds nothing, so the default's keys stay as they were) */
    kn_conv_variant v = kn_conv_variant_forced();
    snprintf(buf, sizeof buf, "gemm %s conv=%s%s%s; openblas %s", words, kn_sgemm_is_native() ? "engine" : "blas",
             v == KN_CONV_AUTO ? "" : ":", v == KN_CONV_AUTO ? "" : kn_conv_variant_name(v), kn_blas_corename());
    return buf;
}

const char *en_machine_describe(void) {
    static __thread char buf[320];
    const kn_cpu_info *ci = kn_cpu_info_get();
    snprintf(buf, sizeof buf, "%s (%s), L2 %d KiB", ci->model[0] ? ci->model : ci->vendor, ci->flags, ci->l2 / 1024);
    return buf;
}
