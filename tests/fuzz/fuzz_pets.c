/* libFuzzer target for the Oxford-IIIT Pet reader (engine/en_pets.c): the
 * input is three little-endian 16-bit lengths, then four parts —
 * trainval.txt, test.txt, one trimap PNG (those three of the given lengths,
 * cut at the end of the input) and one picture (the rest) — laid out as a Pet folder in which the
 * names "a", "b" and "c" have that picture and that trimap. The lists are
 * what the fuzzer varies most (any line may name a missing file, a name
 * twice, bad fields); the files reach the decoders and the size and value
 * checks of en_pets_load. An opened set must answer within its bounds and
 * a failure must name a file of the folder. */
#include "fuzz_util.h"

#include <sys/stat.h>

#include "en_error.h"
#include "en_pets.h"

static char root[200];

static void put(const char *rel, const uint8_t *d, size_t n) {
    char p[400];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *f = fopen(p, "wb");
    if (!f || (n && fwrite(d, 1, n, f) != n) || fclose(f)) abort();
}

static void rm_tree(void) {
    static const char *files[] = { "annotations/trainval.txt", "annotations/test.txt",
                                   "annotations/trimaps/a.png", "annotations/trimaps/b.png",
                                   "annotations/trimaps/c.png", "images/a.jpg", "images/b.jpg", "images/c.jpg" };
    char p[400];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", root, files[i]);
        unlink(p);
    }
    static const char *dirs[] = { "annotations/trimaps", "annotations", "images", "" };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", root, dirs[i]);
        rmdir(p);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!root[0]) {
        const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(root, sizeof root, "%s/fuzz-pets-%d", dir, (int)getpid());
        atexit(rm_tree);
        char p[400];
        mkdir(root, 0755);
        snprintf(p, sizeof p, "%s/images", root); mkdir(p, 0755);
        snprintf(p, sizeof p, "%s/annotations", root); mkdir(p, 0755);
        snprintf(p, sizeof p, "%s/annotations/trimaps", root); mkdir(p, 0755);
    }
    if (size < 6) return 0;
    const uint8_t *part[4];
    size_t len[4], at = 6;
    for (int i = 0; i < 4; i++) {
        size_t want = i < 3 ? (size_t)data[2 * i] | (size_t)data[2 * i + 1] << 8 : size - at;
        part[i] = data + at;
        len[i] = want < size - at ? want : size - at;
        at += len[i];
    }
    static const char *const slot[4] = { "annotations/trainval.txt", "annotations/test.txt", NULL, NULL };
    for (int i = 0; i < 2; i++) put(slot[i], part[i], len[i]);
    static const char *const names[3] = { "a", "b", "c" };
    for (int i = 0; i < 3; i++) {
        char t[64], m[64];
        snprintf(t, sizeof t, "annotations/trimaps/%s.png", names[i]);
        snprintf(m, sizeof m, "images/%s.jpg", names[i]);
        put(t, part[2], len[2]);
        put(m, part[3], len[3]);
    }
    en_error_clear();
    en_pets *p = en_pets_open(root);
    if (!p) {
        if (!strstr(en_error_msg(), root)) abort();
        return 0;
    }
    int total = 0;
    for (int s = 0; s < EN_PETS_SPLIT_COUNT; s++) {
        int n = en_pets_count(p, (en_pets_split)s);
        if (n < 0 || n > 3 * 2) abort();   /* each list names at most a, b, c once: the rest is refused */
        if (s != EN_PETS_TRAINVAL) total += n;
        for (int i = 0; i < n && i < 2; i++) {
            if (en_pets_class(p, (en_pets_split)s, i) < 0 || en_pets_class(p, (en_pets_split)s, i) >= EN_PETS_CLASSES)
                abort();
            uint8_t rgb[8 * 8 * 3], mask[8 * 8];
            en_error_clear();
            if (en_pets_load(p, (en_pets_split)s, i, 8, EN_PETS_BOUNDARY_IGNORE, rgb, mask) == 0) {
                for (int j = 0; j < 64; j++)
                    if (mask[j] != 0 && mask[j] != 1 && mask[j] != EN_PETS_IGNORE) abort();
            } else if (!strstr(en_error_msg(), root)) {
                abort();
            }
        }
    }
    if (total != en_pets_count(p, EN_PETS_TRAINVAL) + en_pets_count(p, EN_PETS_TEST)) abort();
    en_pets_free(p);
    return 0;
}
