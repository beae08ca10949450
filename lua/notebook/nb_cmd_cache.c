/* `clipbook cache ls | why NAME | clean [NAME]` over the memo store
 * (nb_memo.h). */
#include <cJSON.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "en_error.h"
#include "en_file.h"
#include "nb.h"
#include "nb_memo.h"

static const char *USAGE =
    "usage: clipbook cache [--cache DIR] ls\n"
    "       clipbook cache [--cache DIR] why NAME\n"
    "       clipbook cache [--cache DIR] clean [NAME]\n"
    "       clipbook cache [--cache DIR] clean --stale\n"
    "  --stale removes the entries a newer computation with the same\n"
    "  parameters and profile replaced (older code, older engine), and the\n"
    "  temporary files of writers that were killed\n"
    "  DIR defaults to $CLIPBOOK_CACHE, else build/cache\n";

/* (a corrupt index is reported and rebuilt from the entries on disk) */
static cJSON *load_index(const char *dir, const char *name) { return nb_memo_index_read(dir, name, 0); }

static const char *js(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "-";
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Names in the store, sorted; *n set. */
static char **list_names(const char *dir, int *n) {
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return NULL;
    char **v = NULL;
    int cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!nb_memo_name_ok(e->d_name)) continue;
        char p[4096];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode)) continue;
        if (*n == cap) { cap = cap ? 2 * cap : 16; v = realloc(v, sizeof *v * cap); EN_ASSERT(v); }
        v[(*n)++] = strdup(e->d_name);
    }
    closedir(d);
    if (*n) qsort(v, (size_t)*n, sizeof *v, cmp_names);
    return v;
}

static long entry_size(const char *dir, const char *name, const char *key) {
    char p[4096];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s/%s.val", dir, name, key);
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

static int cmd_ls(const char *dir) {
    int n;
    char **names = list_names(dir, &n);
    printf("%-24s %-12s %10s %-20s %-8s %8s  %s\n", "NAME", "KEY", "BYTES", "COMPUTED", "PROFILE", "WALL_S", "CHAPTER");
    for (int i = 0; i < n; i++) {
        cJSON *idx = load_index(dir, names[i]);
        const cJSON *e;
        cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(idx, "entries")) {
            long sz = entry_size(dir, names[i], js(e, "key"));
            if (sz < 0) continue;  /* cleaned or corrupt: not in the cache */
            const cJSON *w = cJSON_GetObjectItemCaseSensitive(e, "wall_s");
            printf("%-24s %-12.12s %10ld %-20s %-8s %8.2f  %s\n", names[i], js(e, "key"), sz, js(e, "time"),
                   js(e, "profile"), cJSON_IsNumber(w) ? w->valuedouble : 0.0, js(e, "chapter"));
        }
        cJSON_Delete(idx);
        free(names[i]);
    }
    free(names);
    return 0;
}

static int same_json(const cJSON *a, const cJSON *b, const char *k);

/* Lines of s (pointers into a copy the caller frees). */
static char **split_lines(const char *s, int *n, char **copy) {
    *copy = strdup(s);
    int cap = 16;
    char **v = malloc(sizeof *v * cap);
    *n = 0;
    for (char *p = *copy; p && *p;) {
        char *e = strchr(p, '\n');
        if (e) *e = 0;
        if (*n == cap) { cap *= 2; v = realloc(v, sizeof *v * cap); }
        v[(*n)++] = p;
        p = e ? e + 1 : NULL;
    }
    return v;
}

/* A line diff of two function sources (longest common subsequence; the
 * functions a memo wraps are short). */
