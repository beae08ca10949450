#include "en_bpe.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "en_error.h"
#include "en_file.h"
#include "en_unicode.h"

/* ---- small hash maps ------------------------------------------------------ */

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

static uint64_t hash_u64(uint64_t x) {
    x ^= x >> 33; x *= 0xff51afd7ed558ccdull; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

/* string -> int, strings owned by the caller (the symbol table) */
typedef struct { const char **key; int *val; size_t cap, n; } strmap;

static void strmap_grow(strmap *m);

static int *strmap_slot(strmap *m, const char *s, size_t n, int insert) {
    if (insert && (m->n + 1) * 2 > m->cap) strmap_grow(m);
    if (!m->cap) return NULL;
    size_t i = hash_bytes(s, n) & (m->cap - 1);
    for (;; i = (i + 1) & (m->cap - 1)) {
        if (!m->key[i]) {
            if (!insert) return NULL;
            m->key[i] = s; m->val[i] = -1; m->n++;
            return &m->val[i];
        }
        if (!strncmp(m->key[i], s, n) && m->key[i][n] == 0) return &m->val[i];
    }
}

static void strmap_grow(strmap *m) {
    strmap old = *m;
    m->cap = old.cap ? old.cap * 2 : 1024;
    m->key = calloc(m->cap, sizeof *m->key);
    m->val = calloc(m->cap, sizeof *m->val);
    if (!m->key || !m->val) abort();
    m->n = 0;
    for (size_t i = 0; i < old.cap; i++)
        if (old.key[i]) *strmap_slot(m, old.key[i], strlen(old.key[i]), 1) = old.val[i];
    free(old.key); free(old.val);
}

static void strmap_free(strmap *m) { free(m->key); free(m->val); }

/* (a,b) pair of symbol ids -> merge rank and result */
typedef struct { uint64_t key; int rank, result; } pairent;
typedef struct { pairent *e; size_t cap, n; } pairmap;

static pairent *pairmap_find(const pairmap *m, int a, int b) {
    if (!m->cap) return NULL;
    uint64_t k = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
    for (size_t i = hash_u64(k) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (m->e[i].key == k) return &m->e[i];
        if (!m->e[i].key) return NULL;
    }
}

static pairent *pairmap_put(pairmap *m, int a, int b) {
    if ((m->n + 1) * 2 > m->cap) {
        pairmap old = *m;
        m->cap = old.cap ? old.cap * 2 : 1024;
        m->e = calloc(m->cap, sizeof *m->e);
        if (!m->e) abort();
        m->n = 0;
        for (size_t i = 0; i < old.cap; i++)
            if (old.e[i].key) {
                pairent *p = pairmap_put(m, (int)((old.e[i].key - 1) >> 32), (int)(uint32_t)(old.e[i].key - 1));
                p->rank = old.e[i].rank; p->result = old.e[i].result;
            }
        free(old.e);
    }
    uint64_t k = ((uint64_t)(uint32_t)a << 32 | (uint32_t)b) + 1;
    size_t i = hash_u64(k) & (m->cap - 1);
    while (m->e[i].key && m->e[i].key != k) i = (i + 1) & (m->cap - 1);
    if (!m->e[i].key) { m->e[i].key = k; m->n++; }
    return &m->e[i];
}

/* ---- the vocabulary ---------------------------------------------------------
 * Symbols are the distinct strings of the vocabulary (byte symbols, their
 * "</w>" forms, merge results), numbered in order of first appearance;
 * final[sym] is the id a token gets, which for a string listed twice is its
 * last position, as in OpenAI's encoder dict. */
struct en_bpe {
    char **str;          /* symbol -> string */
    int *final;          /* symbol -> token id */
    int nsym, capsym;
    strmap bystr;        /* string -> symbol */
    pairmap ranks;
    int byte_sym[256];   /* byte -> symbol of its unicode char */
    int vocab, sot, eot;
};

static int sym_add(en_bpe *b, const char *s, size_t n, int id) {
    int *slot = strmap_slot(&b->bystr, s, n, 0);
    if (slot) { b->final[*slot] = id; return *slot; }
    if (b->nsym == b->capsym) {
        b->capsym = b->capsym ? b->capsym * 2 : 1024;
        b->str = realloc(b->str, (size_t)b->capsym * sizeof *b->str);
        b->final = realloc(b->final, (size_t)b->capsym * sizeof *b->final);
        if (!b->str || !b->final) abort();
    }
    char *copy = strndup(s, n);
    if (!copy) abort();
    b->str[b->nsym] = copy;
    b->final[b->nsym] = id;
    *strmap_slot(&b->bystr, copy, n, 1) = b->nsym;
    return b->nsym++;
}

/* GPT-2's bytes_to_unicode: printable bytes keep their code point, the
 * others map to 256 + n; the vocabulary lists them in this order. */
static int byte_order(int *bs, uint32_t *cs) {
    int n = 0, extra = 0;
    for (int c = '!'; c <= '~'; c++) bs[n++] = c;
    for (int c = 0xa1; c <= 0xac; c++) bs[n++] = c;
    for (int c = 0xae; c <= 0xff; c++) bs[n++] = c;
    int base = n;
    for (int c = 0; c < 256; c++) {
        int seen = 0;
        for (int i = 0; i < base; i++) if (bs[i] == c) { seen = 1; break; }
        if (!seen) bs[n++] = c;
    }
    for (int i = 0; i < 256; i++) cs[i] = i < base ? (uint32_t)bs[i] : 256u + (uint32_t)extra++;
    return n;
}

static en_bpe *bpe_new_base(void) {
    en_bpe *b = calloc(1, sizeof *b);
    if (!b) abort();
    int bs[256]; uint32_t cs[256];
    byte_order(bs, cs);
    char tmp[16];
    for (int i = 0; i < 256; i++) {
        int len = en_utf8_encode(cs[i], tmp);
        b->byte_sym[bs[i]] = sym_add(b, tmp, (size_t)len, i);
    }
    for (int i = 0; i < 256; i++) {
        int len = en_utf8_encode(cs[i], tmp);
        memcpy(tmp + len, "</w>", 5);
        sym_add(b, tmp, (size_t)len + 4, 256 + i);
    }
    return b;
}

/* One merge line "x y" as merge number r. */
static int bpe_add_merge(en_bpe *b, const char *line, int r) {
    const char *sp = strchr(line, ' ');
    if (!sp || sp == line || !sp[1] || strchr(sp + 1, ' ')) return -1;
    size_t nx = (size_t)(sp - line), ny = strlen(sp + 1);
    int *x = strmap_slot(&b->bystr, line, nx, 0), *y = strmap_slot(&b->bystr, sp + 1, ny, 0);
    if (!x || !y) return -1;
    int sx = *x, sy = *y;
    char *joined = malloc(nx + ny + 1);
    if (!joined) abort();
    memcpy(joined, line, nx); memcpy(joined + nx, sp + 1, ny + 1);
    int res = sym_add(b, joined, nx + ny, 512 + r);
    free(joined);
    pairent *p = pairmap_put(&b->ranks, sx, sy);
    p->rank = r; p->result = res;
    return 0;
}

static void bpe_finish(en_bpe *b, int nmerges) {
    b->sot = 512 + nmerges;
    b->eot = b->sot + 1;
    b->vocab = b->eot + 1;
}

void en_bpe_free(en_bpe *b) {
    if (!b) return;
    for (int i = 0; i < b->nsym; i++) free(b->str[i]);
    free(b->str); free(b->final);
    strmap_free(&b->bystr);
    free(b->ranks.e);
    free(b);
}

static void chomp(char *s) {
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = 0;
}

/* zlib's reason for a failed read; gzerror() starts it with the path, which
 * our message names already. */
static const char *gz_reason(gzFile f, const char *path, int *zerr) {
    const char *m = gzerror(f, zerr);
    size_t n = strlen(path);
    if (!strncmp(m, path, n) && m[n] == ':' && m[n + 1] == ' ') m += n + 2;
    return m;
}

en_bpe *en_bpe_load(const char *path, int max_merges) {
    gzFile f = gzopen(path, "rb");
    if (!f) return en_error("%s: cannot open the vocabulary file", path), NULL;
    char line[4096];
    if (!gzgets(f, line, sizeof line)) {
        /* a damaged .gz fails on its first read: say so, not "empty" */
        int zerr;
        const char *zmsg = gz_reason(f, path, &zerr);
        if (zerr != Z_OK && zerr != Z_STREAM_END) en_error("%s: corrupt gzip data (zlib: %s)", path, zmsg);
        else en_error("%s: empty vocabulary file", path);
        gzclose(f);
        return NULL;
    }
    if (max_merges < 0) max_merges = strstr(line, "bpe_simple_vocab_16e6") ? EN_BPE_OPENAI_MERGES : 1 << 30;
    en_bpe *b = bpe_new_base();
    int r = 0, lineno = 1;
    while (r < max_merges && gzgets(f, line, sizeof line)) {
        lineno++;
        chomp(line);
        if (!line[0]) continue;
        if (bpe_add_merge(b, line, r) < 0) {
            en_error("%s:%d: not a merge of two known symbols: '%.60s'", path, lineno, line);
            gzclose(f); en_bpe_free(b);
            return NULL;
        }
        r++;
    }
    int zerr;
    const char *zmsg = gz_reason(f, path, &zerr);
    if (zerr != Z_OK && zerr != Z_STREAM_END) {
        en_error("%s: corrupt gzip data (zlib: %s)", path, zmsg);
        gzclose(f); en_bpe_free(b);
        return NULL;
    }
    gzclose(f);
    bpe_finish(b, r);
    return b;
}

en_bpe *en_bpe_load_pair(const char *vocab_json, const char *merges_txt) {
    en_bpe *b = en_bpe_load(merges_txt, 1 << 30);
    if (!b) return NULL;
    char *text = en_file_read(vocab_json, NULL);
    if (!text) { en_bpe_free(b); return NULL; }
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root); en_bpe_free(b);
        return en_error("%s: not a JSON object of token -> id", vocab_json), NULL;
    }
    int maxid = -1, sot = -1, eot = -1;
    for (cJSON *e = root->child; e; e = e->next) {
        if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble > 1e7) {
            /* the message reads e->string: format it before the tree is freed */
            en_error("%s: entry '%.40s' is not a token id", vocab_json, e->string);
            cJSON_Delete(root); en_bpe_free(b);
            return NULL;
        }
        int id = e->valueint;
        if (id > maxid) maxid = id;
        if (!strcmp(e->string, "<|startoftext|>")) sot = id;
        else if (!strcmp(e->string, "<|endoftext|>")) eot = id;
        else {
            int *slot = strmap_slot(&b->bystr, e->string, strlen(e->string), 0);
            if (slot) b->final[*slot] = id;
        }
    }
    cJSON_Delete(root);
    if (sot < 0 || eot < 0) {
        en_bpe_free(b);
        return en_error("%s: no <|startoftext|> / <|endoftext|> entries", vocab_json), NULL;
    }
    b->sot = sot; b->eot = eot; b->vocab = maxid + 1;
    return b;
}

