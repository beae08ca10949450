/* The memo store's files: entries, locks, the log and the index. */
#include "nb_memo.h"

#include <cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "en_error.h"
#include "en_file.h"
#include "en_tmpfile.h"
#include "en_sha256.h"

struct nb_memo {
    char *dir;
    char *chapter;
    int logfd;
};

/* Write header (may be NULL) then data atomically (en_file.h: a
 * PATH.tmp.PID.N beside path, which nb_memo_sweep recognises, fsynced and
 * renamed over it). */
static int write_atomic2(const char *path, const void *hdr, size_t hn, const void *data, size_t n) {
    en_atomic a;
    FILE *f = en_atomic_open(&a, path);
    if (!f) return -1;
    if ((hn && fwrite(hdr, 1, hn, f) != hn) || (n && fwrite(data, 1, n, f) != n)) {
        a.failed = 1;
        en_error("%s: write failed: %m", path);
    }
    return en_atomic_commit(&a);
}

/* ---- orphaned temporary files ---------------------------------------- */

/* 1 when nobody holds the lock that guards the writer of tmp (a file in
 * folder): KEY.lock for KEY.val.tmp.*, index.lock for index.json.tmp.* and
 * KEY.json.tmp.* (both written under it). A
 * file no lock guards (the scratch files/) answers 0. */
static int guard_free(const char *folder, const char *tmp) {
    const char *dot = strstr(tmp, ".val.tmp.");
    char p[4096];
    if (dot) snprintf(p, sizeof p, "%s/%.*s.lock", folder, (int)(dot - tmp), tmp);
    else if (strstr(tmp, ".json.tmp.")) snprintf(p, sizeof p, "%s/index.lock", folder);
    else return 0;
    int fd = open(p, O_RDWR | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT;
    int free_ = flock(fd, LOCK_EX | LOCK_NB) == 0;
    close(fd);  /* releases it */
    return free_;
}

static void sweep_folder(const char *folder, time_t now, int *count, long long *bytes) {
    DIR *d = opendir(folder);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        pid_t pid = en_tmpfile_pid(e->d_name);
        if (!pid) continue;
        char p[4096];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", folder, e->d_name);
        if (lstat(p, &st) < 0 || !S_ISREG(st.st_mode)) continue;
        double age = difftime(now, st.st_mtime);
        int orphan = age >= NB_MEMO_ORPHAN_MAX_S ||
                     (!en_pid_alive(pid) && (age >= NB_MEMO_ORPHAN_MIN_S || guard_free(folder, e->d_name)));
        if (orphan && unlink(p) == 0) { (*count)++; *bytes += st.st_size; }
    }
    closedir(d);
}

int nb_memo_sweep(const char *dir, long long *bytes) {
    int count = 0;
    long long b = 0;
    time_t now = time(NULL);
    sweep_folder(dir, now, &count, &b);
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char p[4096];
            struct stat st;
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) sweep_folder(p, now, &count, &b);
        }
        closedir(d);
    }
    if (bytes) *bytes = b;
    return count;
}

nb_memo *nb_memo_open(const char *dir, const char *chapter) {
    if (en_mkdirs(dir) < 0) return NULL;
    nb_memo *m = calloc(1, sizeof *m);
    EN_ASSERT(m);
    m->dir = strdup(dir);
    m->chapter = strdup(chapter ? chapter : "-");
    char path[4096];
    snprintf(path, sizeof path, "%s/memo.log", dir);
    m->logfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (m->logfd < 0) { en_error("%s: cannot open: %m", path); nb_memo_close(m); return NULL; }
    long long bytes;
    int n = nb_memo_sweep(dir, &bytes);
    if (n) {
        char why[96];
        snprintf(why, sizeof why, "removed %d orphaned temporary file%s (%lld bytes)", n, n == 1 ? "" : "s", bytes);
        nb_memo_log(m, "sweep", "-", "-", why);
    }
    return m;
}

void nb_memo_close(nb_memo *m) {
    if (!m) return;
    if (m->logfd >= 0) close(m->logfd);
    free(m->dir);
    free(m->chapter);
    free(m);
}

const char *nb_memo_dir(const nb_memo *m) { return m->dir; }

int nb_memo_name_ok(const char *name) {
    if (!name || !*name || strlen(name) > 200 || name[0] == '.') return 0;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && *p != '.') return 0;
    return 1;
}

