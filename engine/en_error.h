/* en_error — the engine's two kinds of failure.
 *
 * Broken invariants (a bug in clipbook) abort with file and line:
 *     EN_ASSERT(n > 0);
 * Anything a user can cause (a bad file, a wrong shape from Lua, a missing
 * data set) is reported by returning an error code (-1, or NULL) after
 * setting a readable, thread-local message:
 *     return en_error("%s: truncated header (%zu bytes)", path, n), -1;
 * Callers up the stack (the Lua bindings, the command line) read it with
 * en_error_msg() and show it to the user.
 */
#ifndef EN_ERROR_H
#define EN_ERROR_H

#include <stdio.h>
#include <stdlib.h>

/* Sets the message (printf-style) and returns -1. */
int en_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The last message set on this thread ("" when none). */
const char *en_error_msg(void);
void en_error_clear(void);

#define EN_ASSERT(cond)                                                        \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: %s: assertion '%s' failed\n", __FILE__,    \
                    __LINE__, __func__, #cond);                                \
            abort();                                                           \
        }                                                                      \
    } while (0)

#endif
