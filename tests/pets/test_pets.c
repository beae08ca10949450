/* The Oxford-IIIT Pet reader (engine/en_pets.h) against a tiny set in the
 * published layout written by Pillow (tests/reference/gen_pets.py), with
 * Pillow's own resized pictures and masks as the reference; and every
 * rejection on a damaged copy of it. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "en_error.h"
#include "en_image.h"
#include "en_npy.h"
#include "en_pets.h"

#define DATA "tests/pets/data"

/* ---- helpers --------------------------------------------------------------- */

static char tmpdir[64];

static void rm_tmp(void) {
    if (!tmpdir[0]) return;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd)) {}
}

/* A fresh copy of the set to damage; returns its folder. */
static const char *copy_set(void) {
    strcpy(tmpdir, "/tmp/cbpets.XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    atexit(rm_tmp);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "cp -r " DATA "/images " DATA "/annotations '%s'/", tmpdir);
    cr_assert_eq(system(cmd), 0);
    return tmpdir;
}

static const char *at(const char *dir, const char *rel) {
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", dir, rel);
    return p[k];
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

/* Writes an 8-bit gray PNG of h x w pixels, all `v` except pixel (0,0) = v0. */
static void write_mask(const char *path, int h, int w, int v, int v0) {
    uint8_t *px = malloc((size_t)h * w);
    memset(px, v, (size_t)h * w);
    px[0] = (uint8_t)v0;
    en_ndbuf b = {.dtype = EN_U8, .ndim = 2, .shape = {h, w}, .data = px, .nbytes = (size_t)h * w};
    cr_assert_eq(en_image_write_png(path, &b), 0, "%s", en_error_msg());
    free(px);
}

/* Opens dir, loads every picture of every split at 16 px; the first error. */
static int open_and_load_all(const char *dir) {
    en_pets *p = en_pets_open(dir);
    if (!p) return -1;
    uint8_t rgb[16 * 16 * 3], mask[16 * 16];
    int rc = 0;
    for (int s = 0; s < EN_PETS_SPLIT_COUNT && !rc; s++)
        for (int i = 0; i < en_pets_count(p, s) && !rc; i++) rc = en_pets_load(p, s, i, 16, EN_PETS_BOUNDARY_FG, rgb, mask);
    en_pets_free(p);
    return rc;
}

static void expect_error(const char *dir, const char *what1, const char *what2) {
    cr_assert_eq(open_and_load_all(dir), -1, "accepted; expected an error with '%s'", what1);
    const char *m = en_error_msg();
    cr_assert(strstr(m, what1) && (!what2 || strstr(m, what2)), "message '%s' lacks '%s' / '%s'", m, what1, what2 ? what2 : "");
    cr_log_info("rejected: %s", m);
}

/* ---- the layout ---------------------------------------------------------- */

Test(pets, splits_follow_the_lists) {
    en_pets *p = en_pets_open(DATA);
    cr_assert_not_null(p, "%s", en_error_msg());
    cr_assert_eq(en_pets_count(p, EN_PETS_TRAINVAL), 20);
    cr_assert_eq(en_pets_count(p, EN_PETS_TEST), 8);
    cr_assert_eq(en_pets_count(p, EN_PETS_VAL), 2);
    cr_assert_eq(en_pets_count(p, EN_PETS_TRAIN), 18);
    /* val = lines 10 and 20 of trainval.txt; train = the rest in order;
     * test = test.txt; class / species from the line's numbers */
    FILE *f = fopen(DATA "/annotations/trainval.txt", "r");
    char name[256];
    int cls, sp, br, line = 0, kt = 0, kv = 0;
    while (fscanf(f, "%255s %d %d %d", name, &cls, &sp, &br) == 4) {
        line++;
        en_pets_split s = line % 10 == 0 ? EN_PETS_VAL : EN_PETS_TRAIN;
        int i = s == EN_PETS_VAL ? kv++ : kt++;
        cr_assert_str_eq(en_pets_name(p, s, i), name, "line %d", line);
        cr_assert_eq(en_pets_class(p, s, i), cls - 1);
        cr_assert_eq(en_pets_species(p, s, i), sp - 1);
        cr_assert_str_eq(en_pets_name(p, EN_PETS_TRAINVAL, line - 1), name);
    }
    fclose(f);
    cr_assert_eq(line, 20);
    f = fopen(DATA "/annotations/test.txt", "r");
    for (int i = 0; fscanf(f, "%255s %d %d %d", name, &cls, &sp, &br) == 4; i++)
        cr_assert_str_eq(en_pets_name(p, EN_PETS_TEST, i), name);
    fclose(f);
    cr_assert_eq(en_pets_split_parse("val"), EN_PETS_VAL);
    cr_assert_eq(en_pets_split_parse("validation"), -1);
    en_pets_free(p);
}

/* Pictures and masks equal Pillow's Image.open(...).convert("RGB")
 * .resize((s, s), BICUBIC) and trimap.resize((s, s), NEAREST) exactly: the
 * decoder and both resizes are Pillow's integer arithmetic, so the
 * tolerance is 0. Covers gray and palette trimaps, a gray JPEG and a PNG
 * under a .jpg name, shrinking and enlarging. */
Test(pets, pictures_and_masks_match_pillow) {
    en_pets *p = en_pets_open(DATA);
    cr_assert_not_null(p, "%s", en_error_msg());
    int compared = 0, worst_rgb = 0, worst_mask = 0;
    static const int sizes[2] = {24, 40};
    for (int s = 0; s < EN_PETS_SPLIT_COUNT; s++) {
        if (s == EN_PETS_TRAINVAL) continue;
        for (int i = 0; i < en_pets_count(p, s); i++)
            for (int z = 0; z < 2; z++) {
                int S = sizes[z];
                char path[512];
                snprintf(path, sizeof path, DATA "/expect/%s.s%d.rgb.npy", en_pets_name(p, s, i), S);
                if (access(path, R_OK)) continue;
                en_ndbuf er, em;
                cr_assert_eq(en_npy_read(path, &er), 0, "%s", en_error_msg());
                snprintf(path, sizeof path, DATA "/expect/%s.s%d.mask.npy", en_pets_name(p, s, i), S);
                cr_assert_eq(en_npy_read(path, &em), 0, "%s", en_error_msg());
                cr_assert(er.nbytes == (size_t)S * S * 3 && em.nbytes == (size_t)S * S);
                uint8_t *rgb = malloc((size_t)S * S * 3), *fg = malloc((size_t)S * S), *ig = malloc((size_t)S * S);
                cr_assert_eq(en_pets_load(p, s, i, S, EN_PETS_BOUNDARY_FG, rgb, fg), 0, "%s", en_error_msg());
                cr_assert_eq(en_pets_load(p, s, i, S, EN_PETS_BOUNDARY_IGNORE, NULL, ig), 0, "%s", en_error_msg());
                const uint8_t *wr = er.data, *wm = em.data;
                for (size_t k = 0; k < er.nbytes; k++) {
                    int d = abs(rgb[k] - wr[k]);
                    if (d > worst_rgb) worst_rgb = d;
                }
                for (size_t k = 0; k < em.nbytes; k++) {
                    int want_fg = wm[k] == 2 ? 0 : 1, want_ig = wm[k] == 1 ? 1 : wm[k] == 2 ? 0 : EN_PETS_IGNORE;
                    if (fg[k] != want_fg || ig[k] != want_ig) worst_mask++;
                }
                compared++;
                free(rgb); free(fg); free(ig);
                en_ndbuf_free(&er);
                en_ndbuf_free(&em);
            }
    }
    cr_log_info("pets vs Pillow: %d picture/size pairs, worst |rgb diff| %d, mask pixels differing %d", compared, worst_rgb,
                worst_mask);
    cr_assert_eq(compared, 20, "expected 10 pictures x 2 sizes, compared %d", compared);
    cr_assert_eq(worst_rgb, 0);
    cr_assert_eq(worst_mask, 0);
    en_pets_free(p);
}

/* ---- rejections ----------------------------------------------------------- */

Test(pets, rejects_a_missing_folder_or_list) {
    expect_error("/nonexistent/pets", "/nonexistent/pets", "not a folder");
    const char *d = copy_set();
    unlink(at(d, "annotations/test.txt"));
    expect_error(d, "annotations/test.txt", "cannot open");
}

Test(pets, rejects_a_missing_mask) {
    const char *d = copy_set();
    char name[256];
    FILE *f = fopen(at(d, "annotations/test.txt"), "r");
    cr_assert_eq(fscanf(f, "%255s", name), 1);
    fclose(f);
    char rel[300];
    snprintf(rel, sizeof rel, "annotations/trimaps/%s.png", name);
    unlink(at(d, rel));
    expect_error(d, "test.txt:1", "the mask of");
}

Test(pets, rejects_a_line_naming_a_missing_picture) {
    const char *d = copy_set();
    FILE *f = fopen(at(d, "annotations/trainval.txt"), "a");
    fputs("Sphynx_999 34 1 12\n", f);
    fclose(f);
    expect_error(d, "trainval.txt:21", "images/Sphynx_999.jpg, which is missing");
}

Test(pets, rejects_malformed_lines_and_duplicates) {
    const char *d = copy_set();
    write_text(at(d, "annotations/test.txt"), "Abyssinian_1 1 1\n");
    expect_error(d, "test.txt:1", "expected 4 fields");
    write_text(at(d, "annotations/test.txt"), "Abyssinian_1 38 1 1\n");
    expect_error(d, "test.txt:1", "bad numbers");
    write_text(at(d, "annotations/test.txt"), "../images/Abyssinian_1 1 1 1\n");
    expect_error(d, "test.txt:1", "not a picture name");
    char name[256], line[512];
    FILE *f = fopen(DATA "/annotations/trainval.txt", "r");
    cr_assert_not_null(fgets(line, sizeof line, f));
    fclose(f);
    cr_assert_eq(sscanf(line, "%255s", name), 1);
    write_text(at(d, "annotations/test.txt"), line);  /* the first trainval picture, now also a test picture */
    expect_error(d, name, "listed twice");
}

Test(pets, rejects_a_mask_of_another_size) {
    const char *d = copy_set();
    char name[256];
    FILE *f = fopen(at(d, "annotations/trainval.txt"), "r");
    cr_assert_eq(fscanf(f, "%255s", name), 1);
    fclose(f);
    char rel[300];
    snprintf(rel, sizeof rel, "annotations/trimaps/%s.png", name);
    write_mask(at(d, rel), 7, 9, 2, 2);
    expect_error(d, rel, "mask is 9x7 but its picture");
}

Test(pets, rejects_mask_values_outside_the_trimap) {
    const char *d = copy_set();
    char name[256], rel[300], img[300];
    FILE *f = fopen(at(d, "annotations/trainval.txt"), "r");
    cr_assert_eq(fscanf(f, "%255s", name), 1);
    fclose(f);
    snprintf(rel, sizeof rel, "annotations/trimaps/%s.png", name);
    snprintf(img, sizeof img, "images/%s.jpg", name);
    en_ndbuf pic;
    cr_assert_eq(en_image_read(at(d, img), 3, &pic), 0, "%s", en_error_msg());
    write_mask(at(d, rel), (int)pic.shape[0], (int)pic.shape[1], 2, 0);  /* a 0-based mask: 0 at (0,0) */
    expect_error(d, rel, "value 0 at (0, 0)");
    write_mask(at(d, rel), (int)pic.shape[0], (int)pic.shape[1], 2, 4);
    expect_error(d, rel, "value 4 at (0, 0)");
    /* an RGB picture of the mask is not a trimap */
    en_ndbuf b = pic;
    cr_assert_eq(en_image_write_png(at(d, rel), &b), 0);
    expect_error(d, rel, "gray or palette");
    en_ndbuf_free(&pic);
}

Test(pets, rejects_a_truncated_or_corrupt_picture) {
    const char *d = copy_set();
    char name[256], rel[300];
    FILE *f = fopen(at(d, "annotations/test.txt"), "r");
    cr_assert_eq(fscanf(f, "%255s", name), 1);
    fclose(f);
    snprintf(rel, sizeof rel, "images/%s.jpg", name);
    const char *path = at(d, rel);
    FILE *g = fopen(path, "rb");
    cr_assert_not_null(g);
    unsigned char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, g);
    fclose(g);
    cr_assert(n > 200 && buf[0] == 0xff, "%s is a JPEG of %zu bytes", path, n);
    g = fopen(path, "wb");
    fwrite(buf, 1, n / 2, g);  /* cut in the middle of the entropy-coded data */
    fclose(g);
    expect_error(d, rel, "truncated");
    write_text(path, "not a picture\n");
    expect_error(d, rel, "not a PNG or JPEG");
}
