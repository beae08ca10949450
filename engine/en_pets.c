/* The Oxford-IIIT Pet reader. The lists are checked whole at open time, so
 * a chapter fails before its first batch rather than an hour into a run;
 * the pixels are checked when a picture is loaded. */
#include "en_pets.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "en_error.h"
#include "en_image.h"
#include "en_ndbuf.h"
#include "en_preprocess.h"

typedef struct {
    char *name;
    int cls, species;
} pet;

struct en_pets {
    char *dir;
    pet *trainval, *test;
    int n_trainval, n_test;
    int *idx[EN_PETS_SPLIT_COUNT]; /* split -> index into trainval (train, val, trainval) */
    int count[EN_PETS_SPLIT_COUNT];
};

/* Every tenth trainval line (1-based line 10, 20, ...) is validation. */
#define VAL_EVERY 10

static const char *split_names[EN_PETS_SPLIT_COUNT] = {"train", "val", "test", "trainval"};

int en_pets_split_parse(const char *name) {
    for (int s = 0; s < EN_PETS_SPLIT_COUNT; s++)
        if (name && !strcmp(name, split_names[s])) return s;
    return -1;
}

const char *en_pets_split_name(en_pets_split s) {
    EN_ASSERT(s >= 0 && s < EN_PETS_SPLIT_COUNT);
    return split_names[s];
}

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static void free_list(pet *l, int n) {
    for (int i = 0; i < n; i++) free(l[i].name);
    free(l);
}

/* A decimal field in [lo, hi]; 0 or -1. */
static int field_int(const char *s, int lo, int hi, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

/* Reads one list file ("NAME CLASS SPECIES BREED" per line; blank lines
 * and '#' comments, as list.txt has, are skipped) and checks each line's
 * files. */
static int read_list(const char *dir, const char *rel, pet **out, int *n_out) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    *out = NULL;
    *n_out = 0;
    FILE *f = fopen(path, "r");
    if (!f) return en_error("%s: cannot open: %s", path, strerror(errno));
    pet *l = NULL;
    int n = 0, cap = 0, lineno = 0, rc = -1;
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            en_error("%s:%d: line too long", path, lineno);
            goto done;
        }
        char *tok[5], *save = NULL;
        int nt = 0;
        for (char *t = strtok_r(line, " \t\r\n", &save); t && nt < 5; t = strtok_r(NULL, " \t\r\n", &save)) tok[nt++] = t;
        if (nt == 0 || tok[0][0] == '#') continue;
        int cls, species, breed;
        if (nt != 4) {
            en_error("%s:%d: expected 4 fields \"NAME CLASS SPECIES BREED\", got %d", path, lineno, nt);
            goto done;
        }
        if (field_int(tok[1], 1, EN_PETS_CLASSES, &cls) || field_int(tok[2], 1, 2, &species) ||
            field_int(tok[3], 1, EN_PETS_CLASSES, &breed)) {
            en_error("%s:%d: bad numbers '%s %s %s' (class 1..%d, species 1..2, breed 1..%d)", path, lineno, tok[1], tok[2],
                     tok[3], EN_PETS_CLASSES, EN_PETS_CLASSES);
            goto done;
        }
        if (strchr(tok[0], '/') || tok[0][0] == '.' || strlen(tok[0]) > 200) {
            en_error("%s:%d: '%s' is not a picture name", path, lineno, tok[0]);
            goto done;
        }
        char img[4096], tri[4096];
        snprintf(img, sizeof img, "%s/images/%s.jpg", dir, tok[0]);
        snprintf(tri, sizeof tri, "%s/annotations/trimaps/%s.png", dir, tok[0]);
        if (!is_file(img)) {
            en_error("%s:%d: names %s, which is missing", path, lineno, img);
            goto done;
        }
        if (!is_file(tri)) {
            en_error("%s:%d: the mask of %s is missing (%s)", path, lineno, tok[0], tri);
            goto done;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            pet *g = realloc(l, sizeof *l * (size_t)cap);
            if (!g) { en_error("%s: out of memory", path); goto done; }
            l = g;
        }
        l[n].name = strdup(tok[0]);
        if (!l[n].name) { en_error("%s: out of memory", path); goto done; }
        l[n].cls = cls - 1;
        l[n].species = species - 1;
        n++;
    }
    if (ferror(f)) { en_error("%s: read failed", path); goto done; }
    if (n == 0) { en_error("%s: no pictures listed", path); goto done; }
    rc = 0;