int en_bpe_vocab_size(const en_bpe *b) { return b->vocab; }
int en_bpe_sot(const en_bpe *b) { return b->sot; }
int en_bpe_eot(const en_bpe *b) { return b->eot; }

/* ---- cleaning and splitting ------------------------------------------------ */

/* html.unescape twice, white space runs to one space, strip, lower case. */
static char *clean_text(const char *text) {
    char *u1 = en_html_unescape(text), *u2 = en_html_unescape(u1);
    free(u1);
    size_t n = strlen(u2), o = 0;
    char *ws = malloc(n + 1);
    if (!ws) abort();
    int pending = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int len = en_utf8_decode(u2 + i, n - i, &cp);
        if (en_uni_is_space(cp)) { pending = 1; i += (size_t)len; continue; }
        if (pending && o) ws[o++] = ' ';
        pending = 0;
        memcpy(ws + o, u2 + i, (size_t)len);
        o += (size_t)len; i += (size_t)len;
    }
    ws[o] = 0;
    free(u2);
    char *low = en_uni_lower_str(ws);
    free(ws);
    return low;
}

/* The next piece of the split pattern at s[*pos..n); returns its length and
 * sets *start, or 0 at the end. *special is set for <|startoftext|> etc. */
static size_t next_piece(const char *s, size_t n, size_t *pos, size_t *start, int *special) {
    size_t i = *pos;
    *special = 0;
    while (i < n) {
        uint32_t cp;
        int len = en_utf8_decode(s + i, n - i, &cp);
        if (!en_uni_is_space(cp)) break;
        i += (size_t)len;
    }
    if (i >= n) { *pos = n; return 0; }
    *start = i;
    static const char *const specials[] = { "<|startoftext|>", "<|endoftext|>" };
    for (int k = 0; k < 2; k++) {
        size_t l = strlen(specials[k]);
        if (n - i >= l && !memcmp(s + i, specials[k], l)) { *special = k + 1; *pos = i + l; return l; }
    }
    if (s[i] == '\'') {
        static const char *const contr[] = { "s", "t", "re", "ve", "m", "ll", "d" };
        for (int k = 0; k < 7; k++) {
            size_t l = strlen(contr[k]);
            if (n - i - 1 >= l && !memcmp(s + i + 1, contr[k], l)) { *pos = i + 1 + l; return l + 1; }
        }
    }
    uint32_t cp;
    size_t j = i;
    int len = en_utf8_decode(s + j, n - j, &cp);
    if (en_uni_is_letter(cp)) {
        while (j < n && (len = en_utf8_decode(s + j, n - j, &cp)) && en_uni_is_letter(cp)) j += (size_t)len;
    } else if (en_uni_is_number(cp)) {
        j += (size_t)len;
    } else {
        while (j < n && (len = en_utf8_decode(s + j, n - j, &cp)) &&
               !en_uni_is_letter(cp) && !en_uni_is_number(cp) && !en_uni_is_space(cp))
            j += (size_t)len;
    }
    *pos = j;
    return j - i;
}