static void entry_path(char *out, size_t cap, const nb_memo *m, const char *name, const char *key, const char *ext) {
    snprintf(out, cap, "%s/%s/%s%s", m->dir, name, key, ext);
}

int nb_memo_get(nb_memo *m, const char *name, const char *key, char **data, size_t *n) {
    char path[4096];
    entry_path(path, sizeof path, m, name, key, ".val");
    size_t len;
    FILE *f = fopen(path, "rb");
    if (!f) return 1;
    fclose(f);
    char *buf = en_file_read(path, &len);
    if (!buf) return 2;
    const char *why = NULL;
    uint64_t plen = 0;
    if (len < NB_MEMO_HEADER || memcmp(buf, NB_MEMO_MAGIC, 8)) why = "bad header";
    else {
        for (int i = 0; i < 8; i++) plen |= (uint64_t)(uint8_t)buf[8 + i] << (8 * i);
        if (plen != len - NB_MEMO_HEADER) why = "truncated (length does not match its header)";
        else {
            uint8_t d[32];
            en_sha256_digest(d, buf + NB_MEMO_HEADER, plen);
            if (memcmp(d, buf + 16, 32)) why = "checksum mismatch";
        }
    }
    if (why) {
        en_error("%s: corrupt cache entry: %s", path, why);
        free(buf);
        unlink(path);
        return 2;
    }
    memmove(buf, buf + NB_MEMO_HEADER, plen);
    *data = buf;
    *n = plen;
    return 0;
}

int nb_memo_put(nb_memo *m, const char *name, const char *key, const void *data, size_t n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", m->dir, name);
    if (en_mkdirs(path) < 0) return -1;
    entry_path(path, sizeof path, m, name, key, ".val");
    uint8_t hdr[NB_MEMO_HEADER];
    memcpy(hdr, NB_MEMO_MAGIC, 8);
    for (int i = 0; i < 8; i++) hdr[8 + i] = (uint8_t)((uint64_t)n >> (8 * i));
    en_sha256_digest(hdr + 16, data, n);
    return write_atomic2(path, hdr, sizeof hdr, data, n);
}

static int lock_path(const char *path) {
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) return en_error("%s: cannot open lock: %m", path);
    while (flock(fd, LOCK_EX) < 0) {
        if (errno == EINTR) continue;
        en_error("%s: cannot lock: %m", path);
        close(fd);
        return -1;
    }
    return fd;
}

int nb_memo_lock(nb_memo *m, const char *name, const char *key) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", m->dir, name);
    if (en_mkdirs(path) < 0) return -1;
    entry_path(path, sizeof path, m, name, key, ".lock");
    return lock_path(path);
}

void nb_memo_unlock(int fd) {
    if (fd >= 0) { flock(fd, LOCK_UN); close(fd); }
}

