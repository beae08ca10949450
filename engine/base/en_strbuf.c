#include "en_strbuf.h"

#include <stdlib.h>
#include <string.h>

#include "en_error.h"

void en_strbuf_add(en_strbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->s, cap);
        EN_ASSERT(p != NULL);
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

void en_strbuf_str(en_strbuf *b, const char *s) { en_strbuf_add(b, s, strlen(s)); }

char *en_strbuf_take(en_strbuf *b) {
    if (!b->s) en_strbuf_add(b, "", 0);
    return b->s;
}
