/* clipbook — the command line. Dispatches to the subcommands in cli_cmds[]. */
#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "en_machine.h"
#include "en_version.h"
#include "fg.h"
#include "cli_cmd.h"
#include "nb.h"

int cli_cmd_classify(int, char **);
int cli_cmd_embed_images(int, char **);
int cli_cmd_embed_texts(int, char **);
int cli_cmd_fetch(int argc, char **argv);
int rp_cmd_math(int argc, char **argv);
int rp_cmd_render(int argc, char **argv);
int cli_cmd_tokenize(int, char **);

const cli_cmd cli_cmds[] = {
    /* { "name", cli_cmd_name, "summary" }, one per line, sorted by name */
    { "cache", nb_cmd_cache, "memo store: ls | why NAME | clean [NAME]" },
    { "classify", cli_cmd_classify, "zero-shot top-5 labels of images with a CLIP model" },
    { "embed-images", cli_cmd_embed_images, "CLIP image features of image files into a .npy" },
    { "embed-texts", cli_cmd_embed_texts, "CLIP text features of texts into a .npy" },
    { "fetch", cli_cmd_fetch, "download and verify the paper profile's data and weights into data/" },
    { "figure", fg_cmd_figure, "render one figure spec to PDF, SVG or PNG" },
    { "math", rp_cmd_math, "typeset one TeX formula (PNG/PDF/SVG, MathML, parse dump)" },
    { "render", rp_cmd_render, "typeset build/doc/*.json into report.pdf and report.html" },
    { "results", nb_cmd_results, "merge the results of fragments into one results.json" },
    { "run", nb_cmd_run, "run one chapter, write build/doc/<chapter>.json" },
    { "tokenize", cli_cmd_tokenize, "CLIP BPE token ids of each text" },
    { "watch", nb_cmd_watch, "rerun what changed and re-render on every save" },
    { NULL, NULL, NULL },
};

static int usage(FILE *f) {
    fprintf(f, "usage: clipbook <command> [args]\n\ncommands:\n");
    for (const cli_cmd *c = cli_cmds; c->name; c++) fprintf(f, "  %-14s %s\n", c->name, c->summary);
    fprintf(f, "  %-14s %s\n", "--version", "print the engine version and its code hash");
    fprintf(f, "  %-14s %s\n", "--code-hash", "print the code hash (SHA-256 of engine/, kernels/, lua/ sources)");
    return f == stderr ? 2 : 0;
}

/* Our own threads that are running now (OpenBLAS starts its pool when it
 * is loaded, and the pool spins for a while before it sleeps). */
static int own_running(void) {
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[64], buf[256];
        snprintf(path, sizeof path, "/proc/self/task/%.20s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t k = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[k] = 0;
        const char *r = strrchr(buf, ')'); /* "pid (comm) S ..." */
        if (r && r[1] == ' ' && r[2] == 'R') n++;
    }
    if (d) closedir(d);
    return n;
}

/* Whether the machine has a core for each of our threads: the runnable
 * count of /proc/loadavg ("R/T") less our own running threads, against the
 * CPUs we may use; the least of four readings 10 ms apart (a process that
 * only passes through, such as the shell that started us, is not load).
 * Read once, at start. */
static int machine_idle(void) {
    int least = -1;
    for (int i = 0; i < 4; i++) {
        if (i) nanosleep(&(struct timespec){0, 10000000}, NULL);
        FILE *f = fopen("/proc/loadavg", "r");
        int run = 0, total = 0;
        double l1, l5, l15;
        int ok = f && fscanf(f, "%lf %lf %lf %d/%d", &l1, &l5, &l15, &run, &total) == 5;
        if (f) fclose(f);
        if (!ok) return 0;
        int others = run - own_running();
        if (least < 0 || others < least) least = others;
    }
    cpu_set_t set;
    int cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    const char *t = getenv("OMP_NUM_THREADS");
    int threads = t && atoi(t) > 0 ? atoi(t) : cpus;
    return least + threads <= cpus;
}

/* libgomp reads OMP_WAIT_POLICY, and OpenBLAS OPENBLAS_THREAD_TIMEOUT,
 * once, when they are loaded, so neither can be set from main(): when the
 * user has chosen neither, run ourselves again with them set. OpenMP
 * workers that spin at the end of a parallel region cost 10-50x on a
 * loaded 2-core machine, so they sleep (OMP_WAIT_POLICY=PASSIVE) unless
 * the machine is idle at start, where libgomp's default (spin a while,
 * then sleep) makes a mini pre-training step 10-25 % faster
 * (CLIPBOOK_WAIT=spin|sleep forces one). OpenBLAS's idle threads spinning
 * after a call halve the engine's own GEMM rate (engine/NOTES.md, "OpenMP
 * wait policy"). */
static void ensure_wait_policy(char **argv) {
    int again = 0;
    if (!getenv("OMP_WAIT_POLICY")) {
        const char *w = getenv("CLIPBOOK_WAIT");
        if (!w || (strcmp(w, "spin") && strcmp(w, "sleep"))) {
            if (w) fprintf(stderr, "clipbook: CLIPBOOK_WAIT=%s is not spin or sleep; choosing by the machine's load\n", w);
            setenv("CLIPBOOK_WAIT", machine_idle() ? "spin" : "sleep", 1);
            w = getenv("CLIPBOOK_WAIT");
            again = 1;
        }
        if (!strcmp(w, "sleep")) { setenv("OMP_WAIT_POLICY", "PASSIVE", 1); again = 1; }
    }
    if (!getenv("OPENBLAS_THREAD_TIMEOUT")) { setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1); again = 1; }
    if (again) execv("/proc/self/exe", argv); /* returns only on failure: carry on */
}

int main(int argc, char **argv) {
    ensure_wait_policy(argv);
    if (argc < 2) return usage(stderr);
    /* the Makefile's $(DOC_DIR)/.engine stamp is this line: a new code hash
     * reruns every chapter */
    if (!strcmp(argv[1], "--code-hash")) { printf("%s\n", en_code_hash()); return 0; }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) return usage(stdout);
    /* this machine's GEMM paths (measured the first time), before any
     * command computes; they are part of the stamp too (en_machine.h) */
    en_machine_install();
    if (!strcmp(argv[1], "--version")) {
        printf("clipbook %s (engine code %.12s; %s)\n", en_version(), en_code_hash(), en_compute_signature());
        return 0;
    }
    for (const cli_cmd *c = cli_cmds; c->name; c++)
        if (!strcmp(argv[1], c->name)) return c->fn(argc - 1, argv + 1);
    fprintf(stderr, "clipbook: unknown command '%s' (try 'clipbook help')\n", argv[1]);
    return 2;
}
