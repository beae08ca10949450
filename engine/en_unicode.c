#include "en_unicode.h"

#include <stdlib.h>
#include <string.h>

#include "en_strbuf.h"

static int in_ranges(const en_uni_range *r, int n, uint32_t cp) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < r[mid].lo) hi = mid - 1;
        else if (cp > r[mid].hi) lo = mid + 1;
        else return 1;
    }
    return 0;
}

int en_uni_is_letter(uint32_t cp) {
    if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
    return in_ranges(en_uni_letters, en_uni_letters_n, cp);
}

int en_uni_is_number(uint32_t cp) {
    if (cp < 0x80) return cp >= '0' && cp <= '9';
    return in_ranges(en_uni_numbers, en_uni_numbers_n, cp);
}

int en_uni_is_space(uint32_t cp) { return in_ranges(en_uni_space, en_uni_space_n, cp); }

static const char *lookup_cp(const en_uni_lower *t, int n, uint32_t cp) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < t[mid].cp) hi = mid - 1;
        else if (cp > t[mid].cp) lo = mid + 1;
        else return t[mid].lower;
    }
    return NULL;
}

static void sb_cp(en_strbuf *b, uint32_t cp) {
    char tmp[4];
    en_strbuf_add(b, tmp, (size_t)en_utf8_encode(cp, tmp));
}

/* Python's Final_Sigma rule for U+03A3 at byte i of s: a cased letter
 * before it and none after it, skipping case-ignorable characters. */
static int final_sigma(const char *s, size_t n, size_t i, size_t len) {
    int before = 0, after = 1;
    for (size_t j = i; j > 0;) {
        size_t k = j - 1;
        while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80) k--;
        uint32_t cp;
        en_utf8_decode(s + k, n - k, &cp);
        if (in_ranges(en_uni_case_ignorable, en_uni_case_ignorable_n, cp)) { j = k; continue; }
        before = in_ranges(en_uni_cased, en_uni_cased_n, cp);
        break;
    }
    for (size_t j = i + len; j < n;) {
        uint32_t cp;
        int l = en_utf8_decode(s + j, n - j, &cp);
        if (in_ranges(en_uni_case_ignorable, en_uni_case_ignorable_n, cp)) { j += (size_t)l; continue; }
        after = !in_ranges(en_uni_cased, en_uni_cased_n, cp);
        break;
    }
    return before && after;
}

char *en_uni_lower_str(const char *s) {
    en_strbuf b = {0};
    size_t n = strlen(s);
    en_strbuf_add(&b, "", 0);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int len = en_utf8_decode(s + i, n - i, &cp);
        if (cp == 0x3a3 && final_sigma(s, n, i, (size_t)len)) {
            sb_cp(&b, 0x3c2);
            i += (size_t)len;
            continue;
        }
        const char *l = cp >= 0x80 || (cp >= 'A' && cp <= 'Z') ? lookup_cp(en_uni_lowers, en_uni_lowers_n, cp) : NULL;
        if (l) en_strbuf_add(&b, l, strlen(l));
        else if (cp == 0xfffd && len == 1 && (unsigned char)s[i] >= 0x80) sb_cp(&b, 0xfffd);
        else en_strbuf_add(&b, s + i, (size_t)len);
        i += (size_t)len;
    }
    return b.s;
}

static const char *entity_find(const char *name, size_t len) {
    int lo = 0, hi = en_html_entities_n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int c = strncmp(name, en_html_entities[mid].name, len);
        if (c == 0 && en_html_entities[mid].name[len]) c = -1;
        if (c < 0) hi = mid - 1;
        else if (c > 0) lo = mid + 1;
        else return en_html_entities[mid].text;
    }
    return NULL;
}

/* One character reference at s (just after '&'), as Python's html module
 * matches it: #digits;? | #x hex;? | [^\t\n\f <&#;]{1,32};?  Appends the
 * replacement and returns the bytes consumed, or 0 when nothing matches. */
static size_t charref(en_strbuf *b, const char *s) {
    size_t i = 0;
    if (s[0] == '#') {
        int hex = s[1] == 'x' || s[1] == 'X';
        i = hex ? 2 : 1;
        size_t start = i;
        uint64_t num = 0;
        int big = 0;
        for (;; i++) {
            char c = s[i];
            int d = c >= '0' && c <= '9' ? c - '0'
                  : hex && (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : -1;
            if (d < 0) break;
            num = num * (hex ? 16 : 10) + (uint64_t)d;
            if (num > 0x10ffff) { big = 1; num = 0x110000; }
        }
        if (i == start) return 0;
        if (s[i] == ';') i++;
        const char *fix = big ? NULL : lookup_cp(en_html_charref_fixes, en_html_charref_fixes_n, (uint32_t)num);
        if (fix) en_strbuf_add(b, fix, strlen(fix));
        else if (big || (num >= 0xd800 && num <= 0xdfff)) sb_cp(b, 0xfffd);
        else if (in_ranges(en_html_invalid_cps, en_html_invalid_cps_n, (uint32_t)num)) {}
        else sb_cp(b, (uint32_t)num);
        return i;
    }
    while (i < 32 && s[i] && !strchr("\t\n\f <&#;", s[i])) i++;
    if (i == 0) return 0;
    size_t len = i + (s[i] == ';');
    const char *t = entity_find(s, len);
    if (t) { en_strbuf_add(b, t, strlen(t)); return len; }
    /* the longest prefix that names a legacy entity (no ';'), as Python does */
    for (size_t x = len - 1; x > 1; x--) {
        t = entity_find(s, x);
        if (t) { en_strbuf_add(b, t, strlen(t)); return x; }
    }
    return 0;
}

char *en_html_unescape(const char *s) {
    en_strbuf b = {0};
    en_strbuf_add(&b, "", 0);
    for (size_t i = 0; s[i];) {
        if (s[i] == '&') {
            size_t used = charref(&b, s + i + 1);
            if (used) { i += used + 1; continue; }
        }
        en_strbuf_add(&b, s + i, 1);
        i++;
    }
    return b.s;
}
