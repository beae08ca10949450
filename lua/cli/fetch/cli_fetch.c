/* cli_fetch — manifest, lock file, hashes, tar extraction and downloads for
 * `clipbook fetch` (contract: cli_fetch.h). */
#include "cli_fetch.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "en_error.h"
#include "en_file.h"
#include "en_sha256.h"

/* ---- manifest ---------------------------------------------------------- */

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

static int is_hex(const char *s, size_t n) {
    if (strlen(s) != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)s[i])) return 0;
    return 1;
}

/* "606M" -> bytes; -1 when malformed. */
static int64_t parse_bytes(const char *s) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v < 0) return -1;
    int64_t m = 1;
    if (*end == 'K') m = 1000, end++;
    else if (*end == 'M') m = 1000 * 1000, end++;
    else if (*end == 'G') m = 1000 * 1000 * 1000, end++;
    if (*end) return -1;
    return v * m;
}

static int copy_field(char *dst, size_t cap, const char *v, const char *origin, int line, const char *key) {
    if (strlen(v) >= cap) return en_error("%s:%d: %s too long", origin, line, key);
    strcpy(dst, v);
    return 0;
}

static int item_finish(cli_fetch_item *it, const char *origin) {
    if (!it->file[0]) return en_error("%s: [%s] has no file", origin, it->name);
    if (!it->n_urls) return en_error("%s: [%s] has no url", origin, it->name);
    if (strstr(it->file, "..") || it->file[0] == '/')
        return en_error("%s: [%s] file must stay inside the data folder", origin, it->name);
    if (it->tree_from[0] && it->n_members) return en_error("%s: [%s] has both extract and tree", origin, it->name);
    return 0;
}

