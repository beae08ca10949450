/* nb_filehash — what a data file or folder holds, as a SHA-256, for memo
 * keys: a checkpoint, the CIFAR binaries, the BPE file or the Pet set
 * enters a key by its content, never by its path, so replacing weights
 * reruns what depends on them and moving the data folder reruns nothing.
 *
 *   nb_filehash(cache, path, hex, &how, &bytes)
 *
 * A file: the SHA-256 of its bytes. A folder: the SHA-256 of the lines
 * "RELPATH\0SHA256\n" of every regular file below it, sorted by path
 * (names starting with '.' and temporary files PATH.tmp.PID.N skipped: the
 * fetch's listing and busy file, an editor's leftovers).
 *
 * Each file's hash comes from, cheapest first:
 *   remembered  CACHE/filehash/H.txt (H: SHA-256 of the absolute path,
 *               one file per path asked for) holds the file's device,
 *               inode, size, mtime and ctime (ns) when it was hashed: all
 *               five the same, its hash is reused without reading it;
 *   the lock    DIR/MANIFEST.lock of `clipbook fetch` (in the file's folder
 *               or up to three above it) lists the file with its size and
 *               mtime, and the file's ctime is not later than the lock's
 *               mtime: fetch hashed it and nothing has written it since,
 *               so the lock's SHA-256 is used;
 *   hashed      read once, now.
 * Why ctime: rewriting a file and restoring its mtime (touch -d) still
 * moves its ctime to now, which no user can set back, so the file is not
 * "remembered" and no older lock vouches for it: it is hashed again. (A
 * copy of the data folder is hashed once too: its files are newer than
 * its lock.)
 *
 * *how: "remembered", "lock", "hashed" or "mixed" (a folder); *bytes: the
 * bytes read to hash. 0, or -1 with en_error (a missing path says so). */
#ifndef NB_FILEHASH_H
#define NB_FILEHASH_H

#include <stdint.h>

int nb_filehash(const char *cache_dir, const char *path, char hex[65], const char **how, int64_t *bytes);

#endif
