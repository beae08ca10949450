/* rp_highlight — a Lua 5.4 tokenizer just good enough to colour listings:
 * keywords, strings (short and long brackets), comments (line and long),
 * numbers (decimal, hex, exponents) and the standard library's globals. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "en_error.h"
#include "rp_model.h"

const char *const rp_hl_names[RP_HL_COUNT] = { "pl", "kw", "st", "cm", "nu", "bi" };

static const char *const keywords[] = {
    "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "goto", "if",
    "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while", NULL
};
static const char *const builtins[] = {
    "print", "require", "pairs", "ipairs", "type", "tostring", "tonumber", "error", "assert",
    "pcall", "select", "setmetatable", "getmetatable", "string", "table", "math", "io", "os",
    "next", "rawget", "rawset", "unpack", "utf8", "coroutine", "self", NULL
};

static int in_list(const char *const *list, const char *s, size_t n) {
    for (int i = 0; list[i]; i++)
        if (strlen(list[i]) == n && !strncmp(list[i], s, n)) return 1;
    return 0;
}

/* Length of a long bracket opener "[==[" at s, with its level; 0 if none. */
static size_t long_open(const char *s, size_t rem, int *level) {
    if (rem < 2 || s[0] != '[') return 0;
    size_t i = 1;
    while (i < rem && s[i] == '=') i++;
    if (i < rem && s[i] == '[') { *level = (int)i - 1; return i + 1; }
    return 0;
}

static size_t long_close(const char *s, size_t rem, int level) {
    for (size_t i = 0; i < rem; i++) {
        if (s[i] != ']') continue;
        size_t j = i + 1;
        int l = 0;
        while (j < rem && s[j] == '=') { j++; l++; }
        if (l == level && j < rem && s[j] == ']') return j + 1;
    }
    return rem;
}

int rp_highlight_lua(const char *src, size_t len, rp_hl_span **out) {
    size_t cap = 64;
    int n = 0;
    rp_hl_span *sp = malloc(cap * sizeof *sp);
    EN_ASSERT(sp);
#define EMIT(st, ln, k) do { \
        if (n && sp[n - 1].kind == (k) && sp[n - 1].start + sp[n - 1].len == (st)) sp[n - 1].len += (ln); \
        else { if ((size_t)n == cap) { cap *= 2; sp = realloc(sp, cap * sizeof *sp); EN_ASSERT(sp); } \
               sp[n++] = (rp_hl_span){ (st), (ln), (k) }; } } while (0)
    size_t i = 0;
    while (i < len) {
        const char *s = src + i;
        size_t rem = len - i, l = 1;
        rp_hl_kind k = RP_HL_PLAIN;
        int level;
        if (rem >= 2 && s[0] == '-' && s[1] == '-') {
            size_t o = long_open(s + 2, rem - 2, &level);
            if (o) l = 2 + o + long_close(s + 2 + o, rem - 2 - o, level);
            else { l = 2; while (l < rem && s[l] != '\n') l++; }
            k = RP_HL_COMMENT;
        } else if (s[0] == '"' || s[0] == '\'') {
            while (l < rem && s[l] != s[0] && s[l] != '\n') l += (s[l] == '\\' && l + 1 < rem) ? 2 : 1;
            if (l < rem && s[l] == s[0]) l++;
            k = RP_HL_STRING;
        } else if ((l = long_open(s, rem, &level)) > 0) {
            l += long_close(s + l, rem - l, level);
            k = RP_HL_STRING;
        } else if (isdigit((unsigned char)s[0]) || (s[0] == '.' && rem > 1 && isdigit((unsigned char)s[1]))) {
            l = 1;
            int hex = rem > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
            if (hex) l = 2;
            while (l < rem && (isalnum((unsigned char)s[l]) || s[l] == '.' ||
                               ((s[l] == '-' || s[l] == '+') && strchr(hex ? "pP" : "eE", s[l - 1]))))
                l++;
            k = RP_HL_NUMBER;
        } else if (isalpha((unsigned char)s[0]) || s[0] == '_') {
            l = 1;
            while (l < rem && (isalnum((unsigned char)s[l]) || s[l] == '_')) l++;
            int field = i > 0 && src[i - 1] == '.' && !(i > 1 && src[i - 2] == '.');
            if (in_list(keywords, s, l)) k = RP_HL_KEYWORD;
            else if (!field && in_list(builtins, s, l)) k = RP_HL_BUILTIN;
        } else {
            l = 1;
        }
        if (l == 0) l = 1;
        if (l > rem) l = rem;
        EMIT(i, l, k);
        i += l;
    }
#undef EMIT
    *out = sp;
    return n;
}