static void print_source_diff(const char *a, const char *b) {
    char *ca, *cb;
    int na, nb;
    char **la = split_lines(a, &na, &ca), **lb = split_lines(b, &nb, &cb);
    if ((long)na * nb <= 4000000L) {
        int *t = calloc((size_t)(na + 1) * (nb + 1), sizeof *t);
#define T(i, j) t[(size_t)(i) * (nb + 1) + (j)]
        for (int i = na - 1; i >= 0; i--)
            for (int j = nb - 1; j >= 0; j--)
                T(i, j) = !strcmp(la[i], lb[j]) ? T(i + 1, j + 1) + 1 : (T(i + 1, j) > T(i, j + 1) ? T(i + 1, j) : T(i, j + 1));
        printf("  source diff (older -> this):\n");
        int i = 0, j = 0;
        while (i < na || j < nb) {
            if (i < na && j < nb && !strcmp(la[i], lb[j])) { i++; j++; }
            else if (i < na && (j == nb || T(i + 1, j) >= T(i, j + 1))) printf("    - %s\n", la[i++]);
            else printf("    + %s\n", lb[j++]);
        }
#undef T
        free(t);
    }
    free(la); free(lb); free(ca); free(cb);
}

static int cmd_why(const char *dir, const char *name) {
    if (!nb_memo_name_ok(name)) { fprintf(stderr, "clipbook cache: '%s' is not an artifact name\n", name); return 2; }
    cJSON *idx = load_index(dir, name);
    const cJSON *entries = cJSON_GetObjectItemCaseSensitive(idx, "entries");
    int k = cJSON_GetArraySize(entries);
    if (!k) {
        fprintf(stderr, "clipbook cache: no artifact named '%s' in %s\n", name, dir);
        cJSON_Delete(idx);
        return 1;
    }
    /* newest first: why each version was computed */
    for (int i = k - 1; i >= 0; i--) {
        const cJSON *e = cJSON_GetArrayItem(entries, i);
        int present = entry_size(dir, name, js(e, "key")) >= 0;
        char *params = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(e, "params"));
        printf("%s %.12s  %s  %s, profile %s, engine %s (code %.12s)%s\n  why: %s\n  params: %s\n",
               i == k - 1 ? "latest" : "older ", js(e, "key"), js(e, "time"), js(e, "chapter"),
               js(e, "profile"), js(e, "engine"), js(e, "code"), present ? "" : "  (no longer cached)", js(e, "why"),
               params ? params : "-");
        free(params);
        /* for the latest: how its source differs from the version it replaced */
        if (i == k - 1) {
            const cJSON *ref = NULL;
            for (int j = k - 2; j >= 0 && !ref; j--) {
                const cJSON *f = cJSON_GetArrayItem(entries, j);
                if (same_json(e, f, "params") && same_json(e, f, "profile")) ref = f;
            }
            if (!ref && k >= 2) ref = cJSON_GetArrayItem(entries, k - 2);
            if (ref && strcmp(js(ref, "source"), js(e, "source"))) print_source_diff(js(ref, "source"), js(e, "source"));
        }
    }
    cJSON_Delete(idx);
    return 0;
}

static int rm_tree(const char *path) {
    DIR *d = opendir(path);
    if (!d) return unlink(path);
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) rc |= rm_tree(p);
        else rc |= unlink(p);
    }
    closedir(d);
    return rc | rmdir(path);
}

static int cmd_clean(const char *dir, const char *name) {
    if (name) {
        if (!nb_memo_name_ok(name)) { fprintf(stderr, "clipbook cache: '%s' is not an artifact name\n", name); return 2; }
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, name);
        if (access(p, F_OK) < 0) { fprintf(stderr, "clipbook cache: no artifact named '%s' in %s\n", name, dir); return 1; }
        if (rm_tree(p) < 0) { fprintf(stderr, "clipbook cache: cannot remove %s\n", p); return 1; }
        printf("removed %s\n", p);
        return 0;
    }
    int n;
    char **names = list_names(dir, &n);
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        if (rm_tree(p) < 0) { fprintf(stderr, "clipbook cache: cannot remove %s\n", p); rc = 1; }
        free(names[i]);
    }
    free(names);
    printf("removed %d artifact%s from %s\n", n, n == 1 ? "" : "s", dir);
    return rc;
}