/* BPE of one piece into symbols; returns the count. syms has room for n. */
static int bpe_piece(const en_bpe *b, const char *p, size_t n, int *syms) {
    int k = 0;
    for (size_t i = 0; i < n; i++) syms[k++] = b->byte_sym[(unsigned char)p[i]];
    /* the last byte takes its "</w>" form: symbol 256 + its byte-order index */
    syms[k - 1] = b->byte_sym[(unsigned char)p[n - 1]] + 256;
    for (;;) {
        int best = -1, bestrank = 1 << 30;
        for (int i = 0; i + 1 < k; i++) {
            const pairent *e = pairmap_find(&b->ranks, syms[i], syms[i + 1]);
            if (e && e->rank < bestrank) { bestrank = e->rank; best = i; }
        }
        if (best < 0) break;
        int a = syms[best], c = syms[best + 1];
        int res = pairmap_find(&b->ranks, a, c)->result, o = 0;
        for (int i = 0; i < k; i++) {
            if (i + 1 < k && syms[i] == a && syms[i + 1] == c) { syms[o++] = res; i++; }
            else syms[o++] = syms[i];
        }
        k = o;
    }
    return k;
}

/* Calls emit(sym or -special, ctx) for every symbol of text. */
static int bpe_walk(const en_bpe *b, const char *text, void (*emit)(int, void *), void *ctx) {
    char *clean = clean_text(text);
    size_t n = strlen(clean), pos = 0, start, len;
    int special, cap = 0, *syms = NULL;
    while ((len = next_piece(clean, n, &pos, &start, &special))) {
        if (special) { emit(-special, ctx); continue; }
        if ((int)len > cap) { cap = (int)len * 2; syms = realloc(syms, (size_t)cap * sizeof *syms); if (!syms) abort(); }
        int k = bpe_piece(b, clean + start, len, syms);
        for (int i = 0; i < k; i++) emit(syms[i], ctx);
    }
    free(syms);
    free(clean);
    return 0;
}

