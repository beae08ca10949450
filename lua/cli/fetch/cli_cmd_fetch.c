/* clipbook fetch — downloads the `paper` profile's data and weights into a
 * data folder, verifies them (size and hashes from the manifest, or from
 * DIR/MANIFEST.lock when the manifest does not know them) and checks their
 * content with the engine: the checkpoint loads with en_clip_load and has
 * the expected architecture, CIFAR files have their record counts, the
 * vocabulary encodes a known sentence to known ids. What is already there
 * and verified is skipped. Downloading and bookkeeping: cli_fetch.h. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>

#include "en_bpe.h"
#include "en_cifar.h"
#include "en_clip.h"
#include "en_error.h"
#include "en_file.h"
#include "en_pets.h"
#include "cli_cmd.h"
#include "cli_fetch.h"

int cli_cmd_fetch(int argc, char **argv);

typedef struct {
    const char *dir, *base_url, *manifest;
    const char *only[16];
    int n_only, list, verify;
    cli_fetch_opts dl;
} fetch_args;

static int usage(void) {
    fprintf(stderr,
            "usage: clipbook fetch [--dir DIR] [--only NAME]... [--list] [--verify]\n"
            "                      [--base-url URL] [--manifest FILE] [--timeout S] [--retries N] [--quiet]\n"
            "  --dir DIR        where the data goes (default data)\n"
            "  --only NAME      fetch only this artifact (repeatable; see --list)\n"
            "  --list           show the manifest and what is present, fetch nothing\n"
            "  --verify         hash every present file again, even if unchanged since recorded\n"
            "  --base-url URL   fetch each artifact from URL/<its file name> (a mirror laid out like DIR)\n"
            "  --manifest FILE  use this manifest instead of the built-in one\n"
            "  --timeout S      connect timeout, and abort when stalled for S seconds (default 30 / 60)\n"
            "  --retries N      further tries after a dropped transfer (default 3)\n"
            "  CLIPBOOK_DATA_URL_<NAME> replaces one artifact's URLs; HF_ENDPOINT a hub mirror;\n"
            "  http_proxy / https_proxy / no_proxy are honoured.\n");
    return 2;
}

/* ---- content checks (the engine's part) ---------------------------------- */

static const char *out_dir(const cli_fetch_item *it, const char *dir, char *buf, size_t cap) {
    if (it->n_members) snprintf(buf, cap, "%s/%s", dir, it->extract_dir);
    else snprintf(buf, cap, "%s", dir);
    return buf;
}

/* "cifar FILE=N ...": .bin files hold N records, name files N names. */
static int check_cifar(const cli_fetch_item *it, const char *dir, const char *args, char *said, size_t cap) {
    char od[1024], buf[512];
    out_dir(it, dir, od, sizeof od);
    snprintf(buf, sizeof buf, "%s", args);
    char *save = NULL;
    size_t used = 0;
    said[0] = 0;
    for (char *tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) return en_error("manifest: [%s] check cifar: expected FILE=COUNT, got '%s'", it->name, tok);
        *eq = 0;
        long want = atol(eq + 1);
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", od, tok);
        size_t l = strlen(tok);
        if (l > 4 && !strcmp(tok + l - 4, ".bin")) {
            en_cifar c;
            if (en_cifar_read(path, 0, &c) < 0) return -1;
            long got = (long)c.fine.shape[0];
            en_cifar_free(&c);
            if (got != want) return en_error("%s: %ld records, expected %ld", path, got, want);
            used += (size_t)snprintf(said + used, used < cap ? cap - used : 0, "%s%s %ld records", used ? ", " : "", tok, got);
        } else {
            char **names;
            int n;
            if (en_cifar_read_names(path, (int)want, &names, &n) < 0) return -1;
            en_cifar_free_names(names, n);
            used += (size_t)snprintf(said + used, used < cap ? cap - used : 0, "%s%s %d names", used ? ", " : "", tok, n);
        }
    }
    return 0;
}

