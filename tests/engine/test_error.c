/* en_error: a caller adding context to a callee's message must keep the
 * reason whole (issue 12.4: "text 1 ('red circle...'): text 1 (...): " and
 * nothing after, from en_error(fmt, ..., en_error_msg())). */
#include <criterion/criterion.h>
#include <string.h>
#include "en_error.h"

Test(error, self_reference_keeps_the_reason) {
    en_error("sequence has 80 tokens, more than the context length 77");
    /* the pattern the call sites had: formatting the buffer into itself */
    en_error("%s: %s", "text 1 ('red circle')", en_error_msg());
    cr_assert_str_eq(en_error_msg(), "text 1 ('red circle'): sequence has 80 tokens, more than the context length 77");
}

Test(error, prefix_prepends_context) {
    en_error("sequence has 80 tokens, more than the context length 77");
    en_error_prefix("text %d ('%s')", 1, "red circle");
    cr_assert_str_eq(en_error_msg(), "text 1 ('red circle'): sequence has 80 tokens, more than the context length 77");
    en_error_prefix("embed-texts");
    cr_assert_str_eq(en_error_msg(), "embed-texts: text 1 ('red circle'): sequence has 80 tokens, more than the context length 77");
}

Test(error, prefix_does_not_repeat_the_context) {
    en_error("x.json: cannot open: No such file or directory");
    en_error_prefix("%s", "x.json");
    cr_assert_str_eq(en_error_msg(), "x.json: cannot open: No such file or directory");
    /* a longer name that merely starts the same way is not the same context */
    en_error("x.json: cannot open");
    en_error_prefix("%s", "x");
    cr_assert_str_eq(en_error_msg(), "x: x.json: cannot open");
}

Test(error, prefix_with_no_message_sets_the_context) {
    en_error_clear();
    en_error_prefix("%s: failed", "a.npy");
    cr_assert_str_eq(en_error_msg(), "a.npy: failed");
}

Test(error, prefix_shortens_the_context_not_the_reason) {
    char reason[EN_ERROR_MAX - 100], ctx[400];
    memset(reason, 'r', sizeof reason - 1); reason[sizeof reason - 1] = 0;
    memset(ctx, 'c', sizeof ctx - 1); ctx[sizeof ctx - 1] = 0;
    en_error("%s", reason);
    en_error_prefix("%s", ctx);
    const char *m = en_error_msg();
    size_t n = strlen(m), rl = strlen(reason);
    printf("message %zu bytes (max %d), reason %zu bytes\n", n, EN_ERROR_MAX - 1, rl);
    cr_assert_eq(n, (size_t)EN_ERROR_MAX - 1);
    cr_assert_str_eq(m + n - rl, reason, "the reason lost its end");
    cr_assert(!memcmp(m + n - rl - 5, "...: ", 5), "the cut context is not marked: %.20s", m + n - rl - 8);
}

Test(error, a_cut_message_says_so) {
    char big[EN_ERROR_MAX + 100];
    memset(big, 'b', sizeof big - 1); big[sizeof big - 1] = 0;
    en_error("%s", big);
    const char *m = en_error_msg();
    cr_assert_eq(strlen(m), (size_t)EN_ERROR_MAX - 1);
    cr_assert_str_eq(m + strlen(m) - 3, "...");
}

Test(error, prefix_may_read_the_message) {
    en_error("reason");
    en_error_prefix("%s!", en_error_msg());
    cr_assert_str_eq(en_error_msg(), "reason!: reason");
}
