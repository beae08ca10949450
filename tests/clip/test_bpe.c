#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "en_bpe.h"
#include "en_error.h"
#include "en_unicode.h"

#define OPENAI_VOCAB "../shared/clip-bpe/bpe_simple_vocab_16e6.txt.gz"

static en_bpe *openai(void) {
    if (access(OPENAI_VOCAB, R_OK) != 0) cr_skip_test("%s not present", OPENAI_VOCAB);
    en_bpe *b = en_bpe_load(OPENAI_VOCAB, -1);
    cr_assert(b, "load: %s", en_error_msg());
    return b;
}

static void expect_ids(en_bpe *b, const char *text, const int32_t *want, int nwant) {
    int32_t got[128];
    int total, n = en_bpe_encode(b, text, got, 128, &total);
    cr_assert_eq(total, nwant, "'%s': %d tokens, want %d", text, total, nwant);
    for (int i = 0; i < n; i++)
        cr_assert_eq(got[i], want[i], "'%s' token %d: %d, want %d", text, i, got[i], want[i]);
}

/* tests/clip/encodings.tsv: text (\\, \\t, \\n escaped) TAB expected ids,
 * written by tests/reference/clip_tokenizer_ref.py. */
Test(bpe, reference_encodings) {
    en_bpe *b = openai();
    FILE *f = fopen("tests/clip/encodings.tsv", "r");
    cr_assert(f, "encodings.tsv missing");
    char line[4096];
    int cases = 0;
    while (fgets(line, sizeof line, f)) {
        char *tab = strchr(line, '\t');
        cr_assert(tab);
        *tab = 0;
        char text[2048];
        size_t o = 0;
        for (char *p = line; *p; p++) {
            if (*p == '\\' && p[1]) { p++; text[o++] = *p == 't' ? '\t' : *p == 'n' ? '\n' : *p; }
            else text[o++] = *p;
        }
        text[o] = 0;
        int32_t want[256];
        int nwant = 0;
        for (char *tok = strtok(tab + 1, " \n"); tok; tok = strtok(NULL, " \n")) want[nwant++] = atoi(tok);
        expect_ids(b, text, want, nwant);
        cases++;
    }
    fclose(f);
    cr_assert(cases >= 15, "only %d cases", cases);
    en_bpe_free(b);
}

Test(bpe, openai_vocab_layout) {
    en_bpe *b = openai();
    cr_assert_eq(en_bpe_vocab_size(b), 49408);
    cr_assert_eq(en_bpe_sot(b), 49406);
    cr_assert_eq(en_bpe_eot(b), 49407);
    en_bpe_free(b);
}

Test(bpe, a_photo_of_a_cat) {
    en_bpe *b = openai();
    int32_t out[77];
    cr_assert_eq(en_bpe_tokenize(b, "a photo of a cat.", 77, 0, out), 0);
    const int32_t want[] = { 49406, 320, 1125, 539, 320, 2368, 269, 49407, 0 };
    for (int i = 0; i < 9; i++) cr_assert_eq(out[i], want[i], "position %d: %d, want %d", i, out[i], want[i]);
    for (int i = 9; i < 77; i++) cr_assert_eq(out[i], 0);
    en_bpe_free(b);
}

Test(bpe, too_long_is_error_unless_truncated) {
    en_bpe *b = openai();
    char text[2000] = "";
    for (int i = 0; i < 100; i++) strcat(text, "cat ");
    int32_t out[77];
    cr_assert_eq(en_bpe_tokenize(b, text, 77, 0, out), -1);
    cr_assert(strstr(en_error_msg(), "too long"), "message: %s", en_error_msg());
    cr_assert_eq(en_bpe_tokenize(b, text, 77, 1, out), 0);
    cr_assert_eq(out[0], 49406);
    cr_assert_eq(out[76], 49407);
    cr_assert_eq(out[75], 2368);
    en_bpe_free(b);
}