/* "bpe TEXT = ID ID ...": the vocabulary tokenizes TEXT to exactly these ids. */
static int check_bpe(const cli_fetch_item *it, const char *path, const char *args, char *said, size_t cap) {
    const char *eq = strstr(args, " = ");
    if (!eq) return en_error("manifest: [%s] check bpe: expected TEXT = IDS", it->name);
    char text[256];
    snprintf(text, sizeof text, "%.*s", (int)(eq - args), args);
    int32_t want[77], got[77];
    int nw = 0;
    for (const char *p = eq + 3; *p && nw < 77;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p) return en_error("manifest: [%s] check bpe: bad id list", it->name);
        want[nw++] = (int32_t)v;
        p = end;
        while (isspace((unsigned char)*p)) p++;
    }
    en_bpe *b = en_bpe_load(path, -1);
    if (!b) return -1;
    int rc = en_bpe_tokenize(b, text, 77, 0, got);
    int vocab = en_bpe_vocab_size(b);
    en_bpe_free(b);
    if (rc < 0) return -1;
    int same = 1;
    for (int i = 0; i < 77; i++)
        if (got[i] != (i < nw ? want[i] : 0)) same = 0;
    if (!same) {
        char g[512];
        size_t u = 0;
        for (int i = 0; i < 77 && (i < nw || got[i]); i++) u += (size_t)snprintf(g + u, u < sizeof g ? sizeof g - u : 0, " %d", got[i]);
        return en_error("%s: encodes \"%s\" to%s, expected %s", path, text, g, eq + 3);
    }
    snprintf(said, cap, "%d tokens; \"%s\" -> %s", vocab, text, eq + 3);
    return 0;
}

/* "clip key=value ...": the checkpoint loads and has this architecture. */
static int check_clip(const cli_fetch_item *it, const char *path, const char *args, char *said, size_t cap) {
    en_clip *m = en_clip_load(path);
    if (!m) return -1;
    en_clip_config c = *en_clip_get_config(m);
    en_clip_free(m);
    char buf[512], bad[1024] = "";
    size_t nb = 0;
    snprintf(buf, sizeof buf, "%s", args);
    char *save = NULL;
    for (char *tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) return en_error("manifest: [%s] check clip: expected key=value, got '%s'", it->name, tok);
        *eq = 0;
        const char *k = tok, *v = eq + 1;
        char have[64];
        if (!strcmp(k, "vision_layers")) {
            int n = c.vision_vit ? 1 : 4;
            size_t u = 0;
            for (int i = 0; i < n; i++) u += (size_t)snprintf(have + u, sizeof have - u, "%s%d", i ? "," : "", c.vision_layers[i]);
        } else {
            const int *f = !strcmp(k, "vit") ? &c.vision_vit
                         : !strcmp(k, "embed_dim") ? &c.embed_dim
                         : !strcmp(k, "image_resolution") ? &c.image_resolution
                         : !strcmp(k, "vision_width") ? &c.vision_width
                         : !strcmp(k, "patch_size") ? &c.vision_patch_size
                         : !strcmp(k, "vision_heads") ? &c.vision_heads
                         : !strcmp(k, "context_length") ? &c.context_length
                         : !strcmp(k, "vocab_size") ? &c.vocab_size
                         : !strcmp(k, "width") ? &c.transformer_width
                         : !strcmp(k, "heads") ? &c.transformer_heads
                         : !strcmp(k, "layers") ? &c.transformer_layers : NULL;
            if (!f) return en_error("manifest: [%s] check clip: unknown key '%s'", it->name, k);
            snprintf(have, sizeof have, "%d", *f);
        }
        if (strcmp(have, v)) nb += (size_t)snprintf(bad + nb, nb < sizeof bad ? sizeof bad - nb : 0, "%s%s %s (expected %s)", nb ? ", " : "", k, have, v);
    }
    if (nb) return en_error("%s: not the expected model: %s", path, bad);
    if (c.vision_vit)
        snprintf(said, cap, "ViT: %d layers, width %d, patch %d, %dpx; text width %d; embed %d", c.vision_layers[0], c.vision_width,
                 c.vision_patch_size, c.image_resolution, c.transformer_width, c.embed_dim);
    else
        snprintf(said, cap, "ResNet %d-%d-%d-%d, width %d, %dpx; text width %d; embed %d", c.vision_layers[0], c.vision_layers[1],
                 c.vision_layers[2], c.vision_layers[3], c.vision_width, c.image_resolution, c.transformer_width, c.embed_dim);
    return 0;
}

/* "lines FILE=N ...": each file (in the data folder) has N lines that are
 * neither blank nor '#' comments. */
