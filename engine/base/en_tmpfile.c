#include "en_tmpfile.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "en_error.h"

int en_tmpfile_open(const char *path, char **tmp) {
    static unsigned counter;
    size_t cap = strlen(path) + 48;
    char *t = malloc(cap);
    if (!t) return en_error("%s: out of memory", path);
    /* a stale file of an earlier process with our PID may hold a name:
     * step the counter until one is free */
    for (int tries = 0; tries < 1000; tries++) {
        snprintf(t, cap, "%s.tmp.%ld.%u", path, (long)getpid(), __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
        int fd = open(t, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) { *tmp = t; return fd; }
        if (errno != EEXIST) break;
    }
    int e = errno;
    en_error("%s: cannot create a temporary file: %s", t, strerror(e));
    free(t);
    return -1;
}

pid_t en_tmpfile_pid(const char *name) {
    const char *p = strstr(name, ".tmp.");
    if (!p) return 0;
    /* the last ".tmp." (a temporary of a temporary names its own writer) */
    for (const char *q; (q = strstr(p + 1, ".tmp.")); ) p = q;
    p += 5;
    char *end;
    errno = 0;
    long pid = strtol(p, &end, 10);
    if (end == p || *end != '.' || pid <= 0 || errno) return 0;
    const char *n = end + 1;
    if (!*n) return 0;
    for (; *n; n++) if (*n < '0' || *n > '9') return 0;
    return (pid_t)pid;
}

int en_pid_alive(pid_t pid) {
    if (pid <= 0) return 0;
    return kill(pid, 0) == 0 || errno == EPERM;
}
