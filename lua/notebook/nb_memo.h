/* nb_memo — the memo store on disk (build/cache/ by default). Knows bytes,
 * not Lua values: lua/ serialises values and computes keys.
 *
 * Layout, one folder per artifact name ([A-Za-z0-9_.-]+):
 *   DIR/NAME/KEY.val     an entry: "CBMEMO1\n", u64 LE payload length,
 *                        SHA-256 of the payload (32 bytes), the payload.
 *                        Written to a temporary file, fsynced, renamed:
 *                        a reader sees a whole entry or none; a truncated
 *                        or altered one fails its length or checksum.
 *   DIR/NAME/KEY.json    the components of KEY (as in the index), so that
 *                        a corrupt index can be rebuilt from the entries.
 *   DIR/NAME/KEY.lock    flock()ed while KEY is computed, so that two
 *                        processes asking for it compute it once.
 *   DIR/NAME/index.json  {"entries": [components...]}, newest last: what
 *                        each cached key was made of (params as canonical
 *                        JSON, source text, engine version and code
 *                        hash, profile, chapter, time), for
 *                        `clipbook cache ls|why`.
 *   DIR/memo.log         append-only, one line per lookup:
 *                        EVENT NAME KEY12 chapter=C pid=P time=T [why=...]
 *                        EVENT: hit | miss | wait-hit (another process
 *                        computed it while we waited) | corrupt | sweep
 *                        (orphaned temporary files removed on open).
 *   *.tmp.PID.N          a temporary file being written (en_tmpfile.h), in
 *                        DIR or one folder below it (DIR/files/ holds the
 *                        chapters' scratch files). A writer killed before
 *                        its rename leaves one behind: nb_memo_sweep removes
 *                        those whose writer is gone.
 */
#ifndef NB_MEMO_H
#define NB_MEMO_H

#include <stddef.h>

#define NB_MEMO_MAGIC "CBMEMO1\n"
#define NB_MEMO_HEADER 48

typedef struct nb_memo nb_memo;

/* A temporary file is an orphan when its writer's PID is gone and either
 * it is older than NB_MEMO_ORPHAN_MIN_S or the lock that guards its writer
 * (KEY.lock, index.lock) is free; or, whatever its PID says (PIDs are
 * reused), when it is older than NB_MEMO_ORPHAN_MAX_S: no writer takes a
 * day over one file, and every writer rewrites (touches) it as it goes. */
#define NB_MEMO_ORPHAN_MIN_S 300
#define NB_MEMO_ORPHAN_MAX_S (24 * 3600)

/* Remove the orphaned temporary files in dir and the folders one level
 * below it (one readdir each). Returns how many; *bytes (may be NULL)
 * their size. */
int nb_memo_sweep(const char *dir, long long *bytes);

/* Open (creating) the store at dir, sweeping its orphaned temporary files
 * (logged as "sweep"); chapter names the log's writer. */
nb_memo *nb_memo_open(const char *dir, const char *chapter);
void     nb_memo_close(nb_memo *m);
const char *nb_memo_dir(const nb_memo *m);

/* 1 when name is a valid artifact name. */
int nb_memo_name_ok(const char *name);

/* Look up NAME/KEY. 0: found, payload malloc'd in *data, *n; 1: missing;
 * 2: present but corrupt (en_error says why; the entry is removed). */
int nb_memo_get(nb_memo *m, const char *name, const char *key, char **data, size_t *n);
/* Store NAME/KEY atomically. 0, or -1 with en_error. */
int nb_memo_put(nb_memo *m, const char *name, const char *key, const void *data, size_t n);

/* Exclusive lock on NAME/KEY (blocks). Returns an fd for nb_memo_unlock, or
 * -1 with en_error. */
int  nb_memo_lock(nb_memo *m, const char *name, const char *key);
void nb_memo_unlock(int fd);

/* Append one line to memo.log (a single write(2), O_APPEND). */
void nb_memo_log(nb_memo *m, const char *event, const char *name, const char *key, const char *why);

/* Record a computed entry's components (a JSON object text with at least
 * "key", "params", "source", "engine", "profile") in NAME/index.json and
 * write into why a one-line reason it had to be computed, found by
 * comparing with the closest older entry ("new", "source changed",
 * "params changed: lr 0.1 -> 0.2", "engine 0.1.0 -> 0.2.0", ...).
 * why_only: compute the reason without recording. 0, or -1 with en_error. */
int nb_memo_explain(nb_memo *m, const char *name, const char *comps_json, int record,
                    char *why, size_t whylen);

/* NAME/index.json as a cJSON object with an "entries" array (empty when
 * there is none). When the file exists but is not a valid index, says so
 * on stderr and rebuilds it from the entries on disk (KEY.val, described
 * by KEY.json where present), taking NAME/index.lock unless the caller
 * holds it (locked), so the next reader finds it whole: reported once. */
struct cJSON;
struct cJSON *nb_memo_index_read(const char *dir, const char *name, int locked);

#endif