static int check_lines(const cli_fetch_item *it, const char *dir, const char *args, char *said, size_t cap) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", args);
    char *save = NULL;
    size_t used = 0;
    for (char *tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) return en_error("manifest: [%s] check lines: expected FILE=COUNT, got '%s'", it->name, tok);
        *eq = 0;
        long want = atol(eq + 1), got = 0;
        char path[1200], line[4096];
        snprintf(path, sizeof path, "%s/%s", dir, tok);
        FILE *f = fopen(path, "r");
        if (!f) return en_error("%s: missing", path);
        while (fgets(line, sizeof line, f)) {
            char *c = line;
            while (isspace((unsigned char)*c)) c++;
            if (*c && *c != '#') got++;
        }
        fclose(f);
        if (got != want) return en_error("%s: %ld lines, expected %ld", path, got, want);
        const char *base = strrchr(tok, '/');
        used += (size_t)snprintf(said + used, used < cap ? cap - used : 0, "%s%s %ld lines", used ? ", " : "", base ? base + 1 : tok, got);
    }
    return 0;
}

/* "pets DIR SPLIT=N ...": the engine's reader opens DIR (in the data folder)
 * as the Oxford-IIIT Pet set, every listed picture and trimap there, and
 * the splits have these counts. */
static int check_pets(const cli_fetch_item *it, const char *dir, const char *args, char *said, size_t cap) {
    char buf[512], sub[256] = "";
    snprintf(buf, sizeof buf, "%s", args);
    char *save = NULL, *tok = strtok_r(buf, " \t", &save);
    if (!tok) return en_error("manifest: [%s] check pets: expected DIR SPLIT=COUNT...", it->name);
    snprintf(sub, sizeof sub, "%s", tok);
    char root[1200];
    snprintf(root, sizeof root, "%s/%s", dir, sub);
    en_pets *p = en_pets_open(root);
    if (!p) return -1;
    size_t used = 0;
    int rc = 0;
    while (!rc && (tok = strtok_r(NULL, " \t", &save))) {
        char *eq = strchr(tok, '=');
        int s = -1;
        if (eq) { *eq = 0; s = en_pets_split_parse(tok); }
        if (s < 0) { rc = en_error("manifest: [%s] check pets: expected SPLIT=COUNT (train, val, test, trainval), got '%s'", it->name, tok); break; }
        long want = atol(eq + 1), got = en_pets_count(p, s);
        if (got != want) rc = en_error("%s: %ld %s pictures, expected %ld", root, got, tok, want);
        else used += (size_t)snprintf(said + used, used < cap ? cap - used : 0, "%s%s %ld pictures", used ? ", " : "", tok, got);
    }
    en_pets_free(p);
    return rc;
}

static int check_content(const cli_fetch_item *it, const char *dir, char *said, size_t cap) {
    said[0] = 0;
    if (!it->check[0]) return 0;
    char kind[32] = "", path[1200];
    int off = 0;
    sscanf(it->check, "%31s %n", kind, &off);
    const char *args = it->check + off;
    snprintf(path, sizeof path, "%s/%s", dir, it->file);
    if (!strcmp(kind, "cifar")) return check_cifar(it, dir, args, said, cap);
    if (!strcmp(kind, "bpe")) return check_bpe(it, path, args, said, cap);
    if (!strcmp(kind, "clip")) return check_clip(it, path, args, said, cap);
    if (!strcmp(kind, "lines")) return check_lines(it, dir, args, said, cap);
    if (!strcmp(kind, "pets")) return check_pets(it, dir, args, said, cap);
    return en_error("manifest: [%s] unknown check '%s' (cifar, bpe, clip, lines or pets)", it->name, kind);
}

/* ---- verification against the manifest and the lock ----------------------- */

/* Verifies one file (rel: path inside dir) by size, MD5/SHA-256 from the
 * manifest (download files only) or the lock. *recorded is set when the
 * lock vouches for it. 0 ok, -1 mismatch (+ en_error). Files whose size and
 * mtime match their lock entry are not hashed again unless verify_all.
 * cheap (fetch --list): never hash; 1 where a fetch would. */
