/* The CLIP commands of `clipbook`: tokenize (embed-images, embed-texts and
 * classify join when the models land). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "en_bpe.h"
#include "en_error.h"
#include "rp_cmd.h"

int rp_cmd_tokenize(int argc, char **argv);

int rp_cmd_tokenize(int argc, char **argv) {
    const char *vocab = NULL;
    int first = argc;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--vocab") && i + 1 < argc) vocab = argv[++i];
        else if (!strcmp(argv[i], "--")) { first = i + 1; break; }
        else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "clipbook tokenize: unknown option '%s'\n", argv[i]);
            return 2;
        } else { first = i; break; }
    }
    if (!vocab || first >= argc) {
        fprintf(stderr, "usage: clipbook tokenize --vocab VOCAB TEXT...\n"
                        "  prints one line per text: the token ids without padding\n");
        return 2;
    }
    en_bpe *b = en_bpe_load(vocab, -1);
    if (!b) { fprintf(stderr, "clipbook tokenize: %s\n", en_error_msg()); return 1; }
    for (int i = first; i < argc; i++) {
        int total = 0, cap = 64;
        int32_t *ids = NULL;
        for (;;) {
            ids = realloc(ids, (size_t)cap * sizeof *ids);
            if (!ids) abort();
            en_bpe_encode(b, argv[i], ids, cap, &total);
            if (total <= cap) break;
            cap = total;
        }
        printf("%d", en_bpe_sot(b));
        for (int k = 0; k < total; k++) printf(" %d", ids[k]);
        printf(" %d\n", en_bpe_eot(b));
        free(ids);
    }
    en_bpe_free(b);
    return 0;
}