int cli_fetch_manifest_parse(const char *text, const char *origin, cli_fetch_item **items, int *n) {
    *items = NULL;
    *n = 0;
    int cap = 0, lineno = 0;
    cli_fetch_item *v = NULL, *it = NULL;
    const char *p = text;
    char line[2048];
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        lineno++;
        if (len >= sizeof line) { en_error("%s:%d: line too long", origin, lineno); goto fail; }
        memcpy(line, p, len);
        line[len] = 0;
        p += len + (nl ? 1 : 0);
        char *h = strchr(line, '#');
        if (h) *h = 0;
        char *s = trim(line);
        if (!*s) continue;
        if (*s == '[') {
            char *e = strchr(s, ']');
            if (!e || e[1] || e == s + 1) { en_error("%s:%d: expected [name]", origin, lineno); goto fail; }
            *e = 0;
            if (it && item_finish(it, origin) < 0) goto fail;
            if (*n == cap) {
                cap = cap ? 2 * cap : 8;
                cli_fetch_item *nv = realloc(v, (size_t)cap * sizeof *v);
                if (!nv) { en_error("out of memory"); goto fail; }
                v = nv;
            }
            it = &v[(*n)++];
            memset(it, 0, sizeof *it);
            it->size = -1;
            for (char *c = s + 1; *c; c++)
                if (!isalnum((unsigned char)*c) && *c != '-' && *c != '_') {
                    en_error("%s:%d: name '%s': letters, digits, '-' and '_' only", origin, lineno, s + 1);
                    goto fail;
                }
            if (copy_field(it->name, sizeof it->name, s + 1, origin, lineno, "name") < 0) goto fail;
            for (int i = 0; i < *n - 1; i++)
                if (!strcmp(v[i].name, it->name)) { en_error("%s:%d: [%s] twice", origin, lineno, it->name); goto fail; }
            continue;
        }
        if (!it) { en_error("%s:%d: expected [name] first", origin, lineno); goto fail; }
        char *val = s;
        while (*val && !isspace((unsigned char)*val)) val++;
        if (*val) *val++ = 0;
        val = trim(val);
        const char *key = s;
        if (!*val) { en_error("%s:%d: %s needs a value", origin, lineno, key); goto fail; }
        int unknown = !strcmp(val, "unknown");
        if (!strcmp(key, "title")) {
            if (copy_field(it->title, sizeof it->title, val, origin, lineno, key) < 0) goto fail;
        } else if (!strcmp(key, "file")) {
            if (copy_field(it->file, sizeof it->file, val, origin, lineno, key) < 0) goto fail;
        } else if (!strcmp(key, "url")) {
            if (it->n_urls == CLI_FETCH_MAX_URLS) { en_error("%s:%d: more than %d urls", origin, lineno, CLI_FETCH_MAX_URLS); goto fail; }
            if (copy_field(it->urls[it->n_urls], sizeof it->urls[0], val, origin, lineno, key) < 0) goto fail;
            it->n_urls++;
        } else if (!strcmp(key, "size") || !strcmp(key, "approx")) {
            int64_t b = unknown ? (key[0] == 's' ? -1 : 0) : parse_bytes(val);
            if (!unknown && b < 0) { en_error("%s:%d: %s '%s' is not a byte count", origin, lineno, key, val); goto fail; }
            if (key[0] == 's') it->size = b; else it->approx = b;
        } else if (!strcmp(key, "sha256") || !strcmp(key, "md5")) {
            size_t want = key[0] == 's' ? 64 : 32;
            char *dst = key[0] == 's' ? it->sha256 : it->md5;
            if (unknown) { dst[0] = 0; continue; }
            if (!is_hex(val, want)) { en_error("%s:%d: %s must be %zu hex digits or 'unknown'", origin, lineno, key, want); goto fail; }
            for (size_t i = 0; i <= want; i++) dst[i] = (char)tolower((unsigned char)val[i]);
        } else if (!strcmp(key, "extract")) {
            char *save = NULL, *tok = strtok_r(val, " \t", &save);
            if (copy_field(it->extract_dir, sizeof it->extract_dir, tok, origin, lineno, key) < 0) goto fail;
            if (strstr(tok, "..") || tok[0] == '/') { en_error("%s:%d: extract folder must stay inside the data folder", origin, lineno); goto fail; }
            while ((tok = strtok_r(NULL, " \t", &save))) {
                if (it->n_members == CLI_FETCH_MAX_MEMBERS) { en_error("%s:%d: too many members", origin, lineno); goto fail; }
                if (strchr(tok, '/')) { en_error("%s:%d: member '%s': a name, not a path", origin, lineno, tok); goto fail; }
                if (copy_field(it->members[it->n_members], sizeof it->members[0], tok, origin, lineno, key) < 0) goto fail;
                it->n_members++;
            }
            if (!it->n_members) { en_error("%s:%d: extract DIR MEMBER...", origin, lineno); goto fail; }
        } else if (!strcmp(key, "tree")) {
            char from[256] = "", into[256] = "", extra[8] = "";
            if (sscanf(val, "%255s %255s %7s", from, into, extra) != 2) { en_error("%s:%d: tree FROM INTO", origin, lineno); goto fail; }
            if (strstr(from, "..") || from[0] == '/' || strstr(into, "..") || into[0] == '/') {
                en_error("%s:%d: tree folders must stay inside the archive and the data folder", origin, lineno);
                goto fail;
            }
            strcpy(it->tree_from, from);
            strcpy(it->tree_into, into);
        } else if (!strcmp(key, "check")) {
            if (copy_field(it->check, sizeof it->check, val, origin, lineno, key) < 0) goto fail;
        } else {
            en_error("%s:%d: unknown key '%s'", origin, lineno, key);
            goto fail;
        }
    }
    if (it && item_finish(it, origin) < 0) goto fail;
    if (!*n) { en_error("%s: no artifacts", origin); goto fail; }
    *items = v;
    return 0;
fail:
    free(v);
    *n = 0;
    return -1;
}

