/* libFuzzer target for BPE vocabularies (engine/en_bpe.c): a merges file as
 * text or gzip, or a vocab.json + merges.txt pair; what loads then encodes,
 * tokenizes and decodes texts. The first byte picks the form; for the pair,
 * the input is split at its first NUL (vocab.json before, merges after).
 * The texts encoded are fixed ones and the input's own tail. */
#include "fuzz_util.h"

#include "en_bpe.h"
#include "en_error.h"

static void use(en_bpe *b, const char *text) {
    int32_t ids[77];
    int total = 0;
    int n = en_bpe_encode(b, text, ids, 77, &total);
    if (n >= 0) {
        if (n > 77 || total < n) abort();
        for (int i = 0; i < n; i++) if (ids[i] < 0) abort();
        free(en_bpe_decode(b, ids, n));
    } else if (!en_error_msg()[0]) {
        abort();
    }
    if (en_bpe_tokenize(b, text, 77, 1, ids) == 0 && ids[0] != en_bpe_sot(b)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!size) return 0;
    int mode = data[0] % 3;
    data++, size--;
    en_bpe *b = NULL;
    en_error_clear();
    if (mode == 0) {
        b = en_bpe_load(fuzz_file("bpe", ".txt", data, size), -1);
    } else if (mode == 1) {
        b = en_bpe_load(fuzz_file("bpe", ".gz", data, size), 1000);
    } else {
        const uint8_t *nul = memchr(data, 0, size);
        size_t k = nul ? (size_t)(nul - data) : size;
        const char *vj = fuzz_file("bpe", ".json", data, k);
        const char *mt = fuzz_file("bpe", ".merges", nul ? nul + 1 : data + size, nul ? size - k - 1 : 0);
        b = en_bpe_load_pair(vj, mt);
    }
    if (!b) {
        if (!en_error_msg()[0]) abort();  /* a rejection says why */
        return 0;
    }
    if (en_bpe_vocab_size(b) < 2) abort();
    use(b, "a photo of a cat.");
    use(b, "Two SMALL red circles, 3 blue squares &amp; <|endoftext|> it's");
    char *tail = fuzz_str(data + size / 2, size - size / 2);
    use(b, tail);
    free(tail);
    en_bpe_free(b);
    return 0;
}
