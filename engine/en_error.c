#include "en_error.h"

#include <stdarg.h>

static _Thread_local char en_error_buf[1024];

int en_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(en_error_buf, sizeof en_error_buf, fmt, ap);
    va_end(ap);
    return -1;
}

const char *en_error_msg(void) { return en_error_buf; }

void en_error_clear(void) { en_error_buf[0] = 0; }