Test(bpe, cleaning_case_and_entities) {
    en_bpe *b = openai();
    int32_t x[32], y[32];
    int nx, ny, tx, ty;
    nx = en_bpe_encode(b, "A  Photo\tof &amp; a CAT", x, 32, &tx);
    ny = en_bpe_encode(b, "a photo of & a cat", y, 32, &ty);
    cr_assert_eq(nx, ny);
    for (int i = 0; i < nx; i++) cr_assert_eq(x[i], y[i]);
    nx = en_bpe_encode(b, "&amp;amp;", x, 32, &tx); /* unescaped twice */
    ny = en_bpe_encode(b, "&", y, 32, &ty);
    cr_assert_eq(nx, ny);
    cr_assert_eq(x[0], y[0]);
    en_bpe_free(b);
}

Test(unicode, classes_and_lower) {
    cr_assert(en_uni_is_letter(0xe9));     /* é */
    cr_assert(en_uni_is_letter(0x4e2d));   /* 中 */
    cr_assert(!en_uni_is_letter(0x301));   /* combining acute */
    cr_assert(en_uni_is_number(0x0663));   /* Arabic-Indic three */
    cr_assert(en_uni_is_space(0x3000));
    char *l = en_uni_lower_str("ÀÉÎ İ ΣΑΣ Straße");
    cr_assert_str_eq(l, "àéî i\xcc\x87 σας straße"); /* Python's final sigma */
    free(l);
    char *u = en_html_unescape("&lt;a&gt; &amp &copy2 &#65;&#x42; &#0; &#x80; &nosuch;");
    cr_assert_str_eq(u, "<a> & \xc2\xa9" "2 AB \xef\xbf\xbd \xe2\x82\xac &nosuch;");
    free(u);
}

Test(bpe, train_roundtrip) {
    const char *texts[] = {
        "a small red circle", "two small red circles above a blue square",
        "a large green star in the top left corner", "a red circle", "three red circles",
    };
    char path[] = "/tmp/cb_bpe_XXXXXX.txt";
    int fd = mkstemps(path, 4);
    cr_assert(fd >= 0);
    close(fd);
    int n = en_bpe_train(texts, 5, 40, path);
    cr_assert(n > 10 && n <= 40, "learnt %d merges", n);
    en_bpe *b = en_bpe_load(path, -1);
    cr_assert(b, "%s", en_error_msg());
    cr_assert_eq(en_bpe_vocab_size(b), 512 + n + 2);
    int32_t ids[32];
    int total;
    int k = en_bpe_encode(b, "red circle", ids, 32, &total);
    cr_assert(k <= 3, "'red circle' should be nearly whole words after training, got %d tokens", k);
    char *back = en_bpe_decode(b, ids, k);
    cr_assert_str_eq(back, "red circle ");
    free(back);
    en_bpe_free(b);
    unlink(path);
}

Test(bpe, bad_files) {
    cr_assert_null(en_bpe_load("/nonexistent/vocab.gz", -1));
    cr_assert(strstr(en_error_msg(), "/nonexistent/vocab.gz"));
    char path[] = "/tmp/cb_bpe_bad_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(write(fd, "#version\nzz qq\n", 15) == 15);
    close(fd);
    cr_assert_null(en_bpe_load(path, -1));
    cr_assert(strstr(en_error_msg(), ":2:"), "message: %s", en_error_msg());
    unlink(path);
}

/* vocab.json + merges.txt (Hugging Face's layout) of OpenAI's first 1,000
 * merges (tests/reference/gen_bpe_pair.py) encode exactly as those merges
 * read from OpenAI's own file. */
