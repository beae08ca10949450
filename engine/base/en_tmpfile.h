/* en_tmpfile — the one name every atomic writer gives its temporary file.
 *
 * A writer creates PATH.tmp.PID.N beside PATH (PID: its process id, N: a
 * per-process counter), writes, fsyncs and renames it over PATH. A writer
 * killed before the rename leaves that file behind; because the name
 * carries the PID, a cleaner (the memo store's, nb_memo.h) can tell an
 * orphan — its writer no longer runs — from a file being written now.
 *
 * Every temporary file under the memo store must be made here (or follow
 * the same pattern, as chapters/study.lua does from Lua).
 */
#ifndef EN_TMPFILE_H
#define EN_TMPFILE_H

#include <stddef.h>
#include <sys/types.h>

/* Create (O_EXCL, mode 0600) a fresh temporary file for path and return
 * its fd; its name is malloc'd into *tmp (the caller frees it and unlinks
 * the file on failure). -1 with en_error when it cannot be created. */
int en_tmpfile_open(const char *path, char **tmp);

/* The writer's PID when name (a file name, or a path) ends in
 * ".tmp.PID.N"; 0 when it does not follow the pattern. */
pid_t en_tmpfile_pid(const char *name);

/* 1 when a process with this PID exists (it may belong to another user). */
int en_pid_alive(pid_t pid);

#endif
