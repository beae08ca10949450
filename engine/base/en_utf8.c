#include "en_utf8.h"

int en_utf8_decode(const char *s, size_t n, uint32_t *cp) {
    const unsigned char *u = (const unsigned char *)s;
    if (n == 0) { *cp = 0; return 0; }
    unsigned c = u[0];
    int len; uint32_t v, min;
    if (c < 0x80) { *cp = c; return 1; }
    else if ((c & 0xe0) == 0xc0) { len = 2; v = c & 0x1f; min = 0x80; }
    else if ((c & 0xf0) == 0xe0) { len = 3; v = c & 0x0f; min = 0x800; }
    else if ((c & 0xf8) == 0xf0) { len = 4; v = c & 0x07; min = 0x10000; }
    else { *cp = 0xfffd; return 1; }
    if ((size_t)len > n) { *cp = 0xfffd; return 1; }
    for (int i = 1; i < len; i++) {
        if ((u[i] & 0xc0) != 0x80) { *cp = 0xfffd; return 1; }
        v = (v << 6) | (u[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) { *cp = 0xfffd; return 1; }
    *cp = v;
    return len;
}

int en_utf8_encode(uint32_t cp, char *out) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) { o[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) { o[0] = 0xc0 | (cp >> 6); o[1] = 0x80 | (cp & 0x3f); return 2; }
    if (cp < 0x10000) {
        o[0] = 0xe0 | (cp >> 12); o[1] = 0x80 | ((cp >> 6) & 0x3f); o[2] = 0x80 | (cp & 0x3f);
        return 3;
    }
    o[0] = 0xf0 | (cp >> 18); o[1] = 0x80 | ((cp >> 12) & 0x3f);
    o[2] = 0x80 | ((cp >> 6) & 0x3f); o[3] = 0x80 | (cp & 0x3f);
    return 4;
}

uint32_t en_utf8_next(const char **s) {
    uint32_t cp;
    *s += en_utf8_decode(*s, 4, &cp);
    return cp;
}

long en_utf8_invalid_at(const char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int len = en_utf8_decode(s + i, n - i, &cp);
        if (cp == 0xfffd && len == 1) return (long)i; /* a real U+FFFD is 3 bytes */
        i += (size_t)len;
    }
    return -1;
}
