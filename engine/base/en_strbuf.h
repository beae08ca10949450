/* en_strbuf — a growable byte string, always NUL-terminated, for code that
 * builds text piece by piece (JSON, chapter sources, string transforms).
 *     en_strbuf b = {0};
 *     en_strbuf_str(&b, "key: "); en_strbuf_add(&b, value, len);
 *     char *s = en_strbuf_take(&b);   (the caller frees s)
 */
#ifndef EN_STRBUF_H
#define EN_STRBUF_H

#include <stddef.h>

typedef struct { char *s; size_t n, cap; } en_strbuf;

/* Appends n bytes (aborts when out of memory). */
void  en_strbuf_add(en_strbuf *b, const char *s, size_t n);
void  en_strbuf_str(en_strbuf *b, const char *s);
/* The string, never NULL ("" when nothing was added); the caller owns
 * it and b is done with. */
char *en_strbuf_take(en_strbuf *b);

#endif