done:
    fclose(f);
    if (rc < 0) { free_list(l, n); return -1; }
    *out = l;
    *n_out = n;
    return 0;
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* A name listed twice, or in both lists, would put one picture on both
 * sides of a split. */
static int check_unique(const en_pets *p) {
    int n = p->n_trainval + p->n_test;
    const char **names = malloc(sizeof *names * (size_t)n);
    if (!names) return en_error("%s: out of memory", p->dir);
    for (int i = 0; i < p->n_trainval; i++) names[i] = p->trainval[i].name;
    for (int i = 0; i < p->n_test; i++) names[p->n_trainval + i] = p->test[i].name;
    qsort(names, (size_t)n, sizeof *names, cmp_name);
    int rc = 0;
    for (int i = 1; i < n && !rc; i++)
        if (!strcmp(names[i - 1], names[i]))
            rc = en_error("%s/annotations: %s is listed twice (in trainval.txt and test.txt, or twice in one)", p->dir, names[i]);
    free(names);
    return rc;
}

en_pets *en_pets_open(const char *dir) {
    en_pets *p = calloc(1, sizeof *p);
    if (!p || !(p->dir = strdup(dir))) { free(p); en_error("%s: out of memory", dir); return NULL; }
    struct stat st;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
        en_error("%s: not a folder (expected the Oxford-IIIT Pet set: images/, annotations/)", dir);
        goto fail;
    }
    if (read_list(dir, "annotations/trainval.txt", &p->trainval, &p->n_trainval) < 0) goto fail;
    if (read_list(dir, "annotations/test.txt", &p->test, &p->n_test) < 0) goto fail;
    if (check_unique(p) < 0) goto fail;
    int nv = p->n_trainval / VAL_EVERY;
    p->count[EN_PETS_VAL] = nv;
    p->count[EN_PETS_TRAIN] = p->n_trainval - nv;
    p->count[EN_PETS_TRAINVAL] = p->n_trainval;
    p->count[EN_PETS_TEST] = p->n_test;
    for (int s = 0; s < EN_PETS_SPLIT_COUNT; s++) {
        if (s == EN_PETS_TEST) continue;
        p->idx[s] = malloc(sizeof(int) * (size_t)(p->count[s] ? p->count[s] : 1));
        if (!p->idx[s]) { en_error("%s: out of memory", dir); goto fail; }
    }
    int kt = 0, kv = 0;
    for (int i = 0; i < p->n_trainval; i++) {
        if ((i + 1) % VAL_EVERY == 0) p->idx[EN_PETS_VAL][kv++] = i;
        else p->idx[EN_PETS_TRAIN][kt++] = i;
        p->idx[EN_PETS_TRAINVAL][i] = i;
    }
    EN_ASSERT(kt == p->count[EN_PETS_TRAIN] && kv == nv);
    return p;
fail:
    en_pets_free(p);
    return NULL;
}

void en_pets_free(en_pets *p) {
    if (!p) return;
    free_list(p->trainval, p->n_trainval);
    free_list(p->test, p->n_test);
    for (int s = 0; s < EN_PETS_SPLIT_COUNT; s++) free(p->idx[s]);
    free(p->dir);
    free(p);
}

int en_pets_count(const en_pets *p, en_pets_split s) {
    EN_ASSERT(s >= 0 && s < EN_PETS_SPLIT_COUNT);
    return p->count[s];
}

