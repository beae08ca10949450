/* The memo store's housekeeping: orphaned temporary files (nb_memo_sweep)
 * and a corrupt index (nb_memo_index_read). */
#include <cJSON.h>
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "en_error.h"
#include "en_file.h"
#include "en_tmpfile.h"
#include "nb_chapter.h"
#include "nb_memo.h"

static char dir[64];
static void mk(void) {
    strcpy(dir, "/tmp/cbstoreXXXXXX");
    cr_assert(mkdtemp(dir));
}
static void rm(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) {}
}

/* a PID that is certainly not running: a child that has exited and been reaped */
static pid_t dead_pid(void) {
    pid_t p = fork();
    cr_assert(p >= 0);
    if (p == 0) _exit(0);
    waitpid(p, NULL, 0);
    cr_assert(!en_pid_alive(p));
    return p;
}

static void touch(const char *rel, long age_s) {
    char p[8400];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    FILE *f = fopen(p, "w");
    cr_assert(f, "%s", p);
    fputs("partial bytes", f);
    fclose(f);
    struct timespec t[2];
    t[0].tv_sec = t[1].tv_sec = time(NULL) - age_s;
    t[0].tv_nsec = t[1].tv_nsec = 0;
    cr_assert_eq(utimensat(AT_FDCWD, p, t, 0), 0);
}

static int exists(const char *rel) {
    char p[8400];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    return access(p, F_OK) == 0;
}

Test(tmpfile, names_carry_the_writer_pid, .init = mk, .fini = rm) {
    char path[256], *tmp = NULL;
    snprintf(path, sizeof path, "%s/x.safetensors", dir);
    int fd = en_tmpfile_open(path, &tmp);
    cr_assert(fd >= 0, "%s", en_error_msg());
    cr_expect_eq(en_tmpfile_pid(tmp), getpid(), "%s", tmp);
    close(fd); unlink(tmp); free(tmp);
    cr_expect_eq(en_tmpfile_pid("a.val.tmp.123.4"), 123);
    cr_expect_eq(en_tmpfile_pid("m.safetensors.tmp.55.0.tmp.77.2"), 77, "the innermost writer");
    cr_expect_eq(en_tmpfile_pid("a.tmp.123"), 0);
    cr_expect_eq(en_tmpfile_pid("a.tmp.x.1"), 0);
    cr_expect_eq(en_tmpfile_pid("notes.tmp"), 0);
}

Test(sweep, dead_writers_go_live_ones_stay, .init = mk, .fini = rm) {
    pid_t dead = dead_pid(), live = getpid();
    char d[256];
    snprintf(d, sizeof d, "%s/art", dir); cr_assert_eq(en_mkdirs(d), 0);
    snprintf(d, sizeof d, "%s/files", dir); cr_assert_eq(en_mkdirs(d), 0);
    char n[40][128];
    int k = 0;
#define F(fmt, pid, age) (snprintf(n[k], sizeof n[k], fmt, (long)(pid)), touch(n[k], age), n[k++])
    /* dead writers: gone (young ones only where their lock is free) */
    const char *g1 = F("art/k1.val.tmp.%ld.0", dead, 0);          /* no k1.lock: nobody writes k1 */
    const char *g2 = F("art/index.json.tmp.%ld.3", dead, 0);      /* no index.lock */
    const char *g3 = F("files/pre-vit.state.tmp.%ld.2", dead, 600);
    const char *g4 = F("art/k5.json.tmp.%ld.1", dead, 0);
    /* PIDs are reused: a day-old temporary file is an orphan whoever has its PID now */
    const char *g5 = F("files/model.safetensors.tmp.%ld.0", live, 25 * 3600);
    /* kept: a live writer, a young file of a dead PID no lock vouches for
     * (another PID namespace may be writing it), one whose lock is held */
    const char *k1 = F("art/k2.val.tmp.%ld.0", live, 0);
    const char *k2 = F("files/pre-rn.state.tmp.%ld.0", live, 600);
    const char *k3 = F("files/model.safetensors.tmp.%ld.1", dead, 10);
    const char *k4 = F("art/k3.val.tmp.%ld.0", dead, 10);
    const char *k5 = F("art/notes.tmp.%ld", dead, 90000);           /* no counter: not the pattern */
#undef F
    char lp[256];
    snprintf(lp, sizeof lp, "%s/art/k3.lock", dir);
    int lfd = open(lp, O_RDWR | O_CREAT, 0666);
    cr_assert(lfd >= 0 && flock(lfd, LOCK_EX) == 0);
    /* the lock is held by another process (flock is per open file; a
     * child holding it is the case that matters) */
    int pipefd[2];
    cr_assert_eq(pipe(pipefd), 0);
    pid_t holder = fork();
    if (holder == 0) { char c; close(pipefd[1]); if (read(pipefd[0], &c, 1)) {} _exit(0); }
    close(pipefd[0]);
    close(lfd);  /* the child's inherited descriptor keeps the lock */

    nb_memo *m = nb_memo_open(dir, "test");
    cr_assert(m, "%s", en_error_msg());
    const char *gone[] = {g1, g2, g3, g4, g5}, *kept[] = {k1, k2, k3, k4, k5};
    for (int i = 0; i < 5; i++) cr_expect(!exists(gone[i]), "%s should be removed", gone[i]);
    for (int i = 0; i < 5; i++) cr_expect(exists(kept[i]), "%s should be kept", kept[i]);
    nb_memo_close(m);
    char lg[256];
    snprintf(lg, sizeof lg, "%s/memo.log", dir);
    char *log = en_file_read(lg, NULL);
    cr_expect(log && strstr(log, "sweep - - ") && strstr(log, "removed 5 orphaned temporary files"), "%s", log ? log : "(no log)");
    free(log);

    /* once the lock is free, k3's orphan goes too */
    close(pipefd[1]);
    waitpid(holder, NULL, 0);
    long long bytes = 0;
    cr_expect_eq(nb_memo_sweep(dir, &bytes), 1);
    cr_expect_eq(bytes, (long long)strlen("partial bytes"));
    cr_expect(!exists(k4));
}