static int verify_file_as(const cli_fetch_item *it, const char *dir, const char *rel, int is_download, cli_fetch_lock *lock,
                          int verify_all, int cheap, int *recorded) {
    char path[1200], sha[65], md5[33];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    int64_t size, mtime;
    if (cli_fetch_stat(path, &size, &mtime) <= 0) return en_error("%s: missing", path);
    const cli_fetch_lock_entry *e = cli_fetch_lock_find(lock, rel);
    *recorded = e != NULL;
    if (is_download && it->size >= 0 && size != it->size)
        return en_error("%s: %lld bytes, expected %lld", path, (long long)size, (long long)it->size);
    if (e && size != e->size)
        return en_error("%s: %lld bytes, but %lld when recorded in %s", path, (long long)size, (long long)e->size, lock->file);
    if (e && mtime == e->mtime && !verify_all) return 0;
    if (cheap) return 1;
    if (cli_fetch_hash_file(path, sha, md5) < 0) return -1;
    if (is_download && it->md5[0] && strcmp(md5, it->md5))
        return en_error("%s: MD5 %s, expected %s (the publisher's)", path, md5, it->md5);
    if (is_download && it->sha256[0] && strcmp(sha, it->sha256))
        return en_error("%s: SHA-256 %s, expected %s (the manifest's)", path, sha, it->sha256);
    if (e && strcmp(sha, e->sha256))
        return en_error("%s: SHA-256 %s, but %s when first downloaded (%s; delete that line to accept a new version)", path, sha,
                        e->sha256, lock->file);
    if (e) cli_fetch_lock_set(lock, rel, size, mtime, sha); /* same content, new mtime */
    return 0;
}

static int verify_file(const cli_fetch_item *it, const char *dir, const char *rel, int is_download, cli_fetch_lock *lock,
                       int verify_all, int *recorded) {
    return verify_file_as(it, dir, rel, is_download, lock, verify_all, 0, recorded);
}

static int record(cli_fetch_lock *lock, const char *dir, const char *rel) {
    char path[1200], sha[65];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    int64_t size, mtime;
    if (cli_fetch_stat(path, &size, &mtime) <= 0) return -1;
    if (cli_fetch_hash_file(path, sha, NULL) < 0) return -1;
    cli_fetch_lock_set(lock, rel, size, mtime, sha);
    return cli_fetch_lock_write(lock);
}

static void rel_output(const cli_fetch_item *it, int i, char *buf, size_t cap) {
    if (it->n_members) snprintf(buf, cap, "%s/%s", it->extract_dir, it->members[i]);
    else if (it->tree_from[0]) snprintf(buf, cap, "%s/%s", it->tree_into, CLI_FETCH_TREE_LISTING);
    else snprintf(buf, cap, "%s", it->file);
}

/* A tree item's folder, and whether it holds anything (extracted by hand:
 * no listing yet). */
static const char *tree_root(const cli_fetch_item *it, const char *dir, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s", dir, it->tree_into);
    return buf;
}

static int tree_has_files(const cli_fetch_item *it, const char *dir) {
    char root[1200];
    DIR *d = opendir(tree_root(it, dir, root, sizeof root));
    if (!d) return 0;
    struct dirent *e;
    int any = 0;
    while (!any && (e = readdir(d))) any = strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return any;
}

static int n_outputs(const cli_fetch_item *it) { return it->n_members ? it->n_members : 1; }

/* 1: every output there (perhaps not verified), 0: some missing. */
static int outputs_present(const cli_fetch_item *it, const char *dir) {
    if (it->tree_from[0]) return tree_has_files(it, dir);
    for (int i = 0; i < n_outputs(it); i++) {
        char rel[512], path[1200];
        rel_output(it, i, rel, sizeof rel);
        snprintf(path, sizeof path, "%s/%s", dir, rel);
        if (cli_fetch_stat(path, NULL, NULL) != 1) return 0;
    }
    return 1;
}

static void remove_outputs(const cli_fetch_item *it, const char *dir) {
    if (it->tree_from[0]) { /* only what a listing names: never a folder placed by hand */
        char root[1200];
        cli_fetch_tree_remove(tree_root(it, dir, root, sizeof root), CLI_FETCH_TREE_LISTING);
        return;
    }
    for (int i = 0; i < n_outputs(it); i++) {
        char rel[512], path[1200];
        rel_output(it, i, rel, sizeof rel);
        snprintf(path, sizeof path, "%s/%s", dir, rel);
        unlink(path);
    }
}

/* en_error() with the current message and a suffix (en_error formats into
 * a scratch buffer, so the message may be its own argument). */
static int error_plus(const char *suffix) {
    return en_error("%s%s", en_error_msg(), suffix);
}

/* ---- one artifact ------------------------------------------------------------ */