void nb_memo_log(nb_memo *m, const char *event, const char *name, const char *key, const char *why) {
    char line[1024], ts[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int k = snprintf(line, sizeof line, "%s %s %.12s chapter=%s pid=%ld time=%s%s%s\n", event, name, key,
                     m->chapter, (long)getpid(), ts, why && *why ? " why=" : "", why ? why : "");
    if (k >= (int)sizeof line) { k = sizeof line - 1; line[k - 1] = '\n'; }
    if (write(m->logfd, line, (size_t)k) < 0) { /* the log is advisory */ }
}

/* ---- the index and "why" ---------------------------------------------- */

static const char *jstr(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static char *jprint(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return v ? cJSON_PrintUnformatted(v) : strdup("(none)");
}

static int same(const cJSON *a, const cJSON *b, const char *k) {
    char *x = jprint(a, k), *y = jprint(b, k);
    int r = !strcmp(x, y);
    free(x); free(y);
    return r;
}

static void add(char *why, size_t cap, const char *s) {
    size_t n = strlen(why);
    if (n && n + 2 < cap) { strcat(why, "; "); n += 2; }
    snprintf(why + n, cap - n, "%s", s);
}

static void clip(char *s, size_t max) {
    if (strlen(s) > max) strcpy(s + max - 3, "...");
}

/* The first line where two source texts differ. */
static void source_diff(char *out, size_t cap, const char *a, const char *b) {
    int line = 1;
    const char *la = a, *lb = b;
    while (*a && *a == *b) { if (*a == '\n') { line++; la = a + 1; lb = b + 1; } a++; b++; }
    const char *e = lb;
    while (*e && *e != '\n') e++;
    char text[64];
    snprintf(text, sizeof text, "%.*s", (int)(e - lb), lb);
    clip(text, 48);
    char *t = text;
    while (*t == ' ' || *t == '\t') t++;
    (void)la;
    snprintf(out, cap, "source changed (line %d of the function: `%s`)", line, t);
}

/* Walk two JSON values side by side and name each leaf that differs by
 * its path ("fewshot.epochs 20 -> 30"): objects by key, lists of one length
 * by index; anything else is a leaf. A helper function's code is recorded
 * as "function:HASH": shown as "S.model: code changed". */
typedef struct { char *why; size_t cap; const char *head; int shown, more; } diffctx;

static void diff_leaf(diffctx *d, const char *path, const cJSON *a, const cJSON *b) {
    char *x = a ? cJSON_PrintUnformatted(a) : strdup("(none)");
    char *y = b ? cJSON_PrintUnformatted(b) : strdup("(none)");
    if (strcmp(x, y)) {
        char line[400];
        int fa = cJSON_IsString(a) && !strncmp(a->valuestring, "function:", 9);
        int fb = cJSON_IsString(b) && !strncmp(b->valuestring, "function:", 9);
        clip(x, 60); clip(y, 60);
        if (fa && fb) snprintf(line, sizeof line, "%s%s%s: code changed", d->shown ? "" : d->head, d->shown ? "" : " ", path);
        else snprintf(line, sizeof line, "%s%s%s %s -> %s", d->shown ? "" : d->head, d->shown ? "" : " ", path, x, y);
        if (d->shown < 4) add(d->why, d->cap, line);
        else d->more++;
        d->shown++;
    }
    free(x); free(y);
}

static void diff_walk(diffctx *d, char *path, size_t pcap, const cJSON *a, const cJSON *b) {
    size_t n = strlen(path);
    if (cJSON_IsObject(a) && cJSON_IsObject(b)) {
        const cJSON *it;
        for (int pass = 0; pass < 2; pass++) {
            const cJSON *from = pass ? b : a;
            cJSON_ArrayForEach(it, from) {
                const cJSON *o = cJSON_GetObjectItemCaseSensitive(pass ? a : b, it->string);
                if (pass && o) continue;  /* keys in both were walked in pass 0 */
                snprintf(path + n, pcap - n, "%s%s", n ? "." : "", it->string);
                if (pass) diff_walk(d, path, pcap, NULL, it);
                else diff_walk(d, path, pcap, it, o);
                path[n] = 0;
            }
        }
    } else if (cJSON_IsArray(a) && cJSON_IsArray(b) && cJSON_GetArraySize(a) == cJSON_GetArraySize(b)) {
        for (int i = 0; i < cJSON_GetArraySize(a); i++) {
            snprintf(path + n, pcap - n, "[%d]", i + 1);
            diff_walk(d, path, pcap, cJSON_GetArrayItem(a, i), cJSON_GetArrayItem(b, i));
            path[n] = 0;
        }
    } else {
        diff_leaf(d, n ? path : "(all)", a, b);
    }
}

/* comp: "params" (memo's explicit parameters) or "env" (what its function
 * reads from chapter variables and upvalues, by path) */
static void params_diff(char *why, size_t cap, const cJSON *old, const cJSON *cur, const char *comp) {
    diffctx d = { why, cap, !strcmp(comp, "env") ? "variables changed:" : "params changed:", 0, 0 };
    char path[1024] = "";
    diff_walk(&d, path, sizeof path, cJSON_GetObjectItemCaseSensitive(old, comp), cJSON_GetObjectItemCaseSensitive(cur, comp));
    if (d.more) {
        char line[64];
        snprintf(line, sizeof line, "and %d more", d.more);
        add(why, cap, line);
    }
}

static void explain(char *why, size_t cap, const cJSON *entries, const cJSON *cur) {
    why[0] = 0;
    const cJSON *e, *same_params = NULL, *same_source = NULL, *same_key = NULL, *newest = NULL;
    cJSON_ArrayForEach(e, entries) {
        newest = e;
        if (!strcmp(jstr(e, "key"), jstr(cur, "key"))) same_key = e;
        if (same(e, cur, "params") && same(e, cur, "profile")) same_params = e;
        if (same(e, cur, "source")) same_source = e;
    }
    if (same_key) { add(why, cap, "entry not in the cache (removed, or corrupt)"); return; }
    const cJSON *ref = same_params ? same_params : same_source ? same_source : newest;
    if (!ref) { add(why, cap, "new"); return; }
    char line[300];
    /* the function's tokens when both recorded them (a comment edit is no
     * change), else its text */
    int fn_changed = *jstr(ref, "fn_hash") && *jstr(cur, "fn_hash") ? !same(ref, cur, "fn_hash") : !same(ref, cur, "source");
    if (fn_changed) {
        source_diff(line, sizeof line, jstr(ref, "source"), jstr(cur, "source"));
        add(why, cap, line);
    }
    if (!same(ref, cur, "engine")) {
        snprintf(line, sizeof line, "engine %s -> %s", jstr(ref, "engine"), jstr(cur, "engine"));
        add(why, cap, line);
    }
    if (!same(ref, cur, "code")) {
        const char *x = jstr(ref, "code"), *y = jstr(cur, "code");
        snprintf(line, sizeof line, "engine code changed (%.12s -> %.12s)", *x ? x : "unrecorded", *y ? y : "unrecorded");
        add(why, cap, line);
    }
    if (!same(ref, cur, "compute")) { /* the GEMM paths (engine/en_machine.h) */
        snprintf(line, sizeof line, "compute paths %s -> %s", *jstr(ref, "compute") ? jstr(ref, "compute") : "unrecorded",
                 jstr(cur, "compute"));
        add(why, cap, line);
    }
    if (!same(ref, cur, "profile")) {
        snprintf(line, sizeof line, "profile %s -> %s", jstr(ref, "profile"), jstr(cur, "profile"));
        add(why, cap, line);
    }
    if (!same(ref, cur, "params")) params_diff(why, cap, ref, cur, "params");
    if (!same(ref, cur, "env")) params_diff(why, cap, ref, cur, "env");
    if (!why[0]) add(why, cap, "key inputs differ");
}

/* ---- the index: read, check, rebuild ----------------------------------- */

/* NULL when idx is a well-formed index; else what is wrong with it. */
static const char *index_fault(const cJSON *idx) {
    if (!cJSON_IsObject(idx)) return "not a JSON object";
    const cJSON *entries = cJSON_GetObjectItemCaseSensitive(idx, "entries");
    if (!cJSON_IsArray(entries)) return "no \"entries\" list";
    const cJSON *e;
    cJSON_ArrayForEach(e, entries)
        if (!cJSON_IsObject(e) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(e, "key")))
            return "an entry without a key";
    return NULL;
}

typedef struct { char *key; time_t mtime; } val_file;

static int cmp_val(const void *a, const void *b) {
    const val_file *x = a, *y = b;
    if (x->mtime != y->mtime) return x->mtime < y->mtime ? -1 : 1;
    return strcmp(x->key, y->key);
}

/* An index made from the entries on disk (oldest first): each KEY.val with
 * the components its KEY.json recorded, or only what the file tells. */
static cJSON *index_rebuild(const char *folder, int *n) {
    cJSON *idx = cJSON_CreateObject();
    cJSON *entries = cJSON_AddArrayToObject(idx, "entries");
    *n = 0;
    DIR *d = opendir(folder);
    if (!d) return idx;
    val_file *v = NULL;
    int cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".val")) continue;
        char p[8400];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", folder, e->d_name);
        if (stat(p, &st) < 0 || !S_ISREG(st.st_mode)) continue;
        if (*n == cap) { cap = cap ? 2 * cap : 16; v = realloc(v, sizeof *v * (size_t)cap); EN_ASSERT(v); }
        v[*n].key = strndup(e->d_name, l - 4);
        v[*n].mtime = st.st_mtime;
        (*n)++;
    }
    closedir(d);
    if (*n) qsort(v, (size_t)*n, sizeof *v, cmp_val);
    for (int i = 0; i < *n; i++) {
        char p[8400];
        snprintf(p, sizeof p, "%s/%s.json", folder, v[i].key);
        char *t = en_file_read(p, NULL);
        cJSON *c = t ? cJSON_Parse(t) : NULL;
        free(t);
        if (!cJSON_IsObject(c) || strcmp(jstr(c, "key"), v[i].key)) {
            cJSON_Delete(c);
            c = cJSON_CreateObject();
            cJSON_AddStringToObject(c, "key", v[i].key);
            char ts[32];
            struct tm tm;
            gmtime_r(&v[i].mtime, &tm);
            strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
            cJSON_AddStringToObject(c, "time", ts);
            cJSON_AddStringToObject(c, "why", "unknown (the index was rebuilt; this entry's components were not recorded)");
        }
        cJSON_AddItemToArray(entries, c);
        free(v[i].key);
    }
    free(v);
    en_error_clear();
    return idx;
}

