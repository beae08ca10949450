#include "en_error.h"

#include <stdarg.h>
#include <string.h>

/* The message, and the scratch buffer every new text is formatted into first:
 * an argument may point into en_error_buf (en_error_msg()), and vsnprintf
 * into the buffer it reads from is undefined behaviour. */
static _Thread_local char en_error_buf[EN_ERROR_MAX];
static _Thread_local char en_error_scratch[EN_ERROR_MAX];

/* A truncated text ends in "..." so that a cut is visible, never silent. */
static void mark_cut(char *s, size_t cap) {
    if (cap >= 4) memcpy(s + cap - 4, "...", 4);
}

int en_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(en_error_scratch, sizeof en_error_scratch, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0, en_error_scratch[0] = 0;
    if ((size_t)n >= sizeof en_error_scratch) mark_cut(en_error_scratch, sizeof en_error_scratch);
    memcpy(en_error_buf, en_error_scratch, strlen(en_error_scratch) + 1);
    return -1;
}

int en_error_prefix(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(en_error_scratch, sizeof en_error_scratch, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0, en_error_scratch[0] = 0;
    size_t plen = strlen(en_error_scratch), mlen = strlen(en_error_buf);
    if (!mlen) {
        if ((size_t)n >= sizeof en_error_scratch) mark_cut(en_error_scratch, sizeof en_error_scratch);
        memcpy(en_error_buf, en_error_scratch, plen + 1);
        return -1;
    }
    if (!plen) return -1;
    /* already says so: "path: reason" prefixed with "path" stays as it is */
    if ((size_t)n == plen && mlen > plen + 1 && !memcmp(en_error_buf, en_error_scratch, plen) &&
        en_error_buf[plen] == ':' && en_error_buf[plen + 1] == ' ')
        return -1;
    /* the reason is kept whole; the context gives way ("ctx...: reason") */
    size_t room = sizeof en_error_buf - 1 - mlen;  /* bytes free before the reason */
    if (room < 2) return -1;
    room -= 2;  /* for ": " */
    int cut = (size_t)n > plen || plen > room;
    if (plen > room) plen = room;
    if (cut) {
        if (plen < 3) return -1;  /* no room for a useful context */
        memcpy(en_error_scratch + plen - 3, "...", 3);
    }
    memmove(en_error_buf + plen + 2, en_error_buf, mlen + 1);
    memcpy(en_error_buf, en_error_scratch, plen);
    en_error_buf[plen] = ':';
    en_error_buf[plen + 1] = ' ';
    return -1;
}

const char *en_error_msg(void) { return en_error_buf; }

void en_error_clear(void) { en_error_buf[0] = 0; }