typedef struct { const en_bpe *b; int32_t *ids; int cap, n; } enc_ctx;

static void enc_emit(int sym, void *p) {
    enc_ctx *c = p;
    int id = sym == -1 ? c->b->sot : sym == -2 ? c->b->eot : c->b->final[sym];
    if (c->n < c->cap) c->ids[c->n] = id;
    c->n++;
}

/* The tokenizer works on code points: bytes that are not UTF-8 would be
 * silently read as U+FFFD and change the tokens, so they are an error. */
static int check_utf8(const char *text) {
    size_t n = strlen(text);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int len = en_utf8_decode(text + i, n - i, &cp);
        if (cp == 0xfffd && len == 1)  /* a real U+FFFD is 3 bytes long */
            return en_error("invalid UTF-8 at byte %zu (0x%02x)", i, (unsigned char)text[i]);
        i += (size_t)len;
    }
    return 0;
}

int en_bpe_encode(en_bpe *b, const char *text, int32_t *ids, int cap, int *total) {
    if (total) *total = 0;
    if (check_utf8(text) < 0) return -1;
    enc_ctx c = { b, ids, cap, 0 };
    bpe_walk(b, text, enc_emit, &c);
    if (total) *total = c.n;
    return c.n < cap ? c.n : cap;
}

int en_bpe_tokenize(en_bpe *b, const char *text, int ctx, int truncate, int32_t *out) {
    if (ctx < 2) return en_error("context length %d is too short", ctx);
    int total;
    memset(out, 0, (size_t)ctx * sizeof *out);
    out[0] = b->sot;
    if (en_bpe_encode(b, text, out + 1, ctx - 1, &total) < 0) return -1;
    if (total + 2 > ctx) {
        if (!truncate)
            return en_error("input is too long for context length %d: %d tokens", ctx, total + 2);
        out[ctx - 1] = b->eot;
    } else {
        out[total + 1] = b->eot;
    }
    return 0;
}

