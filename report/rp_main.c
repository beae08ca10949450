/* clipbook — the command line: run, render, figure, embed, cache, ... */
#include <stdio.h>
#include <string.h>
#include "en_version.h"

static int usage(FILE *f) {
    fprintf(f, "usage: clipbook <command> [args]\n"
               "  --version        print the engine version\n");
    return f == stderr ? 2 : 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return usage(stderr);
    if (!strcmp(argv[1], "--version")) { printf("clipbook %s\n", en_version()); return 0; }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) return usage(stdout);
    fprintf(stderr, "clipbook: unknown command '%s'\n", argv[1]);
    return usage(stderr);
}
