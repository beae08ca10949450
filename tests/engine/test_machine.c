/* en_machine: the machine file. Measured once and kept; the same choice from
 * the same file (an edited file is obeyed: the choice is the file's, not a
 * new measurement's); a file that does not parse is measured again; four
 * processes starting at once on an empty folder measure once and all take
 * that one choice; the signature that enters memo keys follows the paths. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "en_error.h"
#include "en_file.h"
#include "en_machine.h"

static char *tmpdir(void) {
    char *d = strdup("/tmp/cb-machine-XXXXXX");
    cr_assert(mkdtemp(d));
    return d;
}

static void rmtree(const char *d) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    cr_assert_eq(system(cmd), 0);
}

Test(machine, measured_once_then_read) {
    char *dir = tmpdir(), file[4200], again[4200];
    kn_gemm_choice a, b;
    int measured;
    cr_assert_eq(en_machine_choose(dir, &a, &measured, file, sizeof file), 0, "%s", en_error_msg());
    cr_expect_eq(measured, 1, "an empty folder must be measured");
    cr_expect(access(file, R_OK) == 0, "no file %s", file);
    cr_expect(strstr(file, "/machine-") != NULL);
    cr_assert_eq(en_machine_choose(dir, &b, &measured, again, sizeof again), 0);
    cr_expect_eq(measured, 0, "the second call must read the file, not measure");
    cr_expect_str_eq(file, again);
    cr_expect(memcmp(a.path, b.path, sizeof a.path) == 0);

    /* the file decides: rewrite its choice line, and that is what is read */
    size_t n;
    char *text = en_file_read(file, &n);
    cr_assert(text);
    char *g = strstr(text, "\ngemm ");
    cr_assert(g, "no gemm line in\n%s", text);
    g[1] = 0;
    char edited[4096];
    snprintf(edited, sizeof edited, "%sgemm small=blas skinny=engine large=blas\n", text);
    cr_assert_eq(en_file_write_atomic(file, edited, strlen(edited)), 0);
    cr_assert_eq(en_machine_choose(dir, &b, &measured, NULL, 0), 0);
    cr_expect_eq(measured, 0);
    cr_expect(b.path[KN_GC_SMALL] == KN_GEMM_BLAS && b.path[KN_GC_SKINNY] == KN_GEMM_ENGINE &&
              b.path[KN_GC_LARGE] == KN_GEMM_BLAS, "the edited choice was not taken");

    /* a damaged file (a cut write, a hand edit gone wrong) is measured again */
    snprintf(edited, sizeof edited, "%sgemm small=bla", text);
    cr_assert_eq(en_file_write_atomic(file, edited, strlen(edited)), 0);
    cr_assert_eq(en_machine_choose(dir, &b, &measured, NULL, 0), 0);
    cr_expect_eq(measured, 1, "a file that does not parse must be measured again");
    free(text);
    text = en_file_read(file, &n);
    cr_expect(text && strstr(text, "\ngemm small=") && strstr(text, "measured_ms large engine "), "rewritten:\n%s", text);
    free(text);
    rmtree(dir);
    free(dir);
}

Test(machine, concurrent_first_runs_agree) {
    char *dir = tmpdir();
    enum { P = 4 };
    int fds[P][2];
    pid_t pid[P];
    for (int i = 0; i < P; i++) {
        cr_assert_eq(pipe(fds[i]), 0);
        pid[i] = fork();
        cr_assert(pid[i] >= 0);
        if (pid[i] == 0) {
            kn_gemm_choice c;
            int measured = -1;
            char words[128] = "error";
            if (en_machine_choose(dir, &c, &measured, NULL, 0) == 0) kn_gemm_choice_format(&c, words, sizeof words);
            dprintf(fds[i][1], "%d %s", measured, words);
            _exit(0);
        }
        close(fds[i][1]);
    }
    char got[P][160];
    int measured_total = 0;
    for (int i = 0; i < P; i++) {
        ssize_t k = read(fds[i][0], got[i], sizeof got[i] - 1);
        got[i][k > 0 ? k : 0] = 0;
        close(fds[i][0]);
        int st;
        waitpid(pid[i], &st, 0);
        printf("process %d: measured %c, choice %s\n", i, got[i][0], got[i] + 2);
        measured_total += got[i][0] == '1';
        cr_expect(strstr(got[i], "error") == NULL, "process %d failed", i);
        if (i) cr_expect_str_eq(got[i] + 2, got[0] + 2, "processes %d and 0 took different choices", i);
    }
    cr_expect_eq(measured_total, 1, "%d processes measured; the lock should let exactly one", measured_total);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "test $(ls '%s' | grep -c '^machine-.*\\.txt$') = 1 && ! ls '%s' | grep -q '\\.tmp\\.'", dir, dir);
    cr_expect_eq(system(cmd), 0, "one machine file and no temporary left in %s", dir);
    rmtree(dir);
    free(dir);
}

/* what enters memo keys follows the paths in force */
Test(machine, signature_follows_paths) {
    kn_gemm_set_path(KN_GEMM_BLAS);
    char blas[192];
    snprintf(blas, sizeof blas, "%s", en_compute_signature());
    printf("forced blas: %s\n", blas);
    const char *want = "gemm small=blas skinny=blas large=blas conv=blas; openblas ";
    cr_expect(strncmp(blas, want, strlen(want)) == 0, "%s", blas);
#ifdef __AVX512F__
    kn_gemm_set_path(KN_GEMM_ENGINE);
    printf("forced engine: %s\n", en_compute_signature());
    want = "gemm small=engine skinny=engine large=engine conv=engine; openblas ";
    cr_expect(strncmp(en_compute_signature(), want, strlen(want)) == 0, "%s", en_compute_signature());
    cr_expect_str_neq(en_compute_signature(), blas);
#endif
    cr_expect(strlen(en_machine_describe()) > 8);
}

/* CLIPBOOK_GEMM forces a path and no file is read or written */
Test(machine, forced_path_reads_no_file) {
    char *dir = tmpdir();
    setenv("CLIPBOOK_GEMM", "blas", 1);
    setenv("CLIPBOOK_MACHINE_DIR", dir, 1);
    en_machine_install();
    cr_expect_eq(kn_gemm_active(), KN_GEMM_BLAS);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s')\"", dir);
    cr_expect_eq(system(cmd), 0, "a forced path wrote in %s", dir);
    rmtree(dir);
    free(dir);
}

Test(machine, auto_installs_the_file_choice) {
    char *dir = tmpdir();
    unsetenv("CLIPBOOK_GEMM");
    setenv("CLIPBOOK_MACHINE_DIR", dir, 1);
    kn_gemm_choice c;
    int measured;
    char file[4200];
    cr_assert_eq(en_machine_choose(dir, &c, &measured, file, sizeof file), 0);
    /* a file that says blas for the skinny class (edited as above) */
    size_t n;
    char *text = en_file_read(file, &n), edited[4096];
    char *g = strstr(text, "\ngemm ");
    g[1] = 0;
    snprintf(edited, sizeof edited, "%sgemm small=engine skinny=blas large=engine\n", text);
    cr_assert_eq(en_file_write_atomic(file, edited, strlen(edited)), 0);
    free(text);
    en_machine_install();
    cr_expect_eq(kn_gemm_path_for(1024, 100, 512), KN_GEMM_BLAS);
#ifdef __AVX512F__
    cr_expect_eq(kn_gemm_path_for(256, 3072, 768), KN_GEMM_ENGINE);
#endif
    printf("installed: %s\n", en_compute_signature());
    rmtree(dir);
    free(dir);
}
