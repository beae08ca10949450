/* fg_cmd — `clipbook figure SPEC.json --out x.pdf|x.svg|x.png
 * [--width PT] [--height PT] [--font FAMILY] [--size PT]`: render one
 * figure alone, to check it while writing a chapter (--font/--size: the
 * document's text font, to see it as the report will). PNG paths in the
 * spec are relative to the spec's folder. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fg.h"

static char *read_all(const char *path, char *err, size_t errlen) {
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) { snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno)); return NULL; }
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    for (;;) {
        if (n + 1 >= cap) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) { free(b); b = NULL; break; }
            b = nb;
        }
        size_t r = fread(b + n, 1, cap - n - 1, f);
        if (r == 0) break;
        n += r;
    }
    if (f != stdin) fclose(f);
    if (!b) { snprintf(err, errlen, "%s: out of memory", path); return NULL; }
    b[n] = 0;
    return b;
}

int fg_cmd_figure(int argc, char **argv) {
    const char *spec_path = NULL, *out = NULL;
    double w = 0, h = 0, size = 0;
    const char *font = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(a, "--width") && i + 1 < argc) w = atof(argv[++i]);
        else if (!strcmp(a, "--height") && i + 1 < argc) h = atof(argv[++i]);
        else if (!strcmp(a, "--font") && i + 1 < argc) font = argv[++i];
        else if (!strcmp(a, "--size") && i + 1 < argc) size = atof(argv[++i]);
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: clipbook figure SPEC.json --out x.pdf|x.svg|x.png [--width PT] [--height PT] [--font FAMILY] [--size PT]\n"
                   "  the spec format is described in figures/FORMAT.md\n");
            return 0;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "clipbook figure: unknown option '%s'\n", a);
            return 2;
        } else if (!spec_path) spec_path = a;
        else { fprintf(stderr, "clipbook figure: more than one spec ('%s')\n", a); return 2; }
    }
    if (!spec_path || !out) {
        fprintf(stderr, "clipbook figure: usage: clipbook figure SPEC.json --out x.pdf|x.svg|x.png [--width PT] [--height PT] [--font FAMILY] [--size PT]\n");
        return 2;
    }
    if (w < 0 || h < 0 || w > 5000 || h > 5000) {
        fprintf(stderr, "clipbook figure: --width/--height must be in 1..5000 pt\n");
        return 2;
    }
    if (font || size > 0) fg_set_fonts(font, NULL, size);
    char err[512] = "";
    char *json = read_all(spec_path, err, sizeof err);
    if (!json) { fprintf(stderr, "clipbook figure: %s\n", err); return 1; }
    char base[4096] = ".";
    const char *slash = strrchr(spec_path, '/');
    if (slash) snprintf(base, sizeof base, "%.*s", (int)(slash - spec_path), spec_path);
    if (slash == spec_path) snprintf(base, sizeof base, "/");
    fg_spec *s = fg_spec_parse(json, base, err, sizeof err);
    free(json);
    if (!s) { fprintf(stderr, "clipbook figure: %s: %s\n", spec_path, err); return 1; }
    int rc = fg_render_file(s, out, w, h, err, sizeof err);
    fg_spec_free(s);
    if (rc) { fprintf(stderr, "clipbook figure: %s\n", err); return 1; }
    return 0;
}
