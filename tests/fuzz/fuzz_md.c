/* libFuzzer target for prose: Markdown with clipbook's extensions (math,
 * cross-references, citations, labels; report/rp_md.c) and the TeX math
 * parser behind it (rp_math.c, to MathML). The first byte picks the mode:
 * even: a Markdown cell; odd: math alone (inline or display by bit 1). */
#include "fuzz_util.h"

#include "en_error.h"
#include "rp_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!size) return 0;
    int mode = data[0];
    char *text = fuzz_str(data + 1, size - 1);
    if (mode & 1) {
        char err[512] = "";
        rp_math *m = rp_math_parse(text, (mode >> 1) & 1, err, sizeof err);
        if (m) {
            free(rp_math_to_mathml(m));
            free(rp_math_dump(m));
            int np = 0;
            rp_math **parts = rp_math_split(m, &np);
            for (int i = 0; i < np; i++) rp_math_free(parts[i]);
            free(parts);
            rp_math_free(m);
        } else if (!err[0]) {
            abort();  /* a rejection says why */
        }
    } else {
        rp_doc *d = rp_doc_new();
        cmark_node *n = rp_md_parse(d, text);
        if (n) {
            free(rp_md_plain(d, n));
            for (int i = 0; i < d->nsp; i++)
                if (d->sp[i].math) free(rp_math_to_mathml(d->sp[i].math));
            /* before numbering, headings hold their malloc'd {#label} (rp_md.c) */
            cmark_iter *it = cmark_iter_new(n);
            cmark_event_type ev;
            while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
                cmark_node *h = cmark_iter_get_node(it);
                if (ev == CMARK_EVENT_ENTER && cmark_node_get_type(h) == CMARK_NODE_HEADING)
                    free(cmark_node_get_user_data(h));
            }
            cmark_iter_free(it);
            cmark_node_free(n);
        }
        rp_doc_free(d);
    }
    free(text);
    return 0;
}
