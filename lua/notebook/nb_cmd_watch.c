/* `clipbook watch`: the edit-rerun-look loop. Runs a command (by default
 * `make report`) once, then again each time a .lua or .json file under the
 * watched folders is saved (inotify), and prints where the new PDF is.
 * Saves that arrive while the command runs are coalesced into one rerun. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nb.h"

static const char *USAGE =
    "usage: clipbook watch [--cmd CMD] [--pdf PATH] [--max-runs N] [DIR...]\n"
    "  CMD      what to run on each change (default: make --no-print-directory report)\n"
    "  PATH     the PDF to point at after each run (default: build/report/report.pdf)\n"
    "  DIR      folders to watch (default: chapters lua)\n"
    "  N        stop after N runs (tests)\n";

static volatile sig_atomic_t stop;
static void on_int(int sig) { (void)sig; stop = 1; }

static int interesting(const char *name) {
    size_t n = strlen(name);
    if (!n || name[0] == '.' || name[n - 1] == '~') return 0; /* editor droppings */
    return (n > 4 && !strcmp(name + n - 4, ".lua")) || (n > 5 && !strcmp(name + n - 5, ".json"));
}

static int run_once(const char *cmd, const char *pdf, int nrun) {
    time_t t = time(NULL);
    char ts[16];
    strftime(ts, sizeof ts, "%H:%M:%S", localtime(&t));
    fprintf(stderr, "watch: [%s] run %d: %s\n", ts, nrun, cmd);
    int rc = system(cmd);
    /* system() ignores SIGINT while the command runs: a Ctrl-C that
     * stopped the command stops the watch too */
    if (rc != -1 && ((WIFSIGNALED(rc) && (WTERMSIG(rc) == SIGINT || WTERMSIG(rc) == SIGTERM)) ||
                     (WIFEXITED(rc) && WEXITSTATUS(rc) == 130)))
        stop = 1;
    int status = rc == -1 ? 127 : WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
    struct stat st;
    if (status == 0 && stat(pdf, &st) == 0) fprintf(stderr, "watch: report ready: %s\n", pdf);
    else if (status == 0) fprintf(stderr, "watch: done (no PDF at %s yet)\n", pdf);
    else fprintf(stderr, "watch: the run failed (exit %d); fix and save again\n", status);
    fprintf(stderr, "watch: waiting for changes (Ctrl-C stops)\n");
    return status;
}

int nb_cmd_watch(int argc, char **argv) {
    const char *cmd = "make --no-print-directory report";
    const char *pdf = "build/report/report.pdf";
    long max_runs = 0;
    const char *dirs[32];
    int ndirs = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--cmd") && i + 1 < argc) cmd = argv[++i];
        else if (!strcmp(argv[i], "--pdf") && i + 1 < argc) pdf = argv[++i];
        else if (!strcmp(argv[i], "--max-runs") && i + 1 < argc) max_runs = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { fputs(USAGE, stdout); return 0; }
        else if (argv[i][0] == '-') { fprintf(stderr, "clipbook watch: unknown option %s\n%s", argv[i], USAGE); return 2; }
        else if (ndirs < 32) dirs[ndirs++] = argv[i];
    }
    if (!ndirs) { dirs[ndirs++] = "chapters"; dirs[ndirs++] = "lua/notebook"; }
    int fd = inotify_init1(IN_CLOEXEC);
    if (fd < 0) { fprintf(stderr, "clipbook watch: inotify: %s\n", strerror(errno)); return 1; }
    int nwatch = 0;
    for (int i = 0; i < ndirs; i++) {
        if (inotify_add_watch(fd, dirs[i], IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE) < 0)
            fprintf(stderr, "clipbook watch: cannot watch %s: %s\n", dirs[i], strerror(errno));
        else nwatch++;
    }
    if (!nwatch) { close(fd); fprintf(stderr, "clipbook watch: nothing to watch\n"); return 1; }
    struct sigaction sa = {0};
    sa.sa_handler = on_int;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    long nrun = 0;
    int status = run_once(cmd, pdf, (int)++nrun);
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    while (!stop && (max_runs <= 0 || nrun < max_runs)) {
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, -1);
        if (r < 0) { if (errno == EINTR) continue; break; }
        int changed = 0;
        /* drain, then keep draining while saves keep coming (debounce) */
        do {
            ssize_t n = read(fd, buf, sizeof buf);
            if (n <= 0) break;
            for (char *q = buf; q < buf + n;) {
                struct inotify_event *ev = (struct inotify_event *)q;
                if (ev->len && interesting(ev->name)) {
                    if (!changed) fprintf(stderr, "watch: %s changed\n", ev->name);
                    changed = 1;
                }
                q += sizeof *ev + ev->len;
            }
        } while (!stop && poll(&p, 1, 200) > 0);
        if (changed && !stop) status = run_once(cmd, pdf, (int)++nrun);
    }
    close(fd);
    return status;
}
