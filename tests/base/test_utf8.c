/* engine/base/en_utf8: the one UTF-8 decoder (tokenizer, checkpoint
 * headers, math). */
#include <criterion/criterion.h>
#include <string.h>

#include "en_utf8.h"

Test(utf8, round_trip_at_every_length_boundary) {
    const uint32_t cps[] = { 0, 0x41, 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfffd, 0xffff,
                             0x10000, 0x1d465, 0x10ffff };
    for (size_t i = 0; i < sizeof cps / sizeof cps[0]; i++) {
        char b[4];
        int n = en_utf8_encode(cps[i], b);
        int want = cps[i] < 0x80 ? 1 : cps[i] < 0x800 ? 2 : cps[i] < 0x10000 ? 3 : 4;
        cr_expect_eq(n, want, "U+%04X: %d bytes", cps[i], n);
        uint32_t cp;
        cr_expect_eq(en_utf8_decode(b, (size_t)n, &cp), n);
        cr_expect_eq(cp, cps[i], "U+%04X decoded as U+%04X", cps[i], cp);
    }
}

/* The math typesetter's old decoder read "\xC0\x80" (an overlong NUL) as
 * U+0000 and a surrogate as itself; strict decoding gives U+FFFD, length 1. */
Test(utf8, invalid_sequences_are_one_replacement_byte) {
    const char *bad[] = { "\xC0\x80", "\xC1\xBF", "\xE0\x80\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80",
                          "\xF8\x88\x80\x80", "\x80", "\xE2\x82", "\xFF" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint32_t cp;
        cr_expect_eq(en_utf8_decode(bad[i], strlen(bad[i]), &cp), 1, "case %zu", i);
        cr_expect_eq(cp, 0xfffd, "case %zu: U+%04X", i, cp);
        cr_expect_geq(en_utf8_invalid_at(bad[i], strlen(bad[i])), 0, "case %zu is invalid", i);
    }
    const char *s = "\xC0\x80";
    cr_expect_eq(en_utf8_next(&s), 0xfffd);
}

Test(utf8, next_walks_a_string_and_stops_at_its_end) {
    const char *text = "a\xC3\xA9\xE2\x82\xAC\xF0\x9D\x91\xA5" "\xE2\x82"; /* a é € 𝑥, then a cut-off € */
    const uint32_t want[] = { 0x61, 0xe9, 0x20ac, 0x1d465, 0xfffd, 0xfffd };
    const char *s = text;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        cr_assert(*s, "ended early at %zu", i);
        uint32_t cp = en_utf8_next(&s);
        cr_expect_eq(cp, want[i], "code point %zu: U+%04X", i, cp);
    }
    cr_expect_eq(*s, 0, "stopped on the NUL, not past it");
    cr_expect_eq(en_utf8_invalid_at(text, strlen(text)), 10, "the cut-off sequence starts at byte 10");
    cr_expect_eq(en_utf8_invalid_at(text, 10), -1);
}