char *en_bpe_decode(const en_bpe *b, const int32_t *ids, int n) {
    /* token id -> symbol: invert final[] lazily by search; decoding is rare */
    size_t cap = 64, len = 0;
    char *out = malloc(cap);
    if (!out) abort();
    int bs[256]; uint32_t cs[256];
    byte_order(bs, cs);
    for (int t = 0; t < n; t++) {
        const char *s = NULL;
        if (ids[t] == b->sot) s = "<|startoftext|>";
        else if (ids[t] == b->eot) s = "<|endoftext|>";
        else for (int i = 0; i < b->nsym; i++) if (b->final[i] == ids[t]) { s = b->str[i]; break; }
        if (!s) continue;
        size_t sl = strlen(s);
        for (size_t i = 0; i < sl;) {
            if (len + 8 > cap) { cap *= 2; out = realloc(out, cap); if (!out) abort(); }
            if (!strncmp(s + i, "</w>", 4)) { out[len++] = ' '; i += 4; continue; }
            uint32_t cp;
            int l = en_utf8_decode(s + i, sl - i, &cp);
            int byte = -1;
            for (int k = 0; k < 256; k++) if (cs[k] == cp) { byte = bs[k]; break; }
            if (byte >= 0 && !(ids[t] == b->sot || ids[t] == b->eot)) out[len++] = (char)byte;
            else { memcpy(out + len, s + i, (size_t)l); len += (size_t)l; }
            i += (size_t)l;
        }
    }
    out[len] = 0;
    return out;
}

/* ---- the trainer ----------------------------------------------------------- */

typedef struct { int *sym; int n; long count; } tword;
typedef struct { en_bpe *b; strmap words; tword *w; int nw, capw; char **keys; } train_ctx;

