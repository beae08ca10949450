/* The fragment reader's messages (found by tests/fuzz/fuzz_doc): the "near
 * ..." excerpt of invalid JSON pointed into the text after it was freed
 * (ASan: heap-use-after-free in `make test SANITIZE=1`). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "en_error.h"
#include "rp_model.h"

Test(doc_errors, invalid_json_quotes_the_text_near_the_error) {
    char path[] = "/tmp/cb_doc_XXXXXX.json";
    int fd = mkstemps(path, 5);
    const char *text = "{\"format\": \"clipbook-doc/1\", \"blocks\": [} tail";
    cr_assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    rp_doc *d = rp_doc_new();
    cr_assert_eq(rp_doc_load_chapter(d, path), -1);
    char want[256];
    snprintf(want, sizeof want, "%s: not valid JSON (at byte offset 40, near '} tail')", path);
    cr_assert_str_eq(en_error_msg(), want);
    rp_doc_free(d);
    unlink(path);
}
