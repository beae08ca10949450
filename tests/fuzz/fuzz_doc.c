/* libFuzzer target for the document fragment reader (report/rp_doc.c: the
 * JSON of build/doc/NN-name.json, with its Markdown, math, tables and figure
 * specs) and cross-reference numbering (rp_xref.c). The first byte picks a
 * fragment (even) or chapters/meta.json (odd). */
#include "fuzz_util.h"

#include "en_error.h"
#include "rp_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!size) return 0;
    const char *path = fuzz_file("doc", ".json", data + 1, size - 1);
    rp_doc *d = rp_doc_new();
    en_error_clear();
    if (data[0] & 1) {
        rp_doc_load_meta(d, path);
    } else if (rp_doc_load_chapter(d, path) == 0) {
        rp_xref_number(d);
        for (int c = 0; c < d->nchapters; c++)
            for (int b = 0; b < d->chapters[c].nblocks; b++) {
                const rp_block *bl = &d->chapters[c].blocks[b];
                if (bl->label) free(rp_xref_text(d, bl->label));
            }
    } else if (!strstr(en_error_msg(), path)) {
        abort();  /* a rejection names the file */
    }
    rp_doc_free(d);
    return 0;
}