static int download(const cli_fetch_item *it, const char *dir, const fetch_args *a) {
    char path[1200], part[1300];
    snprintf(path, sizeof path, "%s/%s", dir, it->file);
    snprintf(part, sizeof part, "%s.part", path);
    char slash[1200];
    snprintf(slash, sizeof slash, "%s", path);
    char *s = strrchr(slash, '/');
    if (s) { *s = 0; if (en_mkdirs(slash) < 0) return -1; }
    int64_t have = 0;
    cli_fetch_stat(part, &have, NULL);
    int64_t need = (it->size >= 0 ? it->size : it->approx) - have;
    if (it->n_members || it->tree_from[0]) need *= 2; /* the archive and what comes out of it */
    int64_t avail = cli_fetch_free_bytes(dir);
    if (need > 0 && avail >= 0 && avail < need + (64 << 20))
        return en_error("not enough disk space in %s: about %.0f MB needed, %.0f MB free", dir, need / 1e6, avail / 1e6);
    cli_fetch_opts o = a->dl;
    o.label = it->name;
    o.expected = it->size; /* -1 when unknown: the progress line uses the server's length */
    char first_err[1024] = "";
    int first_kind = 0;
    for (int u = 0; u < it->n_urls; u++) {
        char host[256];
        cli_fetch_url_host(it->urls[u], host, sizeof host);
        printf("  %-10s downloading %s%s\n", it->name, it->urls[u], have > 0 ? " (resuming)" : "");
        fflush(stdout);
        int k = cli_fetch_download(it->urls[u], part, &o);
        if (k == CLI_FETCH_OK) {
            if (rename(part, path) < 0) return en_error("%s: cannot rename to %s", part, path);
            return 0;
        }
        if (u == 0) {
            snprintf(first_err, sizeof first_err, "%s", en_error_msg());
            first_kind = k;
        }
        if (u + 1 < it->n_urls) {
            char next[256];
            cli_fetch_url_host(it->urls[u + 1], next, sizeof next);
            fprintf(stderr, "clipbook fetch: %s: %s: %s; trying %s\n", it->name, host, en_error_msg(), next);
        }
    }
    int64_t got = 0;
    if (cli_fetch_stat(part, &got, NULL) == 1 && got == 0) unlink(part); /* keep only what a later run can resume */
    char host[256];
    cli_fetch_url_host(it->urls[0], host, sizeof host);
    if (first_kind == CLI_FETCH_UNREACHABLE)
        return en_error("cannot reach %s (offline?): %s; download %s by hand to %s and rerun", host, first_err, it->urls[0], path);
    return en_error("%s: %s: %s; download it by hand to %s and rerun", it->name, it->urls[0], first_err, path);
}

/* A content check that reads another artifact's files cannot judge this
 * one without them: fail before anything is removed or downloaded. */
static int check_ready(const cli_fetch_item *it, const char *dir) {
    char sub[256] = "", path[1400];
    if (sscanf(it->check, "pets %255s", sub) != 1) return 0;
    static const char *lists[2] = {"trainval.txt", "test.txt"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s/annotations/%s", dir, sub, lists[i]);
        if (cli_fetch_stat(path, NULL, NULL) != 1)
            return en_error("%s needs the Pet annotations to check its content (%s is missing): fetch them first", it->name, path);
    }
    return 0;
}