static cJSON *index_parse(const char *path, const char **fault, int *exists) {
    char *txt = en_file_read(path, NULL);
    *exists = txt != NULL;
    cJSON *idx = txt ? cJSON_Parse(txt) : NULL;
    free(txt);
    en_error_clear();
    *fault = *exists ? index_fault(idx) : NULL;
    return idx;
}

cJSON *nb_memo_index_read(const char *dir, const char *name, int locked) {
    char folder[4096], path[4200], lpath[4200];
    snprintf(folder, sizeof folder, "%s/%s", dir, name);
    snprintf(path, sizeof path, "%s/index.json", folder);
    const char *fault;
    int exists;
    cJSON *idx = index_parse(path, &fault, &exists);
    if (fault) {
        /* repair under the index lock; another process may have done it */
        int lk = -1;
        if (!locked) {
            snprintf(lpath, sizeof lpath, "%s/index.lock", folder);
            lk = lock_path(lpath);
            cJSON_Delete(idx);
            idx = index_parse(path, &fault, &exists);
        }
        if (fault) {
            cJSON_Delete(idx);
            int n;
            idx = index_rebuild(folder, &n);
            char *out = cJSON_Print(idx);
            int w = en_file_write_atomic(path, out, strlen(out));
            free(out);
            fprintf(stderr, "clipbook: %s is corrupt (%s); %s from the %d entr%s on disk\n", path, fault,
                    w == 0 ? "rebuilt it" : "could not rewrite it, using an index rebuilt", n, n == 1 ? "y" : "ies");
            if (w < 0) fprintf(stderr, "clipbook: %s\n", en_error_msg());
            en_error_clear();
        }
        nb_memo_unlock(lk);
    }
    if (!idx || index_fault(idx)) {
        cJSON_Delete(idx);
        idx = cJSON_CreateObject();
        cJSON_AddArrayToObject(idx, "entries");
    }
    return idx;
}