static const pet *entry(const en_pets *p, en_pets_split s, int i) {
    EN_ASSERT(s >= 0 && s < EN_PETS_SPLIT_COUNT && i >= 0 && i < p->count[s]);
    return s == EN_PETS_TEST ? &p->test[i] : &p->trainval[p->idx[s][i]];
}

const char *en_pets_name(const en_pets *p, en_pets_split s, int i) { return entry(p, s, i)->name; }
int en_pets_class(const en_pets *p, en_pets_split s, int i) { return entry(p, s, i)->cls; }
int en_pets_species(const en_pets *p, en_pets_split s, int i) { return entry(p, s, i)->species; }

int en_pets_load(const en_pets *p, en_pets_split s, int i, int size, en_pets_boundary boundary, uint8_t *rgb,
                 uint8_t *mask) {
    if (size < 1 || size > 4096) return en_error("%s: size must be 1..4096 (got %d)", p->dir, size);
    const pet *e = entry(p, s, i);
    char img[4096], tri[4096];
    snprintf(img, sizeof img, "%s/images/%s.jpg", p->dir, e->name);
    snprintf(tri, sizeof tri, "%s/annotations/trimaps/%s.png", p->dir, e->name);
    en_ndbuf pic, tm;
    memset(&tm, 0, sizeof tm);
    if (en_image_read(img, 3, &pic) < 0) return -1;
    int rc = -1;
    int h = (int)pic.shape[0], w = (int)pic.shape[1];
    if (en_image_read(tri, 1, &tm) < 0) goto done;
    if (tm.shape[0] != h || tm.shape[1] != w) {
        en_error("%s: mask is %lldx%lld but its picture %s is %dx%d", tri, (long long)tm.shape[1], (long long)tm.shape[0],
                 img, w, h);
        goto done;
    }
    uint8_t *t = tm.data;
    static const uint8_t to_fg[4] = {0, 1, 0, 1}, to_ignore[4] = {0, 1, 0, EN_PETS_IGNORE};
    const uint8_t *map = boundary == EN_PETS_BOUNDARY_IGNORE ? to_ignore : to_fg;
    for (size_t k = 0; k < tm.nbytes; k++) {
        if (t[k] < 1 || t[k] > 3) {
            en_error("%s: value %d at (%zu, %zu); a trimap holds only 1 (pet), 2 (background), 3 (boundary)", tri, t[k],
                     k % (size_t)w, k / (size_t)w);
            goto done;
        }
        t[k] = map[t[k]];
    }
    if (rgb && en_resize_bicubic(rgb, size, size, pic.data, h, w, 3) < 0) goto done;
    if (mask) en_resize_nearest_u8(mask, size, size, t, h, w);
    rc = 0;
done:
    en_ndbuf_free(&pic);
    en_ndbuf_free(&tm);
    return rc;
}

int en_pets_load_batch(const en_pets *p, en_pets_split s, int start, int n, int size, en_pets_boundary boundary,
                       uint8_t *rgb, uint8_t *mask) {
    EN_ASSERT(s >= 0 && s < EN_PETS_SPLIT_COUNT && start >= 0 && n >= 0 && start + n <= p->count[s]);
    if (size < 1 || size > 4096) return en_error("%s: size must be 1..4096 (got %d)", p->dir, size);
    /* en_error is thread-local: the first failing picture's message is
     * copied out of its thread */
    int first = n;
    char msg[1024] = "";
    size_t px = (size_t)size * size;
#pragma omp parallel for schedule(dynamic, 4)
    for (int i = 0; i < n; i++) {
        if (en_pets_load(p, s, start + i, size, boundary, rgb ? rgb + (size_t)i * px * 3 : NULL,
                         mask ? mask + (size_t)i * px : NULL) < 0) {
#pragma omp critical(en_pets_batch_error)
            if (i < first) {
                first = i;
                snprintf(msg, sizeof msg, "%s", en_error_msg());
            }
        }
    }
    if (first < n) return en_error("%s", msg);
    return 0;
}