void cli_fetch_item_urls(cli_fetch_item *it, const char *base_url) {
    char env[96] = "CLIPBOOK_DATA_URL_";
    size_t k = strlen(env);
    for (const char *c = it->name; *c && k + 1 < sizeof env; c++)
        env[k++] = *c == '-' ? '_' : (char)toupper((unsigned char)*c);
    env[k] = 0;
    const char *u = getenv(env);
    if (u && *u) {
        snprintf(it->urls[0], sizeof it->urls[0], "%s", u);
        it->n_urls = 1;
        return;
    }
    if (base_url && *base_url) {
        size_t bl = strlen(base_url);
        snprintf(it->urls[0], sizeof it->urls[0], "%s%s%s", base_url, base_url[bl - 1] == '/' ? "" : "/", it->file);
        it->n_urls = 1;
        return;
    }
    /* huggingface_hub's convention for hub mirrors. */
    const char *hf = getenv("HF_ENDPOINT"), *pre = "https://huggingface.co/";
    if (hf && *hf) {
        size_t hl = strlen(hf);
        for (int i = 0; i < it->n_urls; i++) {
            if (strncmp(it->urls[i], pre, strlen(pre))) continue;
            char buf[sizeof it->urls[0]];
            snprintf(buf, sizeof buf, "%.*s/%s", (int)(hf[hl - 1] == '/' ? hl - 1 : hl), hf, it->urls[i] + strlen(pre));
            memcpy(it->urls[i], buf, sizeof buf);
        }
    }
}

void cli_fetch_url_host(const char *url, char *host, int cap) {
    const char *s = strstr(url, "://");
    s = s ? s + 3 : url;
    const char *at = strpbrk(s, "@/");
    if (at && *at == '@') s = at + 1; /* user:password@ never reaches a message */
    size_t n = strcspn(s, ":/?#");
    if (*s == '[') n = strcspn(s, "]") + 1; /* [::1] */
    snprintf(host, (size_t)cap, "%.*s", (int)n, s);
}

/* ---- lock file ---------------------------------------------------------- */

int cli_fetch_lock_read(cli_fetch_lock *l, const char *dir) {
    memset(l, 0, sizeof *l);
    snprintf(l->file, sizeof l->file, "%s/MANIFEST.lock", dir);
    FILE *f = fopen(l->file, "r");
    if (!f) return errno == ENOENT ? 0 : en_error("%s: cannot read: %s", l->file, strerror(errno));
    char line[1024];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#') continue;
        char path[256], sha[80];
        long long size, mtime;
        if (sscanf(s, "%255s %lld %lld %79s", path, &size, &mtime, sha) != 4 || !is_hex(sha, 64)) {
            fclose(f);
            cli_fetch_lock_free(l);
            return en_error("%s:%d: expected 'path size mtime sha256' (delete the line to re-record it)", l->file, lineno);
        }
        cli_fetch_lock_set(l, path, size, mtime, sha);
    }
    fclose(f);
    return 0;
}

const cli_fetch_lock_entry *cli_fetch_lock_find(const cli_fetch_lock *l, const char *path) {
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->e[i].path, path)) return &l->e[i];
    return NULL;
}

void cli_fetch_lock_set(cli_fetch_lock *l, const char *path, int64_t size, int64_t mtime, const char *sha256) {
    cli_fetch_lock_entry *e = (cli_fetch_lock_entry *)cli_fetch_lock_find(l, path);
    if (!e) {
        if (l->n == l->cap) {
            l->cap = l->cap ? 2 * l->cap : 16;
            l->e = realloc(l->e, (size_t)l->cap * sizeof *l->e);
            EN_ASSERT(l->e);
        }
        e = &l->e[l->n++];
        memset(e, 0, sizeof *e);
        snprintf(e->path, sizeof e->path, "%s", path);
    }
    e->size = size;
    e->mtime = mtime;
    snprintf(e->sha256, sizeof e->sha256, "%s", sha256);
}

int cli_fetch_lock_write(const cli_fetch_lock *l) {
    en_atomic a;
    FILE *f = en_atomic_open(&a, l->file);
    if (!f) return -1;
    fprintf(f, "# clipbook fetch: what was downloaded (path size mtime sha256), checked on\n"
               "# every run. Delete a line to accept a new version of that file.\n");
    for (int i = 0; i < l->n; i++)
        fprintf(f, "%s %lld %lld %s\n", l->e[i].path, (long long)l->e[i].size, (long long)l->e[i].mtime, l->e[i].sha256);
    return en_atomic_commit(&a);
}

void cli_fetch_lock_free(cli_fetch_lock *l) {
    free(l->e);
    l->e = NULL;
    l->n = l->cap = 0;
}