int nb_memo_explain(nb_memo *m, const char *name, const char *comps_json, int record, char *why, size_t whylen) {
    cJSON *cur = cJSON_Parse(comps_json);
    if (!cur) return en_error("memo '%s': bad components JSON", name);
    char dir[4096], path[4200], lpath[4200];
    snprintf(dir, sizeof dir, "%s/%s", m->dir, name);
    if (en_mkdirs(dir) < 0) { cJSON_Delete(cur); return -1; }
    snprintf(path, sizeof path, "%s/index.json", dir);
    snprintf(lpath, sizeof lpath, "%s/index.lock", dir);
    int lk = record ? lock_path(lpath) : -1;
    if (record && lk < 0) { cJSON_Delete(cur); return -1; }
    cJSON *idx = nb_memo_index_read(m->dir, name, record);
    cJSON *entries = cJSON_GetObjectItemCaseSensitive(idx, "entries");
    explain(why, whylen, entries, cur);
    int rc = 0;
    if (record) {
        /* what this entry was made of, beside it: a corrupt index can be
         * rebuilt from the entries on disk without losing it */
        char *c = cJSON_Print(cur);
        char cpath[4300];
        snprintf(cpath, sizeof cpath, "%s/%s.json", dir, jstr(cur, "key"));
        if (en_file_write_atomic(cpath, c, strlen(c)) < 0) { /* advisory: the index has it too */ }
        free(c);
        en_error_clear();
        /* newest last; one entry per key; the 64 newest kept */
        for (int i = cJSON_GetArraySize(entries) - 1; i >= 0; i--)
            if (!strcmp(jstr(cJSON_GetArrayItem(entries, i), "key"), jstr(cur, "key")))
                cJSON_DeleteItemFromArray(entries, i);
        cJSON_AddStringToObject(cur, "why", why);
        cJSON_AddItemToArray(entries, cur);
        cur = NULL;
        while (cJSON_GetArraySize(entries) > 64) cJSON_DeleteItemFromArray(entries, 0);
        char *out = cJSON_Print(idx);
        rc = en_file_write_atomic(path, out, strlen(out));
        free(out);
        nb_memo_unlock(lk);
    }
    cJSON_Delete(cur);
    cJSON_Delete(idx);
    return rc;
}
