/* clipbook — the command line. Dispatches to the subcommands in rp_cmds[]. */
#include <stdio.h>
#include <string.h>

#include "en_version.h"
#include "rp_cmd.h"
#include "rp_cmds_runner.h"

int rp_cmd_tokenize(int, char **);

const rp_cmd rp_cmds[] = {
    /* { "name", rp_cmd_name, "summary" }, one per line, sorted by name */
    { "cache", rp_cmd_cache, "memo store: ls | why NAME | clean [NAME]" },
    { "results", rp_cmd_results, "merge the results of fragments into one results.json" },
    { "run", lx_cmd_run, "run one chapter, write build/doc/<chapter>.json" },
    { "tokenize", rp_cmd_tokenize, "CLIP BPE token ids of each text" },
    { "watch", rp_cmd_watch, "rerun what changed and re-render on every save" },
    { NULL, NULL, NULL },
};

static int usage(FILE *f) {
    fprintf(f, "usage: clipbook <command> [args]\n\ncommands:\n");
    for (const rp_cmd *c = rp_cmds; c->name; c++) fprintf(f, "  %-14s %s\n", c->name, c->summary);
    fprintf(f, "  %-14s %s\n", "--version", "print the engine version");
    return f == stderr ? 2 : 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return usage(stderr);
    if (!strcmp(argv[1], "--version")) { printf("clipbook %s\n", en_version()); return 0; }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) return usage(stdout);
    for (const rp_cmd *c = rp_cmds; c->name; c++)
        if (!strcmp(argv[1], c->name)) return c->fn(argc - 1, argv + 1);
    fprintf(stderr, "clipbook: unknown command '%s' (try 'clipbook help')\n", argv[1]);
    return 2;
}