static int same_json(const cJSON *a, const cJSON *b, const char *k) {
    char *x = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(a, k));
    char *y = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(b, k));
    int r = x && y ? !strcmp(x, y) : x == y;
    free(x); free(y);
    return r;
}

/* Entries superseded by a newer one of the same name, params and profile. */
static int cmd_clean_stale(const char *dir) {
    int n, removed = 0;
    char **names = list_names(dir, &n);
    for (int i = 0; i < n; i++) {
        char lpath[4096], ipath[4096];
        snprintf(lpath, sizeof lpath, "%s/%s/index.lock", dir, names[i]);
        snprintf(ipath, sizeof ipath, "%s/%s/index.json", dir, names[i]);
        /* the index lock: a run recording an entry waits for us */
        int lk = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (lk >= 0) flock(lk, LOCK_EX);
        cJSON *idx = nb_memo_index_read(dir, names[i], lk >= 0);
        cJSON *entries = cJSON_GetObjectItemCaseSensitive(idx, "entries");
        int k = cJSON_GetArraySize(entries), changed = 0;
        for (int a = k - 2; a >= 0; a--) {
            cJSON *e = cJSON_GetArrayItem(entries, a);
            int stale = 0;
            for (int b = a + 1; b < cJSON_GetArraySize(entries) && !stale; b++) {
                cJSON *f = cJSON_GetArrayItem(entries, b);
                stale = same_json(e, f, "params") && same_json(e, f, "profile") && same_json(e, f, "env");
            }
            if (!stale) continue;
            char p[4096];
            snprintf(p, sizeof p, "%s/%s/%s.val", dir, names[i], js(e, "key"));
            if (unlink(p) == 0) removed++;
            snprintf(p, sizeof p, "%s/%s/%s.lock", dir, names[i], js(e, "key"));
            unlink(p);
            snprintf(p, sizeof p, "%s/%s/%s.json", dir, names[i], js(e, "key"));
            unlink(p);
            cJSON_DeleteItemFromArray(entries, a);
            changed = 1;
        }
        if (changed) {
            char *out = cJSON_Print(idx);
            if (en_file_write_atomic(ipath, out, strlen(out)) < 0) fprintf(stderr, "clipbook cache: %s\n", en_error_msg());
            free(out);
        }
        cJSON_Delete(idx);
        if (lk >= 0) { flock(lk, LOCK_UN); close(lk); }
        free(names[i]);
    }
    free(names);
    printf("removed %d stale entr%s from %s\n", removed, removed == 1 ? "y" : "ies", dir);
    /* and what killed writers left (nb_memo_sweep's rules) */
    long long bytes;
    int orphans = nb_memo_sweep(dir, &bytes);
    printf("removed %d orphaned temporary file%s (%lld bytes)\n", orphans, orphans == 1 ? "" : "s", bytes);
    return 0;
}

int nb_cmd_cache(int argc, char **argv) {
    const char *dir = getenv("CLIPBOOK_CACHE");
    if (!dir || !*dir) dir = "build/cache";
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--cache") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { fputs(USAGE, stdout); return 0; }
        else { fprintf(stderr, "clipbook cache: unknown option %s\n%s", argv[i], USAGE); return 2; }
    }
    if (i >= argc) { fputs(USAGE, stderr); return 2; }
    const char *sub = argv[i];
    if (!strcmp(sub, "ls") && i + 1 == argc) return cmd_ls(dir);
    if (!strcmp(sub, "why") && i + 2 == argc) return cmd_why(dir, argv[i + 1]);
    if (!strcmp(sub, "clean") && i + 2 == argc && !strcmp(argv[i + 1], "--stale")) return cmd_clean_stale(dir);
    if (!strcmp(sub, "clean") && i + 2 >= argc) return cmd_clean(dir, i + 1 < argc ? argv[i + 1] : NULL);
    fputs(USAGE, stderr);
    return 2;
}