int en_bpe_train(const char *const *texts, int n_texts, int n_merges, const char *path) {
    if (n_merges < 0) return en_error("n_merges must be >= 0, got %d", n_merges);
    for (int k = 0; k < n_texts; k++)
        if (check_utf8(texts[k]) < 0) return en_error_prefix("text %d", k + 1);
    train_ctx t = { bpe_new_base(), {0}, NULL, 0, 0, NULL };
    /* distinct pieces with their counts, each as its starting symbols */
    for (int k = 0; k < n_texts; k++) {
        char *clean = clean_text(texts[k]);
        size_t n = strlen(clean), pos = 0, start, len;
        int special;
        while ((len = next_piece(clean, n, &pos, &start, &special))) {
            if (special) continue;
            int *slot = strmap_slot(&t.words, clean + start, len, 0);
            if (slot) { t.w[*slot].count++; continue; }
            if (t.nw == t.capw) {
                t.capw = t.capw ? t.capw * 2 : 256;
                t.w = realloc(t.w, (size_t)t.capw * sizeof *t.w);
                t.keys = realloc(t.keys, (size_t)t.capw * sizeof *t.keys);
                if (!t.w || !t.keys) abort();
            }
            char *key = strndup(clean + start, len);
            int *sym = malloc(len * sizeof *sym);
            if (!key || !sym) abort();
            for (size_t i = 0; i < len; i++) sym[i] = t.b->byte_sym[(unsigned char)key[i]];
            sym[len - 1] += 256;
            t.keys[t.nw] = key;
            t.w[t.nw] = (tword){ sym, (int)len, 1 };
            *strmap_slot(&t.words, key, len, 1) = t.nw++;
        }
        free(clean);
    }
    gzFile gz = NULL;
    FILE *f = NULL;
    size_t pl = strlen(path);
    int use_gz = pl > 3 && !strcmp(path + pl - 3, ".gz");
    if (use_gz) gz = gzopen(path, "wb9");
    else f = fopen(path, "w");
    int learnt = 0;
    if (!gz && !f) {
        en_error("%s: cannot write the merges file", path);
        learnt = -1;
    } else {
        const char *hdr = "#version: 0.2 (clipbook en_bpe_train)\n";
        if (gz) gzputs(gz, hdr); else fputs(hdr, f);
    }
    while (learnt >= 0 && learnt < n_merges) {
        pairmap counts = {0};
        for (int i = 0; i < t.nw; i++)
            for (int j = 0; j + 1 < t.w[i].n; j++) {
                pairent *e = pairmap_put(&counts, t.w[i].sym[j], t.w[i].sym[j + 1]);
                e->rank += (int)t.w[i].count;
            }
        int ba = -1, bb = -1, bc = 1;
        for (size_t i = 0; i < counts.cap; i++) {
            const pairent *e = &counts.e[i];
            if (!e->key) continue;
            int a = (int)((e->key - 1) >> 32), c = (int)(uint32_t)(e->key - 1);
            int better = e->rank > bc;
            if (e->rank == bc && ba >= 0) {
                int d = strcmp(t.b->str[a], t.b->str[ba]);
                better = d < 0 || (d == 0 && strcmp(t.b->str[c], t.b->str[bb]) < 0);
            }
            if (better) { ba = a; bb = c; bc = e->rank; }
        }
        free(counts.e);
        if (ba < 0) break; /* no pair occurs twice */
        char line[1024];
        int ll = snprintf(line, sizeof line, "%s %s", t.b->str[ba], t.b->str[bb]);
        if (ll < 0 || ll >= (int)sizeof line) break;
        bpe_add_merge(t.b, line, learnt);
        int res = pairmap_find(&t.b->ranks, ba, bb)->result;
        for (int i = 0; i < t.nw; i++) {
            int o = 0, *s = t.w[i].sym;
            for (int j = 0; j < t.w[i].n; j++) {
                if (j + 1 < t.w[i].n && s[j] == ba && s[j + 1] == bb) { s[o++] = res; j++; }
                else s[o++] = s[j];
            }
            t.w[i].n = o;
        }
        if (gz) { gzputs(gz, line); gzputs(gz, "\n"); } else fprintf(f, "%s\n", line);
        learnt++;
    }
    if (gz && gzclose(gz) != Z_OK && learnt >= 0) learnt = en_error("%s: write failed", path);
    if (f && fclose(f) != 0 && learnt >= 0) learnt = en_error("%s: write failed", path);
    for (int i = 0; i < t.nw; i++) { free(t.w[i].sym); free(t.keys[i]); }
    free(t.w); free(t.keys);
    strmap_free(&t.words);
    en_bpe_free(t.b);
    return learnt;
}