static int fetch_one(const cli_fetch_item *it, const fetch_args *a, cli_fetch_lock *lock) {
    const char *dir = a->dir;
    char said[512], dl_path[1200];
    snprintf(dl_path, sizeof dl_path, "%s/%s", dir, it->file);
    if (check_ready(it, dir) < 0) return -1;

    /* Already there? A tree is checked against its listing; one extracted
     * by hand (no listing) is checked by content and then listed. */
    if (it->tree_from[0] && outputs_present(it, dir)) {
        char root[1200], rel[512], listing[1300];
        int rec = 0;
        tree_root(it, dir, root, sizeof root);
        rel_output(it, 0, rel, sizeof rel);
        snprintf(listing, sizeof listing, "%s/%s", dir, rel);
        int listed = cli_fetch_stat(listing, NULL, NULL) == 1;
        if (listed && (verify_file(it, dir, rel, 0, lock, a->verify, &rec) < 0 || cli_fetch_tree_check(root, CLI_FETCH_TREE_LISTING, a->verify) < 0)) {
            fprintf(stderr, "clipbook fetch: %s; removing it and fetching again\n", en_error_msg());
        } else if (listed && rec) {
            if (cli_fetch_lock_write(lock) < 0) return -1;
            printf("  %-10s ok (present)\n", it->name);
            return 0;
        } else if (check_content(it, dir, said, sizeof said) == 0) {
            if (!listed && cli_fetch_tree_list(root, CLI_FETCH_TREE_LISTING) < 0) return -1;
            if (record(lock, dir, rel) < 0) return -1;
            printf("  %-10s ok (present, recorded in %s): %s\n", it->name, lock->file, said);
            return 0;
        } else {
            fprintf(stderr, "clipbook fetch: %s; removing it and fetching again\n", en_error_msg());
        }
        remove_outputs(it, dir);
    } else if (outputs_present(it, dir)) {
        int all_recorded = 1, ok = 1;
        for (int i = 0; i < n_outputs(it) && ok; i++) {
            char rel[512];
            int rec = 0;
            rel_output(it, i, rel, sizeof rel);
            if (verify_file(it, dir, rel, !it->n_members, lock, a->verify, &rec) < 0) {
                fprintf(stderr, "clipbook fetch: %s; removing it and fetching again\n", en_error_msg());
                ok = 0;
            }
            all_recorded &= rec;
        }
        if (ok) { /* a .part beside a good file is stale */
            char part[1300];
            snprintf(part, sizeof part, "%s.part", dl_path);
            if (!it->n_members) unlink(part);
        }
        if (ok && all_recorded) {
            if (cli_fetch_lock_write(lock) < 0) return -1; /* mtimes refreshed */
            printf("  %-10s ok (present)\n", it->name);
            return 0;
        }
        if (ok) { /* placed by hand: check the content, then record it */
            if (check_content(it, dir, said, sizeof said) == 0) {
                for (int i = 0; i < n_outputs(it); i++) {
                    char rel[512];
                    rel_output(it, i, rel, sizeof rel);
                    if (record(lock, dir, rel) < 0) return -1;
                }
                printf("  %-10s ok (present, recorded in %s): %s\n", it->name, lock->file, said);
                return 0;
            }
            fprintf(stderr, "clipbook fetch: %s; removing it and fetching again\n", en_error_msg());
        }
        remove_outputs(it, dir);
    }

    /* The download: placed by hand, left by an earlier run, or fetched now. */
    int rec = 0;
    if (cli_fetch_stat(dl_path, NULL, NULL) == 1 && verify_file(it, dir, it->file, 1, lock, 1, &rec) < 0) {
        fprintf(stderr, "clipbook fetch: %s; removing it\n", en_error_msg());
        unlink(dl_path);
    }
    if (cli_fetch_stat(dl_path, NULL, NULL) != 1) {
        if (download(it, dir, a) < 0) return -1;
        if (verify_file(it, dir, it->file, 1, lock, 1, &rec) < 0) {
            unlink(dl_path);
            return error_plus("; the download is removed");
        }
    }
    if (it->tree_from[0]) {
        char root[1200];
        printf("  %-10s extracting %s/ from %s into %s/\n", it->name, it->tree_from, it->file, it->tree_into);
        fflush(stdout);
        if (cli_fetch_untar_tree(dl_path, it->tree_from, tree_root(it, dir, root, sizeof root)) < 0 ||
            cli_fetch_tree_list(root, CLI_FETCH_TREE_LISTING) < 0) {
            remove_outputs(it, dir);
            unlink(dl_path);
            return error_plus("; the archive is removed");
        }
    }
    if (it->n_members) {
        printf("  %-10s extracting %s/ from %s\n", it->name, it->extract_dir, it->file);
        fflush(stdout);
        if (cli_fetch_untar(dl_path, it->extract_dir, (char(*)[128])it->members, it->n_members, dir) < 0) {
            unlink(dl_path);
            return error_plus("; the archive is removed");
        }
    }
    if (check_content(it, dir, said, sizeof said) < 0) {
        if (it->n_members || it->tree_from[0]) remove_outputs(it, dir);
        unlink(dl_path);
        return error_plus("; removed");
    }
    if (record(lock, dir, it->file) < 0) return -1;
    if (it->tree_from[0]) {
        char rel[512];
        rel_output(it, 0, rel, sizeof rel);
        if (record(lock, dir, rel) < 0) return -1;
        unlink(dl_path); /* as for extract: the archive's hash stays in the lock */
    }
    if (it->n_members) {
        for (int i = 0; i < it->n_members; i++) {
            char rel[512];
            rel_output(it, i, rel, sizeof rel);
            if (record(lock, dir, rel) < 0) return -1;
        }
        unlink(dl_path); /* its hash stays in the lock; the extracted files are what is used */
    }
    printf("  %-10s ok%s%s\n", it->name, said[0] ? ": " : "", said);
    return 0;
}