static int count_entries(cJSON *idx) { return cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(idx, "entries")); }

Test(index, corrupt_is_reported_once_and_rebuilt, .init = mk, .fini = rm) {
    cr_redirect_stderr();
    nb_memo *m = nb_memo_open(dir, "test");
    char why[256];
    const char *a = "{\"key\":\"k1\",\"params\":{\"lr\":0.1},\"env\":{},\"source\":\"return 1\",\"engine\":\"0.1\",\"profile\":\"mini\"}";
    const char *b = "{\"key\":\"k2\",\"params\":{\"lr\":0.2},\"env\":{},\"source\":\"return 1\",\"engine\":\"0.1\",\"profile\":\"mini\"}";
    cr_assert_eq(nb_memo_put(m, "art", "k1", "one", 3), 0);
    cr_assert_eq(nb_memo_explain(m, "art", a, 1, why, sizeof why), 0);
    cr_assert_eq(nb_memo_put(m, "art", "k2", "two", 3), 0);
    cr_assert_eq(nb_memo_explain(m, "art", b, 1, why, sizeof why), 0);
    cr_assert_eq(nb_memo_put(m, "art", "k3", "three", 5), 0);   /* never described */
    char p[256];
    snprintf(p, sizeof p, "%s/art/index.json", dir);
    FILE *f = fopen(p, "w");
    fputs("{\"entries\": [{\"key\": \"k1\", \"par", f);   /* cut off mid-write by a full disk */
    fclose(f);

    cJSON *idx = nb_memo_index_read(dir, "art", 0);
    cr_expect_eq(count_entries(idx), 3, "every entry on disk is indexed again");
    int seen = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(idx, "entries")) {
        const char *key = cJSON_GetObjectItemCaseSensitive(e, "key")->valuestring;
        const cJSON *pr = cJSON_GetObjectItemCaseSensitive(e, "params");
        if (!strcmp(key, "k2")) { seen++; cr_expect(pr && cJSON_GetObjectItemCaseSensitive(pr, "lr")->valuedouble == 0.2); }
        if (!strcmp(key, "k3")) { seen++; cr_expect(strstr(cJSON_GetObjectItemCaseSensitive(e, "why")->valuestring, "rebuilt")); }
    }
    cr_expect_eq(seen, 2);
    cJSON_Delete(idx);
    /* the rebuilt index is on disk: the next reader says nothing */
    idx = nb_memo_index_read(dir, "art", 0);
    cr_expect_eq(count_entries(idx), 3);
    cJSON_Delete(idx);
    /* and lookups explain against it */
    const char *c = "{\"key\":\"k4\",\"params\":{\"lr\":0.3},\"env\":{},\"source\":\"return 1\",\"engine\":\"0.1\",\"profile\":\"mini\"}";
    cr_assert_eq(nb_memo_explain(m, "art", c, 0, why, sizeof why), 0);
    cr_expect(strstr(why, "params changed: lr"), "%s", why);
    nb_memo_close(m);
    fflush(stderr);
    FILE *err = cr_get_redirected_stderr();
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, err);
    buf[n] = 0;
    const char *hit = strstr(buf, "art/index.json is corrupt (");
    cr_expect(hit, "stderr: %s", buf);
    cr_expect(hit && strstr(hit, "rebuilt it from the 3 entries on disk"), "stderr: %s", buf);
    cr_expect(hit && !strstr(hit + 20, "is corrupt"), "reported once: %s", buf);
}

/* `cache why` names the changed leaf and its two values, however deep, not
 * two cut-off JSON texts that look equal */
Test(explain, names_the_changed_path, .init = mk, .fini = rm) {
    nb_memo *m = nb_memo_open(dir, "test");
    char why[512];
    char a[1024], b[1024], pad[201];
    memset(pad, 'x', 200); pad[200] = 0;
    const char *fmt = "{\"key\":\"%s\",\"params\":{\"bench\":{\"names\":[\"%s\",\"a\"],\"steps\":%d}},"
                      "\"env\":{\"profile\":{\"bench\":{\"note\":\"%s\"},\"fewshot\":{\"epochs\":%d,\"lr\":0.1}},"
                      "\"H.f\":\"function:%s\"},\"source\":\"return 1\",\"engine\":\"0.1\",\"profile\":\"mini\"}";
    snprintf(a, sizeof a, fmt, "k1", "s", 3, pad, 20, "aaaa");
    cr_assert_eq(nb_memo_explain(m, "art", a, 1, why, sizeof why), 0);
    snprintf(b, sizeof b, fmt, "k2", "t", 3, pad, 30, "bbbb");
    cr_assert_eq(nb_memo_explain(m, "art", b, 0, why, sizeof why), 0);
    cr_expect(strstr(why, "params changed: bench.names[1] \"s\" -> \"t\""), "%s", why);
    cr_expect(strstr(why, "; H.f: code changed"), "%s", why);
    cr_expect(strstr(why, "variables changed: profile.fewshot.epochs 20 -> 30"), "%s", why);
    cr_expect(!strstr(why, "note"), "unchanged fields are not shown: %s", why);
    nb_memo_close(m);
}