/* ---- MD5 (RFC 1321): only because the CIFAR page publishes MD5s -------- */

typedef struct {
    uint32_t h[4];
    uint64_t n;
    uint8_t buf[64];
} md5_ctx;

static uint32_t rol(uint32_t x, int c) { return (x << c) | (x >> (32 - c)); }

static void md5_block(md5_ctx *m, const uint8_t *p) {
    static const uint32_t K[64] = {
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
        0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
        0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
        0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
        0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
        0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
        0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};
    static const int S[16] = {7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21};
    uint32_t w[16];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
    uint32_t a = m->h[0], b = m->h[1], c = m->h[2], d = m->h[3];
    for (int i = 0; i < 64; i++) {
        uint32_t f;
        int g;
        if (i < 16) f = (b & c) | (~b & d), g = i;
        else if (i < 32) f = (d & b) | (~d & c), g = (5 * i + 1) & 15;
        else if (i < 48) f = b ^ c ^ d, g = (3 * i + 5) & 15;
        else f = c ^ (b | ~d), g = (7 * i) & 15;
        uint32_t t = d;
        d = c;
        c = b;
        b = b + rol(a + f + K[i] + w[g], S[(i / 16) * 4 + i % 4]);
        a = t;
    }
    m->h[0] += a, m->h[1] += b, m->h[2] += c, m->h[3] += d;
}

static void md5_init(md5_ctx *m) {
    m->h[0] = 0x67452301, m->h[1] = 0xefcdab89, m->h[2] = 0x98badcfe, m->h[3] = 0x10325476;
    m->n = 0;
}

static void md5_update(md5_ctx *m, const uint8_t *p, size_t n) {
    while (n) {
        size_t have = m->n & 63, take = 64 - have < n ? 64 - have : n;
        memcpy(m->buf + have, p, take);
        m->n += take, p += take, n -= take;
        if ((m->n & 63) == 0) md5_block(m, m->buf);
    }
}

static void md5_hex(md5_ctx *m, char out[33]) {
    uint64_t bits = m->n * 8;
    uint8_t pad[72] = {0x80};
    size_t padn = ((m->n & 63) < 56 ? 56 : 120) - (m->n & 63);
    md5_update(m, pad, padn);
    uint8_t len[8];
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)(bits >> (8 * i));
    md5_update(m, len, 8);
    for (int i = 0; i < 16; i++) sprintf(out + 2 * i, "%02x", (m->h[i / 4] >> (8 * (i % 4))) & 0xff);
}

/* ---- files --------------------------------------------------------------- */

int cli_fetch_hash_file(const char *path, char sha256hex[65], char md5hex[33]) {
    FILE *f = fopen(path, "rb");
    if (!f) return en_error("%s: cannot read: %s", path, strerror(errno));
    en_sha256 s;
    md5_ctx m;
    en_sha256_init(&s);
    md5_init(&m);
    size_t bufsz = 1 << 20, r;
    uint8_t *buf = malloc(bufsz);
    EN_ASSERT(buf);
    while ((r = fread(buf, 1, bufsz, f)) > 0) {
        en_sha256_update(&s, buf, r);
        if (md5hex) md5_update(&m, buf, r);
    }
    int bad = ferror(f);
    free(buf);
    fclose(f);
    if (bad) return en_error("%s: read error", path);
    uint8_t d[32];
    en_sha256_final(&s, d);
    en_sha256_tohex(sha256hex, d);
    if (md5hex) md5_hex(&m, md5hex);
    return 0;
}

int cli_fetch_stat(const char *path, int64_t *size, int64_t *mtime) {
    struct stat st;
    if (stat(path, &st) < 0) return errno == ENOENT ? 0 : en_error("%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return en_error("%s: not a regular file", path);
    if (size) *size = st.st_size;
    if (mtime) *mtime = st.st_mtime;
    return 1;
}

int64_t cli_fetch_free_bytes(const char *dir) {
    struct statvfs v;
    if (statvfs(dir, &v) < 0) return -1;
    return (int64_t)v.f_bavail * (int64_t)v.f_frsize;
}