/* ---- the command ----------------------------------------------------------- */

/* What a fetch would make of the files there, by the checks it runs
 * without hashing: sizes against the manifest and the lock, and whether
 * the lock vouches for them unchanged (size and mtime as recorded). */
static void list_status(const cli_fetch_item *it, const char *dir, cli_fetch_lock *lock, char *out, size_t cap) {
    if (!outputs_present(it, dir)) { snprintf(out, cap, "missing"); return; }
    int unverified = 0;
    for (int i = 0; i < n_outputs(it); i++) {
        char rel[512];
        int rec = 0;
        rel_output(it, i, rel, sizeof rel);
        int k = verify_file_as(it, dir, rel, !it->n_members, lock, 0, 1, &rec);
        if (k < 0) { snprintf(out, cap, "present but fails: %s", en_error_msg()); return; }
        unverified |= k == 1 || !rec;
    }
    if (unverified) snprintf(out, cap, "present, unverified (not recorded, or changed since: a fetch hashes and checks it)");
    else snprintf(out, cap, "verified (size and date as recorded in %s)", lock->file);
}

static void list_one(const cli_fetch_item *it, const char *dir, cli_fetch_lock *lock) {
    printf("%-10s %s\n", it->name, it->title[0] ? it->title : it->file);
    if (it->tree_from[0]) {
        printf("%-10s file     %s/%s -> %s/%s/ (every file under %s/)\n", "", dir, it->file, dir, it->tree_into, it->tree_from);
    } else if (it->n_members) {
        printf("%-10s file     %s/%s -> %s/%s/ (", "", dir, it->file, dir, it->extract_dir);
        for (int i = 0; i < it->n_members; i++) printf("%s%s", i ? " " : "", it->members[i]);
        printf(")\n");
    } else {
        printf("%-10s file     %s/%s\n", "", dir, it->file);
    }
    for (int u = 0; u < it->n_urls; u++) printf("%-10s %-8s %s\n", "", u ? "mirror" : "url", it->urls[u]);
    if (it->size >= 0) printf("%-10s size     %lld bytes\n", "", (long long)it->size);
    else if (it->approx) printf("%-10s size     unknown (about %.0f MB)\n", "", it->approx / 1e6);
    else printf("%-10s size     unknown\n", "");
    if (it->md5[0]) printf("%-10s md5      %s\n", "", it->md5);
    const cli_fetch_lock_entry *e = cli_fetch_lock_find(lock, it->file);
    if (it->sha256[0]) printf("%-10s sha256   %s\n", "", it->sha256);
    else if (e) printf("%-10s sha256   %s (recorded in %s)\n", "", e->sha256, lock->file);
    else printf("%-10s sha256   unknown: recorded on first download into %s and checked ever after\n", "", lock->file);
    char st[2200];
    list_status(it, dir, lock, st, sizeof st);
    printf("%-10s status   %s\n", "", st);
}

/* DIR/.fetch.busy: an flock'd file that serialises two fetches into one
 * folder. It is removed on every exit but kill -9 (an empty file left by
 * that is harmless: the next fetch takes it over). Removing a lock file
 * races with a waiter that opened it before the unlink, so whoever gets
 * the lock checks that the file is still the one at the path. */
static char busy_path[1100];

static void busy_on_signal(int sig) {
    unlink(busy_path);  /* async-signal-safe; we hold the lock */
    signal(sig, SIG_DFL);
    raise(sig);
}

static int busy_acquire(const char *dir) {
    snprintf(busy_path, sizeof busy_path, "%s/.fetch.busy", dir);
    for (int said = 0;;) {
        int fd = open(busy_path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0) { busy_path[0] = 0; return -1; }  /* unwritable folder: the fetch itself will say so */
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
            if (!said++) fprintf(stderr, "clipbook fetch: another clipbook fetch is working in %s; waiting for it\n", dir);
            flock(fd, LOCK_EX);
        }
        struct stat a, b;
        if (!fstat(fd, &a) && !stat(busy_path, &b) && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
            signal(SIGINT, busy_on_signal);
            signal(SIGTERM, busy_on_signal);
            signal(SIGHUP, busy_on_signal);
            return fd;
        }
        close(fd);  /* the other fetch removed it as it finished: take a fresh one */
    }
}

