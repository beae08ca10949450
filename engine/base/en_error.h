/* en_error — the engine's two kinds of failure.
 *
 * Broken invariants (a bug in clipbook) abort with file and line:
 *     EN_ASSERT(n > 0);
 * Anything a user can cause (a bad file, a wrong shape from Lua, a missing
 * data set) is reported by returning an error code (-1, or NULL) after
 * setting a readable, thread-local message:
 *     return en_error("%s: truncated header (%zu bytes)", path, n), -1;
 * A caller that adds context to a callee's message prepends it, never
 * re-formats the message into itself:
 *     if (load(f) < 0) return en_error_prefix("%s", path);   // "path: <reason>"
 * Callers up the stack (the Lua bindings, the command line) read it with
 * en_error_msg() and show it to the user.
 *
 * Contract: en_error() formats into a scratch buffer before it replaces the
 * message, so en_error_msg() as one of its own arguments is safe (if never
 * needed). en_error_prefix() keeps the reason whole: when the buffer is too
 * small it shortens the context (with "...") instead, and it adds nothing
 * when the message already starts with the same context ("path: path: "
 * cannot happen). Messages are at most EN_ERROR_MAX - 1 bytes.
 */
#ifndef EN_ERROR_H
#define EN_ERROR_H

#include <stdio.h>
#include <stdlib.h>

#define EN_ERROR_MAX 2048

/* Sets the message (printf-style) and returns -1. */
int en_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prepends "<context>: " to the current message and returns -1; with no
 * message set it sets "<context>". */
int en_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
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
