/* engine/base/en_file: the one whole-file reader and the one atomic writer. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "en_error.h"
#include "en_file.h"

static char dir[64];

static void mkdir_tmp(void) {
    snprintf(dir, sizeof dir, "/tmp/cb_file_XXXXXX");
    cr_assert(mkdtemp(dir));
}

static void rm_tmp(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* Entries of dir other than . and .. (temporary files left behind show here). */
static int n_entries(void) {
    DIR *d = opendir(dir);
    cr_assert(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

TestSuite(file, .init = mkdir_tmp, .fini = rm_tmp);

Test(file, reads_back_what_was_written) {
    char path[128];
    snprintf(path, sizeof path, "%s/a.bin", dir);
    char data[3000];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (char)(i * 7 + 1);
    data[100] = 0; /* binary: the length, not strlen, counts */
    cr_assert_eq(en_file_write_atomic(path, data, sizeof data), 0, "%s", en_error_msg());
    size_t n = 0;
    char *back = en_file_read(path, &n);
    cr_assert(back, "%s", en_error_msg());
    cr_assert_eq(n, sizeof data);
    cr_assert_eq(memcmp(back, data, n), 0);
    cr_assert_eq(back[n], 0, "NUL-terminated");
    free(back);
    cr_assert_eq(n_entries(), 1, "no temporary file left");
}

/* /proc files say they are regular and empty: a reader that trusts st_size
 * returns "" for them. */
Test(file, reads_files_that_report_no_size) {
    size_t n = 0;
    char *s = en_file_read("/proc/self/status", &n);
    cr_assert(s, "%s", en_error_msg());
    cr_assert_gt(n, 0, "read %zu bytes", n);
    cr_assert(strstr(s, "Pid:"), "content: %.80s", s);
    free(s);
}

Test(file, missing_file_is_a_user_error_naming_it) {
    en_error_clear();
    char path[128];
    snprintf(path, sizeof path, "%s/none.txt", dir);
    cr_assert_null(en_file_read(path, NULL));
    cr_assert(strstr(en_error_msg(), path), "message: %s", en_error_msg());
}

Test(file, failed_write_leaves_the_old_file) {
    char path[128];
    snprintf(path, sizeof path, "%s/keep.txt", dir);
    cr_assert_eq(en_file_write_atomic(path, "old", 3), 0);
    en_atomic a;
    FILE *f = en_atomic_open(&a, path);
    cr_assert(f, "%s", en_error_msg());
    fputs("new, but the caller gives up", f);
    a.failed = 1;
    en_error("caller's reason");
    cr_assert_eq(en_atomic_commit(&a), -1);
    cr_assert_str_eq(en_error_msg(), "caller's reason", "the caller's message is kept");
    char *s = en_file_read(path, NULL);
    cr_assert_str_eq(s, "old");
    free(s);
    cr_assert_eq(n_entries(), 1, "the temporary file is removed");

    f = en_atomic_open(&a, path);
    cr_assert(f);
    fputs("abandoned", f);
    en_atomic_abort(&a);
    s = en_file_read(path, NULL);
    cr_assert_str_eq(s, "old");
    free(s);
    cr_assert_eq(n_entries(), 1);
}

Test(file, write_into_a_missing_folder_fails_cleanly) {
    char path[128];
    snprintf(path, sizeof path, "%s/no/such/dir/x", dir);
    cr_assert_eq(en_file_write_atomic(path, "x", 1), -1);
    cr_assert(strstr(en_error_msg(), path), "message: %s", en_error_msg());
}