static void busy_release(int fd) {
    if (fd < 0) return;
    unlink(busy_path);  /* before unlocking: a waiter then sees the path changed */
    close(fd);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
}

int cli_cmd_fetch(int argc, char **argv) {
    fetch_args a = {.dir = "data"};
    cli_fetch_opts_default(&a.dl);
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(o, "--dir") && has) a.dir = argv[++i];
        else if (!strcmp(o, "--only") && has) {
            if (a.n_only == 16) return usage();
            a.only[a.n_only++] = argv[++i];
        } else if (!strcmp(o, "--list")) a.list = 1;
        else if (!strcmp(o, "--verify")) a.verify = 1;
        else if (!strcmp(o, "--quiet")) a.dl.progress = 0;
        else if (!strcmp(o, "--base-url") && has) a.base_url = argv[++i];
        else if (!strcmp(o, "--manifest") && has) a.manifest = argv[++i];
        else if (!strcmp(o, "--timeout") && has) {
            int t = atoi(argv[++i]);
            if (t <= 0) return usage();
            a.dl.connect_timeout_s = a.dl.stall_timeout_s = t;
        } else if (!strcmp(o, "--retries") && has) {
            a.dl.retries = atoi(argv[++i]);
            if (a.dl.retries < 0) return usage();
        } else if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            usage();
            return 0;
        } else {
            fprintf(stderr, "clipbook fetch: unknown option '%s'\n", o);
            return usage();
        }
    }
    char *text = NULL;
    const char *origin = "built-in manifest";
    if (a.manifest) {
        FILE *f = fopen(a.manifest, "rb");
        if (!f) { fprintf(stderr, "clipbook fetch: %s: cannot read\n", a.manifest); return 1; }
        size_t cap = 1 << 16, n = fread(text = malloc(cap + 1), 1, cap, f);
        fclose(f);
        if (n == cap) { free(text); fprintf(stderr, "clipbook fetch: %s: too large for a manifest\n", a.manifest); return 1; }
        text[n] = 0;
        origin = a.manifest;
    }
    cli_fetch_item *items;
    int n;
    int prc = cli_fetch_manifest_parse(text ? text : cli_fetch_manifest_builtin(), origin, &items, &n);
    free(text);
    if (prc < 0) { fprintf(stderr, "clipbook fetch: %s\n", en_error_msg()); return 1; }
    for (int k = 0; k < a.n_only; k++) {
        int found = 0;
        for (int i = 0; i < n; i++) found |= !strcmp(items[i].name, a.only[k]);
        if (!found) {
            fprintf(stderr, "clipbook fetch: no artifact '%s' (have:", a.only[k]);
            for (int i = 0; i < n; i++) fprintf(stderr, " %s", items[i].name);
            fprintf(stderr, ")\n");
            free(items);
            return 2;
        }
    }
    for (int i = 0; i < n; i++) cli_fetch_item_urls(&items[i], a.base_url);
    if (!a.list && en_mkdirs(a.dir) < 0) {
        fprintf(stderr, "clipbook fetch: %s\n", en_error_msg());
        free(items);
        return 1;
    }
    /* Two runs on one folder (two `make data`) would write the same .part
     * files: the second waits for the first, then finds its files there. */
    int busy = a.list ? -1 : busy_acquire(a.dir);
    cli_fetch_lock lock;
    if (cli_fetch_lock_read(&lock, a.dir) < 0) {
        fprintf(stderr, "clipbook fetch: %s\n", en_error_msg());
        free(items);
        busy_release(busy);
        return 1;
    }
    int failed = 0, tried = 0;
    for (int i = 0; i < n; i++) {
        int want = !a.n_only;
        for (int k = 0; k < a.n_only; k++) want |= !strcmp(items[i].name, a.only[k]);
        if (!want) continue;
        if (a.list) { list_one(&items[i], a.dir, &lock); continue; }
        tried++;
        en_error_clear();
        if (fetch_one(&items[i], &a, &lock) < 0) {
            fprintf(stderr, "clipbook fetch: %s\n", en_error_msg());
            failed++;
        }
    }
    if (failed) fprintf(stderr, "clipbook fetch: %d of %d failed; what succeeded is kept, rerun to try the rest\n", failed, tried);
    cli_fetch_lock_free(&lock);
    free(items);
    busy_release(busy);
    return failed ? 1 : 0;
}
