/* cli_fetch — getting the `paper` profile's data: the manifest, downloads,
 * checks, the lock file and archive extraction. Knows nothing of what the
 * files hold: checking their content (a checkpoint loads, a data set has
 * its records) is the caller's (lua/cli/fetch/cli_cmd_fetch.c).
 *
 * The manifest is text: "[name]" starts an artifact, then "key value"
 * lines ('#' starts a comment):
 *   title   one line for --list
 *   file    where the download goes, relative to the data folder
 *   url     primary URL; further url lines are mirrors, tried in order
 *   size    bytes, or "unknown"
 *   approx  a size estimate (K/M/G suffixes) for the disk-space check
 *           and the progress line when size is unknown
 *   sha256  64 hex digits, or "unknown"
 *   md5     32 hex digits, or "unknown" (what some hosts publish)
 *   extract DIR MEMBER...  `file` is a .tar.gz: pull DIR/MEMBER out into
 *           the data folder's DIR/MEMBER, then remove the archive
 *   tree    FROM INTO  `file` is a tar(.gz) of a whole folder: every
 *           regular file under FROM/ goes to the data folder's INTO/ (same
 *           relative paths), then the archive is removed; INTO/.fetched
 *           lists what it holds ("SIZE SHA256 PATH" per line) and the lock
 *           keeps the listing's hash (an item has extract or tree, not both)
 *   check   KIND ARGS...  handed to the caller's content check as it is
 * A hash that is "unknown" is recorded, on the first download that passes
 * the content check, in DIR/MANIFEST.lock ("path size mtime sha256" per
 * line) and checked against ever after.
 *
 * Downloads go to FILE.part and are renamed when complete and verified; a
 * .part left by an interrupted run is resumed where the server takes
 * ranges (restarted where it does not). Proxies come from the environment
 * (libcurl's http_proxy / https_proxy / no_proxy). All functions return
 * 0 / -1 + en_error(), except where said.
 */
#ifndef CLI_FETCH_H
#define CLI_FETCH_H

#include <stdint.h>

#define CLI_FETCH_MAX_URLS    4
#define CLI_FETCH_MAX_MEMBERS 16

typedef struct {
    char name[64];
    char title[160];
    char file[256];
    char urls[CLI_FETCH_MAX_URLS][1024];
    int n_urls;
    int64_t size;     /* -1: unknown */
    int64_t approx;   /* 0: none given */
    char sha256[65];  /* "": unknown */
    char md5[33];     /* "": unknown */
    char extract_dir[256];
    char members[CLI_FETCH_MAX_MEMBERS][128];
    int n_members;    /* 0: a plain file */
    char tree_from[256]; /* "": not a tree */
    char tree_into[256];
    char check[512];  /* "": no content check */
} cli_fetch_item;

/* The listing a tree item leaves in its INTO folder. */
#define CLI_FETCH_TREE_LISTING ".fetched"

/* The built-in manifest (OpenAI's CLIP checkpoints and vocabulary, CIFAR-100,
 * the Oxford-IIIT Pet set). */
const char *cli_fetch_manifest_builtin(void);

/* Parses manifest text; origin names it in errors ("FILE:LINE: ...").
 * *items is malloc'd; free it. */
int cli_fetch_manifest_parse(const char *text, const char *origin, cli_fetch_item **items, int *n);

/* Applies the overrides: CLIPBOOK_DATA_URL_<NAME> (name upper-cased,
 * '-' -> '_') replaces every URL; otherwise base_url (when not NULL) gives
 * BASE/<file>; otherwise HF_ENDPOINT replaces https://huggingface.co. */
void cli_fetch_item_urls(cli_fetch_item *it, const char *base_url);

/* The host part of a URL, for messages ("www.cs.toronto.edu"). */
void cli_fetch_url_host(const char *url, char *host, int cap);

/* ---- the lock file ---- */
typedef struct {
    char path[256];
    int64_t size;
    int64_t mtime;
    char sha256[65];
} cli_fetch_lock_entry;

typedef struct {
    char file[1024];
    cli_fetch_lock_entry *e;
    int n, cap;
} cli_fetch_lock;

/* A missing lock file is an empty lock; a malformed line is an error. */
int  cli_fetch_lock_read(cli_fetch_lock *l, const char *dir);
const cli_fetch_lock_entry *cli_fetch_lock_find(const cli_fetch_lock *l, const char *path);
void cli_fetch_lock_set(cli_fetch_lock *l, const char *path, int64_t size, int64_t mtime, const char *sha256);
/* Written atomically (temp file + rename). */
int  cli_fetch_lock_write(const cli_fetch_lock *l);
void cli_fetch_lock_free(cli_fetch_lock *l);

/* ---- files ---- */
/* SHA-256 (and MD5 when md5hex is not NULL) of a file, as lowercase hex. */
int cli_fetch_hash_file(const char *path, char sha256hex[65], char md5hex[33]);
/* Size and modification time; 1 when the file exists, 0 when it does not,
 * -1 on another error. */
int cli_fetch_stat(const char *path, int64_t *size, int64_t *mtime);
/* Bytes free on the file system holding dir; -1 when unknown. */
int64_t cli_fetch_free_bytes(const char *dir);

/* Extracts the members DIR/MEMBER of a .tar.gz (or plain .tar) into
 * outdir/DIR/MEMBER, each through a temp file and a rename. Every member
 * asked for must be there; header checksums are verified. */
int cli_fetch_untar(const char *archive, const char *dir, char members[][128], int n_members,
                   const char *outdir);

/* Extracts every regular file under FROM/ of a .tar.gz (or plain .tar)
 * into the folder `into`, each through a temp file and a rename. Member
 * paths must be plain (no "..", no absolute path: the archive is refused
 * otherwise); macOS "._NAME" resource-fork files are skipped. Returns the
 * number of files written (at least one), or -1. */
int cli_fetch_untar_tree(const char *archive, const char *from, const char *into);

/* Writes root/listing_name (atomically): "SIZE SHA256 PATH" for every
 * regular file under root but the listing, sorted by path. */
int cli_fetch_tree_list(const char *root, const char *listing_name);
/* Every file of the listing is there with its size, and (rehash) its
 * SHA-256; the error names the first that is not. */
int cli_fetch_tree_check(const char *root, const char *listing_name, int rehash);
/* Removes the listed files and the listing (never anything unlisted). */
void cli_fetch_tree_remove(const char *root, const char *listing_name);

/* ---- downloads ---- */
typedef struct {
    int connect_timeout_s; /* default 30 */
    int stall_timeout_s;   /* abort when no byte arrives for this long; default 60 */
    int retries;           /* further tries after a transient failure; default 3 */
    int retry_wait_ms;     /* first wait between tries, doubled each time; default 1000 */
    int progress;          /* 1: a bar on a terminal, periodic lines otherwise; 0: quiet */
    const char *label;     /* shown in the progress line */
    int64_t expected;      /* total size when known (for progress), -1 otherwise */
} cli_fetch_opts;

void cli_fetch_opts_default(cli_fetch_opts *o);

enum {
    CLI_FETCH_OK = 0,
    CLI_FETCH_UNREACHABLE = 1, /* DNS, connection refused, connect timeout: message says "offline?" */
    CLI_FETCH_FAILED = 2,      /* HTTP error, stalled, write error... */
};

/* Downloads url to part (appending to what part already holds when the
 * server takes a range request). Returns CLI_FETCH_OK, or one of the
 * failure kinds with en_error() set to curl's / the server's reason. */
int cli_fetch_download(const char *url, const char *part, const cli_fetch_opts *o);

#endif