Test(bpe, vocab_json_pair_matches_merges_file) {
    en_bpe *ref = NULL;
    if (access(OPENAI_VOCAB, R_OK) != 0) cr_skip_test("%s not present", OPENAI_VOCAB);
    ref = en_bpe_load(OPENAI_VOCAB, 1000);
    en_bpe *pair = en_bpe_load_pair("tests/clip/pair/vocab.json", "tests/clip/pair/merges.txt");
    cr_assert(ref && pair, "%s", en_error_msg());
    cr_assert_eq(en_bpe_vocab_size(pair), en_bpe_vocab_size(ref));
    cr_assert_eq(en_bpe_sot(pair), 1512);
    cr_assert_eq(en_bpe_eot(pair), 1513);
    const char *texts[] = { "a photo of a cat.", "Two small red circles above a blue square!",
                            "naïve café 日本 &amp; emoji 😀", "<|startoftext|>hello<|endoftext|>" };
    for (int k = 0; k < 4; k++) {
        int32_t a[128], b[128];
        int ta, tb, na = en_bpe_encode(ref, texts[k], a, 128, &ta), nb = en_bpe_encode(pair, texts[k], b, 128, &tb);
        cr_assert_eq(na, nb, "'%s': %d vs %d tokens", texts[k], na, nb);
        for (int i = 0; i < na; i++) cr_assert_eq(a[i], b[i], "'%s' token %d: %d vs %d", texts[k], i, a[i], b[i]);
    }
    en_bpe_free(ref);
    en_bpe_free(pair);
    cr_assert_null(en_bpe_load_pair("tests/clip/pair/merges.txt", "tests/clip/pair/merges.txt"));
    cr_assert(strstr(en_error_msg(), "merges.txt"), "%s", en_error_msg());
}

/* Bytes that are not UTF-8 used to be read as U+FFFD silently (issue 12.10),
 * changing the tokens; each is an error naming the byte offset. */
Test(bpe, invalid_utf8_is_an_error_at_its_byte) {
    char path[] = "/tmp/cb_bpe_utf8_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(write(fd, "#version: 0.2\n", 14) == 14);
    close(fd);
    en_bpe *b = en_bpe_load(path, -1);
    cr_assert(b, "%s", en_error_msg());
    static const struct { const char *text, *want; } cases[] = {
        { "\xff", "invalid UTF-8 at byte 0 (0xff)" },
        { "ab \x80", "invalid UTF-8 at byte 3 (0x80)" },             /* lone continuation */
        { "caf\xc3", "invalid UTF-8 at byte 3 (0xc3)" },             /* cut at the end */
        { "x\xc0\xaf", "invalid UTF-8 at byte 1 (0xc0)" },           /* overlong '/' */
        { "\xed\xa0\x80 s", "invalid UTF-8 at byte 0 (0xed)" },      /* a surrogate */
        { "\xf4\x90\x80\x80", "invalid UTF-8 at byte 0 (0xf4)" },    /* past U+10FFFF */
    };
    int32_t ids[77];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        en_error_clear();
        cr_expect_eq(en_bpe_tokenize(b, cases[i].text, 77, 1, ids), -1, "case %zu accepted", i);
        cr_expect_str_eq(en_error_msg(), cases[i].want, "case %zu", i);
    }
    /* a real U+FFFD, and other multi-byte text, is fine */
    cr_assert_eq(en_bpe_tokenize(b, "\xef\xbf\xbd caf\xc3\xa9 \xf0\x9f\x98\x80", 77, 0, ids), 0, "%s", en_error_msg());
    const char *bad[] = { "fine", "caf\xc3" };
    cr_assert_eq(en_bpe_train(bad, 2, 10, path), -1);
    cr_assert_str_eq(en_error_msg(), "text 2: invalid UTF-8 at byte 3 (0xc3)");
    en_bpe_free(b);
    unlink(path);
}

/* A damaged .gz used to read as "empty or unreadable" (issue 12.10). */
Test(bpe, corrupt_gzip_says_so) {
    char path[] = "/tmp/cb_bpe_gz_XXXXXX.gz";
    int fd = mkstemps(path, 3);
    /* a valid gzip header, then a deflate block of the reserved type 3 */
    static const unsigned char gz[] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0x07, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
    cr_assert(write(fd, gz, sizeof gz) == (ssize_t)sizeof gz);
    close(fd);
    cr_assert_null(en_bpe_load(path, -1));
    char want[128];
    snprintf(want, sizeof want, "%s: corrupt gzip data (zlib: invalid block type)", path);
    cr_assert_str_eq(en_error_msg(), want);
    /* an empty file is empty, not corrupt */
    fd = open(path, O_WRONLY | O_TRUNC);
    close(fd);
    cr_assert_null(en_bpe_load(path, -1));
    snprintf(want, sizeof want, "%s: empty vocabulary file", path);
    cr_assert_str_eq(en_error_msg(), want);
    unlink(path);
}
